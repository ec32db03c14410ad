"""What a tracker database holds, minus the moments it was written: for comparing two runs.

Two databases built from the same mail must hold the same messages, locations,
recipients, attachments, quarantine, conversations, threads and statuses,
whatever the order of import or however often the import was killed and rerun.
Only the clock columns (when a row was written) and SQLite's own bookkeeping
may differ.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

# when a row was written, not what it says
CLOCK_COLUMNS = {
    "stored_at",
    "seen_at",
    "imported_at",
    "quarantined_at",
    "last_attempt_at",
    "last_success_at",
    "created_at",
    "updated_at",
    "threaded_at",
    "computed_at",
    "applied_at",
    "queued_at",
    "done_at",
}
# integer keys handed out in insertion order: order-dependent by design; and what the
# last run did (how many it brought), which describes the run rather than the mail
SERIAL_KEYS = {("quarantine", "id"), ("marks", "id"), ("sync_state", "last_new"), ("ocr_queue", "seconds")}
# JSON lists whose order follows the order the message was met in
UNORDERED_JSON = {("messages", "folders")}
# which database a private store belongs to: a random number each database draws once
SKIP_TABLES = {"_sqlite_migrations", "sqlite_sequence", "sqlite_stat1", "threading_state", "identity"}
SKIP_ROWS = {("store_state", "store_id")}


def private_file(path: Path | str) -> Path:
    """The private store beside a published database (tracker's default place for it)."""
    path = Path(path)
    return path.with_name(f"{path.stem}-private{path.suffix or '.db'}")


def connect(path: Path | str, **options) -> sqlite3.Connection:
    """The published database with its private store attached as ``private``, as tracker's
    writers open them: unqualified names reach the tables of either file."""
    conn = sqlite3.connect(str(path), **options)
    if private_file(path).exists():
        conn.execute("attach database ? as private", [str(private_file(path))])
    return conn


def _master(conn: sqlite3.Connection) -> str:
    schemas = [row[1] for row in conn.execute("pragma database_list") if row[1] in ("main", "private")]
    return " union all ".join(f"select name, type, sql from {s}.sqlite_master" for s in schemas)


def tables(conn: sqlite3.Connection) -> list[str]:
    """Plain tables of the database and its private store (no FTS shadow tables, no SQLite internals)."""
    names = [
        row[0]
        for row in conn.execute(
            f"select name from ({_master(conn)}) where type = 'table' and name not like 'sqlite_%' order by name"
        )
    ]
    fts = {n for n in names if conn.execute(
        f"select sql from ({_master(conn)}) where name = ?", (n,)).fetchone()[0].lower().startswith("create virtual")}
    shadows = {n for n in names for f in fts if n.startswith(f + "_")}
    return [n for n in names if n not in fts and n not in shadows and n not in SKIP_TABLES]


def columns(path: Path | str, table: str) -> list[str]:
    """The compared columns of ``table`` (as ``snapshot`` keeps them)."""
    conn = connect(path)
    try:
        return [
            row[1] for row in conn.execute(f"pragma table_info([{table}])")
            if row[1] not in CLOCK_COLUMNS and (table, row[1]) not in SERIAL_KEYS
        ]
    finally:
        conn.close()


def snapshot(path: Path | str | sqlite3.Connection, replace: dict[str, str] | None = None) -> dict[str, list[tuple]]:
    """Every table's rows (sorted), without clock columns and serial keys.

    ``replace`` rewrites text in every value (say, a Maildir's path in location keys),
    so that databases of two copies of one mailbox compare equal.
    """
    conn = path if isinstance(path, sqlite3.Connection) else connect(path)
    try:
        result: dict[str, list[tuple]] = {}
        for table in tables(conn):
            columns = [
                row[1] for row in conn.execute(f"pragma table_info([{table}])")
                if row[1] not in CLOCK_COLUMNS and (table, row[1]) not in SERIAL_KEYS
            ]
            rows = []
            for row in conn.execute(f"select {', '.join(f'[{c}]' for c in columns)} from [{table}]"):
                if (table, row[0]) in SKIP_ROWS:
                    continue
                row = list(row)
                for i, column in enumerate(columns):
                    if replace and isinstance(row[i], str):
                        for old, new in replace.items():
                            row[i] = row[i].replace(old, new)
                    if (table, column) in UNORDERED_JSON and row[i]:
                        row[i] = json.dumps(sorted(json.loads(row[i])))
                rows.append(tuple(row))
            result[table] = sorted(rows, key=repr)
        return result
    finally:
        if conn is not path:
            conn.close()


def integrity_problems(path: Path | str) -> list[str]:
    """What SQLite's integrity check and the FTS indexes' own checks report (empty: sound)."""
    conn = connect(path)
    try:
        problems = [row[0] for row in conn.execute("pragma integrity_check") if row[0] != "ok"]
        private = private_file(path).exists()
        schemas = private and conn.execute(
            "select (select count(*) from main.sqlite_master where name = 'messages') * "
            "(select count(*) from private.sqlite_master where name = 'raw_messages')").fetchone()[0]
        if private and schemas:  # (a run killed before its schema was written has none)
            problems += [f"private: {row[0]}" for row in conn.execute("pragma private.integrity_check") if row[0] != "ok"]
            # the order of the two-file writes: never a parsed row whose raw bytes are lost
            lost = conn.execute(
                "select count(*) from main.messages m where not exists "
                "(select 1 from private.raw_messages r where r.sha256 = m.sha256)"
            ).fetchone()[0]
            if lost:
                problems.append(f"{lost} messages whose raw bytes are not in the private store")
        for (name,) in conn.execute(
            "select name from sqlite_master where type = 'table' and sql like 'create virtual table%fts5%'"
        ).fetchall():
            try:
                conn.execute(f"insert into [{name}]([{name}]) values ('integrity-check')")
            except sqlite3.DatabaseError as exc:
                problems.append(f"{name}: {exc}")
        return problems
    finally:
        conn.close()


def differences(expected: dict[str, list[tuple]], actual: dict[str, list[tuple]], limit: int = 5) -> list[str]:
    """Human-readable differences between two snapshots (empty: equal)."""
    found: list[str] = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if want == got:
            continue
        if want is None or got is None:
            found.append(f"{table}: only in {'actual' if want is None else 'expected'}")
            continue
        missing = [r for r in want if r not in got]
        extra = [r for r in got if r not in want]
        # rows whose first column (the key, mostly) matches: say which values differ
        by_key = {r[0]: r for r in extra}
        changed = [(r, by_key[r[0]]) for r in missing if r[0] in by_key]
        if changed and len(changed) == len(missing) == len(extra):
            details = []
            for want_row, got_row in changed[:limit]:
                diff = {i: (a, b) for i, (a, b) in enumerate(zip(want_row, got_row)) if a != b}
                details.append(f"{want_row[0]!r}: " + ", ".join(
                    f"column {i} {_short((a,))} -> {_short((b,))}" for i, (a, b) in diff.items()))
            found.append(f"{table}: {len(changed)} rows differ: " + "; ".join(details))
            continue
        missing, extra = missing[:limit], extra[:limit]
        found.append(
            f"{table}: {len(want)} rows expected, {len(got)} found; "
            f"missing {[_short(r) for r in missing]}; unexpected {[_short(r) for r in extra]}"
        )
    return found


def _short(row: tuple) -> str:
    text = repr(row)
    return text if len(text) < 160 else text[:157] + "..."
