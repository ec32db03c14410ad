"""Raw bytes -> a ParsedMessage. Pure: no database, no network, no logging of content.

flanker's MIME scanner (what ``mime.from_string`` runs) finds the tree of parts and
reads part headers (content types, RFC 2231 file names); the rest is read from the
original bytes here, because flanker's conveniences lose what tracker needs:

- it turns the whole message into text by *guessing* its encoding when it is not
  UTF-8, which garbles 8-bit windows-1252 bodies ("déjà" -> "dÚjÓ" or "dйjа"). We
  hand it the bytes as Latin-1 (one character per byte: nothing is guessed and its
  offsets are byte offsets) and decode each part with its *declared* charset;
- ``message.references`` drops In-Reply-To when References is present and
  ``message_id`` returns None for short ids such as ``<a@b>``: the top-level
  headers are read by ``_read_headers`` below, ids kept without angle brackets;
- ``address.parse_list`` returns nothing when one entry of a list is bad: we then
  read the entries with the standard library's ``getaddresses`` and keep the good
  ones (plain ``Name <a@b>`` lists skip flanker's slow parser altogether);
- its scanner copies the message into a StringIO (4 bytes a character); ours reads
  the text in place, so a 40 MB message costs one extra 40 MB string, no more.

When flanker cannot build the tree (truncated or absurd MIME), the standard
library's tolerant parser is used instead, with a defect recorded. Whatever
survives a problem is noted in ``ParsedMessage.defects``; what cannot be read
at all raises ``ParseFailure`` with the reason, and nothing else is raised.
"""
from __future__ import annotations

import hashlib
import re
from .attachments import _attachment
from .bounces import complete_report, looks_like_report, note_nested_report
from .dsn import _delivery_reports, _QUOTED_ID, _STATUS
from .headers import _addresses, _BRACKETED, _date, _Headers, _ids, _is_address, _message_id, normalize_subject, _read_headers
from .limits import _EXCHANGE_KEPT, KEPT_HEADERS, LARGE_HEADER_BYTES, MAX_HEADER_BYTES, MAX_HEADER_VALUE_CHARS, MAX_MESSAGE_BYTES, MAX_REFERENCES, ParseFailure
from .mime import _Leaf, _leaves, _short
from .records import Address, DeliveryReport, ParsedMessage
from .text import _cap, _clean, _cut, _decode_text, decode_words, html_to_text, _text, _transfer_decode


# ---------------------------------------------------------------------------
# the whole message


