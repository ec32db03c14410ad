"""Names every part of the web stage shares: the database, templates, static files, what is never served."""

from __future__ import annotations

from .. import paths

DATABASE_NAME = "tracker"
TEMPLATES = paths.templates() / "datasette"
STATIC_MOUNT = "tracker-static"
# the original bytes; and the bookkeeping of sources, digests and the store, which says where
# mail was found and to whom digests went, and which no page needs
NEVER_SERVED = ("raw_messages", "sync_state", "message_locations", "digests", "store_state", "scan_files")
HIDDEN = (
    "raw_messages",
    "sync_state",
    "message_locations",
    "message_links",
    "message_keys",
    "threading_state",
    "store_state",
    "digests",
    "_sqlite_migrations",
    "scan_files",
    "sqlite_sequence",  # marks' AUTOINCREMENT counter
    "messages_fts",
    "attachments_fts",
)
AUTH_HASH_ENV = "TRACKER_DATASETTE_HASH_{}"


class PublishError(Exception):
    """A problem starting the web interface; the message says what to do."""


def plugin_settings(datasette) -> dict | None:
    # plugin_config() re-reads the metadata and resolves secrets on every call, and render_cell
    # runs once per cell: read it once per Datasette instance
    try:
        return datasette._tracker_settings
    except AttributeError:
        datasette._tracker_settings = datasette.plugin_config("tracker")
        return datasette._tracker_settings
