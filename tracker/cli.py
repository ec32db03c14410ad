"""The ``tracker`` command. Thin: it parses options, calls the library, and turns
known errors into one clear line on stderr with a non-zero exit code.

Exit codes: 0 success; 1 failure (the line says what to check); 2 usage or
config error; 75 another run holds the lock (cron: try again later).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
import sqlite3
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
    def __init__(self, config_path: str | None, quiet: bool, verbose: bool = False) -> None:
        self.config_path = config_path
        self.quiet = quiet
        self.verbose = verbose
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = config_module.load(self.config_path)
            except ConfigError as exc:
                raise ConfigProblem(str(exc)) from None
        return self._config

    def config_path_or_db(self) -> str:
        """The database file when the config loaded, else the config file."""
        return str(self._config.database) if self._config else str(self.config_path or "")

    def db(self, create: bool = True):
        from . import store

        from .store.private import StoreMismatch

        try:
            return store.open_db(self.config.database, create=create, private=self.config.private_database)
        except (FileNotFoundError, StoreMismatch) as exc:
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


# sqlite-utils imports numpy and pandas when they are installed, only to map their types to
# column types; tracker hands it neither. Not importing them saves about a tenth of a second
# at every start (cron runs tracker every few minutes). Python treats a None entry in
# sys.modules as "not installed", which every optional import expects.
UNUSED_IMPORTS = ("numpy", "pandas")


class TrackerGroup(click.Group):
    """Turns failures of the machine (disk, permissions, a damaged database) into one line
    on stderr and exit 1, as cron wants; ``--verbose`` shows the traceback instead."""

    def invoke(self, ctx: click.Context):
        for name in UNUSED_IMPORTS:
            sys.modules.setdefault(name, None)
        try:
            return super().invoke(ctx)
        except sqlite3.Error as exc:
            if getattr(ctx.obj, "verbose", False):
                raise
            where = ctx.obj.config_path_or_db() if isinstance(ctx.obj, Context) else "the database"
            raise click.ClickException(
                f"database error on {where}: {exc}; check the disk, the file's permissions, or "
                f"restore it from a backup (run again with -v for details)"
            ) from None
        except OSError as exc:
            if getattr(ctx.obj, "verbose", False) or isinstance(exc, BrokenPipeError):
                raise
            target = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(
                f"{target}{exc.strerror or exc}; check the path, free space and permissions "
                f"(run again with -v for details)"
            ) from None


@click.group(
    cls=TrackerGroup,
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
    # -v raises tracker's own loggers only: imapclient logs whole commands and responses
    # (message bodies) at DEBUG, and cron mails stderr
    logging.basicConfig(level=logging.WARNING, format="tracker: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("tracker").setLevel(logging.DEBUG if verbose else logging.WARNING)
    ctx.obj = Context(config_path, quiet, verbose)


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option("--workers", type=int, default=None, help="Parser processes (default: one per core).")
@click.option("--batch-size", type=click.IntRange(1), default=400, hidden=True,
              help="Messages per transaction (tests and benchmarks).")
@click.pass_obj
def import_(
    obj: Context, paths: tuple[Path, ...], quiet: bool, workers: int | None, batch_size: int
) -> None:
    """Import Maildir folders, mbox files or .eml files (or folders of them).

    Importing the same files again adds nothing. Messages that cannot be parsed
    are kept raw in the quarantine table with the reason.

    \b
    Examples:
      tracker import ~/Maildir
      tracker import archive-2023.mbox lettres/*.eml
    """
    from . import store
    from . import thread as threader
    from .store import ingest
    from .sources import local

    quiet = quiet or obj.quiet
    progress = Progress(not quiet)
    try:
        with exclusive(obj, "import"):
            db = obj.db()
            try:
                mailbox = obj.config.mailbox
                items = local.items(
                    list(paths), lambda source, folder: store.known_locations(db, source, folder),
                    max_size=mailbox.max_message_size if mailbox else None,
                )
                with ingest.Ingester(db, obj.config, workers=workers, batch_size=batch_size) as ingester:
                    summary = ingester.run(items, progress=progress)
            finally:
                progress.done()
            threader.rethread(db, obj.config, summary.to_rethread + store.unthreaded(db))
    except local.SourceError as exc:
        raise click.ClickException(str(exc)) from None
    if not quiet:
        skipped = items.stats.skipped_links
        click.echo(
            f"{summary.new} imported, {summary.known} already known, "
            f"{summary.quarantined} quarantined"
            + (f", {skipped} symbolic link{'s' if skipped > 1 else ''} skipped (pointing outside the folder "
               f"given, or back into it)" if skipped else "")
        )


@cli.group(name="report")
def report_group() -> None:
    """Reports on the letters: which are overdue, and how responsive each correspondent is.

    \b
    Examples:
      tracker report unanswered --as-of 2026-12-01
      tracker report responsiveness --format csv > reactivite.csv
    """


def _report_options(command):
    command = click.option(
        "--format", "fmt", type=click.Choice(["text", "csv", "csv-comma", "json", "html"]), default="text",
        show_default=True, help="Output format. csv: semicolons, UTF-8 BOM, dd/mm/yyyy (French spreadsheets); "
        "csv-comma: commas and ISO dates.",
    )(command)
    return click.option(
        "--as-of", "as_of", metavar="DATE",
        help="Report on that day as it was (YYYY-MM-DD, the end of the day in your time zone); default now.",
    )(command)


@contextmanager
def exclusive(obj: Context, command: str):
    """Hold the database's run lock for the block; if another run holds it, say so in one
    line and exit 75 (EX_TEMPFAIL) without touching anything."""
    from .store import lock

    try:
        with lock.run_lock(obj.config.database, command):
            yield
    except lock.Locked as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)


def _report_input(obj: Context, as_of: str | None, param_hint: str = "--as-of"):
    from .report import reports as report

    try:
        when = report.parse_as_of(as_of, obj.config)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from None
    return obj.db(create=False), when


@report_group.command(name="unanswered")
@_report_options
@click.pass_obj
def report_unanswered(obj: Context, as_of: str | None, fmt: str) -> None:
    """Overdue letters (no reply, due date passed), the longest-waiting first, with days
    waiting and due date; bounced letters in their own section.

    \b
    Examples:
      tracker report unanswered
      tracker report unanswered --as-of 2026-11-04 --format json
    """
    from .report import reports as report

    db, when = _report_input(obj, as_of)
    click.echo(report.render_unanswered(report.unanswered(db, obj.config, when), obj.config, fmt), nl=False)


@report_group.command(name="responsiveness")
@_report_options
@click.pass_obj
def report_responsiveness(obj: Context, as_of: str | None, fmt: str) -> None:
    """Per correspondent: letters, replied, reply rate (95% Wilson interval), median and
    90th-percentile days to the first reply, overdue now. Under 5 letters: too few to say.

    \b
    Examples:
      tracker report responsiveness
      tracker report responsiveness --as-of 2026-06-30 --format html > reactivite.html
    """
    from .report import reports as report

    db, when = _report_input(obj, as_of)
    rows = report.responsiveness(db, obj.config, when)
    click.echo(report.render_responsiveness(rows, obj.config, when, fmt), nl=False)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the email and send nothing.")
@click.option("--to", "to", multiple=True, metavar="ADDR",
              help="Send to ADDR instead of digest.to (repeatable); such a copy is not recorded.")
@click.option("--force", is_flag=True, help="Send even if this week's digest went out or it is before digest.weekday.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.pass_obj
def digest(obj: Context, dry_run: bool, to: tuple[str, ...], force: bool, quiet: bool) -> None:
    """The weekly email: overdue letters, what falls due soon, this week's replies, letters
    and bounces. Sent at most once per ISO week, on or after digest.weekday: run it daily
    from cron. An SMTP failure exits 1 and the next run tries again.

    \b
    Examples:
      tracker digest --dry-run
      tracker digest --quiet            # cron, every morning
      tracker digest --to me@example.org --force
    """
    from .report import digest as digest_module

    try:
        with exclusive(obj, "digest"):
            outcome = digest_module.run(
                obj.db(create=False), obj.config, dry_run=dry_run, to=list(to) or None, force=force
            )
    except digest_module.DigestError as exc:
        raise click.ClickException(str(exc)) from None
    if outcome.action == "dry_run":
        click.echo(digest_module.preview(outcome.message))
    elif not (quiet or obj.quiet):
        click.echo(outcome.detail)


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option("--workers", type=int, default=None, help="Parser processes (default: one per core).")
@click.pass_obj
def sync(obj: Context, quiet: bool, workers: int | None) -> None:
    """Pull new mail over IMAP ([mailbox] in the config), store it and update threads.

    Read-only on the server. Safe to interrupt: the next run resumes from the
    last stored batch. Exit 0 on success, 1 with one line on stderr on failure,
    75 when another run is in progress (nothing touched).

    \b
    Examples:
      tracker sync
      */15 * * * *  cd /srv/tracker && tracker sync --quiet    # crontab
    """
    from . import store
    from . import thread as threader
    from .sources import imap
    from .store import sync as imap_sync

    quiet = quiet or obj.quiet
    progress = Progress(not quiet)
    try:
        with exclusive(obj, "sync"):
            db = obj.db()
            try:
                summary = imap_sync.sync(db, obj.config, progress=progress, workers=workers)
            finally:
                progress.done()
            threader.rethread(db, obj.config, summary.to_rethread + store.unthreaded(db))
            scans = _read_scans(obj, db, obj.config.ocr.budget_seconds, quiet) if obj.config.ocr.budget_seconds else None
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    except imap.SyncError as exc:
        raise click.ClickException(str(exc)) from None
    if not quiet:
        for folder in summary.folders:
            click.echo(f"{folder.folder}: {folder.new} new, {folder.known} already known, "
                       f"{folder.quarantined} quarantined" + (" (UIDVALIDITY changed: rescanned)"
                                                             if folder.rescanned else ""))
        if scans is not None and (scans.documents or scans.failed):
            click.echo(_scans_line(scans))


class OcrProgress:
    """Documents and pages read so far, on a terminal's stderr; silent when quiet or not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, run, total: int) -> None:
        if self.enabled:
            minutes = max(time.monotonic() - self.started, 1e-6) / 60
            click.echo(f"\rOCR: {run.documents + run.failed} of {total} documents, {run.pages} pages "
                       f"({run.pages / minutes:.1f} pages/min)", err=True, nl=False)

    def done(self) -> None:
        if self.enabled:
            click.echo("\r\033[K", err=True, nl=False)


