"""What bodies promised, and whether they kept it; meetings and calls as dated events of a
thread; letters' co-signers. Recorded by a person (the desk, ``tracker commitment``,
``tracker meeting``, ``tracker cosigners``), read by the reports, the digest and the pages.

Decisions:

- A commitment belongs to a correspondent (the body that promised), and to a thread or a
  message when there is one. A body named by a former name (``successor`` in the config)
  is recorded under its successor, and one recorded before the reshuffle is listed there too.
- ``due_on`` is the day the body promised to act by; a pending commitment is past due from
  the day after (``overdue``). ``said_in`` says where it was promised: reply, meeting, phone,
  letter or other; ``said_on`` the day.
- Co-signers are suggested when a member's name, short name or an alias appears as words in
  a letter's subject, body or attachments' text; only a person sets them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, datetime, timedelta

import sqlite_utils

from ..config import Config, Correspondent, Member, slugify
from ..i18n import parse_day
from ..store.db import now_iso
from .marks import find_thread
from .threader import ThreadingError

STATUSES = ("pending", "kept", "not_kept", "dropped")
SAID_IN = ("reply", "meeting", "phone", "letter", "other")
MEETING_KINDS = ("meeting", "phone")
DUE_SOON_DAYS = 30

# the digest's and the pages' words (fr, en)
WORDS = {
    "past_due": ("Engagements échus", "Commitments past due"),
    "past_due.none": ("Aucun engagement échu.", "No commitment past due."),
    "due_soon": ("Engagements attendus dans les 30 jours", "Commitments due in the next 30 days"),
    "due_soon.none": ("Aucun engagement attendu dans les 30 jours.", "No commitment due in the next 30 days."),
    "promised_by": ("promis pour le", "promised by"),
}


class CommitmentError(ThreadingError):
    """A commitment, meeting or co-signer that cannot be recorded; the text says why."""


def word(key: str, language: str) -> str:
    fr, en = WORDS[key]
    return en if language == "en" else fr


def body(config: Config, name: str) -> Correspondent:
    """The correspondent ``name`` designates (id, short name or name, any case), or the
    successor of the former body it names."""
    wanted = slugify(name or "")
    for correspondent in config.correspondents:
        if wanted in (correspondent.slug, slugify(correspondent.name)):
            return correspondent
    for correspondent in config.correspondents:
        if any(wanted in (former.slug, slugify(former.name)) for former in correspondent.formerly):
            return correspondent
    known = ", ".join(c.slug for c in config.correspondents)
    raise CommitmentError(f'no correspondent is called "{name}"; use one of: {known}')


def _day(value: str | date | None, language: str, what: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return (value if isinstance(value, date) else parse_day(value, language)).isoformat()
    except ValueError as exc:
        raise CommitmentError(f"{what}: {exc}") from None


def _thread_body(db: sqlite_utils.Database, thread: str) -> tuple[str, str]:
    tid = find_thread(db, thread)
    return tid, db.execute("select correspondent_id from threads where id = ?", [tid]).fetchone()[0]


def add(db: sqlite_utils.Database, config: Config, *, words: str, due_on: str | date | None = None,
        correspondent: str | None = None, thread: str | None = None, message_id: str | None = None,
        said_in: str = "meeting", said_on: str | date | None = None, meeting_id: int | None = None,
        note: str | None = None, made_by: str | None = None) -> int:
    """Record what a body promised (its ``words``), pending; returns its id. The body is
    ``correspondent``, else the thread's; ``message_id`` is the message where it was said."""
    language = config.language
    if not (words or "").strip():
        raise CommitmentError("a commitment needs the body's words (what it promised)")
    if said_in not in SAID_IN:
        raise CommitmentError(f'said_in "{said_in}" is unknown; use one of {", ".join(SAID_IN)}')
    tid = cid = None
    if thread:
        tid, cid = _thread_body(db, thread)
    if correspondent:
        cid = body(config, correspondent).slug
    if cid is None:
        raise CommitmentError("name the body that promised (--correspondent) or the thread (--thread)")
    if message_id and db.execute("select 1 from messages where message_id = ?", [message_id]).fetchone() is None:
        raise CommitmentError(f"no message has the Message-ID {message_id}")
    if meeting_id is not None and db.execute("select 1 from meetings where id = ?", [meeting_id]).fetchone() is None:
        raise CommitmentError(f"no meeting has the id {meeting_id}")
    with db.atomic():
        db.execute(
            "insert into commitments (correspondent_id, words, due_on, said_on, said_in, thread_id, message_id, "
            "meeting_id, status, note, created_at, made_by) values (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            [cid, words.strip(), _day(due_on, language, "due date"), _day(said_on, language, "date said"),
             said_in, tid, message_id, meeting_id, note, now_iso(), made_by])
        return db.execute("select max(id) from commitments").fetchone()[0]


