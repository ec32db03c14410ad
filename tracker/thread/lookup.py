"""What placing a message needs to know: letters, answers and keys, read from the database
(incremental runs) or held in memory for one correspondent (full runs)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterable

from ..parse.evidence import moment
from .correspondents import thread_id

if TYPE_CHECKING:
    from .threader import Threader

REPLY_KINDS = ("reply", "acknowledgement", "auto_reply")
SLACK = timedelta(hours=1)  # clocks differ: an answer may look a little older than its letter
BOUNCE_WINDOW = timedelta(days=7)
HORIZON = timedelta(days=550)  # an answer found by evidence answers a letter of the last 18 months


def scoped(correspondent_id: str, key: str) -> str:
    """An evidence key as one correspondent's ("@justice|s:indemnisation")."""
    return f"@{correspondent_id}|{key}"


def scope_range(correspondent_id: str) -> tuple[str, str]:
    return f"@{correspondent_id}|", f"@{correspondent_id}}}"


@dataclass
class Letter:
    message_id: str
    date: str
    conversation_id: str | None
    subject: str
    subject_key: str
    reminder: bool
    day: str = ""  # its local date (its "d:" key)
    refs: tuple[str, ...] = ()  # the references it carries ("r:")
    cited: tuple[str, ...] = ()  # a reminder's: the letter dates it cites ("c:")
    answered: tuple[str, ...] = ()  # dates of the replies that answer it (``answered_dates``)

    def take(self, key: str) -> None:
        """Record one of its evidence keys (as message_keys holds them, unscoped)."""
        if key == "reminder":
            self.reminder = True
        elif key.startswith("s:"):
            self.subject_key = min(self.subject_key, key[2:]) if self.subject_key else key[2:]
        elif key.startswith("d:"):
            self.day = key[2:]
        elif key.startswith("r:"):
            self.refs = tuple(sorted({*self.refs, key[2:]}))
        elif key.startswith("c:"):
            self.cited = tuple(sorted({*self.cited, key[2:]}))


# the letter keys grouping reads
GROUPING_KEYS = "(k.key = 'reminder' or substr(k.key, 1, 2) in ('s:', 'd:', 'r:', 'c:'))"


@dataclass
class Info:
    date: str
    conversation_id: str | None
    in_reply_to: str | None
    refs: str | None
    kind: str
    original: str | None


def chunks(items: list, size: int = 500):
    for index in range(0, len(items), size):
        yield items[index : index + size]


def in_(values) -> str:
    return ",".join("?" * len(values))


def answered_dates(letters: Iterable[Letter], replies: Iterable[tuple[str, str | None, Iterable[str]]]) -> None:
    """Set each letter's ``answered``: the dates of the (date, conversation, evidence keys)
    replies that answer it for the reminder rule of ``group_letters``: a reply in its
    conversation, or one quoting a reference it carries, or citing its date and its subject.
    (Stricter than placement: a subject alone does not say which letter was answered.)"""
    by_conversation: dict[str, list[Letter]] = {}
    by_ref: dict[str, list[Letter]] = {}
    by_day_subject: dict[tuple[str, str], list[Letter]] = {}
    for letter in letters:
        letter.answered = ()
        if letter.conversation_id:
            by_conversation.setdefault(letter.conversation_id, []).append(letter)
        for ref in letter.refs:
            by_ref.setdefault(ref, []).append(letter)
        if letter.day and letter.subject_key:
            by_day_subject.setdefault((letter.day, letter.subject_key), []).append(letter)
    found: dict[str, set[str]] = {}
    for when, conversation_id, keys in replies:
        keys = set(keys)
        hit = list(by_conversation.get(conversation_id or "", []))
        days = [k[2:] for k in keys if k.startswith("d:")]
        for key in keys:
            if key.startswith("r:"):
                hit += by_ref.get(key[2:], [])
            elif key.startswith("s:"):
                for day in days:
                    hit += by_day_subject.get((day, key[2:]), [])
        for letter in hit:
            found.setdefault(letter.message_id, set()).add(when)
    for letter in letters:
        letter.answered = tuple(sorted(found.get(letter.message_id, ())))


