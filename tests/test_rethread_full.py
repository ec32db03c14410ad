"""The full rethread (a config change, `tracker rethread`, the end of a first import) works one
correspondent at a time, derives the config's keys in SQL and writes only what changed. Whatever
the database held before, it must leave exactly the tables that threading the same mail one
message at a time leaves: conversations, message_keys, message_links, threads (every column),
thread_messages and unmatched. Checked on the demo mailbox (real messages through the real
import), with marks, and across config changes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support.snapshot import differences, snapshot
from tracker import config as config_module
from tracker import demo, store
from tracker.thread import conversations
from tracker.thread import rethread
from tracker.thread import keys as thread_keys

DERIVED = ("threads", "thread_messages", "unmatched", "message_keys", "message_links")
CORRESPONDENT_KEYS = ("to:", "cc:", "from:", "bounce:")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo mailbox imported and threaded once (copied by each test)."""
    folder = tmp_path_factory.mktemp("rethread-demo")
    demo.build(folder)
    return folder / "tracker.db"


def _copy(demo_db: Path, folder: Path, config_text: str | None = None):
    folder.mkdir()
    shutil.copyfile(demo_db, folder / "tracker.db")
    text = config_text if config_text is not None else demo.CONFIG.read_text(encoding="utf-8")
    (folder / "tracker.toml").write_text(
        text.replace('database = "tracker.db"', f'database = "{folder / "tracker.db"}"'), encoding="utf-8"
    )
    config = config_module.load(folder / "tracker.toml")
    return config, store.open_db(config.database)


def _forget_threading(db) -> None:
    """A database as the import leaves it before any threading."""
    with db.atomic():
        for table in DERIVED:
            db.execute(f"delete from {table}")
        db.execute("update messages set conversation_id = null")


def _one_at_a_time(db, config) -> None:
    """Thread every message by itself, as syncs bring them (oldest first)."""
    rethread(db, config, [])  # the config's fingerprint: later runs are incremental
    for (message_id,) in db.execute("select message_id from messages order by date, message_id").fetchall():
        rethread(db, config, [message_id])


def _derived(db) -> dict[str, list[tuple]]:
    """The threading tables, without the evidence of messages that concern no correspondent
    (a full run keeps evidence read under an earlier config; it costs a body read to redo)."""
    found = snapshot(db.conn)
    concerned = {m for m, key, _ in found["message_keys"] if key.startswith(CORRESPONDENT_KEYS)}
    found["message_keys"] = [row for row in found["message_keys"] if row[0] in concerned]
    return {table: found[table] for table in (*DERIVED, "messages", "marks")}


def _add_marks(db) -> None:
    """What a person does: attach unmatched replies, say a letter was answered by post, close
    and reopen threads (on threads that exist, as `tracker mark` requires)."""
    threads = [r[0] for r in db.execute("select id from threads order by id").fetchall()]
    rows = []
    for message_id, candidates in db.execute("select message_id, candidates from unmatched order by message_id"):
        suggested = json.loads(candidates)
        if suggested:
            rows.append((suggested[0]["thread_id"], "attach", None, message_id))
    for index, (thread, action) in enumerate(zip(threads[::7], ["answered", "closed", "reopened"] * 20)):
        rows.append((thread, action, f"2025-0{1 + index % 9}-15T10:00:00+00:00" if index % 2 else None, None))
    db.conn.executemany(
        "insert into marks (thread_id, action, on_date, message_id, note, created_at) "
        "values (?, ?, ?, ?, 'test', '2025-06-01T10:00:00+00:00')",
        rows,
    )
    assert any(r[1] == "attach" for r in rows), "the demo should leave replies to triage"


def test_full_rethread_equals_threading_one_message_at_a_time(demo_db: Path, tmp_path: Path) -> None:
    config, db = _copy(demo_db, tmp_path / "box")
    _add_marks(db)
    rethread(db, config, None)
    full = _derived(db)
    assert full["threads"] and full["unmatched"] and any(r[2] == "evidence" for r in full["thread_messages"])
    _forget_threading(db)
    _one_at_a_time(db, config)
    assert differences(full, _derived(db)) == []


def _other_config() -> str:
    """The demo's config after an edit that moves messages between correspondents: one body
    dropped, one address given to another body, a new body sharing a domain, another delay."""
    text = demo.CONFIG.read_text(encoding="utf-8")
    blocks = text.split("[[correspondents]]")
    dropped = next(b for b in blocks[1:] if "cncdh.fr" in b)
    text = text.replace("[[correspondents]]" + dropped, "")
    assert 'addresses = ["secretariat.cabinet@interieur.gouv.fr"]' in text
    text = text.replace(
        'addresses = ["secretariat.cabinet@interieur.gouv.fr"]',
        'addresses = ["secretariat.cabinet@interieur.gouv.fr", "cabinet@travail.gouv.fr"]',
    )
    text = text.replace('deadline = "45 days"', 'deadline = "20 working days"')
    return text + '\n[[correspondents]]\nname = "Solidarités bis"\ndomains = ["solidarites.gouv.fr", "cncdh.fr"]\n'


