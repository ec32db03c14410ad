"""Incremental runs: the letters, answers and bounces a change can touch, and their threads."""

from __future__ import annotations

from ..parse.evidence import moment
from .full import carry_over
from .lookup import BOUNCE_WINDOW, HORIZON, SLACK, Letter, chunks, group_letters, in_, iso, scope_range, scoped


class IncrementalRun:
    """Threader's incremental run (a mixin over ``Threader``)."""

    def run_correspondent(self, cid: str, affected: set[str]) -> None:
        letters = self.letter_closure(cid, affected)
        moved = self.regroup(cid, letters)
        for message_id in self.answers_to_place(cid, affected, letters, moved):
            self.place_answer(cid, message_id)
        for message_id in self.bounces_to_place(cid, affected, letters, moved):
            self.place_bounce(cid, message_id)

    # -- 2. letters -> threads -------------------------------------------------------------

    def letter_closure(self, cid: str, affected: set[str]) -> dict[str, Letter]:
        """The letters to ``cid`` whose grouping the change can alter: those changed, those a
        changed reply may answer, closed over the same conversation, the current thread, the
        letters a reminder may chase and the reminders that may chase a letter."""
        seeds = set(affected)
        probes = self.ids_in(
            "select message_id from message_keys where +key = ? and role = 'probe' and message_id in ({in_})",
            sorted(affected),
            [f"from:{cid}"],
        )
        if probes:  # a reply can make a letter answered: the reminders that chase it may change
            seeds |= self.ids_in(
                "select l.message_id from messages p join messages l on l.conversation_id = p.conversation_id "
                "where p.message_id in ({in_})",
                sorted(probes),
            )
            seeds |= self._letters_with(cid, [
                r[0] for r in self.q_in(
                    "select key from message_keys where role = 'probe' and substr(key, 1, 2) in ('d:', 'r:') "
                    "and message_id in ({in_})",
                    sorted(probes),
                )
            ])
        found = self._letters(cid, sorted(seeds))
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
                # later reminders that may chase this letter: by its subject, date or references
                chasing = [f"c:{letter.day}"] if letter.day else []
                chasing += [f"r:{r}" for r in letter.refs]
                if letter.subject_key:
                    chasing.append(scoped(cid, "rs:" + letter.subject_key))
                more |= self._letters_with(cid, chasing, since=letter.date, reminders=True)
                if letter.reminder:  # and the letters it may chase, narrowed as ``chased`` narrows
                    for keys in ([f"d:{d}" for d in letter.cited], [f"r:{r}" for r in letter.refs],
                                 [scoped(cid, "s:" + letter.subject_key)] if letter.subject_key else []):
                        pool = self._letters_with(cid, keys, until=letter.date, before=letter)
                        more |= pool
                        if pool:
                            break
            more -= set(found)
            if more:
                fresh = self._letters(cid, sorted(more))
                found.update(fresh)
                frontier.extend(fresh.values())
        self._answered(cid, found)
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
        # an earlier letter arrived late and renamed the thread: its marks, commitments and
        # meetings follow it
        moves = []
        for old in gone:
            heirs = sorted((letters[m].date, m) for m, tid in before.items() if tid == old)
            if heirs:
                moves.append((thread_of[heirs[0][1]], old))
        carry_over(self.db, moves)
        for chunk in chunks(ids):
            self.q(
                f"delete from thread_messages where matched_by = 'letter' and message_id in ({in_(chunk)}) "
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
            sent = moment(letter.date)
            found |= self.ids_in(
                "select k.message_id from message_keys k join message_keys f on f.message_id = "
                "k.message_id and +f.key = ? and f.role = 'probe' join messages m on m.message_id = "
                "k.message_id and m.date >= ? and m.date <= ? where k.role = 'probe' and k.key in ({in_})",
                keys,
                [source, iso(sent - SLACK), iso(sent + HORIZON)],
            )
        # answers left for triage after a new letter: their suggestions (the latest threads) may change
        if moved:
            found |= {r[0] for r in self.q(
                "select message_id from unmatched where correspondent_id = ? and date >= ?",
                [cid, iso(min(moment(l.date) for l in moved) - SLACK)],
            )}
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
            sent = moment(letter.date)
            found |= {
                r[0]
                for r in self.q(
                    "select k.message_id from message_keys k join messages m on m.message_id = k.message_id "
                    "where k.key = ? and k.role = 'bounce' and m.date >= ? and m.date <= ?",
                    [key, iso(sent - SLACK), iso(sent + BOUNCE_WINDOW)],
                )
            }
        return sorted(found)

