"""Incremental runs: the letters to one correspondent read from the database, with what
``group_letters`` needs of them (their keys, the replies that answer them)."""

from __future__ import annotations

from typing import Iterable

from .lookup import GROUPING_KEYS, Letter, answered_dates, chunks, in_


class LetterReads:
    """Threader's reads of letters (a mixin over ``Threader``, for ``IncrementalRun``)."""

    def _letters(self, cid: str, message_ids: list[str]) -> dict[str, Letter]:
        rows = self.q_in(
            "select m.message_id, m.date, m.conversation_id from message_keys k join messages m on "
            "m.message_id = k.message_id where +k.key = ? and k.role = 'letter' and m.message_id in ({in_})",
            message_ids,
            [f"to:{cid}"],
        )
        letters = {r[0]: Letter(r[0], r[1], r[2], "", "", False) for r in rows}
        for message_id, key in self.q_in(
            f"select k.message_id, k.key from message_keys k where k.role = 'letter' and {GROUPING_KEYS} "
            "and k.message_id in ({in_})",
            sorted(letters),
        ):
            letters[message_id].take(key)
        return letters

    def _letters_with(self, cid: str, keys: Iterable[str], *, since: str | None = None,
                      until: str | None = None, reminders: bool = False,
                      before: Letter | None = None) -> set[str]:
        """The letters to ``cid`` holding one of ``keys``, sent between ``since`` and ``until``
        (reminders only when ``reminders``; only those ordered before ``before`` when given)."""
        where = ""
        params: list = [f"to:{cid}"]
        if since is not None:
            where += " and m.date >= ?"
            params.append(since)
        if until is not None:
            where += " and m.date <= ?"
            params.append(until)
        if reminders:
            where += " and exists(select 1 from message_keys r where r.message_id = k.message_id and r.key = 'reminder')"
        found: set[str] = set()
        for chunk in chunks(sorted(set(keys))):
            found |= {
                r[0]
                for r in self.q(
                    "select k.message_id, m.date from message_keys k join message_keys t on t.message_id = "
                    "k.message_id and +t.key = ? and t.role = 'letter' join messages m on m.message_id = "
                    f"k.message_id where k.role = 'letter' and k.key in ({in_(chunk)}){where}",
                    params[:1] + chunk + params[1:],
                )
                if before is None or (r[1], r[0]) < (before.date, before.message_id)
            }
        return found

    def _answered(self, cid: str, letters: dict[str, Letter]) -> None:
        """``answered_dates`` of ``letters`` from the replies of ``cid`` that may answer them."""
        source = f"from:{cid}"
        # (from the conversations and keys through their indexes: a correspondent has many replies)
        replies: set[str] = set()
        conversations = sorted({l.conversation_id for l in letters.values() if l.conversation_id})
        for chunk in chunks(conversations):
            replies |= {r[0] for r in self.q(
                f"select m.message_id from messages m where m.conversation_id in ({in_(chunk)}) and +m.kind = "
                "'reply' and exists(select 1 from message_keys f where f.message_id = m.message_id and "
                "f.key = ? and f.role = 'probe')",
                chunk + [source],
            )}
        keys = sorted({f"r:{r}" for l in letters.values() for r in l.refs} | {f"d:{l.day}" for l in letters.values() if l.day})
        for chunk in chunks(keys):
            replies |= {r[0] for r in self.q(
                f"select k.message_id from message_keys k join messages m on m.message_id = k.message_id and "
                f"+m.kind = 'reply' where k.key in ({in_(chunk)}) and k.role = 'probe' and exists(select 1 "
                "from message_keys f where f.message_id = k.message_id and f.key = ? and f.role = 'probe')",
                chunk + [source],
            )}
        found: dict[str, list[str]] = {}
        for message_id, key in self.q_in(
            "select message_id, key from message_keys where role = 'probe' and substr(key, 1, 2) in "
            "('d:', 'r:', 's:') and message_id in ({in_})",
            sorted(replies),
        ):
            found.setdefault(message_id, []).append(key)
        rows = self.q_in("select message_id, date, conversation_id from messages where message_id in ({in_})", sorted(replies))
        answered_dates(letters.values(), [(when, conversation, found.get(m, ())) for m, when, conversation in rows])
