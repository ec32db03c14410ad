"""Full runs: everything, one correspondent at a time, then only the difference written."""

from __future__ import annotations

from ..store.db import refresh_first_replies
from .lookup import GROUPING_KEYS, REPLY_KINDS, Info, Letter, MemoryLookup, answered_dates, group_letters
from .views import decide, marks_of, state_columns

# what a person recorded on a thread, by thread id: it follows a thread whose id changes
RECORDED_ON_THREADS = ("marks", "marks_undone", "scans", "commitments", "meetings")


def carry_over(db, moves: list[tuple[str, str]]) -> None:
    """Move what a person recorded on each old thread id to the new one, for ``moves`` of
    (new id, old id)."""
    for table in RECORDED_ON_THREADS:
        db.conn.executemany(f"update {table} set thread_id = ? where thread_id = ?", moves)


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




class FullRun:
    """Threader's full run (a mixin over ``Threader``)."""

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
        self.now = self.config.now()
        self._renamed_by_reshuffle()
        self.marks = marks_of(self.db, None)
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
        refresh_first_replies(db)

    def _renamed_by_reshuffle(self) -> None:
        """A body folded into its successor (config ``successor``) leaves threads whose ids hash
        the former body's id; before marks are read, what was recorded on each moves to the
        successor's thread that now holds its first letter."""
        for correspondent in self.config.correspondents:
            formers = [former.slug for former in correspondent.formerly]
            old = self.q_in("select id, letter_message_id from threads where correspondent_id in ({in_})", formers)
            if not old:
                continue
            cid = correspondent.slug
            letters, _, _ = self._full_letters(cid, grouping=True)
            answers = self._full_messages(cid, "from", "probe")
            answered_dates(letters.values(), self._full_replies(answers, self._full_probe_keys(cid)))
            thread_of = group_letters(letters.values(), cid)
            carry_over(self.db, [(thread_of[first], tid) for tid, first in old
                                 if first in thread_of and thread_of[first] != tid])

    def _attachments(self) -> dict[str, tuple[str, str, str]]:
        """Full runs: message -> (thread, date, kind) for the replies a person attached
        (``tracker mark --message``) to a thread this run creates; the latest mark counts."""
        last = {m: thread for m, thread in self.q("select message_id, thread_id from marks where action = 'attach' "
                                                  "order by id") if thread not in self.detached.get(m, ())}
        if not last:
            return {}
        named = set(last.values())
        existing: set[str] = set()
        for correspondent in self.config.correspondents:  # which of the named threads exist
            cid = correspondent.slug
            letters, _, _ = self._full_letters(cid, grouping=True)
            answers = self._full_messages(cid, "from", "probe")
            answered_dates(letters.values(), self._full_replies(answers, self._full_probe_keys(cid)))
            existing |= named & set(group_letters(letters.values(), cid).values())
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
        """Full runs: every letter to ``cid``, its subject, and the evidence keys answers are
        matched on (none when only ``grouping``: what ``group_letters`` reads is in the letters)."""
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
        for message_id, found in self.q(
            "select k.message_id, k.key from temp.concerns c join message_keys k on k.message_id = c.message_id "
            f"and k.role = 'letter' where c.key = ? and c.role = 'letter' and {GROUPING_KEYS}",
            [key],
        ):
            letter = letters.get(message_id)
            if letter is None:
                continue
            letter.take(found)
            if not grouping and found[:2] in ("s:", "d:", "r:"):
                evidence.setdefault(message_id, []).append(found)
        return letters, subjects, evidence

    def _full_probe_keys(self, cid: str) -> dict[str, list[str]]:
        """Full runs: the evidence keys of the answers from ``cid`` that matching reads."""
        probe_keys: dict[str, list[str]] = {}
        for message_id, key in self.q(
            "select e.message_id, e.key from temp.concerns k join message_keys e on e.message_id = k.message_id "
            "and e.role = 'probe' where k.key = ? and k.role = 'probe' and ((e.key >= 'd:' and e.key < 'd;') "
            "or (e.key >= 'r:' and e.key < 'r;') or (e.key >= 's:' and e.key < 's;') or (e.key >= 'w:' and e.key < 'w;'))",
            [f"from:{cid}"],
        ):
            probe_keys.setdefault(message_id, []).append(key)
        return probe_keys

    @staticmethod
    def _full_replies(answers: list[tuple], probe_keys: dict[str, list[str]]) -> list[tuple]:
        """(date, conversation, keys) of the replies among ``answers`` (``answered_dates``)."""
        return [(r[1], r[2], probe_keys.get(r[0], ())) for r in answers if r[5] == "reply"]

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
        answers = self._full_messages(cid, "from", "probe")
        probe_keys = self._full_probe_keys(cid)
        answered_dates(letters.values(), self._full_replies(answers, probe_keys))
        thread_of = group_letters(letters.values(), cid)
        bounces = self._full_messages(cid, "bounce", "bounce")
        infos = {r[0]: Info(*r[1:]) for r in answers}
        infos.update((r[0], Info(*r[1:])) for r in bounces)
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
                 first.conversation_id, first.message_id) + state_columns(state)
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