def _read_scans(obj: Context, db, budget: float | None, quiet: bool):
    """Work the OCR queue (``store.ocr.work``) for ``budget`` seconds, placing read messages again."""
    from . import thread as threader
    from .store import ocr

    progress = OcrProgress(not (quiet or obj.quiet))
    try:
        return ocr.work(db, obj.config, budget=budget, progress=progress,
                        rethread=lambda ids: threader.rethread(db, obj.config, ids))
    finally:
        progress.done()


def _scans_line(run) -> str:
    from .store import ocr

    return ocr.run_line(run)


@cli.command(name="ocr")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option("--budget", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Stop after about SECONDS and leave the rest queued (default: read everything).")
@click.option("--again", is_flag=True,
              help="First queue again the scans failed for good (after raising [ocr] memory_mb or page_seconds).")
@click.pass_obj
def ocr_command(obj: Context, quiet: bool, budget: float | None, again: bool) -> None:
    """Read the scanned attachments waiting in the OCR queue (Tesseract, [ocr] in the config),
    then place their messages again: an answer whose scan cites its letter finds its thread.

    Newest first; safe to interrupt (what was read is kept, the rest stays queued).
    A document that fails is read again by the next runs, after the new ones, and is
    failed for good after 3 reads; `tracker status` counts them by reason.
    `tracker sync` does the same for at most [ocr] budget_seconds.

    \b
    Examples:
      tracker ocr
      tracker ocr --budget 600
      tracker ocr --again               # after raising [ocr] memory_mb
    """
    from .store import ocr

    with exclusive(obj, "ocr"):
        db = obj.db(create=False)
        if again:
            count = ocr.queue_failed_again(db)
            if not (quiet or obj.quiet):
                click.echo(f"OCR: {count} documents failed for good queued again")
        run = _read_scans(obj, db, budget, quiet)
    if run.missing:
        raise click.ClickException(run.missing)
    if not (quiet or obj.quiet):
        click.echo(_scans_line(run))


@cli.command()
@click.pass_obj
def status(obj: Context) -> None:
    """Per IMAP folder: the last successful sync, what it brought, the last error.
    A folder without a successful sync for two days is flagged STALE.

    \b
    Example:
      tracker status
    """
    from .store import ocr, syncstate

    db = obj.db(create=False)
    click.echo(syncstate.render(syncstate.folder_states(db)))
    line = ocr.status_line(db, obj.config)
    if line:
        click.echo(line)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True,
              help="Output format.")
