"""What each IMAP folder's sync last did: the ``sync_state`` table, read and written.

``tracker sync`` writes it (the checkpoint of each batch, then success or
failure per folder); ``tracker status`` and the weekly digest read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlite_utils

STALE_AFTER = timedelta(days=2)


@dataclass
class FolderState:
    """One folder's row of ``sync_state``."""

    folder: str
    uidvalidity: int | None = None
    last_uid: int = 0
    highestmodseq: int | None = None
    last_attempt_at: str | None = None
    last_success_at: str | None = None
    last_new: int | None = None
    last_error: str | None = None

    def stale(self, now: datetime, max_age: timedelta = STALE_AFTER) -> bool:
        """True when the folder has not synced successfully for ``max_age``."""
        if not self.last_success_at:
            return True
        return datetime.fromisoformat(self.last_success_at) < now - max_age


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def folder_states(db: sqlite_utils.Database) -> list[FolderState]:
    """Every folder ever synced, by name."""
    cursor = db.execute("select * from sync_state order by folder")
    names = [d[0] for d in cursor.description]
    return [FolderState(**dict(zip(names, row))) for row in cursor]


def get(db: sqlite_utils.Database, folder: str) -> FolderState:
    """The state of one folder (empty when never synced)."""
    cursor = db.execute("select * from sync_state where folder = ?", [folder])
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return FolderState(**dict(zip(names, row))) if row else FolderState(folder)


def stale_folders(
    db: sqlite_utils.Database, now: datetime | None = None, max_age: timedelta = STALE_AFTER
) -> list[FolderState]:
    """Folders whose last successful sync is older than ``max_age`` (two days), or never was.

    The weekly digest reports these: a sync silently failing for days means
    replies are not being seen.
    """
    now = now or datetime.now(timezone.utc)
    return [state for state in folder_states(db) if state.stale(now, max_age)]


def checkpoint(db: sqlite_utils.Database, folder: str, uidvalidity: int, last_uid: int) -> None:
    """Record that every UID up to ``last_uid`` is stored; runs inside the batch's transaction."""
    db.execute(
        "insert into sync_state (folder, uidvalidity, last_uid) values (?, ?, ?) "
        "on conflict(folder) do update set uidvalidity = excluded.uidvalidity, "
        "last_uid = excluded.last_uid",
        [folder, uidvalidity, last_uid],
    )


def attempted(db: sqlite_utils.Database, folder: str) -> None:
    db.execute(
        "insert into sync_state (folder, last_uid, last_attempt_at) values (?, 0, ?) "
        "on conflict(folder) do update set last_attempt_at = excluded.last_attempt_at",
        [folder, _now()],
    )


def succeeded(
    db: sqlite_utils.Database,
    folder: str,
    uidvalidity: int,
    last_uid: int,
    highestmodseq: int | None,
    new: int,
) -> None:
    """A folder synced to the end: remember when, what it brought and where the server was."""
    with db.atomic():
        db.execute(
            "insert into sync_state (folder, uidvalidity, last_uid, highestmodseq, "
            "last_attempt_at, last_success_at, last_new, last_error) "
            "values (?, ?, ?, ?, ?, ?, ?, NULL) on conflict(folder) do update set "
            "uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, "
            "highestmodseq = excluded.highestmodseq, last_attempt_at = excluded.last_attempt_at, "
            "last_success_at = excluded.last_success_at, "
            "last_new = excluded.last_new, last_error = NULL",
            [folder, uidvalidity, last_uid, highestmodseq, _now(), _now(), new],
        )


def failed(db: sqlite_utils.Database, folders: list[str], error: str) -> None:
    """Record the error on each folder (the last successful sync stays as it was)."""
    with db.atomic():
        for folder in folders:
            db.execute(
                "insert into sync_state (folder, last_uid, last_attempt_at, last_error) "
                "values (?, 0, ?, ?) on conflict(folder) do update set "
                "last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error",
                [folder, _now(), error],
            )


def render(states: list[FolderState], now: datetime | None = None) -> str:
    """``tracker status`` as text: one line per folder, STALE when over two days old."""
    now = now or datetime.now(timezone.utc)
    if not states:
        return "No IMAP sync yet: run `tracker sync`."
    lines = []
    for state in states:
        success = state.last_success_at or "never"
        line = f"{state.folder}: last success {success}"
        if state.last_success_at is not None:
            line += f" ({state.last_new or 0} new), up to UID {state.last_uid}"
        if state.last_error:
            line += f"; last error at {state.last_attempt_at}: {state.last_error}"
        if state.stale(now):
            line += "  STALE: no successful sync for two days"
        lines.append(line)
    return "\n".join(lines)