def parse_message(raw: bytes) -> ParsedMessage:
    """Read one message's raw bytes into a ParsedMessage.

    Never raises anything but ParseFailure, whose text says why the bytes are
    not a readable message (the caller quarantines them with that reason).
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ParseFailure(f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise ParseFailure("empty message")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ParseFailure(
            f"message larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MB: kept raw, not read"
        )
    try:
        return _parse(raw)
    except ParseFailure:
        raise
    except RecursionError:
        raise ParseFailure("message structure nested too deeply to read") from None
    except MemoryError:
        raise ParseFailure("message too large to read in memory") from None
    except Exception as exc:  # noqa: BLE001 - a message's fault must surface as a reason
        raise ParseFailure(f"unexpected parser error: {type(exc).__name__}: {_short(exc)}") from exc


def _parse(raw: bytes) -> ParsedMessage:
    defects: list[str] = []
    sha = hashlib.sha256(raw).hexdigest()
    head = _read_headers(raw, defects)
    if not head.fields:
        raise ParseFailure("no mail headers: the data starts with an empty line")
    if head.body_offset > LARGE_HEADER_BYTES:
        defects.append(f"unusually large header section ({head.body_offset // 1024} KB)")
    if b"\x00" in raw[: head.body_offset]:
        defects.append("NUL bytes in the header section")
    if len(raw) - head.body_offset > 0 and b"\x00" in raw[head.body_offset:]:
        defects.append("NUL bytes in the body")

    content_type_raw = head.first("content-type")
    hint = None
    if content_type_raw:
        match = re.search(rb"charset\s*=\s*\"?([A-Za-z0-9_.:+-]+)", content_type_raw, re.I)
        hint = match.group(1).decode("ascii") if match else None

    def text_of(name: str) -> str | None:
        value = head.first(name)
        return None if value is None else _text(value, name, defects, hint)

    for name in ("message-id", "from", "date", "subject", "in-reply-to", "references", "sender"):
        if len(head.all(name)) > 1:
            defects.append(f"{len(head.all(name))} {name} headers: the first is used")

    message_id = _message_id(text_of("message-id"), defects)
    synthetic = message_id is None
    if synthetic:
        message_id = f"{sha[:32]}@tracker.invalid"
        if head.first("message-id") is None:
            defects.append("no Message-ID header")

    in_reply_to_value = text_of("in-reply-to")
    in_reply_to_ids = _ids(in_reply_to_value or "")
    if in_reply_to_value and not in_reply_to_ids:
        defects.append("In-Reply-To without a usable Message-ID")
    references = _ids(text_of("references") or "")
    if message_id in references or message_id in in_reply_to_ids:
        defects.append("the message refers to itself")
        references = [ref for ref in references if ref != message_id]
        in_reply_to_ids = [ref for ref in in_reply_to_ids if ref != message_id]
    if len(references) > MAX_REFERENCES:
        defects.append(f"References cut to {MAX_REFERENCES} ids (first and latest kept)")
        references = references[:1] + references[-(MAX_REFERENCES - 1):]

    def addresses(name: str) -> list[Address]:
        values = [_text(value, name, defects, hint) for value in head.all(name)]
        return _addresses(values, name.capitalize(), defects)

    froms = _addresses(
        [text_of("from")] if head.first("from") is not None else [], "From", defects
    )
    senders = _addresses(
        [text_of("sender")] if head.first("sender") is not None else [], "Sender", defects
    )
    subject_value = text_of("subject")
    subject = _clean(decode_words(subject_value, defects)) if subject_value else ""
    subject = subject[:MAX_HEADER_VALUE_CHARS]

    kept: dict[str, str] = {}
    for name, value in head.fields:
        if name in kept:
            continue
        if name in KEPT_HEADERS or _EXCHANGE_KEPT.match(name):
            kept[name] = _clean(decode_words(_text(value, name, defects, hint)))[:MAX_HEADER_VALUE_CHARS]

    message = ParsedMessage(
        message_id=message_id,
        sha256=sha,
        size=len(raw),
        message_id_synthetic=synthetic,
        in_reply_to=in_reply_to_ids[0] if in_reply_to_ids else None,
        references=references,
        from_=froms[0] if froms else None,
        sender=senders[0] if senders else None,
        reply_to=addresses("reply-to"),
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        date=_date(text_of("date"), defects),
        subject=subject,
        subject_normalized=normalize_subject(subject),
        headers=kept,
    )
    if head.first("from") is not None and len(froms) > 1:
        defects.append("From names several mailboxes: the first is used")
    _read_body(raw, head, message, defects)
    note_nested_report(message)
    if looks_like_report(message):  # only these pay for a stdlib Message (flufl.bounce)
        complete_report(raw, message, defects)
    message.defects = list(dict.fromkeys(defects))  # once each, in order
    return message


def _read_body(raw: bytes, head: _Headers, message: ParsedMessage, defects: list[str]) -> None:
    """Body text, HTML, attachments and delivery reports, from one pass over the leaves."""
    texts: list[str] = []
    html_body: str | None = None
    dsn_texts: list[str] = []
    enclosed_headers: list[bytes] = []
    named_inline: list[_Leaf] = []
    top_type = message.headers.get("content-type", "").lower()
    report = top_type.startswith("multipart/report") and "delivery-status" in top_type
    for leaf in _leaves(raw, defects, head):
        ctype = leaf.content_type
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            report = True
            data = _transfer_decode(leaf.raw, leaf.encoding, "a delivery status", defects)
            dsn_texts.append(_decode_text(data, "utf-8", "a delivery status", defects, quiet=True))
            continue
        if ctype in ("message/rfc822", "message/global", "text/rfc822-headers"):
            enclosed_headers.append(bytes(leaf.raw[:MAX_HEADER_BYTES]))
            if ctype == "text/rfc822-headers" or leaf.headers_only:
                continue
        is_attachment = leaf.disposition == "attachment" or bool(leaf.filename)
        if ctype == "text/plain" and leaf.filename and leaf.disposition != "attachment":
            named_inline.append(leaf)  # the body if there is no other (a name alone is no proof)
            continue
        if ctype in ("text/plain", "text/html") and not is_attachment:
            data = _transfer_decode(leaf.raw, leaf.encoding, f"the {ctype} body", defects)
            text = _decode_text(_cut(data, ctype, defects), leaf.charset, f"the {ctype} body", defects)
            if ctype == "text/plain":
                texts.append(text)
            elif html_body is None:
                html_body = text
            continue
        if ctype.startswith("multipart/"):
            continue  # an empty multipart (no parts) read as a leaf
        if ctype == "text/plain" and len(leaf.raw) < 4096 and not bytes(leaf.raw).strip():
            continue
        message.attachments.append(_attachment(leaf, defects))
    if not texts and named_inline:
        first = named_inline.pop(0)
        data = _transfer_decode(first.raw, first.encoding, "the text/plain body", defects)
        texts.append(_decode_text(data, first.charset, "the text/plain body", defects))
    message.attachments.extend(_attachment(leaf, defects) for leaf in named_inline)
    body = "\n".join(t for t in texts if t.strip()) if len(texts) > 1 else (texts[0] if texts else "")
    if not body.strip() and html_body:
        body = html_to_text(html_body)
    message.body_text = _cap(body.replace("\r\n", "\n"), "body text", defects)
    message.body_html = _cap(html_body, "HTML body", defects) if html_body is not None else None

    failed = message.headers.get("x-failed-recipients")
    if report or failed:
        message.is_delivery_report = True
        for text in dsn_texts:
            message.delivery_reports.extend(_delivery_reports(text))
        if failed and not message.delivery_reports:
            # a bounce without a delivery-status part: the status is in the human text
            status = _STATUS.search(message.body_text)
            line = ""
            if status:
                start = message.body_text.rfind("\n", 0, status.start()) + 1
                end = message.body_text.find("\n", status.end())
                line = message.body_text[start:end if end >= 0 else None]
            for addr in re.split(r"[,\s]+", failed):
                addr = addr.strip("<>").lower()
                if _is_address(addr):
                    message.delivery_reports.append(
                        DeliveryReport(
                            addr,
                            action="failed",
                            status=status.group(1) if status else "",
                            diagnostic=" ".join(line.split())[:1000],
                        )
                    )
        if report and not dsn_texts:
            defects.append("delivery report without a delivery-status part")
        for enclosed in enclosed_headers:
            try:
                ids = _BRACKETED.findall(
                    (_read_headers(enclosed, None).first("message-id") or b"").decode("latin-1")
                )
            except ParseFailure:
                continue
            if ids and ids[0].strip():
                message.original_message_id = ids[0].strip()
                break
        if message.original_message_id is None:
            # bounces that quote the original message as text
            quoted = _QUOTED_ID.search(message.body_text)
            if quoted:
                message.original_message_id = quoted.group(1).strip()
