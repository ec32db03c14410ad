"""Per-recipient threads: which letter each correspondent owes an answer to, and since when.

``rethread(db, config, changed_message_ids)`` runs after every import and sync. It

1. links the changed messages into their conversations (``conversations``);
2. records what each message tells about correspondents and matching (``message_keys``):
   the bodies a letter is addressed to (To) or copied (Cc), the body an incoming message
   comes from, the keys of ``matching``, the recipients a bounce names;
3. groups each correspondent's letters into threads: a letter opens one thread per To
   correspondent; a letter in the same conversation, or a reminder ("Relance :") under the
   same subject, continues it. The thread id is a short hash of the first letter's
   Message-ID and the correspondent, so it survives re-imports and rethreads;
4. places each incoming message from a correspondent in that correspondent's thread: by
   headers (same conversation), else by evidence (subject, "Objet :", the letter date it
   cites, reference numbers); when no thread is clearly best it goes to ``unmatched``
   with ranked candidates, for a person to attach (``tracker mark --message``);
5. places bounces in the thread of the letter their DSN names, for the failed recipient;
6. decides each touched thread's status with ``status.decide``.

Every step re-derives only what the changed messages can affect (their conversations, the
letters connected to them, the answers that share evidence with those letters), so the cost
follows what a sync brought, not the size of the mailbox. ``None`` (or a config whose
correspondents changed) re-derives everything: the keys that depend on the config in SQL,
then one correspondent at a time (its letters, answers, bounces and their keys in memory,
never the whole mailbox), and only the rows that changed are written. The evidence read from
bodies is kept, and rows are re-classified (``classify.classify_row``) only when the
coalition changed or on request: a config change needs no re-import.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Iterable

import sqlite_utils

from ..config import Config
from ..parse import classify
from ..parse.evidence import evidence_state
from ..store.staged import unstage
from . import conversations
from .correspondents import fingerprint, sync_correspondents
from .threader import Threader


def rethread(
    db: sqlite_utils.Database,
    config: Config,
    changed_message_ids: Iterable[str] | None = None,
    *,
    reclassify: bool = False,
) -> None:
    """Re-derive conversations and threads touched by ``changed_message_ids`` (all when None).

    A config whose correspondents, coalition or calendar changed since the last run
    re-derives everything, whatever ``changed_message_ids`` says. Stored rows are
    re-classified (``classify.classify_row``) first when the coalition changed, or when
    ``reclassify`` asks for it.
    """
    state = {
        "config": fingerprint(config),
        "classify": json.dumps([sorted(config.coalition_addresses), sorted(config.coalition_domains)]),
        "evidence": evidence_state(config),
    }
    stored = dict(db.execute("select key, value from threading_state").fetchall())
    if changed_message_ids is None or stored.get("config") != state["config"]:
        sync_correspondents(db, config)
        with db.atomic():
            # rows were classified at import with the coalition of that day: only another
            # coalition (or a request) calls for classifying them again
            if reclassify or stored.get("classify", state["classify"]) != state["classify"]:
                _reclassify(db, config)
            if stored.get("evidence") != state["evidence"]:
                # a letter's date key is its local date: another time zone, other keys
                db.execute("delete from message_keys")
            _rethread_all(db, config)
            db.conn.executemany(
                "insert or replace into threading_state (key, value) values (?, ?)", list(state.items())
            )
            unstage(db)
        return
    changed = [m for m in dict.fromkeys(changed_message_ids) if m]
    with db.atomic():
        if changed:
            affected = conversations.update(db, changed)
            Threader(db, config).run(affected)
        refresh_overdue(db, config.now())
        unstage(db)



def refresh_overdue(db: sqlite_utils.Database, now: datetime | None = None) -> int:
    """Bring the stored ``overdue`` flags up to ``now``: a due date passes without any mail
    arriving, and a sync that brought nothing re-derives no thread. Returns rows changed."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    # due_at is local time with its offset: as text it sorts right to within a day, which the
    # index narrows to; julianday() then compares the instants exactly. Flags only go from 0
    # to 1 with time: re-deriving a thread (a reply, a mark) sets them both ways.
    return db.execute(
        "update threads indexed by threads_coming_due set overdue = 1 where overdue = 0 "
        "and status in ('awaiting_reply', 'acknowledged') and due_at < ? "
        "and julianday(due_at) < julianday(?)",
        [(moment + timedelta(days=1)).isoformat(), moment.isoformat()],
    ).rowcount


def _rethread_all(db: sqlite_utils.Database, config: Config) -> None:
    conversations.rebuild(db)
    Threader(db, config, full=True).run(None)


def _reclassify(db: sqlite_utils.Database, config: Config) -> None:
    """Re-derive direction and kind of stored rows (a changed coalition or classifier)."""
    classify_row = getattr(classify, "classify_row", None)
    if classify_row is None:
        return
    cursor = db.execute(
        "select message_id, direction, kind, from_address, subject, body_text, headers, "
        "is_delivery_report, delivery_reports, folders from messages"
    )
    columns = [d[0] for d in cursor.description]
    updates = []
    for values in cursor:
        row = dict(zip(columns, values))
        direction, kind = classify_row(row, config)
        if (direction, kind) != (row["direction"], row["kind"]):
            updates.append((direction, kind, row["message_id"]))
    db.conn.executemany("update messages set direction = ?, kind = ? where message_id = ?", updates)
    # evidence is read for a role (a letter's date and subject, an answer's citations): a
    # message that changed role is read again
    db.conn.executemany("delete from message_keys where message_id = ?", [(u[2],) for u in updates])

