"""``threads.first_reply_at`` (m012): each thread's first reply or "answered" mark, kept by the
threaders (incremental, full, marks and their undo) and read by the responsiveness view, which
gives the figures ``tracker report responsiveness`` computes; a database made before m012 gets
the column filled by the migration. The web's figures count "overdue now" as of ``as_of``."""

from __future__ import annotations

import asyncio
import sqlite3

from tests.test_desk import demo, demo_source  # noqa: F401 - the desk tests' demo, a copy per test
from tracker import store
from tracker import web as publish
from tracker.report import reports
from tracker.store.db import FIRST_REPLY_SQL
from tracker.thread import desk, rethread


def stale(db) -> list[str]:
    """Threads whose stored first reply is not what the messages and marks say."""
    return [r[0] for r in db.execute(f"select id from threads where first_reply_at is not {FIRST_REPLY_SQL}")]


def first_reply(db, tid: str) -> str | None:
    return db.execute("select first_reply_at from threads where id = ?", [tid]).fetchone()[0]


def test_the_import_keeps_every_first_reply_and_the_view_agrees_with_the_report(demo):
    config, db = demo
    assert db.execute("select count(first_reply_at) from threads").fetchone()[0] > 10
    assert stale(db) == []
    view = {r[0]: r[1:] for r in db.execute(
        "select correspondent_id, letters, replied, median_days, p90_days from responsiveness")}
    report = {r.correspondent_id: (r.letters, r.replied, r.median_days, r.p90_days)
              for r in reports.responsiveness(db, config) if r.letters}
    assert view.keys() == report.keys()
    for cid, (letters, replied, median, p90) in report.items():
        assert view[cid][:2] == (letters, replied), cid
        assert (view[cid][2], view[cid][3]) == (
            None if median is None else float(median), None if p90 is None else float(p90)), cid


def test_an_answer_by_post_sets_it_and_undo_takes_it_back(demo):
    config, db = demo
    tid = db.execute("select id from threads where status = 'awaiting_reply' and first_reply_at is null "
                     "order by id limit 1").fetchone()[0]
    desk.answered_by_post(db, config, tid, "3 mars 2026")
    assert first_reply(db, tid) is not None and stale(db) == []
    desk.undo(db, config, tid)
    assert first_reply(db, tid) is None and stale(db) == []


def test_a_full_rethread_writes_the_same_first_replies(demo):
    config, db = demo
    before = dict(db.execute("select id, first_reply_at from threads"))
    assert sum(1 for v in before.values() if v) > 10
    db.execute("update threads set first_reply_at = null")
    rethread(db, config, None, reclassify=True)
    assert dict(db.execute("select id, first_reply_at from threads")) == before


def test_a_database_made_before_m012_is_filled_by_the_migration(demo):
    config, db = demo
    before = dict(db.execute("select id, first_reply_at from threads"))
    assert sum(1 for v in before.values() if v) > 10
    view = db.execute("select * from responsiveness").fetchall()
    db.execute("drop view responsiveness")
    db.execute("alter table threads drop column first_reply_at")
    db.execute("delete from _sqlite_migrations where name = 'm012_first_replies'")
    db.conn.commit()
    db.close()
    again = store.open_db(config.database, private=config.private_database)
    assert dict(again.execute("select id, first_reply_at from threads")) == before
    assert again.execute("select * from responsiveness").fetchall() == view
    again.close()


def test_the_web_counts_overdue_now_as_of_the_configs_day(demo):
    config, db = demo
    assert config.as_of is not None  # the generated demo is judged as of its own day
    judged = {r[0]: r[1] for r in db.execute(
        "select correspondent_id, sum(overdue) from threads group by correspondent_id")}
    ds = publish.make_datasette(config)

    async def get(path):
        return (await ds.client.get(path)).json()

    rows = asyncio.run(get("/tracker/responsiveness.json?_shape=array"))
    assert {r["correspondent_id"]: r["overdue_now"] for r in rows} == {
        cid: n for cid, n in judged.items() if cid in {r["correspondent_id"] for r in rows}}
    # the stored view reads the clock: months later, more letters are overdue
    clock = sqlite3.connect(config.database)
    assert sum(r[0] for r in clock.execute("select overdue_now from responsiveness")) > sum(judged.values())
