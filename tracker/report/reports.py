"""Reports: which letters are overdue, and how responsive each correspondent is.

Everything here reads the store (``threads``, ``thread_messages``, ``messages``,
``marks``) and asks ``thread.views.decide`` (which asks ``status.decide``) what each
thread looked like at ``as_of``: ``thread_states`` is the one place here that does it,
for the reports and the digest, and it agrees with ``tracker threads --as-of``.
Dates leave this module in the user's time zone.

Decisions:

- ``days_waiting`` counts local calendar days from the first letter still
  unanswered (what starts the clock) to ``as_of``.
- Responsiveness counts one letter per thread (reminders are part of it). A thread
  whose letter bounced (and that never got a reply) is left out: the correspondent
  never received it. "Days to the first real reply" run from the thread's first
  letter to its first reply (a reply message from the correspondent, or a
  ``tracker mark ... answered`` date), in local calendar days. Auto-replies and
  acknowledgements are not replies.
- The 90th percentile is the nearest-rank one (an actual observed delay), so it
  agrees with the ``responsiveness`` SQL view.
- Fewer than ``TOO_FEW`` letters: rate and delays are shown but flagged "too few
  to say".
"""

from __future__ import annotations

import csv
import re
import io
import json
import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

import jinja2
import sqlite_utils

from .. import i18n, paths
from ..config import Config, Correspondent
from ..thread import status, views

TOO_FEW = 5
FORMATS = ("text", "csv", "csv-comma", "json", "html")
TEMPLATES = paths.templates()


# --- dates ---------------------------------------------------------------------------------


def parse_as_of(text: str | None, config: Config) -> datetime:
    """``--as-of``: a day ("2026-12-03": the end of that day in the user's time zone) or an
    ISO 8601 moment; ``None`` is now. Raises ``ValueError`` with what to write."""
    if text is None:
        return config.now().astimezone(config.tz)
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime.combine(day, status.END_OF_DAY, tzinfo=config.tz)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f'"{text}" is not a date: write YYYY-MM-DD (for example 2026-12-03)'
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=config.tz)).astimezone(config.tz)


def spreadsheet_safe(value):
    """A CSV cell no spreadsheet will run as a formula: subjects and names come from outside
    ("=HYPERLINK(...)" in a subject stays text)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


_ISO_DAY = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")


def csv_writer(out: io.StringIO, fmt: str, language: str):
    """A writer for ``--format csv``, the CSV French spreadsheets open right (semicolons, a UTF-8
    byte order mark, days as dd/mm/yyyy, decimal commas in French), or ``csv-comma``, plain
    RFC 4180 with ISO dates. Cells go through :func:`spreadsheet_safe` either way."""
    if fmt == "csv-comma":
        writer = csv.writer(out, lineterminator="\n")
        return lambda row: writer.writerow([spreadsheet_safe(c) for c in row])
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")

    def cell(value):
        if isinstance(value, str) and _ISO_DAY.match(value):
            year, month, day = _ISO_DAY.match(value).groups()
            return f"{day}/{month}/{year}"
        if isinstance(value, str) and _DECIMAL.match(value) and language == "fr":
            return value.replace(".", ",")
        return spreadsheet_safe(value)

    return lambda row: writer.writerow([cell(c) for c in row])


def _parse_stored(value: str | None) -> datetime | None:
    """A stored ISO 8601 date (UTC when it carries no offset)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _local_iso(moment: datetime | None, config: Config) -> str | None:
    return moment.astimezone(config.tz).isoformat(timespec="seconds") if moment else None


def days_between(start: datetime, end: datetime, config: Config) -> int:
    """Local calendar days from ``start`` to ``end`` (same day: 0)."""
    return (end.astimezone(config.tz).date() - start.astimezone(config.tz).date()).days


# --- thread states -------------------------------------------------------------------------


