"""The ``tracker`` command. Thin: it parses options, calls the library, and turns
known errors into one clear line on stderr with a non-zero exit code.

Exit codes: 0 success; 1 failure (the line says what to check); 2 usage or
config error; 75 another run holds the lock (cron: try again later).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from . import config as config_module
from .config import Config, ConfigError

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run is going on


class ConfigProblem(click.ClickException):
    """A configuration error: exit code 2, like a usage error."""

    exit_code = 2


class Context:
    def __init__(self, config_path: str | None, quiet: bool) -> None:
        self.config_path = config_path
        self.quiet = quiet
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = config_module.load(self.config_path)
            except ConfigError as exc:
                raise ConfigProblem(str(exc)) from None
        return self._config

    def db(self, create: bool = True):
        from . import store

        try:
            return store.open_db(self.config.database, create=create)
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from None


class Progress:
    """A one-line counter on a terminal's stderr; silent when quiet or not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, summary) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        done = summary.new + summary.known + summary.quarantined
        rate = done / max(now - self.started, 1e-6)
        click.echo(
            f"\r{summary.new} new, {summary.known} already known, "
            f"{summary.quarantined} quarantined ({rate:.0f} messages/s)",
            err=True,
            nl=False,
        )

    def done(self) -> None:
        if self.enabled:
            click.echo("\r\033[K", err=True, nl=False)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: tracker --config config/tracker.toml sync --quiet",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="TRACKER_CONFIG",
    help="Config file (default config/tracker.toml, or $TRACKER_CONFIG).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details on stderr.")
@click.version_option(package_name="tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, quiet: bool, verbose: bool) -> None:
    """tracker: what the coalition wrote to whom, who answered, who has not, and for how long."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="tracker: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = Context(config_path, quiet)


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option("--workers", type=int, default=None, help="Parser processes (default: one per core).")
@click.pass_obj
def import_(obj: Context, paths: tuple[Path, ...], quiet: bool, workers: int | None) -> None:
    """Import Maildir folders, mbox files or .eml files (or folders of them).

    Importing the same files again adds nothing. Messages that cannot be parsed
    are kept raw in the quarantine table with the reason.

    \b
    Examples:
      tracker import ~/Maildir
      tracker import archive-2023.mbox lettres/*.eml
    """
    from . import ingest, store, threading
    from .sources import local

    quiet = quiet or obj.quiet
    db = obj.db()
    progress = Progress(not quiet)
    try:
        items = local.items(list(paths), lambda source, folder: store.known_locations(db, source, folder))
        with ingest.Ingester(db, obj.config, workers=workers) as ingester:
            summary = ingester.run(items, progress=progress)
    except local.SourceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.done()
    threading.rethread(db, obj.config, summary.new_message_ids)
    if not quiet:
        click.echo(
            f"{summary.new} imported, {summary.known} already known, "
            f"{summary.quarantined} quarantined"
        )


def main() -> None:
    cli()
