"""Publishing with Datasette 0.65: metadata, canned queries, templates, the plugin, ``serve``.

Everything here is Datasette used as documented: a metadata dict (labels,
descriptions, hidden tables, permissions, canned queries, default sorts and
facets), template overrides by name in ``templates/datasette/`` and one plugin
module, :mod:`tracker.datasette_plugin` (CSP header, SQLite authorizer, template
helpers, the home page chart).

Decisions:

- The database is opened *mutable* (Datasette's read connections use
  ``?mode=ro``), not immutable: ``tracker sync`` writes to it while Datasette
  serves it, and ``immutable=1`` promises SQLite the file never changes, which
  would give stale pages or "database disk image is malformed" errors under a
  concurrent writer in WAL mode. ``mode=ro`` reads consistent WAL snapshots.
- ``raw_messages`` is never served: its table is denied to every actor
  (``"allow": false``) and a SQLite authorizer on every Datasette connection
  refuses to read it, so neither the table pages nor any SQL (arbitrary, canned,
  through a view) can reach the original bytes. Downloading the database file
  is off.
- When ``[auth] password_hashes`` is configured, an instance-level ``"allow"``
  block lets only those accounts see anything; anonymous visitors are sent to
  the login page. SQL of one's own (the SQL editor, ``?sql=``, ``_where=``) is
  then Datasette's ``execute-sql`` permission, given by ``"allow_sql"`` to the
  accounts of ``[auth] admins`` only (nobody when none is named); members keep
  the pages and canned queries. Without accounts (loopback, one person), SQL stays.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from .hosts import allowed_hosts
from .labels import column_label, TABLES
from .queries import canned_queries
from .settings import AUTH_HASH_ENV, DATABASE_NAME, HIDDEN, NEVER_SERVED

# --- metadata -------------------------------------------------------------------------------


def _table_metadata(name: str, columns: list[str], language: str) -> dict[str, Any]:
    title, description = TABLES[name][language]
    entry: dict[str, Any] = {
        "title": title,
        "description": description,
        "columns": {c: column_label(c, language) for c in columns},
    }
    return entry


_TABLE_COLUMNS = {
    "threads": ["id", "correspondent_id", "correspondent", "subject", "conversation_id",
                "letter_message_id", "status", "opened_at", "last_letter_at", "last_reply_at",
                "due_at", "overdue"],
    "messages": ["message_id", "date", "from_name", "from_address", "subject", "direction", "kind",
                 "body_text", "attachment_count", "conversation_id", "in_reply_to", "size",
                 "folders", "date_original", "date_source", "subject_normalized", "refs",
                 "body_html", "headers", "delivery_reports", "original_message_id",
                 "is_delivery_report", "message_id_synthetic", "defects", "imported_at", "sha256"],
    "recipients": ["message_id", "role", "address", "name", "position"],
    "attachments": ["id", "message_id", "position", "filename", "content_type", "size", "sha256", "text"],
    "correspondents": ["id", "name", "short_name", "addresses", "domains", "deadline"],
    "thread_messages": ["thread_id", "message_id", "matched_by"],
    "unmatched": ["message_id", "correspondent_id", "candidates", "reason"],
    "marks": ["id", "thread_id", "action", "on_date", "message_id", "note", "created_at", "made_by"],
    "marks_undone": ["id", "thread_id", "action", "on_date", "message_id", "note", "created_at", "made_by",
                     "undone_at", "undone_by"],
    "scans": ["id", "thread_id", "mark_id", "filename", "content_type", "size", "sha256", "text", "stored_at"],
    "quarantine": ["id", "source", "folder", "key", "sha256", "size", "reason", "quarantined_at"],
    "commitments": ["id", "correspondent_id", "words", "due_on", "said_on", "said_in", "thread_id", "message_id",
                    "meeting_id", "status", "note", "created_at", "made_by", "updated_at", "updated_by"],
    "meetings": ["id", "thread_id", "correspondent_id", "kind", "on_date", "note", "created_at", "made_by"],
    "cosigners": ["message_id", "member", "set_at", "set_by"],
    "unanswered": ["id", "correspondent_id", "correspondent", "subject", "status", "opened_at",
                   "last_letter_at", "last_reply_at", "due_at", "waiting_since", "days_waiting"],
    "responsiveness": ["correspondent_id", "correspondent", "letters", "replied", "reply_rate",
                       "reply_rate_low", "reply_rate_high", "median_days", "p90_days",
                       "overdue_now", "too_few"],
}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "threads": {"sort_desc": "opened_at",
                "facets": ["correspondent", "status", "overdue", {"month": "opened_at"}],
                "label_column": "subject"},
    "messages": {"sort_desc": "date", "facets": ["direction", "kind", {"month": "date"}],
                 "fts_table": "messages_fts", "fts_pk": "rowid", "label_column": "subject"},
    "recipients": {"facets": ["role"]},
    "attachments": {"facets": ["content_type"], "fts_table": "attachments_fts", "fts_pk": "rowid",
                    "label_column": "filename"},
    "correspondents": {"sort": "name", "label_column": "name"},
    "quarantine": {"sort_desc": "quarantined_at", "facets": ["reason", "source"]},
    "marks": {"sort_desc": "created_at", "facets": ["action"]},
    "marks_undone": {"sort_desc": "undone_at", "facets": ["action"]},
    "scans": {"sort_desc": "stored_at", "label_column": "filename"},
    "unmatched": {"facets": ["correspondent_id", "reason"]},
}


def _approximate_days(deadline) -> float:
    per_unit = {"months": 30.44, "days": 1.0, "working_days": 7 / 5}
    return round(deadline.count * per_unit.get(deadline.unit, 1.0), 1)


def password_hash_env(username: str) -> str:
    """The environment variable through which a password hash reaches the auth plugin.

    Datasette shows its metadata at ``/-/metadata``; an ``{"$env": ...}`` reference keeps the
    hashes out of that page."""
    return AUTH_HASH_ENV.format("".join(c if c.isalnum() else "_" for c in username).upper())


def metadata(config: Config) -> dict[str, Any]:
    """Datasette metadata for ``config``: labels in ``config.language``, hidden and denied
    tables, default sorts and facets, canned queries, permissions and plugin settings."""
    language = config.language
    tables: dict[str, Any] = {}
    for name, columns in _TABLE_COLUMNS.items():
        entry = _table_metadata(name, columns, language)
        entry.update(_DEFAULTS.get(name, {}))
        tables[name] = entry
    for name in HIDDEN:
        tables.setdefault(name, {})["hidden"] = True
    for name in NEVER_SERVED:
        tables[name]["allow"] = False
    if language == "fr":
        title = "Suivi des correspondances"
        description = "Ce que {} a écrit, à qui, qui a répondu, qui ne l'a pas fait, et depuis quand."
    else:
        title = "Correspondence tracker"
        description = "What {} wrote to whom, who answered, who has not, and for how long."
    coalition = config.coalition_name or ("la coalition" if language == "fr" else "the coalition")
    meta: dict[str, Any] = {
        "title": f"{title} — {config.coalition_name}" if config.coalition_name else title,
        "description": description.format(coalition),
        "databases": {
            DATABASE_NAME: {
                "title": title,
                "tables": tables,
                "queries": canned_queries(language),
            }
        },
        "plugins": {
            "tracker": {
                "language": language,
                "timezone": config.timezone,
                # the SQL's "now" (tracker_now()): the end of the config's as_of day, in UTC
                "now": config.now().strftime("%Y-%m-%d %H:%M:%S") if config.as_of else None,
                "as_of": config.as_of.isoformat() if config.as_of else None,
                # where the chart draws the default delay ("2 months" is about 61 days)
                "deadline_days": _approximate_days(config.default_deadline),
                "deadline": str(config.default_deadline),
                "feed_root": config.digest.base_url,
                # the public address is https: the login cookie is sent over https only
                "secure_cookies": config.digest.base_url.lower().startswith("https://"),
                "auth": bool(config.auth.password_hashes),
                # the accounts that get Datasette's generic pages (web/console.py)
                "admins": sorted(config.auth.admins),
                "coordinators": sorted(config.auth.coordinators),
                "allowed_hosts": allowed_hosts(config),
                "never_served": list(NEVER_SERVED),
            }
        },
    }
    if config.auth.password_hashes:
        meta["allow"] = {"id": sorted(config.auth.password_hashes)}
        meta["allow_sql"] = {"id": sorted(config.auth.admins)} if config.auth.admins else False
        meta["plugins"]["datasette-auth-passwords"] = {
            f"{user}_password_hash": {"$env": password_hash_env(user)}
            for user in config.auth.password_hashes
        }
    return meta
