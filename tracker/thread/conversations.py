"""Conversations: the messages linked by Message-ID, In-Reply-To and References.

Grouping is the one notmuch and mutt make (jwz threading): a message belongs with
every id it points at, and ids nobody has yet stand as placeholders, so a parent
that arrives late joins the replies that already waited for it. A conversation is
therefore a connected component of the "points at" graph, and its id is derived
from the smallest id in that component (placeholders included): it does not
depend on the order messages arrived in, and does not change when a missing
parent turns up. Loops cannot hurt a component; the parent of a message, for
display, is In-Reply-To when it is valid, else the last valid References entry.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Iterable

import sqlite_utils

# parse keeps only bracketed ids with an "@"; here blanks and absurd lengths are bogus too.
# (notmuch and mu also link on ids such as "<yes>", which merges unrelated threads: we don't.)
_VALID_ID = re.compile(r"^[^\s<>]+$")
REBUILD_CHUNK = 20000  # messages whose conversation ``rebuild`` checks at a time


def valid_id(value: str | None) -> bool:
    """Whether ``value`` looks like a real Message-ID (bogus ones are ignored)."""
    return bool(value) and len(value) <= 250 and bool(_VALID_ID.match(value))


def targets(message_id: str, in_reply_to: str | None, refs: str | list | None) -> list[str]:
    """The valid ids a message points at (References then In-Reply-To), without itself."""
    if isinstance(refs, str):
        try:
            refs = json.loads(refs or "[]")
        except ValueError:
            refs = []
    found: list[str] = []
    for target in list(refs or []) + [in_reply_to]:
        if valid_id(target) and target != message_id and target not in found:
            found.append(target)
    return found


def parent(message_id: str, in_reply_to: str | None, refs: str | list | None) -> str | None:
    """The jwz parent: In-Reply-To when valid, else the last valid References entry."""
    if valid_id(in_reply_to) and in_reply_to != message_id:
        return in_reply_to
    pointed = [t for t in targets(message_id, None, refs)]
    return pointed[-1] if pointed else None


def conversation_id(nodes: Iterable[str]) -> str:
    """A short stable id for the component made of ``nodes``."""
    return "c" + hashlib.sha1(min(nodes).encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _link_rows(rows: Iterable[tuple]) -> list[tuple[str, str, str]]:
    links = []
    for message_id, in_reply_to, refs in rows:
        if not in_reply_to and refs in (None, "", "[]"):
            continue  # most letters point at nothing
        for target in targets(message_id, in_reply_to, refs):
            links.append((message_id, target, "reply"))
    return links


def rebuild(db: sqlite_utils.Database) -> None:
    """Recompute every message's conversation (and the link table) from the stored headers.

    Only messages that point at something are held in memory (most letters point at
    nothing); every message is then visited in chunks of rowids, and only the rows whose
    conversation changed are written."""
    rows = db.execute(
        "select message_id, in_reply_to, refs from messages where (in_reply_to is not null and "
        "in_reply_to != '') or (refs is not null and refs != '' and refs != '[]')"
    ).fetchall()
    links = _link_rows(rows)
    del rows
    parent_of: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while root in parent_of:
            root = parent_of[root]
        while node != root:  # path compression
            parent_of[node], node = root, parent_of[node]
        return root

    for source, target, _ in links:
        a, b = find(source), find(target)
        if a != b:
            # the smaller id becomes the root, so the root is the component's minimum
            if b < a:
                a, b = b, a
            parent_of[b] = a
    with db.atomic():
        # write only the difference: after a config change nothing here has changed
        wanted = {(source, target) for source, target, _ in links}
        del links
        stored = set(db.execute("select message_id, target_id from message_links where rel = 'reply'").fetchall())
        db.conn.executemany(
            "delete from message_links where message_id = ? and target_id = ? and rel = 'reply'",
            sorted(stored - wanted),
        )
        db.conn.executemany(
            "insert or ignore into message_links (message_id, target_id, rel) values (?, ?, 'reply')",
            sorted(wanted - stored),
        )
        del wanted, stored
        names: dict[str, str] = {}
        last = -1
        while True:
            chunk = db.execute(
                "select rowid, message_id, conversation_id from messages where rowid > ? order by rowid limit ?",
                [last, REBUILD_CHUNK],
            ).fetchall()
            if not chunk:
                break
            last = chunk[-1][0]
            updates = []
            for rowid, message_id, old in chunk:
                if message_id in parent_of:
                    root = find(message_id)
                    new = names.get(root) or names.setdefault(root, conversation_id([root]))
                else:  # a root, or a message linked to nothing: named after itself
                    new = names.get(message_id) or conversation_id([message_id])
                if new != old:
                    updates.append((new, rowid))
            db.conn.executemany("update messages set conversation_id = ? where rowid = ?", updates)


def update(db: sqlite_utils.Database, message_ids: Iterable[str]) -> set[str]:
    """Link ``message_ids`` into their conversations; return every stored message of the
    conversations they belong to (those whose threads may change)."""
    message_ids = list(dict.fromkeys(message_ids))
    rows = []
    for chunk in _chunks(message_ids, 500):
        rows.extend(
            db.execute(
                f"select message_id, in_reply_to, refs from messages where message_id in "
                f"({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        )
    db.conn.executemany(
        "insert or ignore into message_links (message_id, target_id, rel) values (?, ?, ?)",
        _link_rows(rows),
    )
    affected: set[str] = set()
    seen: set[str] = set()
    for start in message_ids:
        if start in seen:
            continue
        component = _component(db, start)
        seen |= component
        new = conversation_id(component)
        members = _existing(db, component)
        affected |= members
        for chunk in _chunks(sorted(members), 500):
            db.execute(
                f"update messages set conversation_id = ? where conversation_id is not ? and "
                f"message_id in ({','.join('?' * len(chunk))})",
                [new, new, *chunk],
            )
    return affected


def _component(db: sqlite_utils.Database, start: str) -> set[str]:
    """Every id (messages and placeholders) connected to ``start``."""
    component = {start}
    frontier = [start]
    while frontier:
        batch, frontier = frontier[:500], frontier[500:]
        marks = ",".join("?" * len(batch))
        found = db.execute(
            f"select target_id from message_links where rel = 'reply' and message_id in ({marks}) "
            f"union select message_id from message_links where rel = 'reply' and target_id in ({marks})",
            batch + batch,
        ).fetchall()
        for (node,) in found:
            if node not in component:
                component.add(node)
                frontier.append(node)
    return component


def _existing(db: sqlite_utils.Database, ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(ids), 500):
        found.update(
            row[0]
            for row in db.execute(
                f"select message_id from messages where message_id in ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        )
    return found


def _chunks(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index : index + size]
