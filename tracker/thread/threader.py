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

import bisect
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

import sqlite_utils

from . import conversations, matching, status
from .config import Config, Correspondent

REPLY_KINDS = ("reply", "acknowledgement", "auto_reply")
SLACK = timedelta(hours=1)  # clocks differ: an answer may look a little older than its letter
BOUNCE_WINDOW = timedelta(days=7)


class ThreadingError(Exception):
    """A thread or message that a command names does not exist; the text says what to do."""


# --- correspondents ------------------------------------------------------------------------


class Resolver:
    """Address -> correspondent id: exact address first, then the longest matching domain."""

    def __init__(self, correspondents: Iterable[Correspondent]) -> None:
        self.exact: dict[str, str] = {}
        self.domains: list[tuple[str, str]] = []
        for correspondent in correspondents:
            for address in correspondent.addresses:
                self.exact.setdefault(address.strip().lower(), correspondent.slug)
            for domain in correspondent.domains:
                self.domains.append((domain.strip().lower().lstrip("@."), correspondent.slug))
        self.domains.sort(key=lambda item: (-len(item[0]), item[0]))
        self._cache: dict[str, str | None] = {}

    def __call__(self, address: str | None) -> str | None:
        """The id of the correspondent ``address`` belongs to, or None (not tracked)."""
        if not address:
            return None
        try:
            return self._cache[address]  # as written: a mailbox has few distinct addresses
        except KeyError:
            pass
        normal = address.strip().lower()
        found = self.exact.get(normal)
        if found is None:
            domain = normal.rpartition("@")[2]
            for suffix, slug in self.domains:
                if domain == suffix or domain.endswith("." + suffix):
                    found = slug
                    break
        self._cache[address] = found
        return found


def sync_correspondents(db: sqlite_utils.Database, config: Config) -> None:
    """Make the ``correspondents`` table say what the config says (id = slug)."""
    rows = [
        {
            "id": c.slug,
            "name": c.name,
            "short_name": c.short_name,
            "addresses": json.dumps(c.addresses),
            "domains": json.dumps(c.domains),
            "deadline": str(config.deadline_for(c)),
        }
        for c in config.correspondents
    ]
    with db.atomic():
        db["correspondents"].upsert_all(rows, pk="id") if rows else None
        keep = [row["id"] for row in rows]
        db.execute(
            f"delete from correspondents where id not in ({','.join('?' * len(keep))})", keep
        )


def thread_id(letter_message_id: str, correspondent_id: str) -> str:
    """The stable id of the thread a letter opens for one correspondent ("t-" + 10 hex)."""
    digest = hashlib.sha1(f"{letter_message_id}\n{correspondent_id}".encode("utf-8", "surrogatepass"))
    return "t-" + digest.hexdigest()[:10]


def _fingerprint(config: Config) -> str:
    return json.dumps(
        {
            "correspondents": [
                [c.slug, c.name, sorted(c.addresses), sorted(c.domains), str(config.deadline_for(c))]
                for c in config.correspondents
            ],
            "coalition": [sorted(config.coalition_addresses), sorted(config.coalition_domains)],
            "holidays": config.holidays,
            "timezone": config.timezone,
            "threading": DERIVATION_VERSION,
        },
        sort_keys=True,
    )


# --- the entry point -----------------------------------------------------------------------

EVIDENCE_VERSION = "3"  # bump when matching extracts evidence differently
DERIVATION_VERSION = "3"  # bump when the derived keys change: the next run re-derives everything


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
        "config": _fingerprint(config),
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
            _unstage(db)
        return
    changed = [m for m in dict.fromkeys(changed_message_ids) if m]
    with db.atomic():
        if changed:
            affected = conversations.update(db, changed)
            Threader(db, config).run(affected)
        refresh_overdue(db)
        _unstage(db)


def stage_evidence(db: sqlite_utils.Database, config: Config, rows: list[tuple[str, str, str]]) -> None:
    """Keep (message_id, key, role) rows of matching evidence, read by the import's parser
    workers (``evidence_keys``) with ``config``, for this connection's next rethread, which
    then reads those bodies no more. A temporary table: appending to it costs little, and a
    run that dies loses it, its rethread reading the bodies itself."""
    if not rows:
        return
    db.execute("create temp table if not exists staged_evidence (message_id text, key text, role text)")
    db.execute("create temp table if not exists staged_evidence_state (value text not null)")
    state = evidence_state(config)
    if db.execute("select value from temp.staged_evidence_state").fetchall() != [(state,)]:
        db.execute("delete from temp.staged_evidence")  # read in another time zone, by other code
        db.execute("delete from temp.staged_evidence_state")
        db.execute("insert into temp.staged_evidence_state (value) values (?)", [state])
    db.conn.executemany("insert into temp.staged_evidence (message_id, key, role) values (?, ?, ?)", rows)


def _staged(db: sqlite_utils.Database, config: Config) -> bool:
    """Whether evidence read with ``config`` is staged (``stage_evidence``); indexed once,
    when it is read."""
    if not db.execute("select 1 from sqlite_temp_master where type = 'table' and name = 'staged_evidence'").fetchone():
        return False
    if db.execute("select value from temp.staged_evidence_state").fetchall() != [(evidence_state(config),)]:
        return False
    db.execute("create index if not exists temp.staged_evidence_message on staged_evidence (message_id)")
    return True


def _unstage(db: sqlite_utils.Database) -> None:
    db.execute("drop table if exists temp.staged_evidence")
    db.execute("drop table if exists temp.staged_evidence_state")


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
    from . import classify

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


# --- the threader --------------------------------------------------------------------------

# keys that say which correspondent a message concerns (they change with the config)
# Keys that depend on the config, as ranges of the key index: the correspondents a message
# concerns ("to:interieur"), and its subjects scoped to each of them ("@interieur|s:...") so
# that incremental lookups read one correspondent's letters under a common subject, not
# everybody's (dates and reference numbers are selective enough as they are).
CORRESPONDENT_KEYS = (("to:", "to;"), ("cc:", "cc;"), ("from:", "from;"), ("bounce:", "bounce;"), ("@", "A"))
SCOPED_PREFIXES = ("s:", "rs:")


def scoped(correspondent_id: str, key: str) -> str:
    """An evidence key as one correspondent's ("@justice|s:indemnisation")."""
    return f"@{correspondent_id}|{key}"


def scope_range(correspondent_id: str) -> tuple[str, str]:
    return f"@{correspondent_id}|", f"@{correspondent_id}}}"
HORIZON = timedelta(days=550)  # an answer found by evidence answers a letter of the last 18 months
# a full run that adds evidence for more messages than this drops message_keys' secondary
# indexes and builds them again at the end (cheaper than updating them key by key)
REBUILD_KEY_INDEX_AT = 10000

# Full runs collect the derived rows here (columns, primary key), then write only the
# difference to the real tables.
FULL_TABLES = {
    "threads": (
        ("id", "correspondent_id", "correspondent", "subject", "subject_key", "conversation_id",
         "letter_message_id", "status", "opened_at", "last_letter_at", "last_reply_at", "due_at", "overdue"),
        ("id",),
    ),
    "thread_messages": (("thread_id", "message_id", "matched_by"), ("thread_id", "message_id")),
    "unmatched": (("message_id", "correspondent_id", "candidates", "reason", "date"), ("message_id",)),
}


@dataclass
class Letter:
    message_id: str
    date: str
    conversation_id: str | None
    subject: str
    subject_key: str
    reminder: bool


@dataclass
class Info:
    date: str
    conversation_id: str | None
    in_reply_to: str | None
    refs: str | None
    kind: str
    original: str | None


def _chunks(items: list, size: int = 500):
    for index in range(0, len(items), size):
        yield items[index : index + size]


