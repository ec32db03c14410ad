"""Delivery reports that tracker's own DSN reading cannot finish: flufl.bounce's detectors.

``parse_message`` reads message/delivery-status parts itself (``dsn.py``): they name the
recipient, its action and status exactly. Many bounces have no such part, or one that
names nobody (``Final-Recipient: LOCAL;``): qmail, Yahoo, Exchange 2003, old Postfix,
SMTP32, Lotus, GroupWise write the failed address in prose. For those, and only for
messages that look like delivery reports (``looks_like_report``: a cheap test on fields
already read, so ordinary mail pays nothing), a standard library ``Message`` is built and
handed to Mailman's flufl.bounce, and the original letter's Message-ID is looked for in
an attached message/rfc822 or text/rfc822-headers part, or in headers quoted in the text.

Nested reports: a feedback (ARF) or disposition report forwarded inside multipart/mixed
is noted under ``NESTED_REPORT`` in the message's headers (a name no real header can
have), so classification reads it from stored rows as well.
"""

from __future__ import annotations

import re

from .classify import DAEMON_SENDERS, NESTED_REPORT, POSTMASTER_SENDERS, looks_like_delivery_subject
from .dsn import _QUOTED_ID, _delivery_reports
from .headers import _BRACKETED, _is_address
from .records import Address, DeliveryReport, ParsedMessage

_NESTED_TYPES = {
    "message/feedback-report": "feedback-report",
    "message/disposition-notification": "disposition-notification",
}
# Only this much of a bounce is handed to the detectors (they read the text part by part).
MAX_REPORT_BYTES = 2 * 1024 * 1024
# A bounce's own words end where it copies the letter (its headers, or a line saying so).
_COPY_STARTS = re.compile(
    r"(?i)^\s*(?:>|(?:return-path|received|from|date|message-id|subject)\s*:|-+\s*(?:original message|"
    r"returned mail|below this line|this is a copy|original message follows|message d'origine))"
)
_COPY_FOLLOWS = re.compile(r"(?i)original message|message d'origine|message follows|copy of (?:the|your) message")
_ADDRESS_IN_TEXT = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
BODY_SCAN_CHARS = 6000
# More addresses than this in the prose is a list of something else, not of failures.
MAX_PROSE_FAILURES = 5
_RAW_FROM = re.compile(rb"(?im)^from:[ \t]*([^\r\n]*)")
_DAEMON_NAME = re.compile(r"(?i)\b(mailer[-_]?daemon|mail[-_.]delivery[-_.]system|postmaster)\b")
# Sendmail names the address an alias expanded to, then the one the sender used:
# "gail@a.example\n    (reason: ...)\n    (expanded from: <Gail@b.example>)".
_EXPANDED_FROM = re.compile(
    r"(?im)^[ \t]*<?([^\s<>@]+@[^\s<>]+?)>?[ \t]*\r?\n(?:[ \t]+\(reason:[^\n]*\n)*"
    r"[ \t]+\(expanded from:[ \t]*<?([^\s<>()]+@[^\s<>()]+?)>?\)"
)


def looks_like_report(message: ParsedMessage) -> bool:
    """True when ``message`` may be a delivery report whose failed recipients or original
    letter tracker has not read yet: worth building a stdlib Message for."""
    if message.is_delivery_report:
        return not _failed(message) or message.original_message_id is None
    if message.from_ is None:
        return True
    local = message.from_.address.rpartition("@")[0] or message.from_.address
    return local.startswith(DAEMON_SENDERS + POSTMASTER_SENDERS) or looks_like_delivery_subject(message.subject)


def complete_report(raw: bytes, message: ParsedMessage, defects: list[str]) -> None:
    """Add what flufl.bounce finds in a message that looks like a delivery report: failed
    recipients (when no DSN part named one), the original letter's Message-ID, a daemon
    sender whose From names no domain. Call only when ``looks_like_report`` is true."""
    if message.from_ is None:
        _daemon_sender(raw, message)
    import email  # here: ordinary mail never needs the stdlib parser

    stdlib = email.message_from_bytes(raw[:MAX_REPORT_BYTES])
    if not _failed(message):
        _add_failures(stdlib, message, defects)
    if not _failed(message):
        _add_dsn_fields_in_text(message)
    if not message.delivery_reports and (
        message.from_ is None or _daemon(message) or looks_like_delivery_subject(message.subject)
    ):
        _add_prose_failures(message)
    if message.original_message_id is None:
        message.original_message_id = _original_id(stdlib, message.body_text)


def note_nested_report(message: ParsedMessage) -> None:
    """Record a feedback or disposition report that came inside another part (every message;
    cheap: it reads the attachments already listed)."""
    for attachment in message.attachments:
        nested = _NESTED_TYPES.get(attachment.content_type)
        if nested:
            message.headers[NESTED_REPORT] = nested
            return


