"""The calendar feed (tracker/web/calendar.py): valid iCalendar (parsed by the icalendar package
and checked by hand against RFC 5545: CRLF, 75-octet lines, escaping, UID, DTSTAMP, all-day
DTSTART;VALUE=DATE), the due dates of open threads and of pending commitments, meetings; the
secret-token URL (404 for a wrong, missing or unconfigured token) and, with logins, the login
page for visitors, 403 for members, the feed for coordinators; nothing of the private store."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import icalendar
import pytest

from tests.test_coalition_pages import accounts, copy_of, source, site  # noqa: F401  (the fixture)
from tests.test_desk_web import login
from tracker import store
from tracker.thread import commitments
from tracker.web.calendar import escape_text, fold, render

TOKEN = "k9-Tq2ZxY7-calendar-secret"


def feed_site(source, folder, extra=""):  # noqa: F811
    (folder / "calendar-token").write_text(TOKEN + "\n", "utf-8")
    path = copy_of(source, folder, extra=f'\n[calendar]\ntoken_file = "{folder / "calendar-token"}"\n{extra}')
    return site(path)


@pytest.fixture(scope="module")
def french(source, tmp_path_factory):  # noqa: F811
    config, ds = feed_site(source, tmp_path_factory.mktemp("calendar"))
    db = store.open_db(config.database, private=config.private_database)
    commitments.add(db, config, correspondent="justice", words="rendre l'avis, puis; publier\\ vite\nsans faute",
                    due_on="2026-09-30")
    thread = db.execute("select id from threads where correspondent_id = 'justice' order by opened_at").fetchone()[0]
    commitments.add_meeting(db, config, thread, "2026-10-05", kind="phone")
    db.conn.close()
    return config, ds


def get(ds, path, cookies=None):
    return asyncio.run(ds.client.get(path, cookies=cookies))


def strict(body: bytes) -> list[str]:
    """The content lines, unfolded, after checking the RFC 5545 framing by hand."""
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines), max(lines, key=len)
    text = body.decode("utf-8").replace("\r\n ", "")
    return text.split("\r\n")[:-1]


def test_the_feed_is_valid_icalendar_with_due_dates_commitments_and_meetings(french):
    config, ds = french
    response = get(ds, f"/-/calendar/{TOKEN}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    lines = strict(response.content)
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"] and lines[-1] == "END:VCALENDAR"
    assert any(line.startswith("PRODID:") for line in lines)
    calendar = icalendar.Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    for event in events:
        assert isinstance(event["DTSTAMP"].dt, datetime) and event["DTSTAMP"].dt.utcoffset().total_seconds() == 0
        assert type(event["DTSTART"].dt) is date and event["DTSTART"].params.get("VALUE") == "DATE"
        assert (event["DTEND"].dt - event["DTSTART"].dt).days == 1
    db = store.open_db(config.database, private=config.private_database)
    open_threads = db.execute("select id, due_at from threads where status in ('awaiting_reply', 'acknowledged') "
                              "and due_at is not null").fetchall()
    db.conn.close()
    by_uid = {str(e["UID"]).split("@")[0]: e for e in events}
    assert {u for u in by_uid if u.startswith("due-")} == {f"due-{tid}" for tid, _ in open_threads}
    tid, due_at = open_threads[0]
    assert by_uid[f"due-{tid}"]["DTSTART"].dt == date.fromisoformat(due_at[:10])
    assert str(by_uid[f"due-{tid}"]["URL"]).endswith(f"/tracker/threads/{tid}")
    # pending commitments with a due date: the circulaire (past due), the meeting soon, the Justice's;
    # not the undated one, not the kept one
    promised = {str(e["SUMMARY"]) for u, e in by_uid.items() if u.startswith("commitment-")}
    assert len(promised) == 3
    assert "Engagement promis : une circulaire aux préfets (Ministère de l'Intérieur)" in promised
    # escaping: the parser gives back the words as they were typed
    assert ("Engagement promis : rendre l'avis, puis; publier\\ vite\nsans faute (Ministère de la Justice)"
            in promised)
    assert any("rendre l'avis\\, puis\\; publier\\\\ vite\\nsans faute" in line for line in lines)
    calls = [e for u, e in by_uid.items() if u.startswith("meeting-")]
    assert [(e["DTSTART"].dt, str(e["SUMMARY"])[:7]) for e in calls] == [(date(2026, 10, 5), "Appel :")]


def test_escaping_and_folding_by_hand():
    assert escape_text("a,b;c\\d\r\ne\nf") == "a\\,b\\;c\\\\d\\ne\\nf"
    long = "SUMMARY:" + "é" * 80
    folded = fold(long)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == long
    text = render([{"uid": "x", "day": date(2026, 1, 31), "summary": "s"}], "n", stamp=datetime(2026, 1, 2, 3, 4, 5))
    assert "DTSTART;VALUE=DATE:20260131\r\nDTEND;VALUE=DATE:20260201\r\n" in text


def test_a_wrong_missing_or_unconfigured_token_is_a_404(source, french, tmp_path, monkeypatch):  # noqa: F811
    _, ds = french
    for path in ("/-/calendar/wrong.ics", f"/-/calendar/{TOKEN}x.ics", f"/-/calendar/{TOKEN[:-1]}.ics",
                 "/-/calendar/.ics", f"/-/calendar/{TOKEN}", f"/-/calendar/{TOKEN.upper()}.ics"):
        response = get(ds, path)
        assert response.status_code == 404, path
        assert "BEGIN:VCALENDAR" not in response.text
    _, plain = site(copy_of(source, tmp_path))  # no [calendar]
    assert get(plain, f"/-/calendar/{TOKEN}.ics").status_code == 404
    unset = tmp_path / "unset"
    unset.mkdir()
    monkeypatch.delenv("TRACKER_CALENDAR_TOKEN", raising=False)
    _, env = site(copy_of(source, unset, extra='\n[calendar]\ntoken_env = "TRACKER_CALENDAR_TOKEN"\n'))
    assert get(env, "/-/calendar/None.ics").status_code == 404 and get(env, "/-/calendar/.ics").status_code == 404
    monkeypatch.setenv("TRACKER_CALENDAR_TOKEN", TOKEN)
    assert get(env, f"/-/calendar/{TOKEN}.ics").status_code == 200


def test_with_logins_visitors_log_in_members_are_refused_coordinators_get_it(source, tmp_path):  # noqa: F811
    _, ds = feed_site(source, tmp_path, extra=accounts())

    async def go():
        visitor = await ds.client.get("/-/calendar.ics")
        bob = await ds.client.get("/-/calendar.ics", cookies=await login(ds, "bob"))
        alice = await ds.client.get("/-/calendar.ics", cookies=await login(ds, "alice"))
        by_token = await ds.client.get(f"/-/calendar/{TOKEN}.ics")  # a calendar application: no cookie
        return visitor, bob, alice, by_token

    visitor, bob, alice, by_token = asyncio.run(go())
    assert visitor.status_code == 302 and visitor.headers["location"].endswith("/-/login")
    assert bob.status_code == 403 and "BEGIN:VCALENDAR" not in bob.text
    assert alice.status_code == 200 and icalendar.Calendar.from_ical(alice.content).walk("VEVENT")
    assert by_token.status_code == 200 and by_token.headers["cache-control"] == "private, no-store"


def test_nothing_from_the_private_store(french):
    _, ds = french
    body = get(ds, f"/-/calendar/{TOKEN}.ics").text
    assert "NEVER-SERVED" not in body and "X-Private-Marker" not in body
    assert all("private" not in name for name in ds.databases)