def _in(values) -> str:
    return ",".join("?" * len(values))


def group_letters(letters: Iterable[Letter], correspondent_id: str) -> dict[str, str]:
    """letter id -> thread id: letters of one conversation, and a reminder with the latest
    letter before it under the same subject, share a thread named after its first letter."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    ordered = sorted(letters, key=lambda l: (l.date, l.message_id))
    first_in: dict[str, str] = {}
    latest: dict[str, str] = {}
    for letter in ordered:
        if letter.conversation_id:
            union(first_in.setdefault(letter.conversation_id, letter.message_id), letter.message_id)
        if letter.reminder and letter.subject_key in latest:
            union(latest[letter.subject_key], letter.message_id)
        if letter.subject_key:
            latest[letter.subject_key] = letter.message_id
    first: dict[str, str] = {}
    for letter in ordered:
        first.setdefault(find(letter.message_id), letter.message_id)
    return {l.message_id: thread_id(first[find(l.message_id)], correspondent_id) for l in ordered}


class Lookup:
    """What placing a message needs to know, read from the database (incremental runs)."""

    def __init__(self, threader: "Threader") -> None:
        self.t = threader

    def info(self, message_id: str) -> Info | None:
        rows = self.t.q(
            "select date, conversation_id, in_reply_to, refs, kind, original_message_id from messages "
            "where message_id = ?",
            [message_id],
        )
        return Info(*rows[0]) if rows else None

    def attached(self, message_id: str) -> str | None:
        rows = self.t.q(
            "select m.thread_id from marks m join threads t on t.id = m.thread_id where m.action = "
            "'attach' and m.message_id = ? order by m.id desc limit 1",
            [message_id],
        )
        return rows[0][0] if rows else None

    def conversation_letters(self, cid: str, conversation_id: str | None) -> list[tuple[str, str, str]]:
        """(date, letter id, thread id) of the letters to ``cid`` in a conversation, by date."""
        if not conversation_id:
            return []
        return self.t.q(
            "select m.date, m.message_id, tm.thread_id from messages m join thread_messages tm on "
            "tm.message_id = m.message_id and tm.matched_by = 'letter' join threads t on t.id = "
            "tm.thread_id and +t.correspondent_id = ? where m.conversation_id = ? order by m.date, m.message_id",
            [cid, conversation_id],
        )

    def copied(self, cid: str, conversation_id: str | None) -> bool:
        if not conversation_id:
            return False
        return bool(
            self.t.q(
                "select 1 from messages m join message_keys k on k.message_id = m.message_id and "
                "+k.key = ? and k.role = 'letter' where m.conversation_id = ? limit 1",
                [f"cc:{cid}", conversation_id],
            )
        )

    def candidates(self, cid: str, message_id: str, since: str, until: str) -> dict[str, set[str]]:
        """thread id -> keys it shares with the message (letters sent between since and until)."""
        low, high = scope_range(cid)
        # subjects through this correspondent's scoped keys; dates and references directly
        rows = self.t.q(
            "select lk.key, tm.thread_id from message_keys pk "
            "join message_keys lk on lk.key = pk.key and lk.role = 'letter' "
            "join messages l on l.message_id = lk.message_id and l.date <= ? and l.date >= ? "
            "join thread_messages tm on tm.message_id = lk.message_id and tm.matched_by = 'letter' "
            "join threads t on t.id = tm.thread_id and +t.correspondent_id = ? "
            "where pk.message_id = ? and pk.role = 'probe' and "
            "((pk.key >= ? and pk.key < ?) or substr(pk.key, 1, 2) in ('d:', 'r:'))",
            [until, since, cid, message_id, low, high],
        )
        shared: dict[str, set[str]] = {}
        for key, thread in rows:
            shared.setdefault(thread, set()).add(key.split("|", 1)[-1])
        return shared

    def recent_threads(self, cid: str, until: str) -> list[str]:
        """The five threads of ``cid`` opened last before ``until`` (triage suggestions)."""
        return [
            r[0]
            for r in self.t.q(
                "select t.id from threads t join messages m on m.message_id = t.letter_message_id "
                "where t.correspondent_id = ? and m.date <= ? order by m.date desc, t.id limit 5",
                [cid, until],
            )
        ]

    def letter_threads(self, cid: str, letter_ids: list[str]) -> dict[str, str]:
        if not letter_ids:
            return {}
        return {
            r[1]: r[0]
            for r in self.t.q(
                f"select tm.thread_id, tm.message_id from thread_messages tm join threads t on t.id = "
                f"tm.thread_id and +t.correspondent_id = ? where tm.matched_by = 'letter' and "
                f"tm.message_id in ({_in(letter_ids)})",
                [cid, *letter_ids],
            )
        }


class MemoryLookup(Lookup):
    """The same answers from memory, for one correspondent at a time (full rethreads): its
    letters and their threads, the answers and bounces it sent, their evidence."""

    def __init__(
        self,
        threader: "Threader",
        letters: dict[str, Letter],
        thread_of: dict[str, str],
        letter_keys: dict[str, list[str]],
        infos: dict[str, Info],
        probe_keys: dict[str, list[str]],
        copied_in: set[str],
    ) -> None:
        super().__init__(threader)
        self.infos = infos
        self.probe_keys = probe_keys
        self.thread_of = thread_of
        self.copied_in = copied_in
        self.by_conversation: dict[str, list[tuple[str, str, str]]] = {}
        self.by_key: dict[str, dict[str, list[str]]] = {}  # key -> thread -> letter dates
        firsts: dict[str, str] = {}
        for letter in letters.values():
            tid = thread_of[letter.message_id]
            if letter.conversation_id:
                self.by_conversation.setdefault(letter.conversation_id, []).append(
                    (letter.date, letter.message_id, tid)
                )
            for key in letter_keys.get(letter.message_id, ()):
                self.by_key.setdefault(key, {}).setdefault(tid, []).append(letter.date)
            if tid not in firsts or letter.date < firsts[tid]:
                firsts[tid] = letter.date
        for items in self.by_conversation.values():
            items.sort()
        self.threads_by_date = sorted((d, t) for t, d in firsts.items())
        self.first_dates = [d for d, _ in self.threads_by_date]

    def info(self, message_id: str) -> Info | None:
        return self.infos.get(message_id)

    def attached(self, message_id: str) -> str | None:
        return None  # full runs place what a person attached before any correspondent's run

    def conversation_letters(self, cid: str, conversation_id: str | None) -> list[tuple[str, str, str]]:
        return self.by_conversation.get(conversation_id or "", [])

    def copied(self, cid: str, conversation_id: str | None) -> bool:
        return bool(conversation_id) and conversation_id in self.copied_in

    def candidates(self, cid: str, message_id: str, since: str, until: str) -> dict[str, set[str]]:
        shared: dict[str, set[str]] = {}
        for key in self.probe_keys.get(message_id, ()):
            for thread, dates in self.by_key.get(key, {}).items():
                if any(since <= d <= until for d in dates):
                    shared.setdefault(thread, set()).add(key)
        return shared

    def recent_threads(self, cid: str, until: str) -> list[str]:
        # latest first, ties by id (as the SQL): the last dates up to ``until``, each date's
        # threads in id order
        dates = self.first_dates
        end = bisect.bisect_right(dates, until)
        found: list[str] = []
        while end > 0 and len(found) < 5:
            start = bisect.bisect_left(dates, dates[end - 1], 0, end)
            found += [t for _, t in self.threads_by_date[start:end]]
            end = start
        return found[:5]

    def letter_threads(self, cid: str, letter_ids: list[str]) -> dict[str, str]:
        return {l: self.thread_of[l] for l in letter_ids if l in self.thread_of}


class Threader:
    """One rethread run: derives keys, letters' threads, answers' places and statuses."""

    def __init__(self, db: sqlite_utils.Database, config: Config, *, full: bool = False) -> None:
        self.db = db
        self.config = config
        self.full = full
        self.tz = config.tz
        self.resolve = Resolver(config.correspondents)
        self.by_id = {c.slug: c for c in config.correspondents}
        self.touched: set[str] = set()
        self.lookup: Lookup = Lookup(self)
        self.rows: list[tuple[str, str, str]] = []  # thread_messages to insert (full runs)
        self.unmatched: list[tuple] = []  # unmatched rows to insert (full runs)

    def q(self, sql: str, params: Iterable = ()) -> list[tuple]:
        return self.db.execute(sql, list(params)).fetchall()

    def q_in(self, sql: str, values: Iterable, before: list | None = None) -> list[tuple]:
        """Run ``sql`` (with one ``({in_})`` placeholder) over ``values`` in chunks."""
        rows: list[tuple] = []
        for chunk in _chunks(list(values)):
            rows.extend(self.q(sql.format(in_=_in(chunk)), (before or []) + chunk))
        return rows

    def ids_in(self, sql: str, values: Iterable, before: list | None = None) -> set[str]:
        """The first column of ``q_in``'s rows, as a set."""
        return {row[0] for row in self.q_in(sql, values, before)}

    # -- 1. keys -------------------------------------------------------------------------

    def derive_keys(self, message_ids: list[str]) -> None:
        """Record which correspondents these messages concern and, once per message, the
        evidence matching reads (incremental runs; full runs use ``derive_all``)."""
        if not message_ids:
            return
        for low, high in CORRESPONDENT_KEYS:
            self.q_in(
                "delete from message_keys where key >= ? and key < ? and message_id in ({in_})",
                message_ids,
                [low, high],
            )
        self.q_in("delete from message_links where rel = 'original' and message_id in ({in_})", message_ids)
        rows = self.q_in(
            "select message_id, date, subject, direction, kind, from_address, delivery_reports, "
            "original_message_id from messages "
            "where ((direction = 'outgoing' and kind = 'letter') or kind in ('reply', "
            "'acknowledgement', 'auto_reply', 'bounce')) and message_id in ({in_})",
            message_ids,
        )
        known_ids = self.ids_in(
            "select message_id from message_keys where key = 'x:evidence' and message_id in ({in_})",
            message_ids,
        )
        recipients = self.q_in(
            "select message_id, role, address from recipients where role in ('to', 'cc') "
            "and message_id in ({in_})",
            message_ids,
        )
        addressed: dict[str, list[tuple[str, str]]] = {}
        for message_id, role, address in recipients:
            addressed.setdefault(message_id, []).append((role, address))
        keys: list[tuple[str, str, str]] = []
        links: list[tuple[str, str, str]] = []
        needs_evidence: dict[str, tuple[str, str, str | None]] = {}
        concerns: dict[str, tuple[str, set[str]]] = {}  # message -> role, correspondents
        for message_id, when, subject, direction, kind, sender, reports, original in rows:
            known = message_id in known_ids
            if direction == "outgoing" and kind == "letter":
                to = {self.resolve(a) for role, a in addressed.get(message_id, []) if role == "to"}
                cc = {self.resolve(a) for role, a in addressed.get(message_id, []) if role == "cc"}
                to.discard(None)
                cc = cc - to - {None}
                keys += [(message_id, f"to:{c}", "letter") for c in sorted(to)]
                keys += [(message_id, f"cc:{c}", "letter") for c in sorted(cc)]
                if to:
                    concerns[message_id] = ("letter", to)
                    if not known:
                        needs_evidence[message_id] = ("letter", subject, when)
            elif kind == "bounce":
                keys += [(message_id, f"bounce:{c}", "bounce") for c in self._failed(reports)]
                if original and conversations.valid_id(original):
                    links.append((message_id, original, "original"))
            elif direction == "incoming":
                source = self.resolve(sender)
                if source:
                    keys.append((message_id, f"from:{source}", "probe"))
                    concerns[message_id] = ("probe", {source})
                    if not known:
                        needs_evidence[message_id] = ("probe", subject, None)
        fresh = self._evidence(needs_evidence)
        keys += fresh
        evidence: dict[str, list[tuple[str, str]]] = {}
        for message_id, key, role in fresh:
            evidence.setdefault(message_id, []).append((key, role))
        old = [m for m in concerns if m not in needs_evidence]
        stored_evidence = self.q_in("select message_id, key, role from message_keys where message_id in ({in_})", old)
        for message_id, key, role in stored_evidence:
            if not key.startswith(("to:", "cc:", "from:", "bounce:", "x:", "@")):
                evidence.setdefault(message_id, []).append((key, role))
        for message_id, (role, correspondents) in concerns.items():
            for key, _ in evidence.get(message_id, []):
                if key.startswith(SCOPED_PREFIXES):
                    keys += [(message_id, scoped(c, key), role) for c in sorted(correspondents)]
        self.db.conn.executemany(
            "insert or ignore into message_keys (message_id, key, role) values (?, ?, ?)", keys
        )
        self.db.conn.executemany(
            "insert or ignore into message_links (message_id, target_id, rel) values (?, ?, ?)", links
        )

    def _failed(self, reports: str | None) -> list[str]:
        """The correspondents a bounce's delivery reports say were not reached, sorted."""
        failed = set()
        for report in json.loads(reports or "[]"):
            action = (report.get("action") or "").lower()
            code = report.get("status") or ""
            if action == "failed" or code.startswith("5") or not (action or code):
                failed.add(self.resolve(report.get("recipient")))
        failed.discard(None)
        return sorted(failed)

    def derive_all(self) -> None:
        """Full runs: the same keys as ``derive_keys`` for every message, derived in SQL where
        SQLite can (the addresses are resolved once each, in Python) and written where they
        changed; bodies are read, in chunks, only for messages never read before."""
        db = self.db
        db.execute("drop table if exists temp.resolved_addresses")
        db.execute("drop table if exists temp.wanted_keys")
        db.execute("create temp table resolved_addresses (address text primary key, correspondent_id text not null)")
        db.execute(
            "create temp table wanted_keys (message_id text, key text, role text, "
            "primary key (message_id, key, role)) without rowid"
        )
        addresses = {r[0] for r in db.execute("select distinct address from recipients")}
        addresses |= {r[0] for r in db.execute("select distinct from_address from messages")}
        db.conn.executemany(
            "insert into temp.resolved_addresses (address, correspondent_id) values (?, ?)",
            [(a, c) for a in sorted(a for a in addresses if a) if (c := self.resolve(a))],
        )
        del addresses
        # the bodies a letter is addressed to, then those only copied; the body an answer comes from
        letters = "from messages m join recipients r on r.message_id = m.message_id and r.role = '{role}' " \
            "join temp.resolved_addresses a on a.address = r.address where m.kind = 'letter' and m.direction = 'outgoing'"
        db.execute(
            "insert or ignore into temp.wanted_keys (message_id, key, role) "
            "select m.message_id, 'to:' || a.correspondent_id, 'letter' " + letters.format(role="to")
        )
        db.execute(
            "insert or ignore into temp.wanted_keys (message_id, key, role) "
            "select m.message_id, 'cc:' || a.correspondent_id, 'letter' " + letters.format(role="cc")
            + " and not exists(select 1 from temp.wanted_keys w where w.message_id = m.message_id "
            "and w.key = 'to:' || a.correspondent_id and w.role = 'letter')"
        )
        db.execute(
            "insert or ignore into temp.wanted_keys (message_id, key, role) "
            "select m.message_id, 'from:' || a.correspondent_id, 'probe' from messages m "
            "join temp.resolved_addresses a on a.address = m.from_address "
            "where m.kind in ('reply', 'acknowledgement', 'auto_reply') and m.direction = 'incoming'"
        )
        # bounces (few): the recipients their reports name, the letter they return
        bounce_keys, links = [], []
        for message_id, reports, original in db.execute(
            "select message_id, delivery_reports, original_message_id from messages where kind = 'bounce'"
        ).fetchall():
            bounce_keys += [(message_id, f"bounce:{c}", "bounce") for c in self._failed(reports)]
            if original and conversations.valid_id(original):
                links.append((message_id, original, "original"))
        db.conn.executemany(
            "insert or ignore into temp.wanted_keys (message_id, key, role) values (?, ?, ?)", bounce_keys
        )
        stored = set(db.execute("select message_id, target_id, rel from message_links where rel = 'original'"))
        db.conn.executemany(
            "delete from message_links where message_id = ? and target_id = ? and rel = ?", sorted(stored - set(links))
        )
        db.conn.executemany(
            "insert or ignore into message_links (message_id, target_id, rel) values (?, ?, ?)",
            sorted(set(links) - stored),
        )
        # evidence, once per message a correspondent's letter or answer
        concerned = (
            "((w.key >= 'to:' and w.key < 'to;' and w.role = 'letter') or "
            "(w.key >= 'from:' and w.key < 'from;' and w.role = 'probe'))"
        )
        # a first run adds every key: the key index is cheaper built once at the end than
        # updated for each key (nothing here reads it)
        missing = db.execute(
            f"select count(distinct w.message_id) from temp.wanted_keys w where {concerned}"
        ).fetchone()[0] - db.execute("select count(*) from message_keys where key = 'x:evidence'").fetchone()[0]
        indexes = []
        if missing > max(REBUILD_KEY_INDEX_AT, db.execute("select count(*) from message_keys").fetchone()[0] // 10):
            indexes = db.execute(
                "select name, sql from sqlite_master where type = 'index' and tbl_name = 'message_keys' "
                "and sql is not null and sql not like 'create unique%'"
            ).fetchall()
            for name, _ in indexes:
                db.execute(f'drop index "{name}"')
        if _staged(db, self.config):
            # what the parser workers read, for messages concerned in the role they read it in
            db.execute(
                "insert or ignore into message_keys (message_id, key, role) select s.message_id, s.key, "
                f"s.role from (select w.message_id, max(w.role) as role from temp.wanted_keys w where {concerned} "
                "and not exists(select 1 from message_keys k where k.message_id = w.message_id and "
                "k.key = 'x:evidence') group by w.message_id) p join temp.staged_evidence s on "
                "s.message_id = p.message_id and s.role = p.role order by s.message_id, s.key"
            )
        last = ""
        while True:
            page = db.execute(
                "select p.message_id, p.role, m.subject, m.date, "
                f"substr(m.body_text, 1, {matching.BODY_LIMIT}) from (select w.message_id, max(w.role) as role "
                f"from temp.wanted_keys w where w.message_id > ? and {concerned} and not exists(select 1 from "
                "message_keys k where k.message_id = w.message_id and k.key = 'x:evidence') group by "
                "w.message_id order by w.message_id limit 500) p join messages m on m.message_id = p.message_id "
                "order by p.message_id",
                [last],
            ).fetchall()
            if not page:
                break
            last = page[-1][0]
            db.conn.executemany(
                "insert or ignore into message_keys (message_id, key, role) values (?, ?, ?)",
                self._evidence_keys(page),
            )
            del page
        # subjects scoped to the correspondents a letter or an answer concerns
        # (+k.key: from each message to its keys through the primary key, in order, rather than
        # from every subject through the key index to scattered rows)
        db.execute(
            "insert or ignore into temp.wanted_keys (message_id, key, role) "
            "select w.message_id, '@' || substr(w.key, instr(w.key, ':') + 1) || '|' || k.key, w.role "
            f"from temp.wanted_keys w join message_keys k on k.message_id = w.message_id where {concerned} "
            "and ((+k.key >= 's:' and +k.key < 's;') or (+k.key >= 'rs:' and +k.key < 'rs;'))"
        )
        # what depends on the config is rewritten where it changed; evidence stays (one pass
        # over the table finds the stale rows: cheaper than the key index's scattered lookups)
        ranges = " or ".join(f"(+k.key >= '{low}' and +k.key < '{high}')" for low, high in CORRESPONDENT_KEYS)
        db.execute(
            "delete from message_keys where rowid in (select k.rowid from message_keys k where "
            f"({ranges}) and not exists(select 1 from temp.wanted_keys w where w.message_id = "
            "k.message_id and w.key = k.key and w.role = k.role))"
        )
        db.execute(
            "insert into message_keys (message_id, key, role) select message_id, key, role from "
            "temp.wanted_keys w where not exists(select 1 from message_keys k where k.message_id = "
            "w.message_id and k.key = w.key and k.role = w.role)"
        )
        for _, sql in indexes:  # as they were (store.py's schema)
            db.execute(sql)
        # the same by correspondent, for the run that follows: which messages concern whom
        db.execute("drop table if exists temp.concerns")
        db.execute(
            "create temp table concerns (key text, role text, message_id text, "
            "primary key (key, role, message_id)) without rowid"
        )
        db.execute(
            "insert into temp.concerns (key, role, message_id) select key, role, message_id from "
            "temp.wanted_keys where not (key >= '@' and key < 'A')"
        )
        db.execute("drop table temp.resolved_addresses")
        db.execute("drop table temp.wanted_keys")

    def _evidence(self, wanted: dict[str, tuple[str, str, str | None]]) -> list[tuple[str, str, str]]:
        keys: list[tuple[str, str, str]] = []
        ids = sorted(wanted)
        if _staged(self.db, self.config):  # read by the parser workers, in the role this run reads them in
            staged = [row for row in self.q_in(
                "select message_id, key, role from temp.staged_evidence where message_id in ({in_})", ids
            ) if row[2] == wanted[row[0]][0]]
            keys += staged
            read = {m for m, _, _ in staged}
            ids = [m for m in ids if m not in read]
        for chunk in _chunks(ids):
            keys += self._evidence_keys(
                (message_id, *wanted[message_id], body)
                for message_id, body in self.q(
                    f"select message_id, substr(body_text, 1, {matching.BODY_LIMIT}) from messages "
                    f"where message_id in ({_in(chunk)})",
                    chunk,
                )
            )
        return keys

    def _evidence_keys(self, rows: Iterable[tuple[str, str, str, str | None, str | None]]) -> list[tuple[str, str, str]]:
        """The evidence keys of (message_id, role, subject, date, body) rows, and "x:evidence"
        (read once) for each; a probe's date is not used."""
        keys: list[tuple[str, str, str]] = []
        for message_id, role, subject, when, body in rows:
            keys += [(message_id, key, role) for key in evidence_keys(role, subject, when, body, self.tz)]
        return keys

    # -- the run -------------------------------------------------------------------------

    def run(self, affected: set[str] | None) -> None:
        """Re-derive everything ``affected`` messages touch (everything when None)."""
        if affected is None:
            self.run_full()
            return
        affected_list = sorted(affected)
        self.derive_keys(affected_list)
        concerned = {
            key.split(":", 1)[1]
            for (key,) in self.q_in(
                "select key from message_keys where message_id in ({in_}) and "
                "substr(key, 1, instr(key, ':')) in ('to:', 'from:', 'bounce:', 'cc:')",
                affected_list,
            )
        }
        for correspondent_id in sorted(concerned):
            if correspondent_id in self.by_id:
                self.run_correspondent(correspondent_id, affected)
        self.update_statuses(sorted(self.touched))

    def run_full(self) -> None:
        """Everything, one correspondent at a time, holding in memory only that correspondent's
        letters, answers and bounces (what its threads, placements and statuses need). The rows
        of ``threads``, ``thread_messages`` and ``unmatched`` are collected in temp tables, and
        only the difference is written: the tables end as if emptied and filled again."""
        self.derive_all()
        db = self.db
        for name, (columns, key) in FULL_TABLES.items():
            db.execute(f"drop table if exists temp.full_{name}")
            db.execute(
                f"create temp table full_{name} ({', '.join(c + (' integer' if c == 'overdue' else ' text') for c in columns)}, "
                f"primary key ({', '.join(key)})){' without rowid' if name == 'thread_messages' else ''}"
            )  # (short rows only: a long row makes a without-rowid table slower)
        self.now = datetime.now(timezone.utc)
        self.marks = _marks(self.db, None)
        attached = self._attachments()
        # what a person attached goes where they said, whoever it came from
        self.attached_members: dict[str, list[tuple]] = {}
        for message_id, (thread, when, kind) in attached.items():
            self.attached_members.setdefault(thread, []).append((message_id, when, "incoming", kind, "mark"))
        for correspondent in self.config.correspondents:
            self._full_correspondent(correspondent.slug, attached)
        db.execute("drop table temp.concerns")
        db.conn.executemany(
            "insert or replace into temp.full_thread_messages (thread_id, message_id, matched_by) values (?, ?, 'mark')",
            [(thread, message_id) for message_id, (thread, _, _) in attached.items()],
        )
        # write what changed: after a config change most threads are what they were
        for name, (columns, key) in FULL_TABLES.items():
            same = " and ".join(f"w.{c} is t.{c}" for c in columns)
            db.execute(
                f"delete from {name} where rowid in (select t.rowid from {name} t where not exists("
                f"select 1 from temp.full_{name} w where {same}))"
            )
            db.execute(
                f"insert into {name} ({', '.join(columns)}) select {', '.join(columns)} from temp.full_{name} w "
                f"where not exists(select 1 from {name} t where {' and '.join(f't.{c} = w.{c}' for c in key)})"
            )
            db.execute(f"drop table temp.full_{name}")

    def _attachments(self) -> dict[str, tuple[str, str, str]]:
        """Full runs: message -> (thread, date, kind) for the replies a person attached
        (``tracker mark --message``) to a thread this run creates; the latest mark counts."""
        last = dict(self.q("select message_id, thread_id from marks where action = 'attach' order by id"))
        if not last:
            return {}
        named = set(last.values())
        existing: set[str] = set()
        for correspondent in self.config.correspondents:  # which of the named threads exist
            letters, _, _ = self._full_letters(correspondent.slug, grouping=True)
            existing |= named & set(group_letters(letters.values(), correspondent.slug).values())
        found = {}
        for message_id, when, kind in self.q_in(
            "select message_id, date, kind from messages where message_id in ({in_})", sorted(m for m in last if m)
        ):
            if kind in REPLY_KINDS and last[message_id] in existing:
                found[message_id] = (last[message_id], when, kind)
        return found

    def _full_letters(
        self, cid: str, grouping: bool = False
    ) -> tuple[dict[str, Letter], dict[str, str], dict[str, list[str]]]:
        """Full runs: every letter to ``cid``, its subject, and the evidence keys it leaves
        (only what ``group_letters`` reads when ``grouping``)."""
        key = f"to:{cid}"
        letters: dict[str, Letter] = {}
        subjects: dict[str, str] = {}
        for message_id, when, conversation_id, subject in self.q(
            f"select m.message_id, m.date, m.conversation_id, {'null' if grouping else 'm.subject'} "
            "from temp.concerns k join messages m on m.message_id = k.message_id where k.key = ? and k.role = 'letter'",
            [key],
        ):
            letters[message_id] = Letter(message_id, when, conversation_id, "", "", False)
            subjects[message_id] = subject
        evidence: dict[str, list[str]] = {}
        wanted = "" if grouping else "(e.key >= 'd:' and e.key < 'd;') or (e.key >= 'r:' and e.key < 'r;') or "
        for message_id, found in self.q(
            "select e.message_id, e.key from temp.concerns k join message_keys e on e.message_id = k.message_id "
            f"and e.role = 'letter' where k.key = ? and k.role = 'letter' and (e.key = 'reminder' or {wanted}"
            "(e.key >= 's:' and e.key < 's;'))",
            [key],
        ):
            letter = letters.get(message_id)
            if letter is None:
                continue
            if found == "reminder":
                letter.reminder = True
                continue
            if found.startswith("s:") and not letter.subject_key:
                letter.subject_key = found[2:]
            if not grouping:
                evidence.setdefault(message_id, []).append(found)
        return letters, subjects, evidence

    def _full_messages(self, cid: str, kind: str, role: str) -> list[tuple]:
        """Full runs: the answers (``from``) or bounces (``bounce``) of ``cid`` as Info rows."""
        original = "m.original_message_id" if kind == "bounce" else "null"  # bounces only: past the body
        return self.q(
            "select m.message_id, m.date, m.conversation_id, m.in_reply_to, m.refs, m.kind, "
            f"{original} from temp.concerns k join messages m on m.message_id = k.message_id "
            "where k.key = ? and k.role = ?",
            [f"{kind}:{cid}", role],
        )

    def _full_correspondent(self, cid: str, attached: dict[str, tuple]) -> None:
        """Full runs: the threads of one correspondent, its answers and bounces placed, the
        statuses decided, all written."""
        letters, subjects, letter_keys = self._full_letters(cid)
        thread_of = group_letters(letters.values(), cid)
        answers = self._full_messages(cid, "from", "probe")
        bounces = self._full_messages(cid, "bounce", "bounce")
        infos = {r[0]: Info(*r[1:]) for r in answers}
        infos.update((r[0], Info(*r[1:])) for r in bounces)
        probe_keys: dict[str, list[str]] = {}
        for message_id, key in self.q(
            "select e.message_id, e.key from temp.concerns k join message_keys e on e.message_id = k.message_id "
            "and e.role = 'probe' where k.key = ? and k.role = 'probe' and ((e.key >= 'd:' and e.key < 'd;') "
            "or (e.key >= 'r:' and e.key < 'r;') or (e.key >= 's:' and e.key < 's;'))",
            [f"from:{cid}"],
        ):
            probe_keys.setdefault(message_id, []).append(key)
        copied_in = {
            r[0]
            for r in self.q(
                "select distinct m.conversation_id from temp.concerns k join messages m on m.message_id = "
                "k.message_id where k.key = ? and k.role = 'letter'",
                [f"cc:{cid}"],
            )
        }
        self.lookup = MemoryLookup(self, letters, thread_of, letter_keys, infos, probe_keys, copied_in)
        self.rows, self.unmatched = [], []
        for row in answers:
            if row[0] not in attached:
                self.place_answer(cid, row[0])
        for row in bounces:
            self.place_bounce(cid, row[0])
        # the threads, with their statuses
        members: dict[str, list[tuple]] = {}
        firsts: dict[str, Letter] = {}
        for letter in sorted(letters.values(), key=lambda l: (l.date, l.message_id)):
            tid = thread_of[letter.message_id]
            firsts.setdefault(tid, letter)
            members.setdefault(tid, []).append((letter.message_id, letter.date, "outgoing", "letter", "letter"))
        for tid, message_id, how in self.rows:
            info = infos[message_id]
            members.setdefault(tid, []).append((message_id, info.date, "incoming", info.kind, how))
        correspondent = self.by_id[cid]
        rows = []
        for tid, first in firsts.items():
            items = members[tid] + self.attached_members.get(tid, [])
            state = decide(self.config, correspondent, items, self.marks.get(tid, []), self.now)
            rows.append(
                (tid, cid, correspondent.name, subjects.get(first.message_id) or "", first.subject_key,
                 first.conversation_id, first.message_id) + _state_columns(state)
            )
        self.db.conn.executemany(
            "insert or replace into temp.full_threads (id, correspondent_id, correspondent, subject, subject_key, "
            "conversation_id, letter_message_id, status, opened_at, last_letter_at, last_reply_at, due_at, "
            "overdue) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self.db.conn.executemany(
            "insert or replace into temp.full_thread_messages (thread_id, message_id, matched_by) values (?, ?, 'letter')",
            [(tid, message_id) for message_id, tid in thread_of.items()],
        )
        self.db.conn.executemany(
            "insert or replace into temp.full_thread_messages (thread_id, message_id, matched_by) values (?, ?, ?)",
            self.rows,
        )
        self.db.conn.executemany(
            "insert or replace into temp.full_unmatched (message_id, correspondent_id, candidates, reason, date) "
            "values (?, ?, ?, ?, ?)",
            self.unmatched,
        )
        self.rows, self.unmatched = [], []

    def run_correspondent(self, cid: str, affected: set[str]) -> None:
        letters = self.letter_closure(cid, affected)
        moved = self.regroup(cid, letters)
        for message_id in self.answers_to_place(cid, affected, letters, moved):
            self.place_answer(cid, message_id)
        for message_id in self.bounces_to_place(cid, affected, letters, moved):
            self.place_bounce(cid, message_id)

    # -- 2. letters -> threads -------------------------------------------------------------

    def _letters(self, cid: str, message_ids: list[str]) -> dict[str, Letter]:
        rows = self.q_in(
            "select m.message_id, m.date, m.conversation_id, "
            "(select substr(s.key, 3) from message_keys s where s.message_id = m.message_id and "
            "s.role = 'letter' and s.key >= 's:' and s.key < 's;' limit 1), "
            "exists(select 1 from message_keys r where r.message_id = m.message_id and r.key = 'reminder') "
            "from message_keys k join messages m on m.message_id = k.message_id "
            "where +k.key = ? and k.role = 'letter' and m.message_id in ({in_})",
            message_ids,
            [f"to:{cid}"],
        )
        return {r[0]: Letter(r[0], r[1], r[2], "", r[3] or "", bool(r[4])) for r in rows}

    def letter_closure(self, cid: str, affected: set[str]) -> dict[str, Letter]:
        """The letters to ``cid`` whose grouping the change can alter: closed over the same
        conversation, the current thread, and reminders under the same subject."""
        found = self._letters(cid, sorted(affected))
        frontier = list(found.values())
        key = f"to:{cid}"
        while frontier:
            batch, frontier = frontier[:200], frontier[200:]
            more: set[str] = set()
            more |= self.ids_in(
                "select m.message_id from messages m join message_keys k on k.message_id = "
                "m.message_id and +k.key = ? and k.role = 'letter' where m.conversation_id in ({in_})",
                sorted({l.conversation_id for l in batch if l.conversation_id}),
                [key],
            )
            more |= self.ids_in(
                "select o.message_id from thread_messages tm join threads t on t.id = tm.thread_id "
                "and +t.correspondent_id = ? join thread_messages o on o.thread_id = tm.thread_id "
                "and o.matched_by = 'letter' where tm.matched_by = 'letter' and tm.message_id in ({in_})",
                [l.message_id for l in batch],
                [cid],
            )
            for letter in batch:
                if not letter.subject_key:
                    continue
                subject = f"s:{letter.subject_key}"
                # later reminders under this subject may now continue this letter
                more |= {
                    r[0]
                    for r in self.q(
                        "select k.message_id from message_keys k join messages m on m.message_id = "
                        "k.message_id and m.date >= ? where k.key = ? and k.role = 'letter'",
                        [letter.date, scoped(cid, "rs:" + letter.subject_key)],
                    )
                }
                if letter.reminder:  # and the letter it continues
                    more |= {
                        r[0]
                        for r in self.q(
                            "select k.message_id from message_keys k join messages m on m.message_id = "
                            "k.message_id and m.date <= ? where k.key = ? and k.role = 'letter' "
                            "order by m.date desc, m.message_id desc limit 2",
                            [letter.date, scoped(cid, subject)],
                        )
                    }
            more -= set(found)
            if more:
                fresh = self._letters(cid, sorted(more))
                found.update(fresh)
                frontier.extend(fresh.values())
        return found

    def _store_threads(self, cid: str, letters: dict[str, Letter], thread_of: dict[str, str]) -> None:
        firsts: dict[str, Letter] = {}
        for letter in sorted(letters.values(), key=lambda l: (l.date, l.message_id)):
            firsts.setdefault(thread_of[letter.message_id], letter)
        subjects = dict(
            self.q_in(
                "select message_id, subject from messages where message_id in ({in_})",
                sorted(l.message_id for l in firsts.values()),
            )
        )
        rows = [
            (tid, cid, self.by_id[cid].name, subjects.get(first.message_id) or "", first.subject_key,
             first.conversation_id, first.message_id)
            for tid, first in firsts.items()
        ]
        self.touched |= set(firsts)
        self.db.conn.executemany(
            "insert or replace into threads (id, correspondent_id, correspondent, subject, subject_key, "
            "conversation_id, letter_message_id) values (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def regroup(self, cid: str, letters: dict[str, Letter]) -> list[Letter]:
        """Group ``letters`` into threads and store the grouping; return the letters whose
        thread changed (new letters included). Answers of vanished threads are orphans."""
        thread_of = group_letters(letters.values(), cid)
        ids = sorted(letters)
        before = {
            r[1]: r[0]
            for r in self.q_in(
                "select tm.thread_id, tm.message_id from thread_messages tm join threads t on t.id = "
                "tm.thread_id and +t.correspondent_id = ? where tm.matched_by = 'letter' and "
                "tm.message_id in ({in_})",
                ids,
                [cid],
            )
        }
        old_threads, new_threads = set(before.values()), set(thread_of.values())
        gone = sorted(old_threads - new_threads)
        self._orphans = [
            r[0]
            for r in self.q_in(
                "select message_id from thread_messages where matched_by != 'letter' and thread_id in ({in_})",
                gone,
            )
        ]
        self.q_in("delete from thread_messages where thread_id in ({in_})", gone)
        self.q_in("delete from threads where id in ({in_})", gone)
        # an earlier letter arrived late and renamed the thread: its marks follow it
        for old in gone:
            heirs = sorted((letters[m].date, m) for m, tid in before.items() if tid == old)
            if heirs:
                self.q("update marks set thread_id = ? where thread_id = ?", [thread_of[heirs[0][1]], old])
        for chunk in _chunks(ids):
            self.q(
                f"delete from thread_messages where matched_by = 'letter' and message_id in ({_in(chunk)}) "
                f"and exists(select 1 from threads t where t.id = thread_id and +t.correspondent_id = ?)",
                chunk + [cid],
            )
        self._store_threads(cid, letters, thread_of)
        self.db.conn.executemany(
            "insert or replace into thread_messages (thread_id, message_id, matched_by) values (?, ?, 'letter')",
            [(tid, mid) for mid, tid in thread_of.items()],
        )
        return [letters[m] for m in ids if before.get(m) != thread_of[m]]

    # -- 3. answers -> threads -------------------------------------------------------------

    def answers_to_place(
        self, cid: str, affected: set[str], letters: dict[str, Letter], moved: list[Letter]
    ) -> list[str]:
        """Incoming messages from ``cid`` whose place the change can alter."""
        source = f"from:{cid}"
        found: set[str] = set(self._orphans)
        found |= self.ids_in(
            "select message_id from message_keys where +key = ? and role = 'probe' and message_id in ({in_})",
            sorted(affected),
            [source],
        )
        # answers in the conversations of these letters (headers)
        found |= self.ids_in(
            "select m.message_id from messages m join message_keys k on k.message_id = m.message_id "
            "and +k.key = ? and k.role = 'probe' where m.conversation_id in ({in_})",
            sorted({l.conversation_id for l in letters.values() if l.conversation_id}),
            [source],
        )
        # answers that share evidence with a letter that is new or changed thread
        low, high = scope_range(cid)
        for letter in moved:
            keys = [
                r[0]
                for r in self.q(
                    "select key from message_keys where message_id = ? and role = 'letter' and "
                    "((key >= ? and key < ? and substr(key, ?, 3) != 'rs:') or substr(key, 1, 2) in ('d:', 'r:'))",
                    [letter.message_id, low, high, len(low) + 1],
                )
            ]
            sent = _parse(letter.date)
            found |= self.ids_in(
                "select k.message_id from message_keys k join message_keys f on f.message_id = "
                "k.message_id and +f.key = ? and f.role = 'probe' join messages m on m.message_id = "
                "k.message_id and m.date >= ? and m.date <= ? where k.role = 'probe' and k.key in ({in_})",
                keys,
                [source, _iso(sent - SLACK), _iso(sent + HORIZON)],
            )
        # what a person attached to these threads
        threads = sorted(
            self.ids_in(
                "select thread_id from thread_messages where matched_by = 'letter' and message_id in ({in_})",
                sorted(letters),
            )
        )
        found |= {
            r[0]
            for r in self.q_in("select message_id from marks where action = 'attach' and thread_id in ({in_})", threads)
        }
        return sorted(found)

    def _forget(self, message_id: str, matched_by: tuple[str, ...], cid: str | None = None) -> None:
        if self.full:
            return  # a full run starts from empty tables
        where = f"message_id = ? and matched_by in ({_in(matched_by)})"
        params = [message_id, *matched_by]
        if cid is not None:
            where += " and exists(select 1 from threads t where t.id = thread_id and +t.correspondent_id = ?)"
            params.append(cid)
        self.touched |= {r[0] for r in self.q(f"select thread_id from thread_messages where {where}", params)}
        self.db.execute(f"delete from thread_messages where {where}", params)
        if cid is None:
            self.db.execute("delete from unmatched where message_id = ?", [message_id])

    def _attach(self, thread: str, message_id: str, how: str) -> None:
        self.touched.add(thread)
        if self.full:
            self.rows.append((thread, message_id, how))
            return
        self.db.execute(
            "insert or replace into thread_messages (thread_id, message_id, matched_by) values (?, ?, ?)",
            [thread, message_id, how],
        )

    def place_answer(self, cid: str, message_id: str) -> None:
        """Put one incoming message from ``cid`` in its thread, or in ``unmatched``."""
        self._forget(message_id, ("header", "evidence", "mark"))
        info = self.lookup.info(message_id)
        if info is None or info.kind not in REPLY_KINDS:
            return
        attached = self.lookup.attached(message_id)
        if attached:
            self._attach(attached, message_id, "mark")
            return
        # headers: a letter of this conversation opened a thread for this correspondent
        in_conversation = self.lookup.conversation_letters(cid, info.conversation_id)
        if in_conversation:
            choice = in_conversation[-1][2]
            if len({r[2] for r in in_conversation}) > 1:  # several threads: the letter it answers
                pointed = set(conversations.targets(message_id, info.in_reply_to, info.refs))
                direct = [r for r in in_conversation if r[1] in pointed]
                before = [r for r in in_conversation if r[0] <= info.date]
                choice = (direct or before or in_conversation)[-1][2]
            self._attach(choice, message_id, "header")
            return
        copied = self.lookup.copied(cid, info.conversation_id)
        when = _parse(info.date)
        until, since = _iso(when + SLACK), _iso(when - HORIZON)
        shared = self.lookup.candidates(cid, message_id, since, until)
        candidates = [matching.score(matching.Candidate(t), keys) for t, keys in shared.items()]
        best, ranked = matching.decide_match(candidates)
        if best is not None and not copied:
            self._attach(best.thread_id, message_id, "evidence")
            return
        if info.kind == "auto_reply":
            return  # an out-of-office that matches nothing is not worth a person's triage
        if copied:
            reason = "from a body that was only copied (Cc) on the letter; attach it only if it answers"
        elif not ranked or ranked[0].score < matching.THRESHOLD:
            reason = "no letter to this correspondent shares a subject, date or reference with it"
        else:
            reason = "several threads match equally well"
        suggestions = [{"thread_id": c.thread_id, "score": c.score, "evidence": c.evidence} for c in ranked[:10]]
        if not suggestions:
            suggestions = [{"thread_id": t, "score": 0, "evidence": []} for t in self.lookup.recent_threads(cid, until)]
        row = (message_id, cid, json.dumps(suggestions, ensure_ascii=False), reason, info.date)
        if self.full:
            self.unmatched.append(row)
        else:
            self.db.execute(
                "insert or replace into unmatched (message_id, correspondent_id, candidates, reason, date) "
                "values (?, ?, ?, ?, ?)",
                list(row),
            )

    # -- 4. bounces ------------------------------------------------------------------------

    def bounces_to_place(
        self, cid: str, affected: set[str], letters: dict[str, Letter], moved: list[Letter]
    ) -> list[str]:
        key = f"bounce:{cid}"
        found = self.ids_in(
            "select message_id from message_keys where +key = ? and role = 'bounce' and message_id in ({in_})",
            sorted(affected),
            [key],
        )
        found |= self.ids_in(
            "select l.message_id from message_links l join message_keys k on k.message_id = "
            "l.message_id and +k.key = ? where l.rel = 'original' and l.target_id in ({in_})",
            sorted(letters),
            [key],
        )
        for letter in moved:  # bounces that name no letter, arrived before it
            sent = _parse(letter.date)
            found |= {
                r[0]
                for r in self.q(
                    "select k.message_id from message_keys k join messages m on m.message_id = k.message_id "
                    "where k.key = ? and k.role = 'bounce' and m.date >= ? and m.date <= ?",
                    [key, _iso(sent - SLACK), _iso(sent + BOUNCE_WINDOW)],
                )
            }
        return sorted(found)

    def place_bounce(self, cid: str, message_id: str) -> None:
        """Put a bounce in the thread of the letter it reports, for the failed correspondent."""
        self._forget(message_id, ("bounce",), cid)
        info = self.lookup.info(message_id)
        if info is None:
            return
        pointed = [info.original] + conversations.targets(message_id, info.in_reply_to, info.refs)
        pointed = [p for p in dict.fromkeys(pointed) if p]
        threads = self.lookup.letter_threads(cid, pointed)
        thread = next((threads[p] for p in pointed if p in threads), None)
        if thread is None and not info.original:
            # no id to go by: the latest letter to the failed address shortly before the bounce
            when = _parse(info.date)
            reports = json.loads(self.q("select delivery_reports from messages where message_id = ?", [message_id])[0][0] or "[]")
            failed = sorted({(r.get("recipient") or "").lower() for r in reports} - {""})
            letters = [
                r[0]
                for r in self.q(
                    f"select distinct m.message_id, m.date from recipients r join messages m on m.message_id = "
                    f"r.message_id where r.address in ({_in(failed)}) and m.direction = 'outgoing' and "
                    f"m.kind = 'letter' and m.date >= ? and m.date <= ? order by m.date desc, m.message_id desc",
                    [*failed, _iso(when - BOUNCE_WINDOW), _iso(when + SLACK)],
                )
            ] if failed else []
            threads = self.lookup.letter_threads(cid, letters)
            thread = next((threads[l] for l in letters if l in threads), None)
        if thread is not None:
            self._attach(thread, message_id, "bounce")

    # -- 5. statuses -----------------------------------------------------------------------

    def update_statuses(self, thread_ids: list[str] | None) -> None:
        """Decide and store the status of these threads (all when None), as of now."""
        if thread_ids is None:
            existing = dict(self.q("select id, correspondent_id from threads"))
        else:
            existing = dict(self.q_in("select id, correspondent_id from threads where id in ({in_})", thread_ids))
        members = _members(self.db, None if thread_ids is None else sorted(existing))
        marks = _marks(self.db, None if thread_ids is None else sorted(existing))
        now = datetime.now(timezone.utc)
        updates = []
        for tid, cid in existing.items():
            correspondent = self.by_id.get(cid)
            if correspondent is None:
                continue
            state = decide(self.config, correspondent, members.get(tid, []), marks.get(tid, []), now)
            updates.append(_state_columns(state) + (tid,))
        self.db.conn.executemany(
            "update threads set status = ?, opened_at = ?, last_letter_at = ?, last_reply_at = ?, "
            "due_at = ?, overdue = ? where id = ?",
            updates,
        )


def _state_columns(state: status.ThreadState) -> tuple:
    """status, opened_at, last_letter_at, last_reply_at, due_at, overdue as stored."""
    return (
        state.status,
        _iso(state.opened_at),
        _iso(state.last_letter_at),
        _iso(state.last_reply_at),
        state.due_at.isoformat(timespec="seconds") if state.due_at else None,
        int(state.overdue),
    )


# --- reading threads -----------------------------------------------------------------------


def _members(db: sqlite_utils.Database, thread_ids: list[str] | None) -> dict[str, list[tuple]]:
    """thread id -> [(message_id, date, direction, kind, matched_by)] by date."""
    sql = (
        "select tm.thread_id, m.message_id, m.date, m.direction, m.kind, tm.matched_by from "
        "thread_messages tm join messages m on m.message_id = tm.message_id"
    )
    rows: list[tuple] = []
    if thread_ids is None:
        rows = db.execute(sql).fetchall()
    else:
        for chunk in _chunks(thread_ids):
            rows.extend(db.execute(sql + f" where tm.thread_id in ({_in(chunk)})", chunk).fetchall())
    found: dict[str, list[tuple]] = {}
    for tid, *rest in rows:
        found.setdefault(tid, []).append(tuple(rest))
    for items in found.values():
        items.sort(key=lambda r: (r[1], r[0]))
    return found


def _marks(db: sqlite_utils.Database, thread_ids: list[str] | None) -> dict[str, list[status.Mark]]:
    sql = "select thread_id, action, on_date, note, created_at from marks where action in ('answered', 'closed', 'reopened')"
    rows: list[tuple] = []
    if thread_ids is None:
        rows = db.execute(sql + " order by id").fetchall()
    else:
        for chunk in _chunks(thread_ids):
            rows.extend(db.execute(sql + f" and thread_id in ({_in(chunk)}) order by id", chunk).fetchall())
    found: dict[str, list[status.Mark]] = {}
    for tid, action, on_date, note, created_at in rows:
        found.setdefault(tid, []).append(
            status.Mark(action, _parse(on_date) if on_date else None, note, _parse(created_at))
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
        events.append(status.ThreadEvent(message_id, _parse(when), direction, kind))
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


def thread_views(
    db: sqlite_utils.Database, config: Config, as_of: datetime | date | None = None
) -> list[ThreadView]:
    """Every thread that existed at ``as_of`` (default: now, and every message whatever its
    date), oldest first, with the members dated up to then and its state as ``decide`` sees it.
    Threads of a correspondent no longer in the config are left out. The one reading of
    threads that ``tracker threads``, the reports and the digest share."""
    by_id = {c.slug: c for c in config.correspondents}
    limit = _as_of_limit(as_of, config)
    members = _members(db, None)
    marks = _marks(db, None)
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
            items = [item for item in items if _parse(item[1]) <= limit]
        views.append(ThreadView(tid, correspondent, subject or "", items, marks.get(tid, []), state))
    return views


def list_threads(
    db: sqlite_utils.Database, config: Config, as_of: datetime | date | None = None
) -> list[dict]:
    """Every thread as DESIGN.md's ``tracker threads --format json`` contract says, with its
    status as of ``as_of`` (default now); threads opened after ``as_of`` are left out.
    Dates are ISO 8601 in the configured time zone, with its offset."""
    tz = config.tz

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
            "messages": [
                {"message_id": message_id, "date": out(_parse(when)), "direction": direction, "kind": kind}
                for message_id, when, direction, kind, _ in view.members
            ],
        }
        for view in thread_views(db, config, as_of)
    ]


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


# --- marks ---------------------------------------------------------------------------------


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
) -> str:
    """Record a fact only a person knows about a thread and re-derive it; return the thread id.

    ``action`` is ``answered`` (by post, on ``on_date``), ``closed``, ``reopened`` or
    ``attach`` (``message_id`` belongs to this thread).
    """
    tid = find_thread(db, thread)
    if action not in ("answered", "closed", "reopened", "attach"):
        raise ThreadingError(f"unknown mark {action}: use answered, closed, reopened or attach")
    if action == "attach":
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
                "on_date": _iso(on_date) if on_date else None,
                "message_id": message_id,
                "note": note,
                "created_at": _iso(datetime.now(timezone.utc)),
            }
        )
        threader = Threader(db, config)
        if action == "attach":
            cid = db.execute("select correspondent_id from threads where id = ?", [tid]).fetchone()[0]
            threader.place_answer(cid, message_id)
        threader.touched.add(tid)
        threader.update_statuses(sorted(threader.touched))
    return tid


