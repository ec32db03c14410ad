"""Marks: facts only a person knows about a thread, recorded and applied at once."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlite_utils

from ..config import Config
from .lookup import REPLY_KINDS, iso
from .threader import Threader, ThreadingError


def find_thread(db: sqlite_utils.Database, name: str) -> str:
    """The thread id ``name`` designates (an id or an unambiguous prefix of one)."""
    name = name.strip()
    rows = db.execute(
        "select id from threads where id = ? or id like ? order by id limit 3",
        [name, name.replace("%", "").replace("_", "\\_") + "%"],
    ).fetchall()
    exact = [r[0] for r in rows if r[0] == name]
    if exact:
        return exact[0]
    if not rows:
        raise ThreadingError(f"no thread {name}; list them with `tracker threads`")
    if len(rows) > 1:
        raise ThreadingError(f"{name} names several threads ({', '.join(r[0] for r in rows)}...); type more of the id")
    return rows[0][0]


def mark(
    db: sqlite_utils.Database,
    config: Config,
    thread: str,
    action: str,
    *,
    on_date: datetime | None = None,
    message_id: str | None = None,
    note: str | None = None,
    made_by: str | None = None,
) -> str:
    """Record a fact only a person knows about a thread and re-derive it; return the thread id.

    ``action`` is ``answered`` (by post, on ``on_date``), ``closed``, ``reopened`` or
    ``attach`` (``message_id`` belongs to this thread) or ``detach`` (it does not: no rethread
    puts it back there); ``made_by`` is who says so. Under ``as_of`` an undated mark is dated
    the end of that day, as the desk acts in the world the config judges.
    """
    tid = find_thread(db, thread)
    if on_date is None and config.as_of is not None and action in ("answered", "closed", "reopened"):
        on_date = config.now()
    if action not in ("answered", "closed", "reopened", "attach", "detach"):
        raise ThreadingError(f"unknown mark {action}: use answered, closed, reopened, attach or detach")
    if action in ("attach", "detach"):
        message_id = (message_id or "").strip().strip("<>")
        row = db.execute("select direction, kind from messages where message_id = ?", [message_id]).fetchone()
        if row is None:
            raise ThreadingError(f"no message {message_id}; copy its Message-ID from the unmatched table")
        if row[0] != "incoming" or row[1] not in REPLY_KINDS:
            raise ThreadingError(
                f"{message_id} is {row[0]} {row[1]}: only incoming replies, acknowledgements and "
                f"auto-replies can be attached to a thread"
            )
    with db.atomic():
        db["marks"].insert(
            {
                "thread_id": tid,
                "action": action,
                "on_date": iso(on_date) if on_date else None,
                "message_id": message_id,
                "note": note,
                "created_at": iso(datetime.now(timezone.utc)),
                "made_by": made_by,
            }
        )
        threader = Threader(db, config)
        if action in ("attach", "detach"):
            cid = db.execute("select correspondent_id from threads where id = ?", [tid]).fetchone()[0]
            threader.place_answer(cid, message_id)
        threader.touched.add(tid)
        threader.update_statuses(sorted(threader.touched))
    return tid

