"""The one place that decides a thread's status and its due date.

Pure functions: the threading stage hands in a thread's events (its messages,
already reduced to date, direction and kind) and the manual marks, and gets a
``ThreadState`` back. Nothing here reads the database or the clock, except
``decide`` defaulting ``as_of`` to now.

Decisions (see also DESIGN.md, "Thread status"):

- Dates are counted in the user's time zone: the start is the local calendar
  day on which the first unanswered letter was sent.
- ``due_at`` is the *end* of the due day, 23:59:59 local time, because French
  delays expire "le dernier jour à vingt-quatre heures": a letter sent on
  3 October with a two-month delay is due all through 3 December and is
  overdue from 4 December 00:00 local time. ``overdue`` is ``as_of > due_at``.
- A delay that ends on a weekend or a public holiday is not extended (only
  "N working days" look at the calendar).
- ``as_of`` rebuilds the state on a past day from what we know now: events
  dated after it, and marks whose date (``on_date``, else ``created_at``) is
  after it, are ignored.
- A letter sent after a thread was closed by hand reopens it: the coalition
  wrote again, so it expects an answer again.
- A bounce stays only until the next letter: a reminder that is not bounced in
  turn was delivered, so the thread is awaiting a reply again.
- An acknowledgement or a bounce stamped up to ``CLOCK_SKEW`` (15 minutes) before a
  letter is taken as coming after it: machines answer in seconds, clocks differ.
- An answered thread keeps the ``due_at`` its answer met or missed (the clock of
  the letters it answered), so reports can tell late answers; ``overdue`` is false
  and ``first_unanswered_at`` is ``None``.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays as holidays_package

from ..config import Deadline

STATUSES = ("awaiting_reply", "acknowledged", "answered", "bounced", "closed")
MARK_ACTIONS = ("answered", "closed", "reopened")
UNANSWERED = ("awaiting_reply", "acknowledged")

END_OF_DAY = time(23, 59, 59)


# --- deadlines -----------------------------------------------------------------------------


def holiday_calendar(code: str) -> holidays_package.HolidayBase:
    """The public holidays of ``code``: a country ("FR") or a country and subdivision
    ("FR-57" for Alsace-Moselle). Cached; years are filled in as they are asked for."""
    country, _, subdivision = (code or "").strip().partition("-")
    return _calendar(country.upper(), subdivision or None)


@functools.lru_cache(maxsize=32)
def _calendar(country: str, subdivision: str | None) -> holidays_package.HolidayBase:
    try:
        return holidays_package.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        code = f"{country}-{subdivision}" if subdivision else country
        raise ValueError(
            f'holidays = "{code}" is not a known country code (or subdivision); use an ISO 3166 '
            f'code such as "FR" (or "FR-57" for Alsace-Moselle) in [deadlines]'
        ) from None


def add_months(day: date, months: int) -> date:
    """The same day-of-month ``months`` later, or the last day of a shorter month
    (31 January + 1 month = 28 or 29 February), as French administrative law counts."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_working_days(day: date, count: int, code: str) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself never counts): Saturdays,
    Sundays and the public holidays of ``code`` are skipped."""
    calendar_ = holiday_calendar(code)
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in calendar_:
            count -= 1
    return day


def due_day(start_day: date, deadline: Deadline, holidays: str) -> date:
    """The local calendar day on which a delay that starts on ``start_day`` ends."""
    if deadline.count < 0:
        raise ValueError(f"a delay cannot be negative: {deadline}")
    if deadline.unit == "months":
        return add_months(start_day, deadline.count)
    if deadline.unit == "days":
        return start_day + timedelta(days=deadline.count)
    if deadline.unit == "working_days":
        return add_working_days(start_day, deadline.count, holidays)
    raise ValueError(f'unknown delay unit "{deadline.unit}": use months, days or working_days')


def add_deadline(start: datetime, deadline: Deadline, holidays: str, tz: ZoneInfo) -> datetime:
    """When a letter sent at ``start`` is due: the end (23:59:59 local time in ``tz``) of the
    day reached by adding ``deadline`` to the local date of ``start``. Aware, in ``tz``."""
    local_day = _aware(start).astimezone(tz).date()
    return datetime.combine(due_day(local_day, deadline, holidays), END_OF_DAY, tzinfo=tz)


# --- status --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadEvent:
    """One message of a thread, as far as its status is concerned.

    ``kind`` is letter, reply, auto_reply, acknowledgement, bounce or other; the threading
    stage passes a bounce only when its DSN names this thread's correspondent.
    """

    message_id: str
    date: datetime
    direction: str
    kind: str


@dataclass(frozen=True)
class Mark:
    """A fact only a person knows (``tracker mark``): ``answered`` (by post, on ``on_date``),
    ``closed`` or ``reopened``. ``on_date`` defaults to ``created_at``."""

    action: str
    on_date: datetime | None
    note: str | None
    created_at: datetime

    @property
    def effective_at(self) -> datetime:
        return _aware(self.on_date or self.created_at)


@dataclass(frozen=True)
class ThreadState:
    """What ``decide`` concludes about one thread at ``as_of``.

    ``opened_at`` is the first letter's date (``None`` when no letter was sent by ``as_of``:
    the thread did not exist yet). ``first_unanswered_at`` is the date of the first letter
    not yet answered, which starts the clock; ``due_at`` is its deadline. When every letter
    is answered, ``first_unanswered_at`` is ``None`` and ``due_at`` is the deadline the
    last answer met or missed.
    """

    status: str
    opened_at: datetime | None
    last_letter_at: datetime | None
    last_reply_at: datetime | None
    due_at: datetime | None
    overdue: bool
    first_unanswered_at: datetime | None


# At the same instant a letter goes before what answers it.
_ORDER = {"letter": 0, "bounce": 1, "acknowledgement": 2, "auto_reply": 3, "reply": 4, "other": 5}
# Machines acknowledge and bounce within seconds, and clocks differ: a bounce or an
# acknowledgement stamped up to this long before a letter is taken as coming after it.
CLOCK_SKEW = timedelta(minutes=15)
_INSTANT_KINDS = ("acknowledgement", "bounce")


def decide(
    events: Iterable[ThreadEvent],
    marks: Iterable[Mark],
    deadline: Deadline,
    holidays: str,
    tz: ZoneInfo,
    as_of: datetime | date | None = None,
) -> ThreadState:
    """Decide a thread's status, due date and overdue flag as DESIGN.md defines them.

    ``as_of`` defaults to now; a ``date`` means the end of that day in ``tz``. Events and
    marks after ``as_of`` are ignored, and the input order does not matter.
    """
    as_of = _as_of(as_of, tz)
    timeline: list[tuple[datetime, int, str, str]] = []
    for event in events:
        when = _aware(event.date)
        if when <= as_of:
            if event.kind in _INSTANT_KINDS:
                when += CLOCK_SKEW
            timeline.append((when, _ORDER.get(event.kind, 9), event.kind, event.message_id))
    for mark in marks:
        if mark.action not in MARK_ACTIONS:
            raise ValueError(f'unknown mark "{mark.action}": use one of {", ".join(MARK_ACTIONS)}')
        when = mark.effective_at
        if when <= as_of:
            # a mark is applied after the messages of the same instant
            kind = "reply" if mark.action == "answered" else "mark:" + mark.action
            timeline.append((when, 10, kind, ""))
    timeline.sort()

    opened_at = last_letter_at = last_reply_at = first_unanswered_at = clock_start = None
    acknowledged = bounced = closed = False
    for when, _, kind, _ in timeline:
        if kind == "letter":
            opened_at = opened_at or when
            last_letter_at = when
            if first_unanswered_at is None:  # a reminder does not restart the clock
                first_unanswered_at = clock_start = when
            closed = False  # writing again reopens a thread closed by hand
            bounced = False  # only a new bounce says this letter failed too
        elif kind == "reply":
            last_reply_at = when
            first_unanswered_at = None
            acknowledged = bounced = False
        elif kind == "acknowledgement" and first_unanswered_at is not None:
            acknowledged = True
        elif kind == "bounce" and first_unanswered_at is not None:
            bounced = True
        elif kind == "mark:closed":
            closed = True
        elif kind == "mark:reopened":
            closed = False

    due_at = add_deadline(clock_start, deadline, holidays, tz) if clock_start else None
    if closed:
        status = "closed"
    elif first_unanswered_at is None and last_reply_at is not None:
        status = "answered"
    elif bounced:
        status = "bounced"
    elif acknowledged:
        status = "acknowledged"
    else:
        status = "awaiting_reply"
    return ThreadState(
        status=status,
        opened_at=opened_at,
        last_letter_at=last_letter_at,
        last_reply_at=last_reply_at,
        due_at=due_at,
        overdue=status in UNANSWERED and due_at is not None and as_of > due_at,
        first_unanswered_at=first_unanswered_at,
    )


@dataclass(frozen=True)
class Acknowledgement:
    """Whether a thread's first letter was acknowledged in time (``acknowledgement_within``).
    ``received_at``: the first acknowledgement of receipt or answer (a reply, an answer by
    post) after it; ``overdue``: none came and ``due_at`` has passed on a thread still open."""

    due_at: datetime
    received_at: datetime | None
    overdue: bool


def acknowledgement(events: Iterable[ThreadEvent], marks: Iterable[Mark], within: Deadline | None,
                    holidays: str, tz: ZoneInfo, state: ThreadState,
                    as_of: datetime | date | None = None) -> Acknowledgement | None:
    """The acknowledgement of ``state``'s thread as of ``as_of``, or None when ``within`` is
    not set (off by default) or no letter was sent yet. A date computed, not legal advice."""
    if within is None or state.opened_at is None:
        return None
    as_of = _as_of(as_of, tz)
    first = state.opened_at
    due_at = add_deadline(first, within, holidays, tz)
    came = [_aware(e.date) + (CLOCK_SKEW if e.kind in _INSTANT_KINDS else timedelta(0)) for e in events
            if e.kind in ("acknowledgement", "reply") and e.direction == "incoming"]
    came += [m.effective_at for m in marks if m.action == "answered"]
    came = [when for when in came if first <= when <= as_of]
    received_at = min(came) if came else None
    open_ = state.status in ("awaiting_reply", "acknowledged")
    return Acknowledgement(due_at, received_at, open_ and received_at is None and as_of > due_at)


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (the store keeps UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _as_of(as_of: datetime | date | None, tz: ZoneInfo) -> datetime:
    if as_of is None:
        return datetime.now(timezone.utc)
    if isinstance(as_of, datetime):
        return _aware(as_of)
    return datetime.combine(as_of, END_OF_DAY, tzinfo=tz)