def set_status(db: sqlite_utils.Database, config: Config, commitment_id: int, status: str, *,
               note: str | None = None, made_by: str | None = None) -> None:
    """Say a commitment was kept, not kept, dropped (or pending again), with a note."""
    if status not in STATUSES:
        raise CommitmentError(f'status "{status}" is unknown; use one of {", ".join(STATUSES)}')
    with db.atomic():
        found = db.execute("select note from commitments where id = ?", [commitment_id]).fetchone()
        if found is None:
            raise CommitmentError(f"no commitment has the id {commitment_id}; see tracker commitment list")
        db.execute("update commitments set status = ?, note = ?, updated_at = ?, updated_by = ? where id = ?",
                   [status, note if note is not None else found[0], now_iso(), made_by, commitment_id])


def _current(config: Config) -> dict[str, Correspondent]:
    """Every id a commitment may carry (current bodies and former ones) -> the current body."""
    found = {}
    for correspondent in config.correspondents:
        found[correspondent.slug] = correspondent
        for former in correspondent.formerly:
            found.setdefault(former.slug, correspondent)
    return found


def _today(config: Config, as_of: datetime | date | None) -> date:
    if isinstance(as_of, datetime):
        return as_of.astimezone(config.tz).date()
    return as_of or config.now().astimezone(config.tz).date()


COLUMNS = ("id, correspondent_id, words, due_on, said_on, said_in, thread_id, message_id, meeting_id, "
           "status, note, created_at, made_by, updated_at, updated_by")
ORDER = "order by due_on is null, due_on, id"


def list_commitments(db: sqlite_utils.Database, config: Config, as_of: datetime | date | None = None,
                     correspondent: str | None = None) -> list[dict]:
    """Every commitment as ``tracker commitment list --format json`` gives it (DESIGN.md),
    by due date (undated last), with ``overdue`` as of ``as_of`` (default today)."""
    return shaped(db.execute(f"select {COLUMNS} from commitments {ORDER}").fetchall(), config, as_of, correspondent)


def shaped(rows: list, config: Config, as_of: datetime | date | None = None,
           correspondent: str | None = None) -> list[dict]:
    """Rows of ``select COLUMNS from commitments`` as ``list_commitments`` gives them (the web
    reads them through Datasette's connections), only ``correspondent``'s when named."""
    today = _today(config, as_of)
    bodies = _current(config)
    only = body(config, correspondent).slug if correspondent else None
    out = []
    for (cid_, cid, words, due_on, said_on, said_in, tid, mid, meeting, status, note, created, by,
         updated, updated_by) in rows:
        current = bodies.get(cid)
        if only and (current is None or current.slug != only):
            continue
        out.append({
            "id": cid_, "correspondent": current.name if current else cid,
            "correspondent_id": current.slug if current else cid,
            "said_by": next((f.name for f in current.formerly if f.slug == cid), current.name) if current else cid,
            "words": words, "due_on": due_on, "said_on": said_on, "said_in": said_in,
            "thread_id": tid, "message_id": mid, "meeting_id": meeting, "status": status, "note": note,
            "overdue": status == "pending" and due_on is not None and date.fromisoformat(due_on) < today,
            "created_at": created, "made_by": by, "updated_at": updated, "updated_by": updated_by,
        })
    return out


def due(db: sqlite_utils.Database, config: Config, as_of: datetime | date | None = None,
        days: int = DUE_SOON_DAYS) -> tuple[list[dict], list[dict]]:
    """(past due, due within ``days`` from ``as_of``): pending commitments with a due date."""
    today = _today(config, as_of)
    pending = [c for c in list_commitments(db, config, today) if c["status"] == "pending" and c["due_on"]]
    soon = today + timedelta(days=days)
    return ([c for c in pending if c["overdue"]],
            [c for c in pending if not c["overdue"] and date.fromisoformat(c["due_on"]) <= soon])