@dataclass
class Thread:
    """One thread as it stood at ``as_of``: the objects of ``tracker threads`` plus what
    the reports add (``days_waiting``, the correspondent's addresses the letter went to)."""

    id: str
    correspondent_id: str | None
    correspondent: str
    subject: str
    state: status.ThreadState
    messages: list[dict[str, Any]]
    recipients: list[str]
    first_reply_at: datetime | None
    as_of: datetime
    acknowledgement: status.Acknowledgement | None = None

    @property
    def acknowledgement_overdue(self) -> bool:
        """No acknowledgement of receipt within the correspondent's acknowledgement_within."""
        return bool(self.acknowledgement and self.acknowledgement.overdue)

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def overdue(self) -> bool:
        return self.state.overdue

    @property
    def days_waiting(self) -> int | None:
        """Days since the first unanswered letter, or ``None`` when nothing is awaited."""
        if self.state.first_unanswered_at is None or self.state.status not in status.UNANSWERED:
            return None
        since = self.state.first_unanswered_at.astimezone(self.as_of.tzinfo).date()
        return (self.as_of.date() - since).days

    def to_dict(self, config: Config) -> dict[str, Any]:
        """The JSON object: DESIGN.md's thread keys, then ``days_waiting`` and ``recipients``."""
        state = self.state
        return {
            "id": self.id,
            "correspondent_id": self.correspondent_id,
            "correspondent": self.correspondent,
            "subject": self.subject,
            "status": state.status,
            "opened_at": _local_iso(state.opened_at, config),
            "last_letter_at": _local_iso(state.last_letter_at, config),
            "last_reply_at": _local_iso(state.last_reply_at, config),
            "due_at": _local_iso(state.due_at, config),
            "overdue": state.overdue,
            "messages": self.messages,
            "days_waiting": self.days_waiting,
            "recipients": self.recipients,
        }


def _belongs(address: str, correspondent: Correspondent) -> bool:
    address = address.lower()
    domain = address.rpartition("@")[2]
    return address in correspondent.addresses or any(
        domain == d or domain.endswith("." + d) for d in correspondent.domains
    )


def thread_states(
    db: sqlite_utils.Database,
    config: Config,
    as_of: datetime | None = None,
    keep: Callable[[status.ThreadState], bool] | None = None,
) -> list[Thread]:
    """Every thread that existed at ``as_of`` (default: now, or the config's ``as_of``), oldest first, as
    ``thread.views.decide`` sees it from the messages and marks dated up to then (the same
    decision as ``tracker threads --as-of``). Threads of a correspondent no longer in the
    config are left out, as ``tracker threads`` does; so are those whose state ``keep``
    refuses, before their messages are read out."""
    as_of = (as_of or config.now()).astimezone(config.tz)
    to_addresses: dict[str, list[str]] = {}
    for message_id, address in db.execute(
        "select message_id, address from recipients where role = 'to' order by position"
    ).fetchall():
        to_addresses.setdefault(message_id, []).append(address)

    threads = []
    for view in views.thread_views(db, config, as_of):
        correspondent, mine, state = view.correspondent, view.members, view.state
        if keep is not None and not keep(state):
            continue
        # (message_id, date, direction, kind, matched_by), as threading reads its members
        replies = [
            _parse_stored(when) for _, when, direction, kind, matched_by in mine
            if kind == "reply" and direction == "incoming" and matched_by not in ("letter", "bounce")
        ]
        replies += [m.effective_at for m in view.marks if m.action == "answered" and m.effective_at <= as_of]
        letter_to: list[str] = []
        for message_id, _, _, kind, matched_by in mine:
            if matched_by == "letter" or kind == "letter":
                letter_to += [a for a in to_addresses.get(message_id, []) if a not in letter_to]
        threads.append(
            Thread(
                id=view.id,
                correspondent_id=correspondent.slug,
                correspondent=correspondent.name,
                subject=view.subject,
                state=state,
                messages=[
                    {
                        "message_id": message_id,
                        "date": _local_iso(_parse_stored(when), config),
                        "direction": direction,
                        "kind": kind,
                    }
                    for message_id, when, direction, kind, _ in mine
                ],
                recipients=[a for a in letter_to if _belongs(a, correspondent)] or letter_to,
                first_reply_at=min(replies) if replies else None,
                as_of=as_of,
                acknowledgement=view.acknowledgement,
            )
        )
    threads.sort(key=lambda t: (t.state.opened_at, t.id))
    return threads


# --- unanswered ----------------------------------------------------------------------------


@dataclass
class Unanswered:
    """``overdue``: unanswered threads past their due date, the longest-waiting first;
    ``bounced``: threads whose letter did not reach the correspondent."""

    as_of: datetime
    overdue: list[Thread]
    bounced: list[Thread]


def unanswered(db: sqlite_utils.Database, config: Config, as_of: datetime | None = None) -> Unanswered:
    """The overdue and bounced threads at ``as_of`` (default: now, or the config's ``as_of``)."""
    as_of = (as_of or config.now()).astimezone(config.tz)
    threads = thread_states(db, config, as_of, keep=lambda state: state.overdue or state.status == "bounced")
    overdue = [t for t in threads if t.overdue]
    overdue.sort(key=lambda t: (t.state.first_unanswered_at, t.id))
    bounced = [t for t in threads if t.status == "bounced"]
    return Unanswered(as_of, overdue, bounced)


# --- responsiveness ------------------------------------------------------------------------


