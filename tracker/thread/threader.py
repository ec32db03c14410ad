"""One rethread run over the database: keys, letters' threads, answers' places, statuses.

The run's steps live beside this module, one seam each: ``keys`` (what each message
concerns and the evidence it gives), ``full`` and ``incremental`` (which letters and
answers a run reads), ``place`` (where an answer or bounce goes: the one placement logic of
both runs), ``views`` (the status a thread's members and marks decide).
"""

from __future__ import annotations

from typing import Iterable

import sqlite_utils

from ..config import Config
from ..parse.evidence import Resolver
from ..store.db import refresh_first_replies
from .full import FullRun
from .incremental import IncrementalRun
from .keys import KeyDerivation
from .letters import LetterReads
from .lookup import Lookup, chunks, in_
from .place import Placement
from .views import decide, marks_of, members_of, state_columns


class ThreadingError(Exception):
    """A thread or message that a command names does not exist; the text says what to do."""


class Threader(KeyDerivation, FullRun, IncrementalRun, LetterReads, Placement):
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
        self._not_answers: set[str] | None = None
        self._detached: dict[str, set[str]] | None = None

    @property
    def detached(self) -> dict[str, set[str]]:
        """message -> the threads a person detached it from (no later attach to that thread)."""
        if self._detached is None:
            latest: dict[tuple[str, str], str] = {}
            for message_id, thread_id, action in self.q(
                "select message_id, thread_id, action from marks where action in ('attach', 'detach') "
                "and message_id is not null and thread_id is not null order by id"
            ):
                latest[(message_id, thread_id)] = action
            self._detached = {}
            for (message_id, thread_id), action in latest.items():
                if action == "detach":
                    self._detached.setdefault(message_id, set()).add(thread_id)
        return self._detached

    @property
    def not_answers(self) -> set[str]:
        """Messages whose latest mark in force says they answer no thread ("not an answer" at
        the desk); a later attach mark takes them back."""
        if self._not_answers is None:
            latest = dict(self.q(
                "select message_id, action from marks where action in ('attach', 'not_answer') "
                "and message_id is not null order by id"
            ))
            self._not_answers = {m for m, action in latest.items() if action == "not_answer"}
        return self._not_answers

    def q(self, sql: str, params: Iterable = ()) -> list[tuple]:
        return self.db.execute(sql, list(params)).fetchall()

    def q_in(self, sql: str, values: Iterable, before: list | None = None) -> list[tuple]:
        """Run ``sql`` (with one ``({in_})`` placeholder) over ``values`` in chunks."""
        rows: list[tuple] = []
        for chunk in chunks(list(values)):
            rows.extend(self.q(sql.format(in_=in_(chunk)), (before or []) + chunk))
        return rows

    def ids_in(self, sql: str, values: Iterable, before: list | None = None) -> set[str]:
        """The first column of ``q_in``'s rows, as a set."""
        return {row[0] for row in self.q_in(sql, values, before)}

    # -- 1. keys -------------------------------------------------------------------------


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


    def update_statuses(self, thread_ids: list[str] | None) -> None:
        """Decide and store the status of these threads (all when None), as of now."""
        if thread_ids is None:
            existing = dict(self.q("select id, correspondent_id from threads"))
        else:
            existing = dict(self.q_in("select id, correspondent_id from threads where id in ({in_})", thread_ids))
        members = members_of(self.db, None if thread_ids is None else sorted(existing))
        marks = marks_of(self.db, None if thread_ids is None else sorted(existing))
        now = self.config.now()
        updates = []
        for tid, cid in existing.items():
            correspondent = self.by_id.get(cid)
            if correspondent is None:
                continue
            state = decide(self.config, correspondent, members.get(tid, []), marks.get(tid, []), now)
            updates.append(state_columns(state) + (tid,))
        self.db.conn.executemany(
            "update threads set status = ?, opened_at = ?, last_letter_at = ?, last_reply_at = ?, "
            "due_at = ?, overdue = ? where id = ?",
            updates,
        )
        refresh_first_replies(self.db, None if thread_ids is None else sorted(existing))

