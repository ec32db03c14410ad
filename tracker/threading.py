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
follows what a sync brought, not the size of the mailbox. ``None`` re-derives everything,
re-classifying stored rows when ``classify.classify_row`` exists: a config change needs no
re-import.
"""

from __future__ import annotations

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
        address = address.strip().lower()
        if address not in self._cache:
            found = self.exact.get(address)
            if found is None:
                domain = address.rpartition("@")[2]
                for suffix, slug in self.domains:
                    if domain == suffix or domain.endswith("." + suffix):
                        found = slug
                        break
            self._cache[address] = found
        return self._cache[address]


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
        },
        sort_keys=True,
    )


# --- the entry point -----------------------------------------------------------------------


def rethread(
    db: sqlite_utils.Database,
    config: Config,
    changed_message_ids: Iterable[str] | None = None,
    *,
    reclassify: bool | None = None,
) -> None:
    """Re-derive conversations and threads touched by ``changed_message_ids`` (all when None).

    A config whose correspondents, coalition or calendar changed since the last run
    re-derives everything, whatever ``changed_message_ids`` says. ``reclassify`` (default:
    on a full rethread) re-derives each message's direction and kind from its stored row.
    """
    sync_correspondents(db, config)
    fingerprint = _fingerprint(config)
    stored = db.execute("select value from threading_state where key = 'config'").fetchone()
    config_changed = stored is None or stored[0] != fingerprint
    full = changed_message_ids is None or config_changed
    if full:
        if reclassify is None:
            reclassify = changed_message_ids is None or config_changed
        _rethread_all(db, config, reclassify)
        with db.atomic():
            db.execute(
                "insert or replace into threading_state (key, value) values ('config', ?)", [fingerprint]
            )
        return
    changed = [m for m in dict.fromkeys(changed_message_ids) if m]
    if not changed:
        return
    with db.atomic():
        affected = conversations.update(db, changed)
        Threader(db, config).run(affected)


def _rethread_all(db: sqlite_utils.Database, config: Config, reclassify: bool) -> None:
    with db.atomic():
        if reclassify:
            _reclassify(db, config)
        conversations.rebuild(db)
        for table in ("thread_messages", "threads", "unmatched", "message_keys"):
            db.execute(f"delete from {table}")
        db.execute("delete from message_links where rel = 'original'")
        Threader(db, config, full=True).run(None)


def _reclassify(db: sqlite_utils.Database, config: Config) -> None:
    """Re-derive direction and kind of stored rows (a changed coalition or classifier)."""
    from . import classify

    classify_row = getattr(classify, "classify_row", None)
    if classify_row is None:
        return
    cursor = db.execute("select * from messages")
    columns = [d[0] for d in cursor.description]
    updates = []
    for values in cursor:
        row = dict(zip(columns, values))
        direction, kind = classify_row(row, config)
        if (direction, kind) != (row["direction"], row["kind"]):
            updates.append((direction, kind, row["message_id"]))
    db.conn.executemany("update messages set direction = ?, kind = ? where message_id = ?", updates)


# --- the threader --------------------------------------------------------------------------


@dataclass
class Letter:
    message_id: str
    date: str
    conversation_id: str | None
    subject: str
    subject_key: str
    reminder: bool


def _chunks(items: list, size: int = 500):
    for index in range(0, len(items), size):
        yield items[index : index + size]


def _in(values) -> str:
    return ",".join("?" * len(values))


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

    def q(self, sql: str, params: Iterable = ()) -> list[tuple]:
        return self.db.execute(sql, list(params)).fetchall()

    def q_in(self, sql: str, values: list, before: list | None = None) -> list[tuple]:
        """Run ``sql`` (with one ``({in})`` placeholder) over ``values`` in chunks."""
        rows: list[tuple] = []
        for chunk in _chunks(list(values)):
            rows.extend(self.q(sql.format(in_=_in(chunk)), (before or []) + chunk))
        return rows

    # -- 1. keys -------------------------------------------------------------------------

    def derive_keys(self, message_ids: list[str] | None) -> None:
        """Record correspondents and matching evidence of these messages (all when None)."""
        where, params = "", []
        if message_ids is not None:
            if not message_ids:
                return
            self.q_in("delete from message_keys where message_id in ({in_})", message_ids)
            self.q_in("delete from message_links where rel = 'original' and message_id in ({in_})", message_ids)
        sql = (
            "select message_id, date, subject, body_text, direction, kind, from_address, "
            "delivery_reports, original_message_id from messages "
            "where (direction = 'outgoing' and kind = 'letter') or kind in ('reply', "
            "'acknowledgement', 'auto_reply', 'bounce')"
        )
        if message_ids is None:
            rows = self.q(sql)
            recipients = self.q(
                "select r.message_id, r.role, r.address from recipients r join messages m "
                "on m.message_id = r.message_id where m.direction = 'outgoing' and m.kind = 'letter' "
                "and r.role in ('to', 'cc')"
            )
        else:
            rows = self.q_in(sql + " and message_id in ({in_})", message_ids)
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
        for message_id, when, subject, body, direction, kind, sender, reports, original in rows:
            if direction == "outgoing" and kind == "letter":
                to = {self.resolve(a) for role, a in addressed.get(message_id, []) if role == "to"}
                cc = {self.resolve(a) for role, a in addressed.get(message_id, []) if role == "cc"}
                to.discard(None)
                cc = cc - to - {None}
                keys += [(message_id, f"to:{c}", "letter") for c in sorted(to)]
                keys += [(message_id, f"cc:{c}", "letter") for c in sorted(cc)]
                if to:
                    sent = _parse(when)
                    keys += [
                        (message_id, k, "letter")
                        for k in matching.letter_keys(subject, body, sent, self.tz)
                    ]
                    if matching.is_reminder(subject):
                        keys.append((message_id, "reminder", "letter"))
            elif kind == "bounce":
                failed = set()
                for report in json.loads(reports or "[]"):
                    action = (report.get("action") or "").lower()
                    code = report.get("status") or ""
                    if action == "failed" or code.startswith("5") or not (action or code):
                        failed.add(self.resolve(report.get("recipient")))
                failed.discard(None)
                keys += [(message_id, f"bounce:{c}", "bounce") for c in sorted(failed)]
                if original and conversations.valid_id(original):
                    links.append((message_id, original, "original"))
            elif direction == "incoming":
                source = self.resolve(sender)
                if source:
                    keys.append((message_id, f"from:{source}", "probe"))
                    keys += [(message_id, k, "probe") for k in matching.probe_keys(subject, body)]
        self.db.conn.executemany(
            "insert or ignore into message_keys (message_id, key, role) values (?, ?, ?)", keys
        )
        self.db.conn.executemany(
            "insert or ignore into message_links (message_id, target_id, rel) values (?, ?, ?)", links
        )

    # -- the run -------------------------------------------------------------------------

    def run(self, affected: set[str] | None) -> None:
        """Re-derive everything ``affected`` messages touch (everything when None)."""
        if affected is None:
            self.derive_keys(None)
            correspondents = [c.slug for c in self.config.correspondents]
        else:
            affected_list = sorted(affected)
            self.derive_keys(affected_list)
            correspondents = sorted(
                {
                    key.split(":", 1)[1]
                    for (key,) in self.q_in(
                        "select key from message_keys where message_id in ({in_}) and "
                        "(key like 'to:%' or key like 'from:%' or key like 'bounce:%' or key like 'cc:%')",
                        affected_list,
                    )
                }
            )
        for correspondent_id in correspondents:
            if correspondent_id in self.by_id:
                self.run_correspondent(correspondent_id, affected)
        self.update_statuses(sorted(self.touched))

    def run_correspondent(self, cid: str, affected: set[str] | None) -> None:
        letters = self.letter_closure(cid, affected)
        old_threads, new_letters = self.regroup(cid, letters)
        answers = self.answers_to_place(cid, affected, letters, old_threads)
        for message_id in answers:
            self.place_answer(cid, message_id)
        for message_id in self.bounces_to_place(cid, affected, letters):
            self.place_bounce(cid, message_id)

    # -- 2. letters -> threads -------------------------------------------------------------

    def _letters(self, cid: str, message_ids: list[str] | None) -> dict[str, Letter]:
        sql = (
            "select m.message_id, m.date, m.conversation_id, m.subject, "
            "exists(select 1 from message_keys r where r.message_id = m.message_id and r.key = 'reminder') "
            "from message_keys k join messages m on m.message_id = k.message_id "
            "where k.key = ? and k.role = 'letter'"
        )
        if message_ids is None:
            rows = self.q(sql, [f"to:{cid}"])
        else:
            rows = self.q_in(sql + " and m.message_id in ({in_})", message_ids, [f"to:{cid}"])
        return {
            r[0]: Letter(r[0], r[1], r[2], r[3] or "", matching.subject_key(r[3]), bool(r[4]))
            for r in rows
        }

    def letter_closure(self, cid: str, affected: set[str] | None) -> dict[str, Letter]:
        """The letters to ``cid`` whose grouping the change can alter, closed over the
        relations that group letters (conversation, subject, current thread)."""
        if affected is None:
            return self._letters(cid, None)
        found = self._letters(cid, sorted(affected))
        frontier = list(found.values())
        key = f"to:{cid}"
        while frontier:
            batch, frontier = frontier[:200], frontier[200:]
            conversations_ = sorted({l.conversation_id for l in batch if l.conversation_id})
            subjects = sorted({f"s:{l.subject_key}" for l in batch if l.subject_key})
            ids = [l.message_id for l in batch]
            more = set()
            more |= {
                r[0]
                for r in self.q_in(
                    "select m.message_id from messages m join message_keys k on k.message_id = "
                    "m.message_id and k.key = ? and k.role = 'letter' where m.conversation_id in ({in_})",
                    conversations_,
                    [key],
                )
            }
            more |= {
                r[0]
                for r in self.q_in(
                    "select k.message_id from message_keys k join message_keys c on c.message_id = "
                    "k.message_id and c.key = ? and c.role = 'letter' where k.role = 'letter' and "
                    "k.key in ({in_})",
                    subjects,
                    [key],
                )
            }
            more |= {
                r[0]
                for r in self.q_in(
                    "select o.message_id from thread_messages tm join threads t on t.id = tm.thread_id "
                    "and t.correspondent_id = ? join thread_messages o on o.thread_id = tm.thread_id "
                    "and o.matched_by = 'letter' where tm.matched_by = 'letter' and tm.message_id in ({in_})",
                    ids,
                    [cid],
                )
            }
            more -= set(found)
            if more:
                fresh = self._letters(cid, sorted(more))
                found.update(fresh)
                frontier.extend(fresh.values())
        return found

    def regroup(self, cid: str, letters: dict[str, Letter]) -> tuple[set[str], set[str]]:
        """Group ``letters`` into threads and store the grouping; return the thread ids the
        letters were in before and the ids they are in now."""
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.get(x, x) != x:
                parent[x] = parent.get(parent[x], parent[x])
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

        ordered = sorted(letters.values(), key=lambda l: (l.date, l.message_id))
        by_conversation: dict[str, str] = {}
        by_subject: dict[str, list[Letter]] = {}
        for letter in ordered:
            if letter.conversation_id:
                first = by_conversation.setdefault(letter.conversation_id, letter.message_id)
                union(first, letter.message_id)
            if letter.reminder and letter.subject_key and by_subject.get(letter.subject_key):
                # a reminder continues the latest letter under the same subject
                union(by_subject[letter.subject_key][-1].message_id, letter.message_id)
            if letter.subject_key:
                by_subject.setdefault(letter.subject_key, []).append(letter)
        groups: dict[str, list[Letter]] = {}
        for letter in ordered:
            groups.setdefault(find(letter.message_id), []).append(letter)
        new_of: dict[str, str] = {}
        rows = []
        for members in groups.values():
            first = members[0]  # ordered by date
            tid = thread_id(first.message_id, cid)
            for letter in members:
                new_of[letter.message_id] = tid
            rows.append(
                {
                    "id": tid,
                    "correspondent_id": cid,
                    "correspondent": self.by_id[cid].name,
                    "subject": first.subject,
                    "subject_key": first.subject_key,
                    "conversation_id": first.conversation_id,
                    "letter_message_id": first.message_id,
                }
            )
        ids = sorted(letters)
        old_threads = {
            r[0]
            for r in self.q_in(
                "select distinct tm.thread_id from thread_messages tm join threads t on t.id = "
                "tm.thread_id and t.correspondent_id = ? where tm.matched_by = 'letter' and "
                "tm.message_id in ({in_})",
                ids,
                [cid],
            )
        }
        new_threads = set(new_of.values())
        gone = sorted(old_threads - new_threads)
        self._orphans: list[str] = []
        if gone:
            self._orphans = [
                r[0]
                for r in self.q_in(
                    "select message_id from thread_messages where matched_by != 'letter' and "
                    "thread_id in ({in_})",
                    gone,
                )
            ]
            self.q_in("delete from thread_messages where thread_id in ({in_})", gone)
            self.q_in("delete from threads where id in ({in_})", gone)
        if old_threads:
            self.q_in(
                "delete from thread_messages where matched_by = 'letter' and thread_id in ({in_})",
                sorted(old_threads & new_threads),
            )
        if rows:
            self.db["threads"].upsert_all(rows, pk="id")
        self.db.conn.executemany(
            "insert or replace into thread_messages (thread_id, message_id, matched_by) values (?, ?, 'letter')",
            [(tid, mid) for mid, tid in new_of.items()],
        )
        self.touched |= new_threads
        return old_threads, new_threads

    # -- 3. answers -> threads -------------------------------------------------------------

    def answers_to_place(
        self, cid: str, affected: set[str] | None, letters: dict[str, Letter], old_threads: set[str]
    ) -> list[str]:
        source = f"from:{cid}"
        if affected is None:
            return [r[0] for r in self.q("select message_id from message_keys where key = ? and role = 'probe'", [source])]
        found: set[str] = set(self._orphans)
        found |= {
            r[0]
            for r in self.q_in(
                "select message_id from message_keys where key = ? and role = 'probe' and message_id in ({in_})",
                sorted(affected),
                [source],
            )
        }
        found |= {
            r[0]
            for r in self.q_in(
                "select message_id from thread_messages where matched_by != 'letter' and "
                "matched_by != 'bounce' and thread_id in ({in_})",
                sorted(old_threads),
            )
        }
        conversation_ids = sorted({l.conversation_id for l in letters.values() if l.conversation_id})
        found |= {
            r[0]
            for r in self.q_in(
                "select m.message_id from messages m join message_keys k on k.message_id = m.message_id "
                "and k.key = ? and k.role = 'probe' where m.conversation_id in ({in_})",
                conversation_ids,
                [source],
            )
        }
        if letters:
            earliest = min(l.date for l in letters.values())
            keys = sorted(
                {
                    r[0]
                    for r in self.q_in(
                        "select key from message_keys where role = 'letter' and (key like 's:%' or "
                        "key like 'd:%' or key like 'r:%') and message_id in ({in_})",
                        sorted(letters),
                    )
                }
            )
            found |= {
                r[0]
                for r in self.q_in(
                    "select k.message_id from message_keys k join message_keys f on f.message_id = "
                    "k.message_id and f.key = ? and f.role = 'probe' join messages m on m.message_id = "
                    "k.message_id and m.date >= ? where k.role = 'probe' and k.key in ({in_})",
                    keys,
                    [source, _iso(_parse(earliest) - SLACK)],
                )
            }
        # what a person attached to these threads
        found |= {
            r[0]
            for r in self.q_in(
                "select message_id from marks where action = 'attach' and thread_id in ({in_})",
                sorted(set(self._new_threads_cache(letters))),
            )
        }
        return sorted(found)

    def _new_threads_cache(self, letters: dict[str, Letter]) -> list[str]:
        return [
            r[0]
            for r in self.q_in(
                "select distinct thread_id from thread_messages where matched_by = 'letter' and message_id in ({in_})",
                sorted(letters),
            )
        ]

    def _forget(self, message_id: str, matched_by: tuple[str, ...]) -> None:
        rows = self.q(
            f"select thread_id from thread_messages where message_id = ? and matched_by in ({_in(matched_by)})",
            [message_id, *matched_by],
        )
        self.touched |= {r[0] for r in rows}
        self.db.execute(
            f"delete from thread_messages where message_id = ? and matched_by in ({_in(matched_by)})",
            [message_id, *matched_by],
        )
        self.db.execute("delete from unmatched where message_id = ?", [message_id])

    def _attach(self, thread: str, message_id: str, how: str) -> None:
        self.db.execute(
            "insert or replace into thread_messages (thread_id, message_id, matched_by) values (?, ?, ?)",
            [thread, message_id, how],
        )
        self.touched.add(thread)

    def place_answer(self, cid: str, message_id: str) -> None:
        """Put one incoming message from ``cid`` in its thread, or in ``unmatched``."""
        self._forget(message_id, ("header", "evidence", "mark"))
        row = self.q(
            "select date, conversation_id, in_reply_to, refs, kind from messages where message_id = ?",
            [message_id],
        )
        if not row:
            return
        when, conversation_id, in_reply_to, refs, kind = row[0]
        if kind not in REPLY_KINDS:
            return
        attached = self.q(
            "select m.thread_id from marks m join threads t on t.id = m.thread_id where m.action = "
            "'attach' and m.message_id = ? order by m.id desc limit 1",
            [message_id],
        )
        if attached:
            self._attach(attached[0][0], message_id, "mark")
            return
        # headers: a letter of this conversation opened a thread for this correspondent
        in_conversation = self.q(
            "select tm.thread_id, m.message_id, m.date from messages m join thread_messages tm on "
            "tm.message_id = m.message_id and tm.matched_by = 'letter' join threads t on t.id = "
            "tm.thread_id and t.correspondent_id = ? where m.conversation_id = ? order by m.date, m.message_id",
            [cid, conversation_id],
        ) if conversation_id else []
        if in_conversation:
            pointed = set(conversations.targets(message_id, in_reply_to, refs))
            direct = [r for r in in_conversation if r[1] in pointed]
            before = [r for r in in_conversation if r[2] <= when]
            choice = (direct or before or in_conversation)[-1][0]
            self._attach(choice, message_id, "header")
            return
        copied = self.q(
            "select 1 from messages m join message_keys k on k.message_id = m.message_id and k.key = ? "
            "and k.role = 'letter' where m.conversation_id = ? limit 1",
            [f"cc:{cid}", conversation_id],
        ) if conversation_id else []
        candidates = self.candidates(cid, message_id, when)
        best, ranked = matching.decide_match(candidates)
        if best is not None and not copied:
            self._attach(best.thread_id, message_id, "evidence")
            return
        if kind == "auto_reply":
            return  # an out-of-office that matches nothing is not worth a person's triage
        if copied:
            reason = "from a body that was only copied (Cc) on the letter; attach it only if it answers"
        elif not ranked or ranked[0].score < matching.THRESHOLD:
            reason = "no letter to this correspondent shares a subject, date or reference with it"
        else:
            reason = "several threads match equally well"
        if not ranked:
            ranked = [
                matching.Candidate(r[0], 0, [], r[1] or "")
                for r in self.q(
                    "select id, last_letter_at from threads where correspondent_id = ? and "
                    "opened_at <= ? order by opened_at desc, id limit 5",
                    [cid, _iso(_parse(when) + SLACK)],
                )
            ]
        self.db.execute(
            "insert or replace into unmatched (message_id, correspondent_id, candidates, reason, date) "
            "values (?, ?, ?, ?, ?)",
            [
                message_id,
                cid,
                json.dumps(
                    [{"thread_id": c.thread_id, "score": c.score, "evidence": c.evidence} for c in ranked[:10]],
                    ensure_ascii=False,
                ),
                reason,
                when,
            ],
        )

    def candidates(self, cid: str, message_id: str, when: str) -> list[matching.Candidate]:
        """Threads of ``cid`` with a letter sent before ``when`` that shares evidence with
        the message."""
        rows = self.q(
            "select lk.key, tm.thread_id from message_keys pk "
            "join message_keys lk on lk.key = pk.key and lk.role = 'letter' "
            "join message_keys c on c.message_id = lk.message_id and c.key = ? and c.role = 'letter' "
            "join messages l on l.message_id = lk.message_id and l.date <= ? "
            "join thread_messages tm on tm.message_id = lk.message_id and tm.matched_by = 'letter' "
            "join threads t on t.id = tm.thread_id and t.correspondent_id = ? "
            "where pk.message_id = ? and pk.role = 'probe' and (pk.key like 's:%' or pk.key like 'd:%' "
            "or pk.key like 'r:%')",
            [f"to:{cid}", _iso(_parse(when) + SLACK), cid, message_id],
        )
        shared: dict[str, set[str]] = {}
        for key, thread in rows:
            shared.setdefault(thread, set()).add(key)
        return [matching.score(matching.Candidate(t), keys) for t, keys in shared.items()]

    # -- 4. bounces ------------------------------------------------------------------------

    def bounces_to_place(self, cid: str, affected: set[str] | None, letters: dict[str, Letter]) -> list[str]:
        key = f"bounce:{cid}"
        if affected is None:
            return [r[0] for r in self.q("select message_id from message_keys where key = ? and role = 'bounce'", [key])]
        found = {
            r[0]
            for r in self.q_in(
                "select message_id from message_keys where key = ? and role = 'bounce' and message_id in ({in_})",
                sorted(affected),
                [key],
            )
        }
        found |= {
            r[0]
            for r in self.q_in(
                "select l.message_id from message_links l join message_keys k on k.message_id = "
                "l.message_id and k.key = ? where l.rel = 'original' and l.target_id in ({in_})",
                sorted(letters),
                [key],
            )
        }
        return sorted(found)

    def place_bounce(self, cid: str, message_id: str) -> None:
        """Put a bounce in the thread of the letter it reports, for the failed correspondent."""
        rows = self.q(
            "select tm.thread_id from thread_messages tm join threads t on t.id = tm.thread_id "
            "where tm.message_id = ? and tm.matched_by = 'bounce' and t.correspondent_id = ?",
            [message_id, cid],
        )
        for (thread,) in rows:
            self.touched.add(thread)
            self.db.execute(
                "delete from thread_messages where thread_id = ? and message_id = ?", [thread, message_id]
            )
        when, in_reply_to, refs, original = self.q(
            "select date, in_reply_to, refs, original_message_id from messages where message_id = ?",
            [message_id],
        )[0]
        pointed = [original] + conversations.targets(message_id, in_reply_to, refs)
        pointed = [p for p in pointed if p]
        thread = None
        if pointed:
            found = self.q(
                f"select tm.thread_id, tm.message_id from thread_messages tm join threads t on t.id = "
                f"tm.thread_id and t.correspondent_id = ? where tm.matched_by = 'letter' and "
                f"tm.message_id in ({_in(pointed)})",
                [cid, *pointed],
            )
            order = {p: i for i, p in enumerate(pointed)}
            if found:
                thread = min(found, key=lambda r: order[r[1]])[0]
        if thread is None and not original:
            # no id to go by: the latest letter to that body shortly before the bounce
            found = self.q(
                "select tm.thread_id from message_keys k join messages m on m.message_id = k.message_id "
                "join thread_messages tm on tm.message_id = m.message_id and tm.matched_by = 'letter' "
                "join threads t on t.id = tm.thread_id and t.correspondent_id = ? "
                "where k.key = ? and k.role = 'letter' and m.date <= ? and m.date >= ? "
                "order by m.date desc limit 1",
                [cid, f"to:{cid}", _iso(_parse(when) + SLACK), _iso(_parse(when) - BOUNCE_WINDOW)],
            )
            thread = found[0][0] if found else None
        if thread is not None:
            self._attach(thread, message_id, "bounce")

    # -- 5. statuses -----------------------------------------------------------------------

    def update_statuses(self, thread_ids: list[str]) -> None:
        """Decide and store the status of these threads, as of now."""
        existing = {
            r[0]: r[1]
            for r in self.q_in("select id, correspondent_id from threads where id in ({in_})", thread_ids)
        }
        members = _members(self.db, sorted(existing))
        marks = _marks(self.db, sorted(existing))
        now = datetime.now(timezone.utc)
        updates = []
        for tid, cid in existing.items():
            correspondent = self.by_id.get(cid)
            if correspondent is None:
                continue
            state = decide(self.config, correspondent, members.get(tid, []), marks.get(tid, []), now)
            updates.append(
                (
                    state.status,
                    _iso(state.opened_at),
                    _iso(state.last_letter_at),
                    _iso(state.last_reply_at),
                    state.due_at.isoformat(timespec="seconds") if state.due_at else None,
                    int(state.overdue),
                    tid,
                )
            )
        self.db.conn.executemany(
            "update threads set status = ?, opened_at = ?, last_letter_at = ?, last_reply_at = ?, "
            "due_at = ?, overdue = ? where id = ?",
            updates,
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


def list_threads(
    db: sqlite_utils.Database, config: Config, as_of: datetime | date | None = None
) -> list[dict]:
    """Every thread as DESIGN.md's ``tracker threads --format json`` contract says, with its
    status as of ``as_of`` (default now); threads opened after ``as_of`` are left out."""
    by_id = {c.slug: c for c in config.correspondents}
    members = _members(db, None)
    marks = _marks(db, None)
    found = []
    for tid, cid, subject in db.execute(
        "select id, correspondent_id, subject from threads order by opened_at, id"
    ).fetchall():
        correspondent = by_id.get(cid)
        if correspondent is None:
            continue
        items = members.get(tid, [])
        state = decide(config, correspondent, items, marks.get(tid, []), as_of)
        if state.opened_at is None:
            continue
        limit = _as_of_limit(as_of, config)
        found.append(
            {
                "id": tid,
                "correspondent": correspondent.name,
                "subject": subject,
                "status": state.status,
                "opened_at": _out(state.opened_at),
                "last_letter_at": _out(state.last_letter_at),
                "last_reply_at": _out(state.last_reply_at),
                "due_at": _out(state.due_at),
                "overdue": state.overdue,
                "messages": [
                    {
                        "message_id": message_id,
                        "date": _out(_parse(when)),
                        "direction": direction,
                        "kind": kind,
                    }
                    for message_id, when, direction, kind, _ in items
                    if limit is None or _parse(when) <= limit
                ],
            }
        )
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


def _parse(text: str | datetime) -> datetime:
    if isinstance(text, datetime):
        moment = text
    else:
        moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _parse(moment).astimezone(timezone.utc).isoformat(timespec="seconds")


def _out(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None
