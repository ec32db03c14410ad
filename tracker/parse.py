"""Raw bytes -> a ParsedMessage (flanker). Pure: no database, no network.

FIRST DRAFT: the parse owner hardens this module (charsets, addresses, dates,
attachments, PDFs, DSNs, hostile input).
"""

from __future__ import annotations

import hashlib
import re
from email.utils import parsedate_to_datetime

from flanker import mime
from flanker.addresslib import address as flanker_address

from .records import Address, ParsedMessage


class ParseFailure(Exception):
    """The bytes cannot be read as a message; the text is the quarantine reason."""


_ID_RE = re.compile(r"<([^<>\s]+)>")


def _ids(value: str | None) -> list[str]:
    return _ID_RE.findall(value or "")


def _addresses(value: str | None) -> list[Address]:
    if not value:
        return []
    parsed = flanker_address.parse_list(value)
    return [Address(a.address.lower(), a.display_name or "") for a in parsed]


def normalize_subject(subject: str) -> str:
    return re.sub(r"^\s*((re|tr|fwd?|aw)\s*:\s*)+", "", subject or "", flags=re.I).strip().lower()


def parse_message(raw: bytes) -> ParsedMessage:
    if not raw or not raw.strip():
        raise ParseFailure("empty message")
    sha = hashlib.sha256(raw).hexdigest()
    msg = mime.from_string(raw)
    ids = _ids(msg.headers.get("Message-Id"))
    message_id = ids[0] if ids else f"{sha[:32]}@tracker.invalid"
    date = None
    try:
        date = parsedate_to_datetime(msg.headers.get("Date")) if msg.headers.get("Date") else None
    except (TypeError, ValueError):
        date = None
    text_parts = [p for p in msg.walk(with_self=True) if p.content_type == "text/plain"]
    froms = _addresses(msg.headers.get("From"))
    subject = msg.headers.get("Subject") or ""
    return ParsedMessage(
        message_id=message_id,
        sha256=sha,
        size=len(raw),
        message_id_synthetic=not ids,
        in_reply_to=(_ids(msg.headers.get("In-Reply-To")) or [None])[0],
        references=_ids(msg.headers.get("References")),
        from_=froms[0] if froms else None,
        to=_addresses(msg.headers.get("To")),
        cc=_addresses(msg.headers.get("Cc")),
        date=date,
        subject=subject,
        subject_normalized=normalize_subject(subject),
        body_text=text_parts[0].body if text_parts else "",
        is_delivery_report=msg.content_type == "multipart/report",
    )