def wilson(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a proportion, ``None`` without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``fraction`` of the
    values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Responsiveness:
    """One correspondent's record at ``as_of``."""

    correspondent_id: str | None
    correspondent: str
    letters: int
    replied: int
    overdue_now: int
    delays: list[int] = field(default_factory=list)

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.letters if self.letters else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.replied, self.letters)

    @property
    def median_days(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def p90_days(self) -> float | None:
        return nearest_rank(self.delays, 0.9)

    @property
    def too_few(self) -> bool:
        return self.letters < TOO_FEW

    def to_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "correspondent_id": self.correspondent_id,
            "correspondent": self.correspondent,
            "letters": self.letters,
            "replied": self.replied,
            "reply_rate": _round(self.reply_rate),
            "reply_rate_low": _round(interval[0]) if interval else None,
            "reply_rate_high": _round(interval[1]) if interval else None,
            "median_days": self.median_days,
            "p90_days": self.p90_days,
            "overdue_now": self.overdue_now,
            "too_few": self.too_few,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def responsiveness(
    db: sqlite_utils.Database, config: Config, as_of: datetime | None = None
) -> list[Responsiveness]:
    """Per correspondent (every configured one, then any other that has threads), at ``as_of``."""
    as_of = (as_of or config.now()).astimezone(config.tz)
    rows: dict[str, Responsiveness] = {}
    for correspondent in config.correspondents:
        rows[correspondent.name] = Responsiveness(correspondent.slug, correspondent.name, 0, 0, 0)
    for thread in thread_states(db, config, as_of):
        row = rows.setdefault(
            thread.correspondent,
            Responsiveness(thread.correspondent_id, thread.correspondent, 0, 0, 0),
        )
        if thread.first_reply_at is None and thread.status == "bounced":
            continue
        row.letters += 1
        if thread.overdue:
            row.overdue_now += 1
        if thread.first_reply_at is not None:
            row.replied += 1
            row.delays.append(days_between(thread.state.opened_at, thread.first_reply_at, config))
    return list(rows.values())


# --- rendering -----------------------------------------------------------------------------


def environment() -> jinja2.Environment:
    """The Jinja2 environment over ``templates/`` (HTML autoescaped)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_template(name: str, language: str, **context: Any) -> str:
    """Render ``templates/<name>`` with ``lang`` and ``t(key, **params)`` in ``language``."""
    return environment().get_template(name).render(
        lang=language, t=lambda key, **params: i18n.t(key, language, **params), **context
    )


def _day(moment: datetime | None, config: Config) -> str:
    return moment.astimezone(config.tz).date().isoformat() if moment else ""


def _percent(value: float | None, language: str) -> str:
    if value is None:
        return ""
    # French puts a (narrow no-break) space before %, English none
    return f"{round(value * 100)}\u202f%" if language == "fr" else f"{round(value * 100)}%"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


UNANSWERED_COLUMNS = ["days_waiting", "due_at", "correspondent", "subject", "status", "opened_at"]
BOUNCED_COLUMNS = ["last_letter_at", "correspondent", "recipients", "subject"]
RESPONSIVENESS_COLUMNS = [
    "correspondent", "letters", "replied", "reply_rate", "reply_rate_low", "reply_rate_high",
    "median_days", "p90_days", "overdue_now", "note",
]
# what people read (text, html): the interval in one column, shorter headers
RESPONSIVENESS_READABLE = {
    "correspondent": "column.correspondent", "letters": "column.letters", "replied": "column.replied",
    "reply_rate": "column.reply_rate", "reply_rate_interval": "column.reply_rate_interval",
    "median_days": "column.median_days_short", "p90_days": "column.p90_days_short",
    "overdue_now": "column.overdue_now", "note": "column.note",
}


def _unanswered_cells(thread: Thread, config: Config) -> dict[str, str]:
    language = config.language
    return {
        "days_waiting": "" if thread.days_waiting is None else str(thread.days_waiting),
        "due_at": _day(thread.state.due_at, config),
        "correspondent": thread.correspondent,
        "subject": thread.subject,
        "status": i18n.t(f"status.{thread.status}", language),
        "opened_at": _day(thread.state.opened_at, config),
        "last_letter_at": _day(thread.state.last_letter_at, config),
        "recipients": ", ".join(thread.recipients),
    }


def _responsiveness_cells(row: Responsiveness, config: Config) -> dict[str, str]:
    interval = row.interval
    return {
        "correspondent": row.correspondent,
        "letters": str(row.letters),
        "replied": str(row.replied),
        "reply_rate": _percent(row.reply_rate, config.language),
        "reply_rate_low": _percent(interval[0], config.language) if interval else "",
        "reply_rate_high": _percent(interval[1], config.language) if interval else "",
        "reply_rate_interval": (
            f"{round(interval[0] * 100)}–{_percent(interval[1], config.language)}" if interval else ""
        ),
        "median_days": _number(row.median_days),
        "p90_days": _number(row.p90_days),
        "overdue_now": str(row.overdue_now),
        "note": i18n.t("report.too_few", config.language) if row.too_few else "",
    }


def render_unanswered(report: Unanswered, config: Config, fmt: str = "text") -> str:
    """The unanswered report as text, csv, json or html."""
    language = config.language
    if fmt == "json":
        return json.dumps(
            {
                "as_of": report.as_of.isoformat(timespec="seconds"),
                "overdue": [t.to_dict(config) for t in report.overdue],
                "bounced": [t.to_dict(config) for t in report.bounced],
            },
            ensure_ascii=False,
            indent=2,
        )
    headers = [i18n.t(f"column.{c}", language) for c in UNANSWERED_COLUMNS]
    bounced_headers = [i18n.t(f"column.{c}", language) for c in BOUNCED_COLUMNS]
    overdue = [_unanswered_cells(t, config) for t in report.overdue]
    bounced = [_unanswered_cells(t, config) for t in report.bounced]
    if fmt in ("csv", "csv-comma"):
        # one sheet: both sections, told apart by the first column
        columns = UNANSWERED_COLUMNS + [c for c in BOUNCED_COLUMNS if c not in UNANSWERED_COLUMNS]
        out = io.StringIO()
        write = csv_writer(out, fmt, language)
        write([i18n.t("report.section", language), "id"] + [i18n.t(f"column.{c}", language) for c in columns])
        for label, threads, rows in (
            (i18n.t("column.overdue", language), report.overdue, overdue),
            (i18n.t("status.bounced", language), report.bounced, bounced),
        ):
            for thread, cells in zip(threads, rows):
                write([label, thread.id] + [cells[c] for c in columns])
        return out.getvalue()
    when = i18n.format_date(report.as_of, language)
    if fmt == "text":
        parts = [i18n.t("report.unanswered.title", language, date=when), ""]
        if overdue:
            parts.append(_text_table(headers, [[r[c] for c in UNANSWERED_COLUMNS] for r in overdue]))
        else:
            parts.append(i18n.t("report.unanswered.none", language))
        parts += ["", i18n.t("report.bounced.title", language), ""]
        if bounced:
            parts.append(_text_table(bounced_headers, [[r[c] for c in BOUNCED_COLUMNS] for r in bounced]))
        else:
            parts.append(i18n.t("report.bounced.none", language))
        return "\n".join(parts) + "\n"
    if fmt == "html":
        return render_template(
            "report/unanswered.html",
            language,
            when=when,
            overdue=overdue,
            bounced=bounced,
            sections={
                "overdue": (headers, UNANSWERED_COLUMNS),
                "bounced": (bounced_headers, BOUNCED_COLUMNS),
            },
        )
    raise ValueError(f'unknown format "{fmt}": use one of {", ".join(FORMATS)}')


def render_responsiveness(
    rows: Iterable[Responsiveness], config: Config, as_of: datetime, fmt: str = "text"
) -> str:
    """The responsiveness report as text, csv, json or html."""
    rows = list(rows)
    language = config.language
    if fmt == "json":
        return json.dumps(
            {
                "as_of": as_of.isoformat(timespec="seconds"),
                "too_few_below": TOO_FEW,
                "correspondents": [r.to_dict() for r in rows],
            },
            ensure_ascii=False,
            indent=2,
        )
    headers = [i18n.t(f"column.{c}", language) for c in RESPONSIVENESS_COLUMNS]
    cells = [_responsiveness_cells(r, config) for r in rows]
    if fmt in ("csv", "csv-comma"):
        out = io.StringIO()
        write = csv_writer(out, fmt, language)
        write(headers)
        for row in cells:
            write([row[c] for c in RESPONSIVENESS_COLUMNS])
        return out.getvalue()
    when = i18n.format_date(as_of, language)
    readable = list(RESPONSIVENESS_READABLE)
    headers = [i18n.t(RESPONSIVENESS_READABLE[c], language) for c in readable]
    if fmt == "text":
        title = i18n.t("report.responsiveness.title", language, date=when)
        if not rows:
            return f"{title}\n\n{i18n.t('report.responsiveness.none', language)}\n"
        table = _text_table(headers, [[r[c] for c in readable] for r in cells])
        return f"{title}\n\n{table}\n"
    if fmt == "html":
        return render_template(
            "report/responsiveness.html",
            language,
            when=when,
            headers=headers,
            rows=cells,
            columns=readable,
        )
    raise ValueError(f'unknown format "{fmt}": use one of {", ".join(FORMATS)}')