def test_full_rethread_does_not_depend_on_what_the_database_held(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = _other_config()
    # the config changed under a database threaded with the old one (keys, threads, marks)
    config, db = _copy(demo_db, tmp_path / "changed", other)
    _add_marks(db)
    marks = db.execute("select thread_id, action, on_date, message_id from marks").fetchall()
    rethread(db, config, None)
    changed = _derived(db)
    # the same config on a database never threaded (every key new: the key index rebuilt once)
    monkeypatch.setattr(thread_keys, "REBUILD_KEY_INDEX_AT", 0)
    config, fresh = _copy(demo_db, tmp_path / "fresh", other)
    fresh.conn.executemany("insert into marks (thread_id, action, on_date, message_id, note, created_at) "
                           "values (?, ?, ?, ?, 'test', '2025-06-01T10:00:00+00:00')", marks)
    _forget_threading(fresh)
    fresh.execute("delete from threading_state")
    indexes = fresh.execute("select name, sql from sqlite_master where tbl_name = 'message_keys' order by name").fetchall()
    rethread(fresh, config, None)
    assert differences(changed, _derived(fresh)) == []
    assert fresh.execute(
        "select name, sql from sqlite_master where tbl_name = 'message_keys' order by name"
    ).fetchall() == indexes
    assert fresh.execute("pragma integrity_check").fetchone()[0] == "ok"
    # and message by message
    _forget_threading(fresh)
    _one_at_a_time(fresh, config)
    assert differences(changed, _derived(fresh)) == []
    # back to the demo's own config: what a full run on the untouched database gives
    config_back, db_back = _copy(demo_db, tmp_path / "back")
    db_back.conn.executemany("insert into marks (thread_id, action, on_date, message_id, note, created_at) "
                             "values (?, ?, ?, ?, 'test', '2025-06-01T10:00:00+00:00')", marks)
    rethread(db_back, config_back, None)
    rethread(db, config_back, None)
    assert differences(_derived(db_back), _derived(db)) == []


def test_a_full_rethread_that_changes_nothing_writes_nothing(demo_db: Path, tmp_path: Path) -> None:
    config, db = _copy(demo_db, tmp_path / "box")
    rethread(db, config, None)
    db.execute("create table written (name text)")
    for table in DERIVED + ("messages",):
        for event in ("insert", "update", "delete"):
            db.execute(
                f"create trigger written_{table}_{event} after {event} on {table} "
                f"begin insert into written values ('{event} {table}'); end"
            )
    rethread(db, config, None)
    assert db.execute("select name, count(*) from written group by name").fetchall() == []
    assert db.execute("select name from sqlite_temp_master").fetchall() == [], "a full run drops its work tables"


def test_a_full_rethread_reads_one_correspondent_at_a_time(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No query of the full run returns every message or every key: each correspondent's
    letters, answers and keys are read on their own, messages in chunks; only the reply links
    are read whole. Memory follows the largest correspondent, not the mailbox."""
    monkeypatch.setattr(conversations, "REBUILD_CHUNK", 100)
    config, db = _copy(demo_db, tmp_path / "box")
    keys = db.execute("select count(*) from message_keys").fetchone()[0]
    links = db.execute("select count(*) from message_links where rel = 'reply'").fetchone()[0]
    # every key of the messages that concern the busiest correspondent
    busiest = max(
        db.execute(
            "select count(*) from message_keys e where e.message_id in (select message_id from message_keys "
            "where key in (?, ?, ?, ?))",
            [f"{kind}:{c.slug}" for kind in ("to", "from", "bounce", "cc")],
        ).fetchone()[0]
        for c in config.correspondents
    )
    largest = []
    original = db.conn

    class Counting:
        def __getattr__(self, name):
            return getattr(original, name)

        def execute(self, sql, params=()):
            cursor = original.execute(sql, params)
            rows = cursor.fetchall()
            largest.append((len(rows), sql))
            return _Rows(rows, cursor.description, cursor.rowcount)

    db.conn = Counting()
    try:
        rethread(db, config, None)
    finally:
        db.conn = original
    biggest, sql = max(largest)
    assert biggest <= max(links, busiest, 100), sql
    assert max(links, busiest) < keys / 3


class _Rows:
    def __init__(self, rows: list, description, rowcount: int) -> None:
        self.rows, self.description, self.rowcount = rows, description, rowcount

    def fetchall(self) -> list:
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def __iter__(self):
        return iter(self.rows)


def test_the_demo_database_is_sound_after_full_rethreads(demo_db: Path, tmp_path: Path) -> None:
    config, db = _copy(demo_db, tmp_path / "box")
    rethread(db, config, None, reclassify=True)
    rethread(db, config, None)
    db.close()
    conn = sqlite3.connect(str(tmp_path / "box" / "tracker.db"))
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
