"""Idempotent writes: a batch's raw bytes in the private store first, then its parsed rows.

See ``private`` for why a batch is written in three transactions and how ``complete``
finishes one that a crash interrupted. Writing the same message twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

import sqlite_utils

from ..parse.records import ParsedMessage
from ..sources.item import RawItem
from .db import _index_later, _index_now, iso, now_iso


@dataclass
class WriteSummary:
    new: int = 0
    known: int = 0
    quarantined: int = 0
    new_message_ids: list[str] = field(default_factory=list)
    # known messages met in another folder that changes what they are (a copy found in Sent)
    reclassified_message_ids: list[str] = field(default_factory=list)

    def add(self, other: "WriteSummary") -> None:
        self.new += other.new
        self.known += other.known
        self.quarantined += other.quarantined
        self.new_message_ids.extend(other.new_message_ids)
        self.reclassified_message_ids.extend(other.reclassified_message_ids)

    @property
    def to_rethread(self) -> list[str]:
        """The messages threading must look at again after this write."""
        return self.new_message_ids + self.reclassified_message_ids


def known_locations(db: sqlite_utils.Database, source: str, folder: str) -> set[str]:
    """Keys already recorded for one folder of one source (fast re-import skip)."""
    rows = db.execute(
        "select key from message_locations where source = ? and folder = ? "
        "union select key from quarantine where source = ? and folder = ?",
        [source, folder, source, folder],
    ).fetchall()
    return {row[0] for row in rows}


def unthreaded(db: sqlite_utils.Database) -> list[str]:
    """Messages stored but never threaded: a run killed between its last commit and
    its rethread leaves them, and the next run must thread them with its own."""
    return [row[0] for row in db.execute("select message_id from messages where conversation_id is null")]


def known_sha256(db: sqlite_utils.Database) -> set[str]:
    return {row[0] for row in db.execute("select sha256 from raw_messages").fetchall()}


MESSAGE_COLUMNS = (
    "message_id", "sha256", "conversation_id", "date", "date_original", "date_source", "from_address",
    "from_name", "subject", "subject_normalized", "direction", "kind", "in_reply_to", "refs", "body_text",
    "body_html", "attachment_count", "size", "folders", "headers", "delivery_reports", "original_message_id",
    "is_delivery_report", "message_id_synthetic", "defects", "imported_at",
)
_INSERT_MESSAGE = (
    f"insert into messages ({', '.join(f'[{c}]' for c in MESSAGE_COLUMNS)}) "
    f"values ({', '.join('?' * len(MESSAGE_COLUMNS))})"
)


def _message_row(item: RawItem, msg: ParsedMessage, direction: str, kind: str, stamp: str) -> tuple:
    """The values of MESSAGE_COLUMNS for a new message, imported at ``stamp``."""
    date = msg.date
    date_source = "header"
    if date is None:
        date = item.arrived_at or datetime.now(timezone.utc)
        date_source = "arrival"
    return (
        msg.message_id,
        msg.sha256,
        None,
        iso(date),
        date.isoformat(timespec="seconds") if date.tzinfo else iso(date),
        date_source,
        msg.from_.address if msg.from_ else None,
        msg.from_.name if msg.from_ else None,
        msg.subject,
        msg.subject_normalized,
        direction,
        kind,
        msg.in_reply_to,
        json.dumps(msg.references),
        msg.body_text,
        msg.body_html,
        len(msg.attachments),
        msg.size,
        json.dumps([item.folder]),
        json.dumps(msg.headers, ensure_ascii=False),
        json.dumps([asdict(r) for r in msg.delivery_reports]) if msg.delivery_reports else "[]",
        msg.original_message_id,
        int(msg.is_delivery_report),
        int(msg.message_id_synthetic),
        json.dumps(msg.defects) if msg.defects else "[]",
        stamp,
    )


def write_batch(
    db: sqlite_utils.Database,
    results: Iterable[tuple[RawItem, ParsedMessage | str]],
    classify,
    checkpoint: Callable[[], None] | None = None,
) -> WriteSummary:
    """Store parsed messages (or quarantine reasons): raw bytes, locations and ``checkpoint``
    (the source's own bookkeeping) in the private store first, then the parsed rows.

    ``classify(msg, folder) -> (direction, kind)`` decides what the message is. Each step is
    its own transaction, so the caller must not hold one open.
    """
    if db.conn.in_transaction:
        raise RuntimeError("write_batch commits the private store first: call it outside a transaction")
    results = list(results)
    stamp = now_iso()
    with db.atomic():
        fresh = _write_private(db, results, stamp)
        if checkpoint is not None:
            checkpoint()
    summary = WriteSummary()
    with db.atomic():  # the index_later flag never outlives the batch, nor shows outside it
        after = _index_later(db)
        _write_rows(db, results, classify, summary, fresh, stamp)
        _index_now(db, after)
    with db.atomic():
        db.conn.executemany(
            "delete from private.pending where source = ? and folder = ? and key = ?",
            [(item.source, item.folder, item.key) for item, _ in results],
        )
    return summary


def _sha256(item: RawItem, outcome: ParsedMessage | str) -> str:
    return hashlib.sha256(item.raw).hexdigest() if isinstance(outcome, str) else outcome.sha256


def _write_private(db: sqlite_utils.Database, results, stamp: str) -> set[str]:
    """Step 1: the raw bytes, where they were found, and a pending mark per item; returns the
    sha256 of the raw bytes stored for the first time."""
    conn = db.conn
    fresh: set[str] = set()
    for item, outcome in results:
        location = (item.source, item.folder, item.key)
        sha = None if item.raw is None else _sha256(item, outcome)
        conn.execute(
            "insert or replace into private.pending (source, folder, key, sha256, size, arrived_at, problem) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            (*location, sha, item.size if item.raw is None else len(item.raw), iso(item.arrived_at),
             (item.problem or outcome) if item.raw is None else None),
        )
        if sha is None:
            continue
        message_id = None if isinstance(outcome, str) else outcome.message_id
        if conn.execute(
            "insert or ignore into private.raw_messages (sha256, message_id, size, stored_at, raw) "
            "values (?, ?, ?, ?, ?)",
            (sha, message_id, len(item.raw), stamp, item.raw),
        ).rowcount:
            fresh.add(sha)
        if message_id is not None:
            conn.execute(
                "insert or ignore into private.message_locations (source, folder, key, sha256, message_id, "
                "arrived_at, seen_at) values (?, ?, ?, ?, ?, ?, ?)",
                (*location, sha, message_id, iso(item.arrived_at), stamp),
            )
    return fresh


def complete(
    db: sqlite_utils.Database,
    parse: Callable[[bytes], ParsedMessage | str],
    classify,
    *,
    batch: int = 200,
) -> int:
    """Write the published rows of items whose raw bytes a killed run stored (``pending``),
    parsing them again with ``parse``; returns how many items it finished. The next
    rethread threads the new messages (``unthreaded``)."""
    done = 0
    while True:
        rows = db.execute(
            "select p.source, p.folder, p.key, p.size, p.arrived_at, p.problem, r.raw from private.pending p "
            "left join private.raw_messages r on r.sha256 = p.sha256 order by p.rowid limit ?",
            [batch],
        ).fetchall()
        if not rows:
            return done
        results = []
        for source, folder, key, size, arrived_at, problem, raw in rows:
            item = RawItem(source, folder, key, raw, datetime.fromisoformat(arrived_at) if arrived_at else None,
                           size=size, problem=problem if raw is None else None)
            results.append((item, parse(raw) if raw is not None else (problem or "not fetched")))
        write_batch(db, results, classify)
        done += len(rows)


def _write_rows(db: sqlite_utils.Database, results, classify, summary: WriteSummary, fresh: set[str], stamp: str) -> None:
    """Step 2: the published rows (messages, recipients, attachments, quarantine)."""
    conn = db.conn
    for item, outcome in results:
        location = (item.source, item.folder, item.key)
        if item.raw is None:
            conn.execute(
                "insert or ignore into quarantine (source, folder, key, sha256, size, reason, "
                "quarantined_at) values (?, ?, ?, NULL, ?, ?, ?)",
                (*location, item.size, item.problem or outcome, stamp),
            )
            summary.quarantined += 1
            continue
        sha = _sha256(item, outcome)
        message_id = None if isinstance(outcome, str) else outcome.message_id
        fresh_raw = sha in fresh
        if isinstance(outcome, str):
            conn.execute(
                "insert or ignore into quarantine (source, folder, key, sha256, size, reason, "
                "quarantined_at) values (?, ?, ?, ?, ?, ?, ?)",
                (*location, sha, len(item.raw), outcome, stamp),
            )
            if fresh_raw:
                summary.quarantined += 1
            else:
                summary.known += 1
            continue
        existing = conn.execute(
            "select folders, direction from messages where message_id = ?", (message_id,)
        ).fetchone()
        if existing is not None:
            folders = json.loads(existing[0] or "[]")
            if item.folder not in folders:
                folders.append(item.folder)
                conn.execute(
                    "update messages set folders = ? where message_id = ?",
                    (json.dumps(folders), message_id),
                )
                # found in a Sent folder = outgoing, whichever copy came first
                direction, kind = classify(outcome, item.folder)
                if direction == "outgoing" and existing[1] != "outgoing":
                    conn.execute(
                        "update messages set direction = ?, kind = ? where message_id = ?",
                        (direction, kind, message_id),
                    )
                    summary.reclassified_message_ids.append(message_id)
            summary.known += 1
            continue
        direction, kind = classify(outcome, item.folder)
        conn.execute(_INSERT_MESSAGE, _message_row(item, outcome, direction, kind, stamp))
        for role, people in (("to", outcome.to), ("cc", outcome.cc), ("bcc", outcome.bcc)):
            for position, person in enumerate(people):
                conn.execute(
                    "insert or ignore into recipients (message_id, role, address, name, position) "
                    "values (?, ?, ?, ?, ?)",
                    (message_id, role, person.address, person.name, position),
                )
        for position, attachment in enumerate(outcome.attachments):
            conn.execute(
                "insert or ignore into attachments (id, message_id, position, filename, "
                "content_type, size, sha256, text) values (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"{message_id}/{position}",
                    message_id,
                    position,
                    attachment.filename,
                    attachment.content_type,
                    attachment.size,
                    attachment.sha256,
                    attachment.text,
                ),
            )
        summary.new += 1
        summary.new_message_ids.append(message_id)
