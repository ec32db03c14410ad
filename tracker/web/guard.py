"""The second wall around private tables: what SQLite refuses on every Datasette connection.

The private store keeps raw bytes and bookkeeping out of the published file; these checks
refuse them again should any remain (an old database, a migration not yet run):

- :func:`authorizer`: a SQLite authorizer that denies any statement reading a private table,
  whatever the column (``""`` included: ``count(*)``), the virtual tables that show other
  connections' SQL or the file's layout (``sqlite_stmt``, ``dbstat``, ``sqlite_dbpage``),
  creating virtual tables, ``ATTACH``, and the functions ``fts3_tokenizer`` (it returns a heap
  pointer) and ``load_extension``.
- :class:`GuardedDatabase`: SQLite does not call the authorizer for the coalesced columns of
  ``USING``, ``NATURAL`` and ``FULL`` joins (``select raw from (select null as raw) x full join
  raw_messages using(raw)`` reports no read of ``raw_messages`` at all, measured on 3.40), so
  every query Datasette runs is first compiled with ``EXPLAIN`` and refused when its program
  opens a private table or one of its indexes.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, Iterable

from datasette.database import Database

# virtual tables that tell what other visitors asked (sqlite_stmt) or how big private tables are
REFUSED_TABLES = frozenset({"sqlite_stmt", "dbstat", "sqlite_dbpage"})
# fts3_tokenizer('simple') returns a pointer into the server's memory
REFUSED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension"})
REFUSED = "not authorized"


def authorizer(never_served: Iterable[str]) -> Callable[..., int]:
    """A ``sqlite3.Connection.set_authorizer`` callback refusing private tables (whatever the
    column), the leaking virtual tables and functions, ``ATTACH`` and ``CREATE VIRTUAL TABLE``."""
    private = frozenset(name.lower() for name in never_served) | REFUSED_TABLES

    def authorize(action, arg1, arg2, database, source):
        if action == sqlite3.SQLITE_READ and (arg1 or "").lower() in private:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in REFUSED_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_CREATE_VTABLE):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


def private_root_pages(conn: sqlite3.Connection, never_served: Iterable[str]) -> set[int]:
    """The b-tree root pages of the private tables present in ``main`` and of their indexes."""
    names = [name.lower() for name in never_served]
    if not names:
        return set()
    marks = ",".join("?" * len(names))
    rows = conn.execute(
        f"select rootpage from sqlite_master where lower(tbl_name) in ({marks}) and rootpage > 0",
        names,
    ).fetchall()
    return {row[0] for row in rows}


def refuse_private_reads(conn: sqlite3.Connection, sql: str, params: Any,
                         never_served: Iterable[str]) -> None:
    """Raise ``sqlite3.OperationalError`` when the compiled program of ``sql`` opens a private
    table or index of ``main``. Nothing runs: ``EXPLAIN`` only lists the program."""
    roots = private_root_pages(conn, never_served)
    if not roots:
        return
    text = sql.lstrip()
    if text[:7].lower() == "explain":
        return  # an EXPLAIN lists opcodes and reads no rows
    # an error here (syntax, a denied read) is the error the query itself would raise
    program = conn.execute("explain " + text, params if params is not None else {}).fetchall()
    for _addr, opcode, _p1, p2, p3, *_ in program:
        # p3 is the database's index: 0 is main, 1 temp (p2 there is a temp table's page)
        if opcode in ("OpenRead", "OpenWrite", "ReopenIdx") and p3 == 0 and p2 in roots:
            raise sqlite3.OperationalError(REFUSED)


class GuardedDatabase(Database):
    """Datasette's :class:`~datasette.database.Database`, with every query checked by
    :func:`refuse_private_reads` on the connection that will run it."""

    def __init__(self, ds, *args, never_served: Iterable[str], **kwargs) -> None:
        super().__init__(ds, *args, **kwargs)
        self.never_served = tuple(never_served)

    async def execute(self, sql, params=None, *args, **kwargs):
        await self.execute_fn(lambda conn: refuse_private_reads(conn, sql, params, self.never_served))
        return await super().execute(sql, params, *args, **kwargs)