@click.option("--as-of", "as_of", metavar="DATE",
              help="Statuses as they were that day (YYYY-MM-DD, end of day in your time zone); default now.")
@click.pass_obj
def threads(obj: Context, fmt: str, as_of: str | None) -> None:
    """Every thread (a letter and what one correspondent sent back about it) with its status.

    \b
    Examples:
      tracker threads
      tracker threads --format json --as-of 2026-12-01 > threads.json
    """
    from . import thread as threader

    db, when = _report_input(obj, as_of)
    found = threader.list_threads(db, obj.config, when if as_of else None)
    click.echo(threader.render(found, fmt), nl=False)


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.option("--reclassify", is_flag=True,
              help="Also re-derive each message's kind (done anyway when the coalition changed).")
@click.pass_obj
def rethread(obj: Context, quiet: bool, reclassify: bool) -> None:
    """Re-derive conversations, threads and statuses from the stored messages and the
    current config (after editing correspondents); nothing is re-imported.

    \b
    Examples:
      tracker rethread
      tracker rethread --reclassify
    """
    from . import thread as threader
    from .thread import desk

    with exclusive(obj, "rethread"):
        db = obj.db(create=False)
        threader.rethread(db, obj.config, None, reclassify=reclassify)
    if not (quiet or obj.quiet):
        count = db.execute("select count(*) from threads").fetchone()[0]
        unmatched = desk.waiting_count(db)
        click.echo(f"{count} threads, {unmatched} messages to triage (table unmatched)")