def _failed(message: ParsedMessage) -> bool:
    return any(r.action == "failed" or r.status.startswith("5") for r in message.delivery_reports)


def _daemon(message: ParsedMessage) -> bool:
    address = message.from_.address if message.from_ else ""
    return (address.rpartition("@")[0] or address).startswith(DAEMON_SENDERS)


def _add_dsn_fields_in_text(message: ParsedMessage) -> None:
    """DSN fields written into the human-readable text (XWall, whose own part is a
    message/xdelivery-status): the recipients they say failed."""
    text = message.body_text[:BODY_SCAN_CHARS]
    if "recipient:" not in text.lower():
        return
    known = {r.recipient for r in message.delivery_reports}
    for report in _delivery_reports(text):
        if (report.action == "failed" or report.status.startswith("5")) and report.recipient not in known:
            known.add(report.recipient)
            message.delivery_reports.append(report)


def _daemon_sender(raw: bytes, message: ParsedMessage) -> None:
    """``From: MAILER-DAEMON <>`` or ``<MAILER-DAEMON>``: the parser drops the unreadable
    address; keep the daemon's name as the sender, it says what the message is."""
    match = _RAW_FROM.search(raw[:65536])
    name = _DAEMON_NAME.search(match.group(1).decode("latin-1")) if match else None
    if name:
        message.from_ = Address(address=name.group(1).lower(), name=name.group(1))


def _add_failures(stdlib, message: ParsedMessage, defects: list[str]) -> None:
    from flufl.bounce import all_failures  # 35 ms of imports: only when a bounce comes

    try:
        temporary, permanent = all_failures(stdlib)
    except Exception as exc:  # noqa: BLE001 - a detector's fault must not lose the message
        defects.append(f"bounce detectors failed: {type(exc).__name__}")
        return
    known = {r.recipient for r in message.delivery_reports}
    # the bounce's own recipient is the letter's sender, not a failed recipient (a detector
    # reads "don't like sender a@b" as one)
    ours = {a.address for a in (*message.to, *message.cc) if a}
    used = {m.group(1).lower(): m.group(2).lower() for m in _EXPANDED_FROM.finditer(message.body_text[:BODY_SCAN_CHARS])}
    for action, found in (("failed", permanent), ("delayed", temporary - permanent)):
        for value in sorted(found):
            address = value.decode("latin-1").strip().strip("<>").lower()
            address = used.get(address, address)  # the address the sender used, as a DSN's Original-Recipient
            if _is_address(address) and address not in known and address not in ours:
                known.add(address)
                message.delivery_reports.append(
                    DeliveryReport(address, action=action, diagnostic=_line_naming(message.body_text, address))
                )


def _add_prose_failures(message: ParsedMessage) -> None:
    """A bounce in prose no detector knows ("Failed recipient: a@b", "Aan: a@b"): the
    addresses of its own text, above the copy of the letter, that are neither its sender,
    its recipients nor a mail system's."""
    own: list[str] = []
    for line in message.body_text[:BODY_SCAN_CHARS].splitlines():
        if _COPY_STARTS.match(line):
            break
        copy = _COPY_FOLLOWS.search(line)
        own.append(line[:copy.start()] if copy else line)
        if copy:
            break
    text = "\n".join(own).lower()
    ours = {a.address for a in (message.from_, *message.to, *message.cc) if a}
    found = [
        a for a in dict.fromkeys(_ADDRESS_IN_TEXT.findall(text))
        if a not in ours and not a.startswith(DAEMON_SENDERS + POSTMASTER_SENDERS) and _is_address(a)
    ]
    if 0 < len(found) <= MAX_PROSE_FAILURES:
        message.delivery_reports.extend(
            DeliveryReport(a, action="failed", diagnostic=_line_naming(text, a)) for a in found
        )


def _line_naming(text: str, address: str) -> str:
    at = text.lower().find(address)
    if at < 0:
        return ""
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return " ".join(text[start:end if end >= 0 else None].split())[:1000]


def _original_id(stdlib, body_text: str) -> str | None:
    """The Message-ID of the letter a bounce returns (``stdlib``: an email.message.Message):
    from an enclosed message or its headers, else from headers quoted in the text."""
    import email
    from email.message import Message

    for part in stdlib.walk():
        ctype = part.get_content_type()
        value = None
        if ctype in ("message/rfc822", "message/global"):
            enclosed = part.get_payload()
            if isinstance(enclosed, list) and enclosed and isinstance(enclosed[0], Message):
                value = enclosed[0].get("message-id")
        elif ctype == "text/rfc822-headers":
            payload = part.get_payload(decode=True) or b""
            value = email.message_from_bytes(payload).get("message-id")
        ids = _BRACKETED.findall(str(value or ""))
        if ids and ids[0].strip():
            return ids[0].strip()
    quoted = _QUOTED_ID.search(body_text)
    return quoted.group(1).strip() if quoted else None
