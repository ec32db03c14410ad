"""Reading threads: the state a thread's members and marks decide, as of a date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone

import sqlite_utils

from ..config import Config, Correspondent
from ..parse.evidence import Resolver, moment
from . import status
from .lookup import REPLY_KINDS, chunks, in_, iso


def state_columns(state: status.ThreadState) -> tuple:
    """status, opened_at, last_letter_at, last_reply_at, due_at, overdue as stored."""
    return (
        state.status,
        iso(state.opened_at),
        iso(state.last_letter_at),
        iso(state.last_reply_at),
        state.due_at.isoformat(timespec="seconds") if state.due_at else None,
        int(state.overdue),
    )



def members_of(db: sqlite_utils.Database, thread_ids: list[str] | None) -> dict[str, list[tuple]]:
    """thread id -> [(message_id, date, direction, kind, matched_by)] by date."""
    sql = (
        "select tm.thread_id, m.message_id, m.date, m.direction, m.kind, tm.matched_by from "
        "thread_messages tm join messages m on m.message_id = tm.message_id"
    )
    rows: list[tuple] = []
    if thread_ids is None:
        rows = db.execute(sql).fetchall()
    else:
        for chunk in chunks(thread_ids):
            rows.extend(db.execute(sql + f" where tm.thread_id in ({in_(chunk)})", chunk).fetchall())
    found: dict[str, list[tuple]] = {}
    for tid, *rest in rows:
        found.setdefault(tid, []).append(tuple(rest))
    for items in found.values():
        items.sort(key=lambda r: (r[1], r[0]))
    return found


def marks_of(db: sqlite_utils.Database, thread_ids: list[str] | None) -> dict[str, list[status.Mark]]:
    sql = "select thread_id, action, on_date, note, created_at from marks where action in ('answered', 'closed', 'reopened')"
    rows: list[tuple] = []
    if thread_ids is None:
        rows = db.execute(sql + " order by id").fetchall()
    else:
        for chunk in chunks(thread_ids):
            rows.extend(db.execute(sql + f" and thread_id in ({in_(chunk)}) order by id", chunk).fetchall())
    found: dict[str, list[status.Mark]] = {}
    for tid, action, on_date, note, created_at in rows:
        found.setdefault(tid, []).append(
            status.Mark(action, moment(on_date) if on_date else None, note, moment(created_at))
        )
    return found


def decide(
    config: Config,
    correspondent: Correspondent,
    members: list[tuple],
    marks: list[status.Mark],
    as_of: datetime | date | None,
) -> status.ThreadState:
    """The state of one thread from its members (see ``_members``) and marks."""
    events = []
    for message_id, when, direction, kind, matched_by in members:
        if matched_by == "letter":
            kind = "letter"
        elif matched_by == "bounce":
            kind = "bounce"
        elif kind not in REPLY_KINDS:
            continue
        events.append(status.ThreadEvent(message_id, moment(when), direction, kind))
    return status.decide(
        events, marks, config.deadline_for(correspondent), config.holidays, config.tz, as_of
    )


@dataclass
class ThreadView:
    """One thread as it stood at some moment: its members up to then, its marks, its state."""

    id: str
    correspondent: Correspondent
    subject: str
    members: list[tuple]  # (message_id, date, direction, kind, matched_by), by date
    marks: list[status.Mark]
    state: status.ThreadState
    # None unless the correspondent has acknowledgement_within
    acknowledgement: status.Acknowledgement | None = None
    # the former name (config: successor) its first letter was written to, or None
    written_to: str | None = None
    # the letter was still waiting for an answer when its body's successor took over
    carried_over: bool = False


def thread_views(
    db: sqlite_utils.Database, config: Config, as_of: datetime | date | None = None
) -> list[ThreadView]:
    """Every thread that existed at ``as_of`` (default: now, and every message whatever its
    date), oldest first, with the members dated up to then and its state as ``decide`` sees it.
    Threads of a correspondent no longer in the config are left out. The one reading of
    threads that ``tracker threads``, the reports and the digest share."""
    by_id = {c.slug: c for c in config.correspondents}
    limit = _as_of_limit(as_of, config)
    members = members_of(db, None)
    marks = marks_of(db, None)
    views = []
    for tid, cid, subject in db.execute(
        "select id, correspondent_id, subject from threads order by opened_at, id"
    ).fetchall():
        correspondent = by_id.get(cid)
        if correspondent is None:
            continue
        items = members.get(tid, [])
        state = decide(config, correspondent, items, marks.get(tid, []), as_of)
        if state.opened_at is None:
            continue  # no letter yet at as_of: the thread did not exist
        if limit is not None:
            items = [item for item in items if moment(item[1]) <= limit]
        view = ThreadView(tid, correspondent, subject or "", items, marks.get(tid, []), state)
        view.acknowledgement = status.acknowledgement(
            _events(items), view.marks, correspondent.acknowledgement_within, config.holidays, config.tz,
            state, as_of)
        if correspondent.formerly:
            _former(db, config, view, as_of)
        views.append(view)
    return views


def _events(members: list[tuple]) -> list[status.ThreadEvent]:
    return [status.ThreadEvent(mid, moment(when), direction, kind) for mid, when, direction, kind, _ in members]


def _former(db: sqlite_utils.Database, config: Config, view: ThreadView, as_of) -> None:
    """Which former name of its body the thread's first letter was written to (its To
    address is one of the former body's own, or, for a body renamed only, the letter
    predates the renaming), and whether it was still open on the day the successor took over."""
    first = view.state.opened_at
    letter = next((m for m in view.members if m[4] == "letter"), None)
    if first is None or letter is None:
        return
    day = first.astimezone(config.tz).date()
    candidates = [f for f in view.correspondent.formerly if day < f.since]
    if not candidates:
        return
    to = [a for (a,) in db.execute("select address from recipients where message_id = ? and role = 'to'",
                                   [letter[0]])]
    own = [f for f in candidates if any(Resolver([f])(a) for a in to)]
    former = own[0] if own else candidates[0] if len(candidates) == 1 else None
    if former is None:
        return
    view.written_to = former.name
    took_over = datetime.combine(former.since, datetime.min.time(), tzinfo=config.tz)
    was = decide(config, view.correspondent, view.members, view.marks, took_over)
    view.carried_over = was.status in status.UNANSWERED


def list_threads(
    db: sqlite_utils.Database, config: Config, as_of: datetime | date | None = None
) -> list[dict]:
    """Every thread as DESIGN.md's ``tracker threads --format json`` contract says, with its
    status as of ``as_of`` (default now); threads opened after ``as_of`` are left out.
    Dates are ISO 8601 in the configured time zone, with its offset."""
    tz = config.tz
    meetings = _meetings(db)

    def out(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).isoformat(timespec="seconds") if moment is not None else None

    return [
        {
            "id": view.id,
            "correspondent": view.correspondent.name,
            "subject": view.subject,
            "status": view.state.status,
            "opened_at": out(view.state.opened_at),
            "last_letter_at": out(view.state.last_letter_at),
            "last_reply_at": out(view.state.last_reply_at),
            "due_at": out(view.state.due_at),
            "overdue": view.state.overdue,
            "written_to": view.written_to,
            "carried_over": view.carried_over,
            "acknowledgement_due_at": out(view.acknowledgement.due_at) if view.acknowledgement else None,
            "acknowledged_at": out(view.acknowledgement.received_at) if view.acknowledgement else None,
            "acknowledgement_overdue": bool(view.acknowledgement and view.acknowledgement.overdue),
            "meetings": meetings.get(view.id, []),
            "messages": [
                {"message_id": message_id, "date": out(moment(when)), "direction": direction, "kind": kind}
                for message_id, when, direction, kind, _ in view.members
            ],
        }
        for view in thread_views(db, config, as_of)
    ]


def _meetings(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """thread id -> its meetings and calls (``tracker meeting``), ``{id, kind, on_date, note}``."""
    found: dict[str, list[dict]] = {}
    for mid, tid, kind, on, note in db.execute(
            "select id, thread_id, kind, on_date, note from meetings order by on_date, id").fetchall():
        found.setdefault(tid, []).append({"id": mid, "kind": kind, "on_date": on, "note": note})
    return found


def render(threads: list[dict], fmt: str) -> str:
    """``list_threads`` output as JSON (the contract) or as a text table."""
    if fmt == "json":
        return json.dumps(threads, ensure_ascii=False, indent=1) + "\n"
    lines = [f"{'id':<13} {'status':<15} {'opened':<10} {'due':<10} {'correspondent':<28} subject"]
    for t in threads:
        lines.append(
            f"{t['id']:<13} {t['status'] + ('!' if t['overdue'] else ''):<15} "
            f"{(t['opened_at'] or '')[:10]:<10} {(t['due_at'] or '')[:10]:<10} "
            f"{t['correspondent'][:28]:<28} {t['subject'] or ''}"
        )
    return "\n".join(lines) + "\n"


def _as_of_limit(as_of: datetime | date | None, config: Config) -> datetime | None:
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)
    return datetime.combine(as_of, status.END_OF_DAY, tzinfo=config.tz)

