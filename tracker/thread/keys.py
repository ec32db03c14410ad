"""Step 1 of a run: which correspondents each message concerns, and the evidence matching reads."""

from __future__ import annotations

import json
from typing import Iterable

from ..parse import evidence as matching
from ..parse.evidence import evidence_keys
from ..store import staged as staging
from . import conversations
from .lookup import chunks, in_, scoped

# Keys that depend on the config, as ranges of the key index: the correspondents a message
# concerns ("to:interieur"), and its subjects scoped to each of them ("@interieur|s:...") so
# that incremental lookups read one correspondent's letters under a common subject, not
# everybody's (dates and reference numbers are selective enough as they are).
CORRESPONDENT_KEYS = (("to:", "to;"), ("cc:", "cc;"), ("from:", "from;"), ("bounce:", "bounce;"), ("@", "A"))
SCOPED_PREFIXES = ("s:", "rs:")
# an answer whose attachments have text is read by the threader, not from the parser workers'
# staged evidence (they read bodies only)
ATTACHMENT_TEXT = "exists(select 1 from attachments a where a.message_id = {message} and a.text != '')"


# a full run that adds evidence for more messages than this drops message_keys' secondary
# indexes and builds them again at the end (cheaper than updating them key by key)
REBUILD_KEY_INDEX_AT = 10000


class KeyDerivation:
    """Threader's step 1 (a mixin: it reads ``self.q``, ``self.resolve``...)."""

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
        if staging.staged(db, self.config):
            # what the parser workers read, for messages concerned in the role they read it in
            db.execute(
                "insert or ignore into message_keys (message_id, key, role) select s.message_id, s.key, "
                f"s.role from (select w.message_id, max(w.role) as role from temp.wanted_keys w where {concerned} "
                "and not exists(select 1 from message_keys k where k.message_id = w.message_id and "
                "k.key = 'x:evidence') group by w.message_id) p join temp.staged_evidence s on "
                "s.message_id = p.message_id and s.role = p.role where not (p.role = 'probe' and "
                f"{ATTACHMENT_TEXT.format(message='p.message_id')}) order by s.message_id, s.key"
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
        if staging.staged(self.db, self.config):  # read by the parser workers, in the role this run reads them in
            with_text = self.ids_in(
                f"select m.message_id from messages m where m.message_id in ({{in_}}) and "
                f"{ATTACHMENT_TEXT.format(message='m.message_id')}",
                [m for m in ids if wanted[m][0] == "probe"],
            )
            staged = [row for row in self.q_in(
                "select message_id, key, role from temp.staged_evidence where message_id in ({in_})", ids
            ) if row[2] == wanted[row[0]][0] and row[0] not in with_text]
            keys += staged
            read = {m for m, _, _ in staged}
            ids = [m for m in ids if m not in read]
        for chunk in chunks(ids):
            keys += self._evidence_keys(
                (message_id, *wanted[message_id], body)
                for message_id, body in self.q(
                    f"select message_id, substr(body_text, 1, {matching.BODY_LIMIT}) from messages "
                    f"where message_id in ({in_(chunk)})",
                    chunk,
                )
            )
        return keys

    def _attachment_text(self, message_ids: list[str]) -> dict[str, str]:
        """message -> its attachments' text, joined in order (what an answer's PDF says)."""
        found: dict[str, list[str]] = {}
        for message_id, text in self.q_in(
            f"select message_id, substr(text, 1, {matching.BODY_LIMIT}) from attachments where message_id in "
            "({in_}) and text is not null and text != '' order by message_id, position",
            message_ids,
        ):
            found.setdefault(message_id, []).append(text)
        return {m: "\n".join(texts) for m, texts in found.items()}

    def _evidence_keys(self, rows: Iterable[tuple[str, str, str, str | None, str | None]]) -> list[tuple[str, str, str]]:
        """The evidence keys of (message_id, role, subject, date, body) rows, and "x:evidence"
        (read once) for each; a probe's date is not used."""
        rows = list(rows)
        texts = self._attachment_text([r[0] for r in rows if r[1] == "probe"])
        keys: list[tuple[str, str, str]] = []
        for message_id, role, subject, when, body in rows:
            found = evidence_keys(role, subject, when, body, self.tz, texts.get(message_id) if role == "probe" else None)
            keys += [(message_id, key, role) for key in found]
        return keys

    # -- the run -------------------------------------------------------------------------
