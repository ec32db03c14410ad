"""Small helpers that write the demo's messages: dates in French, headers, MIME parts, PDFs, DSNs."""

from __future__ import annotations

import base64
import calendar
import quopri
import random
from datetime import date, datetime, timedelta
from email.header import Header
from email.utils import formataddr
from .model import _header_date
from .world import EXCHANGE_POSTMASTER, MAILER_DAEMON, MONTHS_FR, REPORTING_MTA


# ---------------------------------------------------------------------------- small helpers

def french_date(day: date) -> str:
    """3 octobre 2024; 1er octobre 2024."""
    return f"{'1er' if day.day == 1 else day.day} {MONTHS_FR[day.month - 1]} {day.year}"


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later, or the last day of a shorter month."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(start: date, deadline: str) -> date:
    """The generator's own reading of a deadline (the truth must not come from tracker)."""
    count_text, _, unit = deadline.partition(" ")
    count = int(count_text)
    if unit.startswith("month"):
        return add_months(start, count)
    if unit.startswith("working"):
        import holidays

        off = holidays.country_holidays("FR", years=range(start.year, start.year + 3))
        day, left = start, count
        while left:
            day += timedelta(days=1)
            if day.weekday() < 5 and day not in off:
                left -= 1
        return day
    return start + timedelta(days=count)


def _of(salutation: str) -> str:
    """"Monsieur le Ministre" -> "du Ministre"; "Madame la Ministre" -> "de la Ministre"."""
    if salutation.startswith("Monsieur le "):
        return "du " + salutation[len("Monsieur le "):]
    if salutation.startswith("Madame la "):
        return "de la " + salutation[len("Madame la "):]
    return "de " + salutation


def encode_header(text: str, charset: str = "utf-8") -> str:
    """RFC 2047 when needed, folded at 76 characters."""
    if text.isascii():
        return text
    return Header(text, charset, header_name="Subject").encode(linesep="\n")


def address(name: str, addr: str, charset: str = "utf-8") -> str:
    if not name:
        return addr
    return formataddr((name, addr), charset=charset)


def latin1_safe(text: str) -> str:
    """What a Latin-1 mailer can carry: typographic quotes and ligatures flattened."""
    return (text.replace("’", "'").replace("œ", "oe").replace("Œ", "OE").replace("€", "EUR")
            .replace("“", '"').replace("”", '"').replace("…", "..."))


def encode_body(text: str, charset: str, cte: str) -> bytes:
    if charset == "iso-8859-1":
        text = latin1_safe(text)
    data = text.encode(charset)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    if cte == "base64":
        return base64.encodebytes(data)
    return data if data.endswith(b"\n") else data + b"\n"


