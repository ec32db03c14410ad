"""The private store: the original bytes and the bookkeeping, in a second SQLite file.

The published database (``tracker.db``) holds what readers may see and is the only file the
web process opens. ``tracker-private.db`` beside it (``private_database`` in the config)
holds ``raw_messages``, ``message_locations`` (where each message was found), ``sync_state``,
``digests``, ``scan_files`` (scans uploaded at the desk) and ``pending`` (the journal below). Writers attach it as ``private``: SQLite
finds an unqualified table name in the attached file when the main one has none, so the
store's SQL reads the same either way.

A commit across two WAL databases is not atomic, so a batch is written in three
transactions, private first (``writes.write_batch``):

1. the raw bytes, the locations, a ``pending`` row per item and the source's checkpoint;
2. the parsed rows, in the published database;
3. the batch's ``pending`` rows deleted.

A crash after 1 leaves raw bytes without their parsed rows and their ``pending`` rows:
``writes.complete`` writes those rows at the next run. A crash can never leave a parsed row
whose bytes are lost.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlite_utils

SCHEMA = "private"
TABLES = ("raw_messages", "message_locations", "sync_state", "digests")
DDL = {
    "raw_messages": (
        "create table if not exists private.raw_messages (sha256 TEXT PRIMARY KEY, message_id TEXT, "
        "size INTEGER, stored_at TEXT, raw BLOB)",
        "create index if not exists private.idx_raw_messages_message_id on raw_messages (message_id)",
    ),
    "message_locations": (
        "create table if not exists private.message_locations (source TEXT, folder TEXT, key TEXT, "
        "sha256 TEXT, message_id TEXT, arrived_at TEXT, seen_at TEXT, PRIMARY KEY (source, folder, key))",
        "create index if not exists private.idx_message_locations_sha256 on message_locations (sha256)",
        "create index if not exists private.idx_message_locations_message_id on message_locations (message_id)",
    ),
    "sync_state": (
        "create table if not exists private.sync_state (folder TEXT PRIMARY KEY, uidvalidity INTEGER, "
        "last_uid INTEGER, highestmodseq INTEGER, last_attempt_at TEXT, last_success_at TEXT, "
        "last_new INTEGER, last_error TEXT)",
    ),
    "digests": (
        "create table if not exists private.digests (iso_week TEXT PRIMARY KEY, sent_at TEXT, "
        "message_id TEXT, recipients TEXT, subject TEXT)",
    ),
    # the bytes of scans uploaded at the desk (their text is in the published ``scans``)
    "scan_files": (
        "create table if not exists private.scan_files (sha256 TEXT PRIMARY KEY, content_type TEXT, "
        "size INTEGER, stored_at TEXT, raw BLOB)",
    ),
    # which published database this store belongs to (the same number is in its store_state)
    "identity": ("create table if not exists private.identity (store_id INTEGER NOT NULL)",),
    # one row per item of a batch whose published rows may not be written yet
    "pending": (
        "create table if not exists private.pending (source TEXT, folder TEXT, key TEXT, sha256 TEXT, "
        "size INTEGER, arrived_at TEXT, problem TEXT, PRIMARY KEY (source, folder, key))",
    ),
}


def owner_only(path: Path) -> None:
    """Create ``path`` readable by its owner alone, before SQLite opens it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def attach(db: sqlite_utils.Database, path: Path | str) -> None:
    """Attach the private store (created owner-only when missing) and make its tables."""
    if str(path) != ":memory:":
        owner_only(Path(path))
    db.execute(f"attach database ? as {SCHEMA}", [str(path)])
    db.execute(f"PRAGMA {SCHEMA}.journal_mode=WAL")
    db.execute(f"PRAGMA {SCHEMA}.synchronous=NORMAL")
    for statements in DDL.values():
        for sql in statements:
            db.execute(sql)


class StoreMismatch(Exception):
    """The private store beside a database belongs to another one; the text says what to do."""


def pair(db: sqlite_utils.Database, database: Path | str, private_path: Path | str) -> None:
    """Check, or record on first use, that the private store belongs to this database: a new
    ``tracker.db`` beside an old private store would take every message for already imported
    and every IMAP folder for already fetched."""
    ours = db.execute("select value from main.store_state where key = 'store_id'").fetchone()
    theirs = db.execute("select store_id from private.identity").fetchone()
    if ours and theirs and ours[0] == theirs[0]:
        return
    if ours and theirs:
        raise StoreMismatch(
            f"{private_path} belongs to another database than {database}; put back the database it "
            f"was made with, or move {Path(private_path).name} away to start a new private store"
        )
    holds = db.execute("select (select count(*) from private.raw_messages) + (select count(*) from private.sync_state)").fetchone()[0]
    if ours and not theirs and holds:
        raise StoreMismatch(f"{private_path} holds messages but no record of its database; move it away")
    if theirs and not ours and db.execute("select count(*) from main.messages").fetchone()[0] == 0 and holds:
        raise StoreMismatch(
            f"{database} is new but {private_path} beside it holds messages of an earlier database: "
            f"restore that database, or move {Path(private_path).name} away to start afresh"
        )
    store_id = (ours or theirs or (int.from_bytes(os.urandom(7), "big"),))[0]
    with db.conn:
        db.execute("insert or replace into main.store_state (key, value) values ('store_id', ?)", [store_id])
        db.execute("delete from private.identity")
        db.execute("insert into private.identity (store_id) values (?)", [store_id])


def left_in_main(conn) -> list[str]:
    """Private tables still in the published file (a database older than the private store)."""
    return [
        row[0]
        for row in conn.execute(
            f"select name from main.sqlite_master where type = 'table' and name in ({','.join('?' * len(TABLES))})",
            TABLES,
        )
    ]


def move_out_of_main(db: sqlite_utils.Database) -> None:
    """Move the private tables out of the published file without losing a byte, then VACUUM
    it so that no raw bytes stay in its free pages. Safe to kill at any moment: the rows are
    committed in the private store before the published file lets go of them, and each step
    is done again, harmlessly, by the next run."""
    present = left_in_main(db.conn)
    if present:
        db.execute("begin immediate")
        for table in present:
            columns = ", ".join(f"[{row[1]}]" for row in db.execute(f"pragma main.table_info([{table}])"))
            db.execute(f"insert or ignore into {SCHEMA}.[{table}] ({columns}) select {columns} from main.[{table}]")
        db.execute("commit")
        db.execute("begin immediate")
        for table in present:
            db.execute(f"drop table main.[{table}]")
        db.execute("insert or replace into main.store_state (key, value) values ('vacuum_pending', 1)")
        db.execute("commit")
    vacuum_if_pending(db)


def vacuum_if_pending(db: sqlite_utils.Database) -> None:
    """Finish a move: rebuild the published file and empty its WAL, so that the bytes of the
    tables it no longer holds are gone from the disk's copy of it."""
    row = db.execute("select value from main.store_state where key = 'vacuum_pending'").fetchone()
    if not row or not row[0]:
        return
    db.execute("vacuum main")
    db.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
    db.execute("delete from main.store_state where key = 'vacuum_pending'")
    db.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
