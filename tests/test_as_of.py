"""``as_of`` in the config: the demo judged as of its last day has something "due soon" and
"sent this week"; the web's SQL (``tracker_now()``), the reports and the digest all read that
moment, and without the key they read the clock."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
from datetime import datetime

import pytest

from tracker import config as config_module
from tracker import demo, store
from tracker import web as publish
from tracker.report import digest, reports


LAST_DAY = "2026-08-28"  # the bundled demo's last message (Europe/Paris)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The bundled demo with ``as_of`` set to its last day."""
    source = tmp_path_factory.mktemp("as-of-source")
    shutil.copytree(demo.MAILBOX, source / "mailbox")
    text = demo.CONFIG.read_text(encoding="utf-8")
    assert re.search(r'^as_of = "2026-09-01"', text, re.M)  # the shipped demo's own day
    (source / "tracker.toml").write_text(re.sub(r'^as_of = .*$', f'as_of = "{LAST_DAY}"', text, flags=re.M),
                                         encoding="utf-8")
    path = demo.build(tmp_path_factory.mktemp("as-of-demo"), source=source)
    return config_module.load(path)


def _get(config, path):
    async def go():
        return await publish.make_datasette(config).client.get(path)
    return asyncio.run(go())


def test_as_of_is_the_demos_last_day(built):
    assert built.as_of.isoformat() == LAST_DAY
    db = store.open_db(built.database)
    last = db.execute("select max(date) from messages").fetchone()[0]
    assert datetime.fromisoformat(last).astimezone(built.tz).date() == built.as_of


def test_due_soon_sent_and_replies_this_week_are_not_empty_in_the_demo(built):
    content = digest.build(store.open_db(built.database), built)
    assert content["due_soon"] and content["sent"] and content["replies"]  # replies: the recent_answer
    # the same database judged as of today: the demo's mail is months old, nothing is due soon
    today = digest.build(store.open_db(built.database), dataclasses.replace(built, as_of=None))
    assert not today["due_soon"] and not today["sent"] and not today["replies"]


def _first_overdue_days(config):
    page = _get(config, "/-/unanswered").text
    found = re.findall(r"en retard de (\d+)(?:&nbsp;|\xa0|\s)jours", page)
    assert found, page[:2000]
    return int(found[0])


def test_days_overdue_on_the_page_count_to_as_of(built):
    judged = _first_overdue_days(built)
    today = _first_overdue_days(dataclasses.replace(built, as_of=None))
    gap = (datetime.now(built.tz).date() - built.as_of).days
    assert abs(today - judged - gap) <= 1
    # and the report agrees with the page on the oldest letter's due date
    oldest = min(reports.unanswered(store.open_db(built.database), built).overdue, key=lambda t: t.state.due_at)
    assert abs((built.as_of - oldest.state.due_at.astimezone(built.tz).date()).days - judged) <= 1


def test_every_page_says_the_day_it_is_judged_on(built):
    for path in ("/", "/-/unanswered", "/tracker/threads"):
        page = _get(built, path).text
        assert 'class="as-of"' in page and "Ces pages sont arrêtées au 28 août 2026" in page, path
    english = _get(dataclasses.replace(built, language="en"), "/-/unanswered").text
    assert "These pages are as of 28 August 2026" in english
    assert 'class="as-of"' not in _get(dataclasses.replace(built, as_of=None), "/").text


# last in this module: it changes the demo's database


def test_the_desk_acts_on_the_day_as_of_names(built):
    from tracker.thread import desk

    db = store.open_db(built.database, private=built.private_database)
    waiting = [r[0] for r in db.execute(
        "select id from threads where status in ('awaiting_reply', 'overdue') order by id limit 2")]
    assert len(waiting) == 2
    # the day after as_of is the future there, whatever the clock says
    with pytest.raises(desk.DeskError, match="futur"):
        desk.answered_by_post(db, built, waiting[0], "29/08/2026")
    desk.answered_by_post(db, built, waiting[0], "28/08/2026")
    # an undated close counts at the end of as_of, not at the clock's now (which is later)
    desk.close(db, built, waiting[1])
    assert [db.execute("select status from threads where id = ?", [t]).fetchone()[0] for t in waiting] == [
        "answered", "closed"]
    on_date = db.execute("select on_date from marks where thread_id = ? and action = 'closed'",
                         [waiting[1]]).fetchone()[0]
    assert datetime.fromisoformat(on_date) == built.now()