def group_letters(letters: Iterable[Letter], correspondent_id: str) -> dict[str, str]:
    """letter id -> thread id: letters of one conversation share a thread named after its
    first letter; any other letter opens its own thread, whatever its subject, unless it is
    a reminder, which continues the letter it chases (``chased``)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    members: dict[str, list[Letter]] = {}

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            low, high = min(ra, rb), max(ra, rb)
            parent[high] = low
            members[low] = members.get(low, []) + members.pop(high, [])

    ordered = sorted(letters, key=lambda l: (l.date, l.message_id))
    first_in: dict[str, str] = {}
    earlier: list[Letter] = []
    for letter in ordered:
        members[letter.message_id] = [letter]
        linked = bool(letter.conversation_id) and letter.conversation_id in first_in
        if letter.conversation_id:
            union(first_in.setdefault(letter.conversation_id, letter.message_id), letter.message_id)
        if letter.reminder and not linked:
            target = chased(letter, earlier, lambda l: members[find(l.message_id)])
            if target is not None:
                union(target.message_id, letter.message_id)
        earlier.append(letter)
    first: dict[str, str] = {}
    for letter in ordered:
        first.setdefault(find(letter.message_id), letter.message_id)
    return {l.message_id: thread_id(first[find(l.message_id)], correspondent_id) for l in ordered}


def chased(reminder: Letter, earlier: list[Letter], thread_of) -> Letter | None:
    """The earlier letter a reminder without headers chases: among those sent on a date it
    cites, else those carrying a reference it carries, else those of its subject (none: it
    chases nothing and opens a thread), preferring its subject, the latest whose thread had no
    reply before the reminder, else the latest."""
    pool = [l for l in earlier if l.day and l.day in reminder.cited]
    if not pool and reminder.refs:
        pool = [l for l in earlier if set(l.refs) & set(reminder.refs)]
    same = [l for l in (pool or earlier) if reminder.subject_key and l.subject_key == reminder.subject_key]
    pool = same or pool
    if not pool:
        return None
    unanswered = [
        l for l in pool if not any(d < reminder.date for m in thread_of(l) for d in m.answered)
    ]
    return (unanswered or pool)[-1]


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

    def phrases(self, message_id: str) -> list[str]:
        """The folded subjects an answer names ("w:" keys, without the prefix), sorted."""
        return sorted(
            r[0][2:]
            for r in self.t.q(
                "select key from message_keys where message_id = ? and role = 'probe' and key >= 'w:' and key < 'w;'",
                [message_id],
            )
        )

    def thread_subjects(self, cid: str, thread_ids: list[str]) -> dict[str, list[str]]:
        """thread id -> the subject keys of its letters, sorted."""
        found: dict[str, list[str]] = {}
        for thread, key in self.t.q(
            f"select tm.thread_id, k.key from thread_messages tm join message_keys k on k.message_id = "
            f"tm.message_id and k.role = 'letter' and k.key >= 's:' and k.key < 's;' where tm.matched_by = "
            f"'letter' and tm.thread_id in ({in_(thread_ids)}) order by tm.thread_id, k.key",
            thread_ids,
        ):
            found.setdefault(thread, []).append(key[2:])
        return found

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
                f"tm.message_id in ({in_(letter_ids)})",
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
        self.letters = letters
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

    def phrases(self, message_id: str) -> list[str]:
        return sorted(k[2:] for k in self.probe_keys.get(message_id, ()) if k.startswith("w:"))

    def thread_subjects(self, cid: str, thread_ids: list[str]) -> dict[str, list[str]]:
        wanted = set(thread_ids)
        found: dict[str, set[str]] = {}
        for letter in self.letters.values():
            tid = self.thread_of[letter.message_id]
            if tid in wanted and letter.subject_key:
                found.setdefault(tid, set()).add(letter.subject_key)
        return {t: sorted(keys) for t, keys in found.items()}

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



def iso(value: datetime | None) -> str | None:
    """As the store writes dates: UTC, seconds, with the offset."""
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        value = moment(value).astimezone(timezone.utc)
    return value.isoformat(timespec="seconds")
