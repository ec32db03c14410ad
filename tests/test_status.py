"""Due dates and thread statuses (tracker.status), table-driven.

Every expected value below was worked out by hand from a calendar, not computed.
"""

from __future__ import annotations

import calendar
import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.config import Deadline, parse_deadline
from tracker.thread.status import (
    Mark,
    ThreadEvent,
    add_deadline,
    add_months,
    add_working_days,
    decide,
    holiday_calendar,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc


def paris(text: str) -> datetime:
    """'2025-10-03 10:00' in Paris time."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


# --- months -------------------------------------------------------------------------------

MONTHS = [
    # start, months, expected
    ("2025-10-03", 2, "2025-12-03"),  # the usual case: same day of month
    ("2025-01-31", 1, "2025-02-28"),  # shorter month: its last day
    ("2024-01-31", 1, "2024-02-29"),  # leap year
    ("2024-12-31", 2, "2025-02-28"),  # across a year, into February
    ("2023-12-30", 2, "2024-02-29"),  # leap February, day 30 does not exist
    ("2025-03-31", 1, "2025-04-30"),  # 30-day month
    ("2024-02-29", 12, "2025-02-28"),  # from a leap day to a common year
    ("2024-02-29", 48, "2028-02-29"),  # four years later, a leap day again
    ("2025-02-28", 1, "2025-03-28"),  # not "end of month to end of month"
    ("2025-11-15", 2, "2026-01-15"),  # into the next year
    ("2025-08-31", 6, "2026-02-28"),
    ("2025-05-10", 0, "2025-05-10"),
]


@pytest.mark.parametrize("start,months,expected", MONTHS)
def test_add_months_counts_like_french_administrative_law(start, months, expected):
    assert add_months(date.fromisoformat(start), months) == date.fromisoformat(expected)


# --- working days across French public holidays -------------------------------------------

WORKING_DAYS = [
    # start (the day the letter is sent, never counted), N, expected, why
    ("2025-07-10", 3, "2025-07-16", "Fri 11, [Sat, Sun], [Mon 14 July], Tue 15, Wed 16"),
    ("2025-08-13", 2, "2025-08-18", "Thu 14, [Fri 15 August], [weekend], Mon 18"),
    ("2025-04-30", 1, "2025-05-02", "[Thu 1 May], Fri 2"),
    ("2025-05-07", 1, "2025-05-09", "[Thu 8 May], Fri 9"),
    ("2025-05-28", 1, "2025-05-30", "[Thu 29 May, Ascension], Fri 30"),
    ("2025-06-06", 1, "2025-06-10", "[weekend], [Mon 9 June, Whit Monday], Tue 10"),
    ("2025-11-10", 1, "2025-11-12", "[Tue 11 November], Wed 12"),
    ("2025-12-24", 1, "2025-12-26", "[Thu 25 December], Fri 26 (no 26 Dec holiday in FR)"),
    ("2025-04-18", 1, "2025-04-22", "[weekend], [Mon 21 April, Easter Monday], Tue 22"),
    ("2025-10-31", 1, "2025-11-03", "[Sat 1 November, also a weekend], Mon 3"),
    ("2025-10-03", 5, "2025-10-10", "a plain week: Mon 6 .. Fri 10"),
    ("2025-10-04", 1, "2025-10-06", "sent on a Saturday: Monday is the first working day"),
    ("2024-12-20", 10, "2025-01-07", "over Christmas and New Year's Day"),
]


@pytest.mark.parametrize("start,count,expected,why", WORKING_DAYS)
def test_working_days_skip_weekends_and_french_holidays(start, count, expected, why):
    assert add_working_days(date.fromisoformat(start), count, "FR") == date.fromisoformat(expected)


@settings(max_examples=200, deadline=None)
@given(st.dates(date(2000, 1, 1), date(2060, 12, 31)), st.integers(0, 40))
def test_months_keep_the_day_of_month_or_take_the_last_day(start, months):
    end = add_months(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    last_day = calendar.monthrange(end.year, end.month)[1]
    assert end.day == min(start.day, last_day)


@settings(max_examples=100, deadline=None)
@given(st.dates(date(2020, 1, 1), date(2035, 12, 31)), st.integers(0, 60))
def test_working_days_count_exactly_n_working_days(start, count):
    end = add_working_days(start, count, "FR")
    french = holiday_calendar("FR")
    days = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
    working = [d for d in days if d.weekday() < 5 and d not in french]
    assert len(working) == count
    assert count == 0 or end == working[-1]


def test_working_days_of_a_subdivision_use_its_own_holidays():
    # Alsace-Moselle also rests on 26 December
    assert add_working_days(date(2025, 12, 24), 1, "FR") == date(2025, 12, 26)
    assert add_working_days(date(2025, 12, 24), 1, "FR-57") == date(2025, 12, 29)


@pytest.mark.parametrize("code", ["XX", "FR-99"])
def test_an_unknown_holiday_calendar_is_a_clear_error(code):
    with pytest.raises(ValueError, match=f'"{code}" is not a known country code.*"FR"'):
        add_deadline(paris("2025-10-03 10:00"), Deadline(5, "working_days"), code, PARIS)


def test_holiday_calendars_are_built_once():
    assert holiday_calendar("FR") is holiday_calendar(" fr ")
    assert holiday_calendar("FR") is not holiday_calendar("FR-57")


# --- add_deadline: time zones, end of day ----------------------------------------------------

DEADLINES = [
    # start (aware), deadline, expected due_at (local end of day)
    (paris("2025-10-03 10:00"), "2 months", "2025-12-03T23:59:59+01:00"),
    # 23:30 UTC on 2 October is already 3 October in Paris: the local date counts
    (datetime(2025, 10, 2, 23, 30, tzinfo=UTC), "2 months", "2025-12-03T23:59:59+01:00"),
    # naive datetimes are UTC, as the store keeps them
    (datetime(2025, 10, 2, 23, 30), "1 month", "2025-11-03T23:59:59+01:00"),
    # across the end of summer time (26 October 2025): still the end of the local day
    (paris("2025-10-20 09:00"), "10 days", "2025-10-30T23:59:59+01:00"),
    # across the start of summer time (30 March 2025)
    (paris("2025-03-25 09:00"), "7 days", "2025-04-01T23:59:59+02:00"),
    # sent during the repeated hour of 26 October 2025 (second 02:30, UTC+1)
    (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), "1 days", "2025-10-27T23:59:59+01:00"),
    (paris("2025-07-10 16:00"), "3 working days", "2025-07-16T23:59:59+02:00"),
    (paris("2025-01-31 12:00"), "1 month", "2025-02-28T23:59:59+01:00"),
]


@pytest.mark.parametrize("start,delay,expected", DEADLINES)
def test_add_deadline_ends_at_the_end_of_the_local_day(start, delay, expected):
    due = add_deadline(start, parse_deadline(delay), "FR", PARIS)
    assert due.isoformat() == expected


def test_add_deadline_in_another_time_zone():
    start = datetime(2025, 10, 3, 2, 0, tzinfo=UTC)  # still 2 October in Montreal
    due = add_deadline(start, Deadline(1, "days"), "CA", ZoneInfo("America/Montreal"))
    assert due.isoformat() == "2025-10-03T23:59:59-04:00"


# --- decide: statuses ---------------------------------------------------------------------

TWO_MONTHS = Deadline(2, "months")
AS_OF = paris("2025-11-01 12:00")  # before the 2-month deadlines of September letters


def letter(day: str, mid: str = "") -> ThreadEvent:
    return ThreadEvent(mid or f"letter-{day}", paris(day), "outgoing", "letter")


def incoming(kind: str, day: str) -> ThreadEvent:
    return ThreadEvent(f"{kind}-{day}", paris(day), "incoming", kind)


def mark(action: str, on: str | None, created: str = "2025-10-20 08:00") -> Mark:
    return Mark(action, paris(on) if on else None, None, paris(created))


STATUS_CASES = [
    # name, events, marks, status, first_unanswered_at (or None), start of the clock of due_at
    (
        "a letter alone",
        [letter("2025-09-10 10:00")],
        [],
        "awaiting_reply",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "an auto-reply is not an answer",
        [letter("2025-09-10 10:00"), incoming("auto_reply", "2025-09-10 10:01")],
        [],
        "awaiting_reply",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "an 'other' message (newsletter) is not an answer",
        [letter("2025-09-10 10:00"), incoming("other", "2025-09-12 10:00")],
        [],
        "awaiting_reply",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "acknowledged",
        [letter("2025-09-10 10:00"), incoming("acknowledgement", "2025-09-10 10:05")],
        [],
        "acknowledged",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "acknowledged, then a reminder: still acknowledged",
        [
            letter("2025-09-10 10:00"),
            incoming("acknowledgement", "2025-09-10 10:05"),
            letter("2025-10-10 10:00"),
        ],
        [],
        "acknowledged",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "answered",
        [letter("2025-09-10 10:00"), incoming("reply", "2025-09-20 15:00")],
        [],
        "answered",
        None,
        "2025-09-10 10:00",
    ),
    (
        "acknowledged then answered",
        [
            letter("2025-09-10 10:00"),
            incoming("acknowledgement", "2025-09-10 10:05"),
            incoming("reply", "2025-10-01 15:00"),
        ],
        [],
        "answered",
        None,
        "2025-09-10 10:00",
    ),
    (
        "answered, then a new letter: a new clock",
        [
            letter("2025-09-10 10:00"),
            incoming("reply", "2025-09-20 15:00"),
            letter("2025-10-05 09:00"),
        ],
        [],
        "awaiting_reply",
        "2025-10-05 09:00",
        "2025-10-05 09:00",
    ),
    (
        "an acknowledgement of the first round does not carry over to the second",
        [
            letter("2025-09-10 10:00"),
            incoming("acknowledgement", "2025-09-10 10:05"),
            incoming("reply", "2025-09-20 15:00"),
            letter("2025-10-05 09:00"),
        ],
        [],
        "awaiting_reply",
        "2025-10-05 09:00",
        "2025-10-05 09:00",
    ),
    (
        "a reply before any letter answers nothing",
        [incoming("reply", "2025-09-01 10:00"), letter("2025-09-10 10:00")],
        [],
        "awaiting_reply",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "an acknowledgement after the answer changes nothing",
        [
            letter("2025-09-10 10:00"),
            incoming("reply", "2025-09-20 15:00"),
            incoming("acknowledgement", "2025-09-21 15:00"),
        ],
        [],
        "answered",
        None,
        "2025-09-10 10:00",
    ),
    (
        "bounced",
        [letter("2025-09-10 10:00"), incoming("bounce", "2025-09-10 10:02")],
        [],
        "bounced",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "bounced, then a reminder that did not bounce",
        [
            letter("2025-09-10 10:00"),
            incoming("bounce", "2025-09-10 10:02"),
            letter("2025-09-15 10:00"),
        ],
        [],
        "awaiting_reply",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "bounced, the reminder bounced too",
        [
            letter("2025-09-10 10:00"),
            incoming("bounce", "2025-09-10 10:02"),
            letter("2025-09-15 10:00"),
            incoming("bounce", "2025-09-15 10:01"),
        ],
        [],
        "bounced",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "a reply beats a bounce (another address of the body worked)",
        [
            letter("2025-09-10 10:00"),
            incoming("bounce", "2025-09-10 10:02"),
            incoming("reply", "2025-09-30 10:00"),
        ],
        [],
        "answered",
        None,
        "2025-09-10 10:00",
    ),
    (
        "answered by post, by mark",
        [letter("2025-09-10 10:00")],
        [mark("answered", "2025-10-02 00:00")],
        "answered",
        None,
        "2025-09-10 10:00",
    ),
    (
        "answered by post without a date: the mark's creation date",
        [letter("2025-09-10 10:00")],
        [mark("answered", None)],
        "answered",
        None,
        "2025-09-10 10:00",
    ),
    (
        "answered by post, then a reminder-free new letter",
        [letter("2025-09-10 10:00"), letter("2025-10-15 10:00")],
        [mark("answered", "2025-10-02 00:00")],
        "awaiting_reply",
        "2025-10-15 10:00",
        "2025-10-15 10:00",
    ),
    (
        "closed by hand",
        [letter("2025-09-10 10:00")],
        [mark("closed", None)],
        "closed",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "closed beats answered",
        [letter("2025-09-10 10:00"), incoming("reply", "2025-09-20 15:00")],
        [mark("closed", None)],
        "closed",
        None,
        "2025-09-10 10:00",
    ),
    (
        "closed then reopened",
        [letter("2025-09-10 10:00"), incoming("acknowledgement", "2025-09-10 10:05")],
        [mark("closed", None, "2025-10-01 08:00"), mark("reopened", None, "2025-10-02 08:00")],
        "acknowledged",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "reopened then closed again",
        [letter("2025-09-10 10:00")],
        [
            mark("closed", None, "2025-10-01 08:00"),
            mark("reopened", None, "2025-10-02 08:00"),
            mark("closed", None, "2025-10-03 08:00"),
        ],
        "closed",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "a letter written after closing reopens the thread",
        [letter("2025-09-10 10:00"), letter("2025-10-10 10:00")],
        [mark("closed", None, "2025-10-01 08:00")],
        "awaiting_reply",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "an acknowledgement stamped before the letter (clocks differ)",
        [letter("2025-09-10 10:00"), incoming("acknowledgement", "2025-09-10 09:52")],
        [],
        "acknowledged",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "a bounce stamped before the letter (clocks differ)",
        [letter("2025-09-10 10:00"), incoming("bounce", "2025-09-10 09:58")],
        [],
        "bounced",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "an acknowledgement an hour before the letter belongs to nothing",
        [letter("2025-09-10 10:00"), incoming("acknowledgement", "2025-09-10 09:00")],
        [],
        "awaiting_reply",
        "2025-09-10 10:00",
        "2025-09-10 10:00",
    ),
    (
        "a reply at the very instant of the letter still answers it",
        [letter("2025-09-10 10:00"), incoming("reply", "2025-09-10 10:00")],
        [],
        "answered",
        None,
        "2025-09-10 10:00",
    ),
]


@pytest.mark.parametrize(
    "name,events,marks,status,first_unanswered,clock",
    STATUS_CASES,
    ids=[c[0] for c in STATUS_CASES],
)
def test_decide_status(name, events, marks, status, first_unanswered, clock):
    state = decide(events, marks, TWO_MONTHS, "FR", PARIS, as_of=AS_OF)
    assert state.status == status
    assert state.first_unanswered_at == (paris(first_unanswered) if first_unanswered else None)
    # an answered thread keeps the due date its answer met or missed
    assert state.due_at == add_deadline(paris(clock), TWO_MONTHS, "FR", PARIS)
    assert state.overdue is False  # AS_OF is before every 2-month deadline above


@pytest.mark.parametrize(
    "name,events,marks,status,first_unanswered,clock",
    STATUS_CASES,
    ids=[c[0] for c in STATUS_CASES],
)
def test_decide_does_not_depend_on_the_order_of_its_input(
    name, events, marks, status, first_unanswered, clock
):
    expected = decide(events, marks, TWO_MONTHS, "FR", PARIS, as_of=AS_OF)
    shuffler = random.Random(name)
    for _ in range(5):
        events2, marks2 = list(events), list(marks)
        shuffler.shuffle(events2)
        shuffler.shuffle(marks2)
        assert decide(events2, marks2, TWO_MONTHS, "FR", PARIS, as_of=AS_OF) == expected


def test_decide_fills_every_date():
    events = [
        letter("2025-09-10 10:00"),
        incoming("reply", "2025-09-20 15:00"),
        letter("2025-10-05 09:00"),
        letter("2025-10-20 09:00"),  # a reminder
        incoming("auto_reply", "2025-10-20 09:01"),
    ]
    state = decide(events, [], TWO_MONTHS, "FR", PARIS, as_of=AS_OF)
    assert state.opened_at == paris("2025-09-10 10:00")
    assert state.last_letter_at == paris("2025-10-20 09:00")
    assert state.last_reply_at == paris("2025-09-20 15:00")
    assert state.first_unanswered_at == paris("2025-10-05 09:00")  # the reminder does not count
    assert state.due_at.isoformat() == "2025-12-05T23:59:59+01:00"


# --- decide: deadlines and as_of --------------------------------------------------------------

REMINDER_THREAD = [
    letter("2025-09-10 10:00"),
    incoming("acknowledgement", "2025-09-11 08:00"),
    letter("2025-11-05 10:00"),  # a reminder: the clock keeps running from 10 September
    incoming("reply", "2025-11-20 14:00"),
]

AS_OF_CASES = [
    # as_of, status, due_at, overdue
    ("2025-09-01 00:00", "awaiting_reply", None, False),  # before the letter: no thread yet
    ("2025-09-10 12:00", "awaiting_reply", "2025-11-10T23:59:59+01:00", False),
    ("2025-09-20 12:00", "acknowledged", "2025-11-10T23:59:59+01:00", False),
    ("2025-11-10 23:59", "acknowledged", "2025-11-10T23:59:59+01:00", False),  # last minute
    ("2025-11-11 00:00", "acknowledged", "2025-11-10T23:59:59+01:00", True),  # the next day
    ("2025-11-19 12:00", "acknowledged", "2025-11-10T23:59:59+01:00", True),
    # answered late: due_at stays, so reports can tell it
    ("2025-11-20 14:00", "answered", "2025-11-10T23:59:59+01:00", False),
    ("2026-03-01 00:00", "answered", "2025-11-10T23:59:59+01:00", False),
]


@pytest.mark.parametrize("as_of,status,due_at,overdue", AS_OF_CASES)
def test_as_of_rebuilds_the_past(as_of, status, due_at, overdue):
    state = decide(REMINDER_THREAD, [], TWO_MONTHS, "FR", PARIS, as_of=paris(as_of))
    assert (state.status, state.overdue) == (status, overdue)
    assert (state.due_at.isoformat() if state.due_at else None) == due_at


def test_no_thread_before_its_first_letter():
    state = decide(REMINDER_THREAD, [], TWO_MONTHS, "FR", PARIS, as_of=paris("2025-09-01 00:00"))
    assert state.opened_at is None and state.last_letter_at is None


def test_as_of_a_date_means_the_end_of_that_local_day():
    on_due_day = decide(REMINDER_THREAD, [], TWO_MONTHS, "FR", PARIS, as_of=date(2025, 11, 10))
    day_after = decide(REMINDER_THREAD, [], TWO_MONTHS, "FR", PARIS, as_of=date(2025, 11, 11))
    assert (on_due_day.overdue, day_after.overdue) == (False, True)


def test_as_of_defaults_to_now():
    state = decide(REMINDER_THREAD[:1], [], TWO_MONTHS, "FR", PARIS)
    assert state.overdue is True  # a 2025 letter is long overdue today


MARK_AS_OF_CASES = [
    # marks, as_of, status, overdue
    ([mark("answered", "2025-11-15 00:00")], "2025-11-14 12:00", "acknowledged", True),
    ([mark("answered", "2025-11-15 00:00")], "2025-11-15 12:00", "answered", False),
    # a mark without on_date counts from its creation
    ([mark("closed", None, "2025-11-12 09:00")], "2025-11-12 08:00", "acknowledged", True),
    ([mark("closed", None, "2025-11-12 09:00")], "2025-11-12 10:00", "closed", False),
    (
        [mark("closed", None, "2025-11-12 09:00"), mark("reopened", None, "2025-11-13 09:00")],
        "2025-11-13 10:00",
        "acknowledged",
        True,
    ),
]


@pytest.mark.parametrize("marks,as_of,status,overdue", MARK_AS_OF_CASES)
def test_marks_count_from_their_date(marks, as_of, status, overdue):
    state = decide(REMINDER_THREAD[:2], marks, TWO_MONTHS, "FR", PARIS, as_of=paris(as_of))
    assert (state.status, state.overdue) == (status, overdue)


OVERDUE_BY_DEADLINE = [
    # deadline, as_of, overdue  (letter sent Thursday 10 July 2025 16:00 Paris)
    ("3 working days", "2025-07-16 23:59", False),  # 14 July skipped: due Wednesday 16
    ("3 working days", "2025-07-17 00:00", True),
    ("3 days", "2025-07-13 23:59", False),
    ("3 days", "2025-07-14 00:00", True),
    ("1 month", "2025-08-10 23:59", False),
    ("1 month", "2025-08-11 00:00", True),
]


@pytest.mark.parametrize("delay,as_of,overdue", OVERDUE_BY_DEADLINE)
def test_overdue_for_each_kind_of_deadline(delay, as_of, overdue):
    events = [letter("2025-07-10 16:00")]
    state = decide(events, [], parse_deadline(delay), "FR", PARIS, as_of=paris(as_of))
    assert state.overdue is overdue


def test_a_bounced_or_closed_thread_is_never_overdue():
    late = paris("2026-06-01 00:00")
    bounced = decide(
        [letter("2025-09-10 10:00"), incoming("bounce", "2025-09-10 10:01")],
        [],
        TWO_MONTHS,
        "FR",
        PARIS,
        as_of=late,
    )
    closed = decide(
        [letter("2025-09-10 10:00")], [mark("closed", None)], TWO_MONTHS, "FR", PARIS, as_of=late
    )
    assert (bounced.status, bounced.overdue) == ("bounced", False)
    assert (closed.status, closed.overdue) == ("closed", False)


def test_an_unknown_mark_is_an_error():
    with pytest.raises(ValueError, match="unknown mark"):
        decide([letter("2025-09-10 10:00")], [mark("archived", None)], TWO_MONTHS, "FR", PARIS)


# --- the demo correspondence: its generator's truth is an independent oracle -------------------


def test_every_demo_thread_gets_the_status_and_due_date_its_generator_meant():
    import json
    from pathlib import Path

    from tracker import config as config_module

    demo = Path(__file__).resolve().parent.parent / "tracker" / "demo"
    truth = json.loads((demo / "truth.json").read_text(encoding="utf-8"))
    config = config_module.load(demo / "tracker.toml")
    messages = {m["message_id"]: m for m in truth["messages"]}
    deadlines = {c.name: config.deadline_for(c) for c in config.correspondents}
    as_of = date.fromisoformat(truth["as_of"])
    wrong = []
    for thread in truth["threads"]:
        events = [
            ThreadEvent(
                mid,
                datetime.fromisoformat(messages[mid]["date"]),
                messages[mid]["direction"],
                messages[mid]["kind"],
            )
            for mid in thread["messages"]
        ]
        state = decide(
            events, [], deadlines[thread["correspondent"]], config.holidays, config.tz, as_of
        )
        found = (
            state.status,
            state.due_at.date().isoformat() if state.due_at else None,
            state.overdue,
        )
        expected = (thread["status"], thread["due_at"], thread["overdue"])
        if found != expected:
            wrong.append((thread["letter"], expected, found))
    assert len(truth["threads"]) > 100
    assert wrong == []
