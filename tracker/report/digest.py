"""The weekly digest: one email that says what is overdue, what falls due soon, and
what came and went this week. Rendered with Jinja2 from ``templates/email/`` (HTML
with inline styles, and a plain-text twin) and sent over SMTP.

Decisions:

- Once per ISO week (of the user's time zone): a run sends when today is on or after
  ``digest.weekday`` and the ``digests`` table has no row for this week. The row (with
  the Message-ID) is written only after the SMTP server accepted the message, so a
  failed send is retried by the next run.
- ``--to`` sends a copy to someone else: the weekly check still applies (``--force``
  skips it), and the copy is not recorded, so the bureau still gets the week's digest.
- "This week" is the seven days before the run (a Monday digest covers the week just
  ended), not the ISO week that has just begun.
- Only subjects, dates, correspondents and addresses go into the email, never bodies.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import sqlite_utils

from .. import i18n
from ..config import WEEKDAYS, Config, ConfigError
from ..parse.ocr import tesseract_missing
from ..store import syncstate
from ..thread import commitments, desk
from . import reports as report

class DigestError(Exception):
    """The digest could not be sent; the message is one line that says what to check."""


# --- what goes in it -----------------------------------------------------------------------


def iso_week(moment: datetime) -> str:
    """"2026-W48": the ISO week of ``moment`` (already in the user's time zone)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _link(config: Config, thread_id: str) -> str:
    from urllib.parse import quote

    return f"{config.digest.base_url}/tracker/threads/{quote(thread_id, safe='')}"


def _thread_row(thread: report.Thread, config: Config) -> dict[str, Any]:
    language, tz = config.language, config.tz
    return {
        "id": thread.id,
        "correspondent": thread.correspondent,
        "recipients": ", ".join(thread.recipients),
        "subject": thread.subject,
        "status": i18n.t(f"status.{thread.status}", language),
        "days_waiting": thread.days_waiting,
        "sent": i18n.format_date(thread.state.first_unanswered_at or thread.state.opened_at, language, tz),
        "due": i18n.format_date(thread.state.due_at, language, tz),
        "url": _link(config, thread.id),
    }


def build(db: sqlite_utils.Database, config: Config, now: datetime | None = None,
          by_correspondent: bool = False) -> dict[str, Any]:
    """The digest's content at ``now`` (default: now): the template context, documented by
    its keys: ``overdue``, ``due_soon``, ``replies``, ``sent``, ``bounced`` (lists of rows with
    correspondent, recipients, subject, dates, url and ``new``: not in last week's digest's
    list), ``stale`` (folders), ``subject``; ``grouped``: with ``by_correspondent``, every
    list is ordered by correspondent and the templates head each correspondent's rows."""
    now = (now or config.now()).astimezone(config.tz)
    language, tz = config.language, config.tz
    threads = report.thread_states(db, config, now)
    week_start = now - timedelta(days=7)
    soon = now + timedelta(days=config.digest.due_soon_days)

    overdue = sorted((t for t in threads if t.overdue), key=lambda t: (t.state.first_unanswered_at, t.id))
    due_soon = sorted(
        (t for t in threads if t.status in ("awaiting_reply", "acknowledged") and not t.overdue
         and t.state.due_at is not None and t.state.due_at <= soon),
        key=lambda t: (t.state.due_at, t.id),
    )
    replies, sent = [], []
    for thread in threads:
        for message in thread.messages:
            moment = datetime.fromisoformat(message["date"])
            if moment <= week_start:
                continue
            row = dict(_thread_row(thread, config), date=i18n.format_date(moment, language, tz))
            if message["kind"] == "reply" and message["direction"] == "incoming":
                replies.append((moment, row))
            elif message["kind"] == "letter":
                sent.append((moment, row))
    bounced = [t for t in threads if t.status == "bounced"]
    stale = [
        {"folder": s.folder, "date": i18n.format_date(report._parse_stored(s.last_success_at), language, tz)}
        for s in syncstate.stale_folders(db, now)
    ]
    subject = ", ".join(
        [
            i18n.plural("digest.subject.overdue", len(overdue), language),
            i18n.plural("digest.subject.replies", len(replies), language),
        ]
    )
    subject = subject[:1].upper() + subject[1:]  # "Aucun courrier en retard, ..."
    waiting = desk.waiting_count(db)
    last_soon = week_start + timedelta(days=config.digest.due_soon_days)
    overdue_rows = [dict(_thread_row(t, config), new=t.state.due_at is not None and t.state.due_at > week_start)
                    for t in overdue]
    # last week's digest listed as due soon what fell due up to its own horizon
    due_soon_rows = [dict(_thread_row(t, config), new=t.state.due_at > last_soon) for t in due_soon]
    replies = [row for _, row in sorted(replies, key=lambda pair: pair[0])]
    sent = [row for _, row in sorted(sent, key=lambda pair: pair[0])]
    bounced_rows = [_thread_row(t, config) for t in bounced]
    if by_correspondent:
        # sorted() keeps each correspondent's rows in their own order
        overdue_rows, due_soon_rows, replies, sent, bounced_rows = (
            sorted(rows, key=lambda row: row["correspondent"] or "")
            for rows in (overdue_rows, due_soon_rows, replies, sent, bounced_rows))
    return {
        "grouped": by_correspondent,
        "subject": subject,
        # said first: what only a person can do, and where (the desk's triage page)
        "waiting": {"count": waiting, "text": i18n.plural("digest.waiting", waiting, language),
                    "url": f"{config.digest.base_url}/-/desk/triage" if waiting else None},
        "coalition": config.coalition_name,
        "week": iso_week(now),
        "week_number": now.isocalendar()[1],
        "today": i18n.format_date(now, language),
        "due_soon_days": config.digest.due_soon_days,
        "overdue": overdue_rows,
        "due_soon": due_soon_rows,
        "replies": replies,
        "sent": sent,
        "bounced": bounced_rows,
        "stale": stale,
        "stale_never": [s["folder"] for s in stale if not s["date"]],
        "stale_dated": [s for s in stale if s["date"]],
        "ocr_missing": _ocr_missing(config),
        "ocr_failed": _ocr_failed(db, language),
        **_commitments(db, config, now),
        **_unacknowledged(threads, config),
    }


def _commitments(db: sqlite_utils.Database, config: Config, now: datetime) -> dict[str, Any]:
    """Pending commitments past due, and due in the next 30 days, with the sections' words."""
    past, soon = commitments.due(db, config, now)
    row = lambda c: {"correspondent": c["correspondent"], "words": c["words"], "said_by": c["said_by"],
                     "due": i18n.format_date(datetime.fromisoformat(c["due_on"]), config.language),
                     "url": _link(config, c["thread_id"]) if c["thread_id"] else None}
    words = {key.replace(".", "_"): commitments.word(key, config.language)
             for key in ("past_due", "past_due.none", "due_soon", "due_soon.none")}
    return {"commitments_past_due": [row(c) for c in past], "commitments_due_soon": [row(c) for c in soon],
            "commitment_words": words}


def _unacknowledged(threads: list, config: Config) -> dict[str, Any]:
    """The one line on letters whose acknowledgement of receipt is overdue (none: no line)."""
    late = [t for t in threads if t.acknowledgement_overdue]
    if not late:
        return {"unacknowledged": None}
    count = len(late)
    text = (f"{count} courrier(s) sans accusé de réception dans le délai indiqué (tracker compte les dates, "
            "il ne donne pas d'avis juridique)" if config.language == "fr" else
            f"{count} letter(s) with no acknowledgement of receipt within the delay set (tracker computes "
            "dates, it gives no legal advice)")
    return {"unacknowledged": {"count": count, "text": text,
                               "threads": [dict(_thread_row(t, config)) for t in late]}}


def _ocr_missing(config: Config) -> str | None:
    """The warning line when scans cannot be read (no Tesseract, or no French model)."""
    missing = tesseract_missing(config.ocr.languages)
    if missing is None or config.language != "fr":
        return missing
    return ("Tesseract n'est pas installé ou lui manque une langue : les courriers scannés ne sont pas "
            "lus (installer les paquets Debian tesseract-ocr et tesseract-ocr-fra, puis lancer tracker ocr)")


# store.ocr.REASONS' words -> their label key
OCR_REASON_KEYS = {
    "run interrupted": "run_interrupted", "bytes missing": "bytes_missing", "over the memory cap": "memory_cap",
    "OCR process crashed": "crashed", "timed out": "timed_out", "unreadable file": "unreadable",
    "no text read": "no_text", "other": "other",
}


def _ocr_failed(db, language: str) -> str | None:
    """The warning line when scanned documents failed for good (read three times): their text
    is missing from search and from the evidence that places answers. Counts and reasons only
    (never a file name); None when nothing failed."""
    from ..store import ocr as ocr_queue

    counts = ocr_queue.failed_for_good(db)
    if not counts:
        return None
    reasons = ", ".join(f"{count} {i18n.t('digest.ocr_reason.' + OCR_REASON_KEYS.get(words, 'other'), language)}"
                        for words, count in counts.items())
    return i18n.plural("digest.ocr_failed", sum(counts.values()), language, reasons=reasons)


def render(context: dict[str, Any], config: Config) -> tuple[str, str]:
    """(HTML, text) of the digest from ``templates/email/digest.html`` and ``digest.txt``."""
    return (
        report.render_template("email/digest.html", config.language, **context),
        report.render_template("email/digest.txt", config.language, **context),
    )


def compose(
    context: dict[str, Any], config: Config, recipients: list[str], now: datetime | None = None
) -> EmailMessage:
    """The email: multipart/alternative (text, then HTML), with a fresh Message-ID."""
    html, text = render(context, config)
    sender = config.digest.from_
    message = EmailMessage()
    message["Subject"] = context["subject"]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now or datetime.now(timezone.utc))
    # short enough that the header is never folded
    message["Message-ID"] = f"<digest.{uuid.uuid4().hex[:20]}@{sender.rpartition('@')[2] or 'tracker.invalid'}>"
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = config.language
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def preview(message: EmailMessage) -> str:
    """The email as a person reads it (``--dry-run``): its headers, then each part decoded."""
    lines = [f"{name}: {value}" for name, value in message.items()]
    for part in message.iter_parts():
        lines += ["", f"----- {part.get_content_type()} -----", part.get_content().rstrip("\n")]
    return "\n".join(lines)