def wrap_8bit(text: str, flowed: bool, width: int = 72) -> str:
    """Wrap long lines as mail clients do for 8bit parts: format=flowed soft breaks (a trailing
    space, RFC 3676) for UTF-8, hard breaks for the older Latin-1 and windows-1252 clients."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width + 4:
            out.append(line)
            continue
        chunks = wrap(line, width)
        out.extend(chunk + " " for chunk in chunks[:-1]) if flowed else out.extend(chunks[:-1])
        out.append(chunks[-1])
    return "\n".join(out)


def text_part(text: str, charset: str, cte: str, subtype: str = "plain") -> bytes:
    flowed = subtype == "plain" and cte == "8bit" and charset == "utf-8"
    if subtype == "plain" and cte == "8bit":
        text = wrap_8bit(text, flowed)
    head = (f"Content-Type: text/{subtype}; charset=\"{charset}\""
            + ("; format=flowed" if flowed else "")
            + f"\nContent-Transfer-Encoding: {cte}\n\n")
    return head.encode("ascii") + encode_body(text, charset, cte)


def html_of(text: str) -> str:
    from html import escape

    paragraphs = "".join(
        f"<p>{escape(p).replace(chr(10), '<br>')}</p>\n" for p in text.strip().split("\n\n")
    )
    return ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
            "charset=utf-8\"></head>\n<body style=\"font-family:Marianne,Arial,sans-serif\">\n"
            f"{paragraphs}</body></html>\n")


def multipart(subtype: str, boundary: str, parts: list[bytes], extra: str = "") -> bytes:
    head = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"{extra}\n\n".encode()
    body = b"This is a multi-part message in MIME format.\n\n"
    for part in parts:
        body += f"--{boundary}\n".encode() + part + (b"" if part.endswith(b"\n") else b"\n")
    return head + body + f"--{boundary}--\n".encode()


def attachment_part(data: bytes, filename: str, ctype: str = "application/pdf") -> bytes:
    return (f"Content-Type: {ctype}; name=\"{filename}\"\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\n"
            "Content-Transfer-Encoding: base64\n\n").encode() + base64.encodebytes(data)


def wrap(text: str, width: int = 88) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def make_pdf(text: str, title: str = "Courrier", padding: bytes = b"") -> bytes:
    """A minimal valid one-page PDF with a Helvetica text layer (pypdf extracts it).

    ``padding`` adds an unreferenced binary stream (scanned-letter weight for benchmarks)."""

    def esc(line: str) -> bytes:
        raw = line.encode("cp1252", "replace")
        return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    lines = wrap(text)[:56]
    content = b"BT\n/F1 10 Tf\n13 TL\n56 790 Td\n" + b"".join(
        b"(" + esc(line) + b") Tj T*\n" for line in lines
    ) + b"ET\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Title (" + esc(title) + b") /Producer (tracker demo generator) >>",
    ]
    if padding:
        objects.append(b"<< /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream")
    return pdf_file(objects, trailer=b"/Info 6 0 R")


def pdf_file(objects: list[bytes], *, trailer: bytes = b"",
             header: bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """A PDF file of ``objects`` (numbered from 1, the first the catalog), with its cross-reference
    table; ``trailer`` adds entries to the trailer dictionary."""
    out = bytearray(header)
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    extra = b" " + trailer if trailer else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, extra, xref)
    return bytes(out)


def delivery_report(rng: random.Random, mid: str, when: datetime, to: str, failed: str,
                    original: bytes, style: str) -> bytes:
    """A multipart/report DSN saying ``failed`` does not exist (5.1.1): Postfix style (the whole
    original attached) or Exchange style (French text, the original's headers only)."""
    remote = f"smtp.{failed.split('@')[1]}"
    original_headers = original.split(b"\n\n", 1)[0] + b"\n"
    if style == "postfix":
        mta, sender, subject = REPORTING_MTA, f"Mail Delivery System <{MAILER_DAEMON}>", \
            "Undelivered Mail Returned to Sender"
        diagnostic = f"smtp; 550 5.1.1 <{failed}>: Recipient address rejected: User unknown in virtual mailbox table"
        human = (f"This is the mail system at host {mta}.\n\n"
                 "I'm sorry to have to inform you that your message could not\n"
                 "be delivered to one or more recipients. It's attached below.\n\n"
                 f"<{failed}>: host {remote} said: 550 5.1.1 <{failed}>:\n"
                 "    Recipient address rejected: User unknown in virtual mailbox table\n")
        charset = "us-ascii"
        returned = (b"Content-Description: Undelivered Message\nContent-Type: message/rfc822\n"
                    b"Content-Transfer-Encoding: 8bit\n\n" + original)
    else:
        mta, sender = "PR1P264MB2404.FRAP264.PROD.OUTLOOK.COM", f"Microsoft Outlook <{EXCHANGE_POSTMASTER}>"
        subject = encode_header("Non remis : " + _subject_of(original_headers))
        diagnostic = "smtp; 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
        human = (f"Votre message n'a pas pu être remis à {failed}, car l'adresse est introuvable "
                 "ou ne peut pas recevoir de courrier.\n\nInformations de diagnostic pour les "
                 f"administrateurs :\n\nServeur de génération : {mta}\n{failed}\n"
                 "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n")
        charset = "utf-8"
        returned = (b"Content-Description: Undelivered Message Headers\n"
                    b"Content-Type: text/rfc822-headers\n\n" + original_headers)
    status = (f"Reporting-MTA: dns; {mta}\nX-Queue-ID: {rng.getrandbits(40):010X}\n"
              f"Arrival-Date: {_header_date(when - timedelta(seconds=30))}\n\n"
              f"Final-Recipient: rfc822; {failed}\nOriginal-Recipient: rfc822;{failed}\n"
              f"Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; {remote}\nDiagnostic-Code: {diagnostic}\n")
    headers = [
        "Return-Path: <>",
        f"Date: {_header_date(when, utc=True)}",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <{mid}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
    ]
    body = multipart("report", f"{rng.getrandbits(40):010X}.{int(when.timestamp())}/{mta}", [
        f"Content-Description: Notification\nContent-Type: text/plain; charset={charset}\n"
        f"Content-Transfer-Encoding: 8bit\n\n".encode() + human.encode(charset),
        b"Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n" + status.encode(),
        returned,
    ], extra="; report-type=delivery-status")
    return ("\n".join(headers) + "\n").encode() + body


def _subject_of(headers: bytes) -> str:
    """The decoded Subject of raw headers (to quote it in a report)."""
    from email.header import decode_header, make_header
    from email.parser import BytesHeaderParser

    value = BytesHeaderParser().parsebytes(headers).get("Subject", "")
    return str(make_header(decode_header(value)))