# --- dates ---------------------------------------------------------------------------------


def evidence_role(direction: str, kind: str, sender: str | None, to: Iterable[str | None],
                  resolve: Resolver) -> str | None:
    """"letter" or "probe" when a rethread reads this message's evidence (a letter to a
    correspondent, an answer from one), else None: what ``derive_all`` calls concerned."""
    if direction == "outgoing" and kind == "letter":
        return "letter" if any(resolve(a) for a in to) else None
    if direction == "incoming" and kind in ("reply", "acknowledgement", "auto_reply"):
        return "probe" if resolve(sender) else None
    return None


def evidence_keys(role: str, subject: str | None, when: str | None, body: str | None, tz) -> list[str]:
    """The evidence keys of one message and "x:evidence" (its body was read): for a letter
    its subject, local date and references (and "reminder"); for an answer what it cites.
    ``when`` is the stored ISO date; ``body`` the stored body text. Pure: the import's parser
    workers call it for new messages, the threader for any message not read yet."""
    body = (body or "")[: matching.BODY_LIMIT]
    if role == "letter":
        found = matching.letter_keys(subject, body, _parse(when), tz)
        if matching.is_reminder(subject):
            found.add("reminder")
            found |= {"rs:" + k[2:] for k in found if k.startswith("s:")}
    else:
        found = matching.probe_keys(subject, body)
    return [*found, "x:evidence"]


def evidence_state(config: Config) -> str:
    """What stored evidence was derived with (threading_state's "evidence")."""
    return f"{EVIDENCE_VERSION} {config.timezone}"


def _parse(text: str | datetime) -> datetime:
    if isinstance(text, datetime):
        moment = text
    else:
        moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    """As the store writes dates: UTC, seconds, with the offset."""
    if moment is None:
        return None
    if moment.tzinfo is not timezone.utc:
        moment = _parse(moment).astimezone(timezone.utc)
    return moment.isoformat(timespec="seconds")