# --- sending -------------------------------------------------------------------------------


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """Log in with AUTH PLAIN in UTF-8 (RFC 4616) when the server offers it: smtplib's own
    ``login`` cannot encode a password beyond ASCII. Other servers get ``client.login``."""
    client.ehlo_or_helo_if_needed()
    if "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
        client.login(username, password)
        return
    token = base64.b64encode(f"\0{username}\0{password}".encode("utf-8")).decode("ascii")
    code, response = client.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, response)


def send(message: EmailMessage, config: Config) -> None:
    """Hand ``message`` to the configured SMTP server; raise ``DigestError`` (one line) when
    it cannot."""
    smtp = config.smtp
    if smtp is None:
        raise DigestError(f"{config.path}: no [smtp] section; add one to send the digest (or use --dry-run)")
    context = ssl.create_default_context(cafile=smtp.ca_file) if smtp.security != "none" else None
    where = f"SMTP server {smtp.host}:{smtp.port}"
    try:
        password = smtp.password()
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.username and password is not None:
                _login(client, smtp.username, password)
            refused = client.send_message(message)
        if refused:
            raise DigestError(f"{where} refused {', '.join(sorted(refused))}; check digest.to")
    except ConfigError as exc:
        raise DigestError(str(exc)) from None
    except smtplib.SMTPAuthenticationError:
        raise DigestError(f"{where} rejected the login of {smtp.username}; check the password") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DigestError(f"{where} does not support {exc}; check smtp.security") from None
    except UnicodeEncodeError:
        raise DigestError(f"{where} offers no AUTH PLAIN, which a password beyond ASCII needs") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DigestError(f"{where} refused every recipient ({', '.join(exc.recipients)}); check digest.to") from None
    except smtplib.SMTPResponseException as exc:
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        raise DigestError(f"{where} answered {exc.smtp_code} {detail.splitlines()[0] if detail else ''}".rstrip()) from None
    except ssl.SSLError as exc:
        raise DigestError(f"{where}: TLS failed ({exc.reason or exc}); check smtp.security and smtp.ca_file") from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        if isinstance(exc, (socket.timeout, TimeoutError)):
            reason = "timed out"
        raise DigestError(f"cannot send the digest through {where}: {reason}; check smtp.host, smtp.port and the network") from None


