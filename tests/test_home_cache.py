"""The home page's figures are cached until the database changes or the hour turns: a letter
falls overdue at its due moment with no write to the database, and the page says so within the
hour."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta, timezone

from tests.test_publish import build_database
from tracker import web as publish
from tracker.web import context


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now_value = now

    def now(self, tz=None):
        return self.now_value


def test_the_home_figures_follow_the_hour_without_a_write(tmp_path, monkeypatch):
    config = build_database(tmp_path)
    ds = publish.make_datasette(config)
    clock = Clock(datetime(2026, 12, 3, 9, 5, tzinfo=timezone.utc))
    monkeypatch.setattr(context, "datetime", clock)
    monkeypatch.setattr(context, "_database_stamp", lambda datasette: ("fixed",))

    def overdue() -> int:
        return asyncio.run(context.home_data(ds, "fr"))["counts"]["overdue"]

    before = overdue()
    # a waiting letter whose due date is now past, written behind the cache's back
    db = sqlite3.connect(config.database)
    db.execute("update threads set status = 'awaiting_reply', due_at = '2024-01-01T23:59:59+01:00' "
               "where id = 't-interieur-1'")
    db.commit()
    db.close()
    clock.now_value += timedelta(minutes=30)
    assert overdue() == before  # the same hour: the cached figures
    clock.now_value += timedelta(minutes=30)
    assert overdue() == before + 1  # the next hour: counted again