def render(commitments: list[dict], fmt: str) -> str:
    """``list_commitments`` as JSON (the contract) or a text table."""
    if fmt == "json":
        return json.dumps(commitments, ensure_ascii=False, indent=1) + "\n"
    lines = [f"{'id':<4} {'status':<9} {'due':<10} {'correspondent':<28} words"]
    for c in commitments:
        lines.append(f"{c['id']:<4} {c['status'] + ('!' if c['overdue'] else ''):<9} {c['due_on'] or '':<10} "
                     f"{c['correspondent'][:28]:<28} {c['words']}")
    return "\n".join(lines) + "\n"


# --- meetings ---------------------------------------------------------------------------------


def add_meeting(db: sqlite_utils.Database, config: Config, thread: str, on: str | date, *,
                kind: str = "meeting", note: str | None = None, made_by: str | None = None) -> int:
    """A meeting or a phone call on ``on``, a dated event of ``thread``; returns its id."""
    if kind not in MEETING_KINDS:
        raise CommitmentError(f'kind "{kind}" is unknown; use one of {", ".join(MEETING_KINDS)}')
    tid, cid = _thread_body(db, thread)
    with db.atomic():
        db.execute("insert into meetings (thread_id, correspondent_id, kind, on_date, note, created_at, made_by) "
                   "values (?, ?, ?, ?, ?, ?, ?)",
                   [tid, cid, kind, _day(on, config.language, "meeting date"), note, now_iso(), made_by])
        return db.execute("select max(id) from meetings").fetchone()[0]


# --- co-signers -------------------------------------------------------------------------------


def member(config: Config, name: str) -> Member:
    """The member association ``name`` designates (id, short name or name, any case)."""
    wanted = slugify(name or "")
    for item in config.members:
        if wanted in (item.slug, slugify(item.name)):
            return item
    known = ", ".join(m.slug for m in config.members) or "none: add [[members]] to the config"
    raise CommitmentError(f'no member association is called "{name}"; known: {known}')


def _letter(db: sqlite_utils.Database, message_id: str) -> str:
    # stored without brackets; people copy the header's <...>
    row = db.execute("select message_id from messages where message_id = ? and direction = 'outgoing'",
                     [(message_id or "").strip().strip("<>")]).fetchone()
    if row is None:
        raise CommitmentError(f"no letter has the Message-ID {message_id}")
    return row[0]


def set_cosigners(db: sqlite_utils.Database, config: Config, message_id: str, names: list[str], *,
                  made_by: str | None = None) -> list[str]:
    """The co-signers of a letter become ``names`` (members); returns their ids."""
    letter = _letter(db, message_id)
    slugs = sorted({member(config, name).slug for name in names})
    with db.atomic():
        db.execute("delete from cosigners where message_id = ?", [letter])
        db.conn.executemany("insert into cosigners (message_id, member, set_at, set_by) values (?, ?, ?, ?)",
                            [(letter, slug, now_iso(), made_by) for slug in slugs])
    return slugs


def cosigners_of(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """letter's Message-ID -> its co-signers' ids."""
    found: dict[str, list[str]] = {}
    for mid, slug in db.execute("select message_id, member from cosigners order by message_id, member"):
        found.setdefault(mid, []).append(slug)
    return found


def _folded(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    # an acronym's dots go (C.C.E.M. is ccem); a full stop ends a word like a space
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", "", plain))


def suggest_cosigners(db: sqlite_utils.Database, config: Config, message_id: str) -> list[str]:
    """The members whose name, short name or an alias appears as words in the letter's subject,
    body or attachments' text (PDFs included), by id."""
    letter = _letter(db, message_id)
    parts = db.execute("select coalesce(subject, '') || ' ' || coalesce(body_text, '') from messages "
                       "where message_id = ?", [letter]).fetchone()[0]
    return named_members(config, [parts, *(t for (t,) in db.execute(
        "select text from attachments where message_id = ?", [letter]))])


def named_members(config: Config, texts: list[str | None]) -> list[str]:
    """The ids of the members whose name, short name or an alias appears as words in ``texts``."""
    text = f" {_folded(' '.join(t or '' for t in texts))} "
    found = []
    for item in config.members:
        names = {item.name, item.short_name, *item.aliases}
        if any(f" {_folded(name).strip()} " in text for name in names if _folded(name).strip()):
            found.append(item.slug)
    return found


def letters_of_member(db: sqlite_utils.Database, slug: str) -> list[str]:
    """The Message-IDs of the letters member ``slug`` co-signed."""
    return [mid for (mid,) in db.execute("select message_id from cosigners where member = ? order by message_id",
                                         [slug])]