@dataclass
class Outcome:
    """What ``run`` did: ``sent``, ``dry_run``, ``already_sent`` or ``not_yet``."""

    action: str
    iso_week: str
    message: EmailMessage | None = None
    detail: str = ""


def run(
    db: sqlite_utils.Database,
    config: Config,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    to: list[str] | None = None,
    force: bool = False,
) -> Outcome:
    """Send this week's digest if it is due (see the module docstring); ``dry_run`` builds it
    and sends nothing. Raises ``DigestError`` when it cannot be sent (nothing is recorded)."""
    now = (now or datetime.now(timezone.utc)).astimezone(config.tz)
    week = iso_week(now)
    recipients = list(to) if to else list(config.digest.to)
    if not recipients:
        raise DigestError(f"{config.path}: digest.to is empty; list who gets the digest, or pass --to ADDR")
    if not config.digest.from_:
        raise DigestError(f"{config.path}: digest.from is empty; set the digest's sender address")
    if not (force or dry_run):
        already = db.execute("select sent_at, message_id from digests where iso_week = ?", [week]).fetchone()
        if already is not None:
            return Outcome("already_sent", week, detail=f"{week}: already sent on {already[0]} ({already[1]})")
        if now.weekday() < WEEKDAYS.index(config.digest.weekday):
            return Outcome("not_yet", week, detail=f"{week}: the digest goes out from {config.digest.weekday}")
    message = compose(build(db, config, now, by_correspondent=config.digest.group == "correspondent"),
                      config, recipients, now)
    if dry_run:
        return Outcome("dry_run", week, message)
    send(message, config)
    if not to:
        with db.conn:
            db.conn.execute(
                "insert or replace into digests (iso_week, sent_at, message_id, recipients, subject) "
                "values (?, ?, ?, ?, ?)",
                [
                    week,
                    datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    message["Message-ID"].strip("<>"),
                    ", ".join(recipients),
                    str(message["Subject"]),
                ],
            )
    return Outcome("sent", week, message, detail=f"{week}: sent to {', '.join(recipients)}")
