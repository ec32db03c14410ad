"""The coordinator's calendar feed (``register_routes``): an iCalendar file (RFC 5545) of the due
dates of open threads, the due dates of pending commitments, and meetings and calls.

- ``/-/calendar/TOKEN.ics``: for calendar applications, which send no cookie. ``TOKEN`` is the
  secret of ``[calendar] token_env`` / ``token_file``, compared in constant time; a wrong or
  missing token, or no token configured, is a 404 like any unknown address.
- ``/-/calendar.ics``: the same for a logged-in coordinator or admin (and the one local person
  without logins); an anonymous visitor is sent to the login page, a member gets 403.

Every event is an all-day event (``DTSTART;VALUE=DATE``) with a stable ``UID`` (a calendar
updates the event when a due date moves), ``DTSTAMP`` the time of the feed, and a link to its
page. It reads the published database only, through Datasette's read connections.
"""

from __future__ import annotations

import hmac
from datetime import date, datetime, timedelta, timezone

from datasette.utils import tilde_encode
from datasette.utils.asgi import NotFound, Response

from ..config import Config, ConfigError
from ..i18n import t
from ..thread import commitments
from .settings import DATABASE_NAME

FEED = "/-/calendar"
OPEN = ("awaiting_reply", "acknowledged")
# the feed's own words (fr, en): a calendar shows them out of tracker's pages
WORDS = {
    "name": ("Suivi des courriers — échéances", "Correspondence tracker — due dates"),
    "due": ("Échéance : {subject} ({body})", "Due: {subject} ({body})"),
    "commitment": ("Engagement promis : {words} ({body})", "Commitment due: {words} ({body})"),
    "meeting": ("Rendez-vous : {subject} ({body})", "Meeting: {subject} ({body})"),
    "phone": ("Appel : {subject} ({body})", "Call: {subject} ({body})"),
}


def routes() -> list[tuple[str, object]]:
    return [(rf"^{FEED}/(?P<token>[^/]+)\.ics$", token_feed), (rf"^{FEED}\.ics$", login_feed)]


def _config(datasette) -> Config:
    return datasette._tracker_config


def _word(key: str, language: str, **params: str) -> str:
    fr, en = WORDS[key]
    return (en if language == "en" else fr).format(**params)


def token_matches(config: Config, given: str) -> bool:
    """Whether ``given`` is the configured calendar secret (constant time; False without one)."""
    try:
        expected = config.calendar_token()
    except ConfigError:
        return False
    return bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


async def token_feed(datasette, request):
    if not token_matches(_config(datasette), request.url_vars["token"]):
        raise NotFound("calendar")
    return await _feed(datasette, request)


async def login_feed(datasette, request):
    config = _config(datasette)
    actor = (request.actor or {}).get("id") if request.actor else None
    if config.auth.password_hashes and actor is None:
        return Response.redirect(datasette.urls.path("/-/login"))
    if not config.auth.may_act(actor):
        return Response.text(t("coalition.calendar.refused", config.language), status=403)
    return await _feed(datasette, request)


# --- the feed -----------------------------------------------------------------------------------


async def _rows(datasette, sql: str) -> list[dict]:
    return [dict(r) for r in (await datasette.get_database(DATABASE_NAME).execute(sql)).rows]


async def events(datasette, config: Config) -> list[dict]:
    """{uid, day, summary, path} of every event: open threads' due days, pending commitments'
    due days, meetings and calls."""
    language = config.language
    found = []
    for row in await _rows(datasette, "select id, subject, correspondent, due_at from threads where status in "
                                      "('awaiting_reply', 'acknowledged') and due_at is not null order by due_at"):
        day = datetime.fromisoformat(row["due_at"]).astimezone(config.tz).date()
        found.append({"uid": f"due-{row['id']}", "day": day, "path": ("thread", row["id"]),
                      "summary": _word("due", language, subject=row["subject"] or "—", body=row["correspondent"])})
    rows = await datasette.get_database(DATABASE_NAME).execute(
        f"select {commitments.COLUMNS} from commitments {commitments.ORDER}")
    for item in commitments.shaped([tuple(r) for r in rows.rows], config):
        if item["status"] == "pending" and item["due_on"]:
            found.append({"uid": f"commitment-{item['id']}", "day": date.fromisoformat(item["due_on"]),
                          "path": ("commitments", item["correspondent_id"]),
                          "summary": _word("commitment", language, words=item["words"], body=item["correspondent"])})
    for row in await _rows(datasette, "select m.id, m.kind, m.on_date, m.thread_id, t.subject, t.correspondent "
                                      "from meetings m join threads t on t.id = m.thread_id "
                                      "where m.on_date is not null order by m.on_date, m.id"):
        found.append({"uid": f"meeting-{row['id']}", "day": date.fromisoformat(row["on_date"]),
                      "path": ("thread", row["thread_id"]),
                      "summary": _word("phone" if row["kind"] == "phone" else "meeting", language,
                                       subject=row["subject"] or "—", body=row["correspondent"])})
    return found


async def _feed(datasette, request) -> Response:
    config = _config(datasette)

    def url(kind: str, value: str) -> str:
        path = (datasette.urls.row(DATABASE_NAME, "threads", tilde_encode(value)) if kind == "thread"
                else datasette.urls.path(f"/-/commitments/{value}"))
        return datasette.absolute_url(request, path)

    found = [dict(e, url=url(*e["path"])) for e in await events(datasette, config)]
    body = render(found, _word("name", config.language), host=(config.coalition_domains or ["tracker.invalid"])[0])
    return Response(body, content_type="text/calendar; charset=utf-8",
                    headers={"cache-control": "private, no-store",
                             "content-disposition": 'inline; filename="tracker.ics"'})


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current)
            current = b""
        current += encoded
    out.append(current)
    return "\r\n ".join(part.decode("utf-8") for part in out)


def render(found: list[dict], name: str, host: str = "tracker.invalid", stamp: datetime | None = None) -> str:
    """The iCalendar text of ``found`` ({uid, day, summary, url}), CRLF line ends."""
    stamp = (stamp or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tracker//correspondence tracker//FR",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH", f"X-WR-CALNAME:{escape_text(name)}"]
    for event in found:
        lines += ["BEGIN:VEVENT", f"UID:{event['uid']}@{host}", f"DTSTAMP:{stamp}",
                  f"DTSTART;VALUE=DATE:{event['day']:%Y%m%d}",
                  f"DTEND;VALUE=DATE:{event['day'] + timedelta(days=1):%Y%m%d}",
                  f"SUMMARY:{escape_text(event['summary'])}", "TRANSP:TRANSPARENT"]
        if event.get("url"):
            lines.append(f"URL:{event['url']}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
