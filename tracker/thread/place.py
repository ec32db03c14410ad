"""Where one answer or bounce goes: the one placement logic of full and incremental runs."""

from __future__ import annotations

import json

from ..parse.evidence import moment
from . import conversations, matching
from .lookup import BOUNCE_WINDOW, HORIZON, REPLY_KINDS, SLACK, in_, iso


class Placement:
    """Threader's placement of answers and bounces (a mixin over ``Threader``)."""

    def _forget(self, message_id: str, matched_by: tuple[str, ...], cid: str | None = None) -> None:
        if self.full:
            return  # a full run starts from empty tables
        where = f"message_id = ? and matched_by in ({in_(matched_by)})"
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
        if message_id in self.not_answers:
            return  # a person said it answers nothing: kept, in no thread and not waiting
        away = self.detached.get(message_id, set())  # threads a person took it out of
        attached = self.lookup.attached(message_id)
        if attached and attached not in away:
            self._attach(attached, message_id, "mark")
            return
        # headers: a letter of this conversation opened a thread for this correspondent
        in_conversation = [r for r in self.lookup.conversation_letters(cid, info.conversation_id) if r[2] not in away]
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
        when = moment(info.date)
        until, since = iso(when + SLACK), iso(when - HORIZON)
        shared = {thread: keys for thread, keys in self.lookup.candidates(cid, message_id, since, until).items()
                  if thread not in away}
        candidates = [matching.score(matching.Candidate(t), keys) for t, keys in shared.items()]
        best, ranked = matching.decide_match(candidates)
        if best is None and len(ranked) > 1:  # a cited date narrows; the subject named decides
            tied = [c.thread_id for c in ranked if ranked[0].score - c.score < matching.MARGIN]
            best = matching.break_tie(ranked, self.lookup.phrases(message_id), self.lookup.thread_subjects(cid, tied))
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
            when = moment(info.date)
            reports = json.loads(self.q("select delivery_reports from messages where message_id = ?", [message_id])[0][0] or "[]")
            failed = sorted({(r.get("recipient") or "").lower() for r in reports} - {""})
            letters = [
                r[0]
                for r in self.q(
                    f"select distinct m.message_id, m.date from recipients r join messages m on m.message_id = "
                    f"r.message_id where r.address in ({in_(failed)}) and m.direction = 'outgoing' and "
                    f"m.kind = 'letter' and m.date >= ? and m.date <= ? order by m.date desc, m.message_id desc",
                    [*failed, iso(when - BOUNCE_WINDOW), iso(when + SLACK)],
                )
            ] if failed else []
            threads = self.lookup.letter_threads(cid, letters)
            thread = next((threads[l] for l in letters if l in threads), None)
        if thread is not None:
            self._attach(thread, message_id, "bounce")

    # -- 5. statuses -----------------------------------------------------------------------