def _person() -> str:
    """Who runs the command, for the marks' history (the login name)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _typed_day(text: str, option: str) -> None:
    """A day as people write it, or a usage error naming ``option`` (exit 2)."""
    from .i18n import parse_day

    try:
        parse_day(text, "en")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _upload(path: Path | None):
    from .thread import desk

    return desk.Upload(path.name, path.read_bytes()) if path is not None else None


@cli.command()
@click.argument("thread")
@click.option("--answered-on", metavar="DATE",
              help="Answered outside the mailbox (by post) on DATE: 20/11/2026, 20 novembre 2026 or 2026-11-20.")
@click.option("--scan", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --answered-on: the scanned answer (PDF, JPEG or PNG), stored and its text read.")
@click.option("--closed", is_flag=True, help="Expect no answer any more.")
@click.option("--reopened", is_flag=True, help="Reopen a thread closed by hand.")
@click.option("--message", "message_id", metavar="MESSAGE_ID", help="This message belongs to the thread.")
@click.option("--move", is_flag=True, help="With --message: take it out of the thread it is in now.")
@click.option("--detach", "detach_id", metavar="MESSAGE_ID",
              help="This message does not belong to the thread: take it out, for good.")
@click.option("--undo", is_flag=True, help="Undo the thread's latest mark.")
@click.option("--note", help="Why (kept with the mark).")
@click.option("--by", "made_by", metavar="NAME", help="Who says so (default: your login name).")
@click.pass_obj
def mark(obj: Context, thread: str, answered_on: str | None, scan: Path | None, closed: bool, reopened: bool,
         message_id: str | None, move: bool, detach_id: str | None, undo: bool, note: str | None,
         made_by: str | None) -> None:
    """Record what only a person knows about THREAD (an id from `tracker threads`, or
    its first characters); marks survive re-imports and rethreads, keep who made them,
    when and why, and can be undone.

    \b
    Examples:
      tracker mark t-3f9a2c1b04 --answered-on 20/11/2026 --scan reponse.pdf --note "réponse papier"
      tracker mark t-3f9a --closed --note "rendez-vous obtenu"
      tracker mark t-3f9a --message CAB.1234@interieur.gouv.fr
      tracker mark t-3f9a --detach lettre-info.55@interieur.gouv.fr --note "une invitation"
      tracker mark t-3f9a --undo
    """
    from . import thread as threader
    from .thread import desk

    chosen = [name for name, on in (("--answered-on", answered_on), ("--closed", closed),
                                    ("--reopened", reopened), ("--message", message_id), ("--detach", detach_id),
                                    ("--undo", undo)) if on]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --answered-on, --closed, --reopened, --message, --detach, --undo")
    if scan is not None and not answered_on:
        raise click.UsageError("--scan goes with --answered-on")
    if move and not message_id:
        raise click.UsageError("--move goes with --message")
    if answered_on:
        _typed_day(answered_on, "--answered-on")
    who = made_by or _person()
    with exclusive(obj, "mark"):
        db = obj.db(create=False)
        try:
            tid = threader.find_thread(db, thread)
            if answered_on:
                desk.answered_by_post(db, obj.config, tid, answered_on, note=note, made_by=who,
                                      scan=_upload(scan), language="en")
            elif closed:
                desk.close(db, obj.config, tid, note=note, made_by=who, language="en")
            elif reopened:
                desk.reopen(db, obj.config, tid, note=note, made_by=who, language="en")
            elif message_id:
                desk.attach(db, obj.config, tid, message_id, move=move, note=note, made_by=who, language="en")
            elif detach_id:
                desk.detach(db, obj.config, tid, detach_id, note=note, made_by=who, language="en")
            else:
                undone = desk.undo(db, obj.config, tid, made_by=who, language="en")
        except threader.ThreadingError as exc:
            raise click.ClickException(str(exc)) from None
        now = db.execute("select status from threads where id = ?", [tid]).fetchone()[0]
    if not obj.quiet:
        done = {"--answered-on": "answered", "--closed": "closed", "--reopened": "reopened", "--message": "attach",
                "--detach": "detach"}
        what = f"{undone['action']} mark of {undone['created_at'][:10]} undone" if undo else f"{done[chosen[0]]} recorded"
        click.echo(f"{tid}: {what}; status {now}")


@cli.command()
@click.option("--to", "to", multiple=True, required=True, metavar="ID",
              help="A correspondent expected to answer (its id, short name or name); repeat for several.")
@click.option("--cc", "cc", multiple=True, metavar="ID", help="A correspondent informed (Cc); repeat for several.")
@click.option("--date", "on", required=True, metavar="DATE", help="When it was sent: 20/11/2026, 20 novembre 2026, 2026-11-20.")
@click.option("--subject", required=True, metavar="TEXT", help="The letter's subject, as written on it.")
@click.option("--file", "pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A PDF of the letter (stored, its text read for matching answers).")
@click.option("--note", help="A note kept with the letter (how it went, to whom by hand).")
@click.option("--via", type=click.Choice(["post", "hand", "web_form"]), default="post", show_default=True,
              help="How it was sent.")
@click.option("--by", "made_by", metavar="NAME", help="Who records it (default: your login name).")
@click.pass_obj
def letter(obj: Context, to: tuple[str, ...], cc: tuple[str, ...], on: str, subject: str, pdf: Path | None,
           note: str | None, via: str, made_by: str | None) -> None:
    """Record a letter sent outside the mailbox (by post, by hand, through a ministry's web
    form): it opens one thread per --to correspondent, as an email letter does, and later
    email answers are matched to it.

    \b
    Example:
      tracker letter --to interieur --cc justice --date "20 novembre 2026" \\
        --subject "Hébergement des victimes" --file courrier.pdf
    """
    from . import thread as threader
    from .thread import desk

    _typed_day(on, "--date")
    with exclusive(obj, "letter"):
        db = obj.db(create=False)
        try:
            message_id, threads = desk.record_letter(
                db, obj.config, to=list(to), cc=list(cc), on=on, subject=subject, note=note, via=via,
                pdf=_upload(pdf), made_by=made_by or _person(), language="en")
        except threader.ThreadingError as exc:
            raise click.ClickException(str(exc)) from None
    if not obj.quiet:
        click.echo(f"letter {message_id}: threads {', '.join(threads)}")


@cli.command(name="desk-write", hidden=True)
@click.pass_obj
def desk_write(obj: Context) -> None:
    """For the web process: one desk action that stores bytes in the private store (a scan,
    a letter's PDF), read as JSON on stdin; the answer is one JSON line on stdout.

    \b
    Example (what tracker serve runs):
      echo '{"action": "answered", "thread": "t-3f9a", "on": "20/11/2026"}' | tracker desk-write
    """
    import json

    from .thread import desk

    request = json.load(sys.stdin)
    try:
        with desk.waiting_lock(obj.config.database, "desk", request.get("language", "fr")):
            answer = desk.apply_request(obj.db(create=False), obj.config, request)
    except desk.DeskError as exc:
        answer = {"error": str(exc), "busy": isinstance(exc, desk.DeskBusy)}
    click.echo(json.dumps(answer))


def upgrade_elsewhere(config: Config) -> None:
    """Bring a database made by an older tracker up to date first (its migrations, its raw
    bytes moved to the private store), in a child process: the web process itself never opens
    the private store."""
    import subprocess

    from .store import private

    if not config.database.exists():
        return
    import sqlite_utils

    from .store.db import migrations

    conn = sqlite3.connect(f"file:{config.database}?mode=ro", uri=True)
    try:
        left = private.left_in_main(conn)
        pending = [m.name for m in migrations.pending(sqlite_utils.Database(conn))]
    finally:
        conn.close()
    if left or pending:
        click.echo(f"Bringing {config.database} up to date"
                   + (f" (moving {', '.join(left)} to the private store {config.private_database})" if left else "")
                   + " ...", err=True)
        done = subprocess.run([sys.executable, "-m", "tracker", "--config", str(config.path), "upgrade"])
        if done.returncode != 0:
            raise click.ClickException("the move to the private store failed; run `tracker upgrade` to see why")


@cli.command()
@click.pass_obj
def upgrade(obj: Context) -> None:
    """Bring the database up to this version of tracker (also done by every writing command).

    Moves the original messages and the bookkeeping of a database made by an older tracker
    into the private store beside it, then rebuilds the published file so that none of their
    bytes stay in it. Safe to interrupt: run it again.

    \b
    Example:
      tracker upgrade
    """
    with exclusive(obj, "upgrade"):
        obj.db().close()
    if not obj.quiet:
        click.echo(f"{obj.config.database} is up to date; private store: {obj.config.private_database}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; beyond loopback only with [auth] password_hashes set.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the tracker in the browser with Datasette (threads, search, ready-made questions).

    \b
    Examples:
      tracker serve                      # http://127.0.0.1:8001/
      tracker serve --port 8010          # behind a reverse proxy: set base_url in the config
    """
    from . import web as publish

    upgrade_elsewhere(obj.config)
    try:
        publish.check_host(obj.config, host)
        publish.check_port(host, port)
        prefix = obj.config.base_url.strip("/")
        click.echo(f"Serving {obj.config.database} on http://{host}:{port}/{prefix + '/' if prefix else ''} "
                   f"(Ctrl+C to stop)", err=True)
        publish.serve(obj.config, host=host, port=port)
    except publish.PublishError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on (127.0.0.1).")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Build the demo here and keep it (default: a temporary folder, removed on exit).")
@click.pass_obj
def demo(obj: Context, port: int, folder: Path | None) -> None:
    """Build a database from the bundled demo mailbox (no server or account needed) and serve
    it on 127.0.0.1.

    \b
    Examples:
      tracker demo                        # then open http://127.0.0.1:8001/
      tracker demo --port 8002 --dir demo-data
    """
    import tempfile

    from . import demo as demo_module
    from . import web as publish

    with tempfile.TemporaryDirectory(prefix="tracker-demo-") as scratch:
        target = folder or Path(scratch)
        click.echo(f"Building the demo database in {target} ...", err=True)
        config = config_module.load(demo_module.build(target))
        try:
            publish.check_port("127.0.0.1", port)
            click.echo(f"Serving the demo on http://127.0.0.1:{port}/ (Ctrl+C to stop)", err=True)
            publish.serve(config, host="127.0.0.1", port=port)
        except publish.PublishError as exc:
            raise click.ClickException(str(exc)) from None


from .commands import COMMANDS, REPORT_ACKNOWLEDGEMENTS  # noqa: E402  (commitments, meetings, co-signers)

for _command in COMMANDS:
    cli.add_command(_command)
report_group.add_command(REPORT_ACKNOWLEDGEMENTS)


def main() -> None:
    cli()
