"""The Datasette instance: tracker's metadata, templates and plugin, served by ``tracker serve``."""

from __future__ import annotations


import os

from ..config import Config
from .guard import GuardedDatabase
from .hosts import check_host, plain_http_warning
from .metadata import metadata, password_hash_env
from .settings import DATABASE_NAME, NEVER_SERVED, PublishError, STATIC_MOUNT, TEMPLATES


# --- the Datasette instance -----------------------------------------------------------------


def make_datasette(config: Config, *, base_url: str | None = None):
    """A Datasette instance serving ``config.database`` as ``tracker`` (mutable, read-only
    connections), with tracker's metadata, templates and plugin. ``base_url`` overrides the
    config's path prefix (for a reverse proxy, e.g. ``/tracker/``)."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    from . import plugin as datasette_plugin

    if not config.database.exists():
        raise PublishError(
            f"{config.database}: no database yet; run `tracker import PATH` or `tracker sync` first "
            f"(or `tracker demo` to try tracker with the demo mailbox)"
        )
    if not TEMPLATES.is_dir():
        raise PublishError(
            f"{TEMPLATES}: the page templates are missing; reinstall tracker "
            f"(python3 -m pip install . from its source folder)"
        )
    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="tracker")
    for user, hashed in config.auth.password_hashes.items():
        os.environ[password_hash_env(user)] = hashed
    prefix = base_url if base_url is not None else config.base_url
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    ds = Datasette(
        metadata=metadata(config),
        template_dir=str(TEMPLATES),
        static_mounts=[(STATIC_MOUNT, str(TEMPLATES / "static"))],
        settings={
            "base_url": prefix,
            "allow_download": False,
            "default_page_size": 50,
            "sql_time_limit_ms": 5000,
            "facet_time_limit_ms": 400,
            # suggested facets cost a query per column on every table page (95 queries, 2.6 s on
            # the messages table at 100,000 messages); the configured facets stay
            "suggest_facets": False,
        },
        secret=os.environ.get("TRACKER_DATASETTE_SECRET") or None,
    )
    ds._tracker_config = config  # the desk's actions need the whole config (correspondents, auth)
    database = GuardedDatabase(ds, path=str(config.database), is_mutable=True, never_served=NEVER_SERVED)
    ds.add_database(database, name=DATABASE_NAME)
    return ds


class QuietQueryErrors:
    """stderr for ``tracker serve``: Datasette writes a failing query's SQL, its parameters
    and SQLite's message there ("ERROR: conn=..., sql = ..., params = {'search': ...}"), and
    search words may name the people the letters are about. Only the fact is kept."""

    PREFIX = "ERROR: conn="

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if text.startswith(self.PREFIX):
            self.stream.write("tracker serve: a database query failed (its text is not logged)\n")
            return len(text)
        return self.stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def serve(config: Config, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the tracker with Datasette on ``host:port`` until interrupted."""
    import asyncio
    import sys

    import uvicorn

    check_host(config, host)
    check_port(host, port)
    warning = plain_http_warning(config, host)
    if warning:
        print(warning, file=sys.stderr)
    sys.stderr = QuietQueryErrors(sys.stderr)
    ds = make_datasette(config)
    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")


def check_port(host: str, port: int) -> None:
    """Raise PublishError, in one line that suggests --port, when ``host:port`` is taken."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as uvicorn binds: a port left in TIME_WAIT is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PublishError(f"port {port} on {host} is already in use (another tracker or program); "
                               f"choose another with --port {port + 1}") from None
