"""The top-level header section: fields, encoded words, ids, addresses, dates, subjects."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import getaddresses, parsedate_to_datetime, parsedate_tz
from .limits import MAX_HEADER_BYTES, MAX_ID_LENGTH, ParseFailure
from .records import Address
from .text import _clean, decode_words

from flanker.addresslib import address as flanker_address
from flanker.addresslib.address import EmailAddress



# ---------------------------------------------------------------------------
# header section


# one header field: its name, and its value with any continuation lines
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)\n?")
_FOLD = re.compile(rb"[ \t]*\r?\n[ \t]+")
_MBOX_FROM = re.compile(rb"^From [^\r\n]*\r?\n")


@dataclass
class _Headers:
    """The top-level header fields, in order, values still undecoded bytes."""

    fields: list[tuple[str, bytes]] = field(default_factory=list)
    body_offset: int = 0

    def all(self, name: str) -> list[bytes]:
        return [value for key, value in self.fields if key == name]

    def first(self, name: str) -> bytes | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None


def _read_headers(raw: bytes, defects: list[str] | None) -> _Headers:
    """Split the header section of ``raw`` into (lower-case name, unfolded value) pairs.

    Stops at the first empty line, or (like the standard library) at the first
    line that is neither a header nor a continuation. ``defects`` None means
    "quietly" (used for enclosed messages).
    """
    result = _Headers()
    # every match is bounded by the header budget: a 60 MB folded field is refused after
    # reading 1 MB of it, not matched (and copied) whole first
    match = _MBOX_FROM.match(raw, 0, MAX_HEADER_BYTES)
    # an mbox "From " line left in front of a single message is not a header
    start = pos = match.end() if match else 0
    size = len(raw)
    bound = min(size, start + MAX_HEADER_BYTES + 1)
    while pos < size:
        if raw.startswith(b"\n", pos) or raw.startswith(b"\r\n", pos):
            pos = raw.index(b"\n", pos) + 1  # the empty line between headers and body
            break
        field_match = _FIELD.match(raw, pos, bound)  # cut at the bound: refused below
        if field_match is None:
            if raw[pos:pos + 1] in (b" ", b"\t") and not result.fields:
                if defects is not None:
                    defects.append("header section starts with a continuation line")
                newline = raw.find(b"\n", pos)
                pos = size if newline < 0 else newline + 1
                continue
            if not result.fields:
                raise ParseFailure(
                    "no mail headers: the data does not start with 'Name: value' lines"
                )
            if defects is not None:
                defects.append("header section ends without an empty line")
            break  # this line starts the body, as the standard library reads it
        value = field_match.group(2)
        if b"\n" in value:
            value = _FOLD.sub(b" ", value)
        result.fields.append((field_match.group(1).decode("ascii").lower(), value.strip()))
        pos = field_match.end()
        if pos - start > MAX_HEADER_BYTES:
            raise ParseFailure(
                f"header section larger than {MAX_HEADER_BYTES // 1024} KB: not a normal message"
            )
    result.body_offset = min(pos, size)
    return result


# ---------------------------------------------------------------------------
# Message-IDs

_BRACKETED = re.compile(r"<([^<>]*)>")
_ID_SHAPE = re.compile(r"\S+@\S+")
_SPACE = re.compile(r"\s")


def _valid_id(candidate: str) -> bool:
    return len(candidate) <= MAX_ID_LENGTH and _ID_SHAPE.fullmatch(candidate) is not None


def _ids(value: str) -> list[str]:
    """Valid ids in a References or In-Reply-To value, without brackets, deduplicated.

    Only bracketed ids count: a bare word there is as often an address or a
    date as an id (``In-Reply-To: someone@yahoo.com``).
    """
    found = _BRACKETED.findall(value)
    seen: set[str] = set()
    ids = []
    for candidate in found:
        candidate = candidate.strip()
        if _valid_id(candidate) and candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)
    return ids


def _message_id(value: str | None, defects: list[str]) -> str | None:
    """The id of a Message-ID value without brackets; None (the caller derives one from the
    bytes) when it is no id: empty, a lone quote, spaces, no "@". Taking such a value as the
    message's identity would make a second, different message with it "already known"."""
    if value is None:
        return None
    found = _BRACKETED.findall(value)
    # a truncated "<abc@d" keeps no stray bracket: replies cite it as <abc@d>
    candidate = (found[0] if found else value.strip().strip("<>")).strip()
    if candidate and "@" not in candidate and not _SPACE.search(candidate):
        defects.append("Message-ID without @ replaced by one derived from the bytes")
        return None
    if not _valid_id(candidate) or _SPACE.search(candidate):
        defects.append("unreadable Message-ID replaced by one derived from the bytes")
        return None
    if not found:
        defects.append("Message-ID without angle brackets")
    return candidate


# ---------------------------------------------------------------------------
# addresses


_ADDRESS_WORD = re.compile(r"(?<![^\s])[^\s<>,;\"@]+@[^\s<>,;\"@]+\.[^\s<>,;\"@]+(?![^\s])")
_ADDRESS_SHAPE = re.compile(r"[^\s<>,;\"]+@[^\s<>,;\"@]+")
# the shapes nearly every address has: 'Name <a@b>', '"Name" <a@b>', '<a@b>', 'a@b'
_SIMPLE_MAILBOX = re.compile(
    r"\s*(?:\"([^\"\\]*)\"|([^\"<>,;:@\\()\[\]]*?))\s*<([^<>\s,;\"@()]+@[^<>\s,;\"@()]+)>\s*"
    r"|\s*([^<>\s,;\"@()]+@[^<>\s,;\"@()]+)\s*"
)


def _is_address(value: str) -> bool:
    return len(value) <= 320 and _ADDRESS_SHAPE.fullmatch(value) is not None


def _simple_pairs(value: str) -> list[tuple[str, str]] | None:
    """(name, address) pairs when every entry has a plain shape; None otherwise."""
    entries = value.split(",") if '"' not in value else [value]
    pairs = []
    for entry in entries:
        match = _SIMPLE_MAILBOX.fullmatch(entry)
        if match is None:
            return None
        name = match.group(1) if match.group(1) is not None else (match.group(2) or "")
        pairs.append((name, match.group(3) or match.group(4)))
    return pairs


def _addresses(values: list[str], what: str, defects: list[str]) -> list[Address]:
    """Every readable mailbox of one or more address headers; bad entries are dropped alone."""
    result: list[Address] = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        # plain shapes are read by a regular expression: flanker's parser costs 1 ms a list
        pairs = _simple_pairs(value)
        if pairs is None and "(" not in value:  # flanker drops "a@b (Name)" comment names
            try:
                parsed, unparsed = flanker_address.parse_list(value, as_tuple=True)
            except Exception:  # noqa: BLE001 - flanker's ply parser fails in many ways
                parsed, unparsed = [], [value]
            if parsed and not unparsed:
                pairs = [
                    (item.display_name or "", item.address)
                    for item in parsed
                    if isinstance(item, EmailAddress)
                ]
        if pairs is None:
            # one bad entry makes flanker drop the whole list: read entries one by one
            pairs = getaddresses([value])
        dropped = 0
        for name, addr in pairs:
            addr = addr.strip().strip("<>").lower()
            if not addr and not name:
                continue  # an empty group such as "undisclosed-recipients:;"
            if _is_address(addr):
                result.append(Address(addr, _clean(decode_words(name, defects)).strip("'\" ")))
            else:
                dropped += 1
        if dropped:
            # "Big Bug bb@bug.com", "a@x.org b@y.org": keep the address-like words
            known = {item.address for item in result}
            for word in _ADDRESS_WORD.findall(value):
                word = word.lower()
                if word not in known:
                    known.add(word)
                    result.append(Address(word))
                    dropped -= 1
                    defects.append(f"{what} address read from loose words")
            dropped = max(dropped, 0)
        if dropped:
            defects.append(f"{dropped} unreadable {what} address(es) dropped")
    return result


# ---------------------------------------------------------------------------
# dates


def _date(value: str | None, defects: list[str]) -> datetime | None:
    """The Date header as an aware datetime with its own offset; None when unreadable."""
    if value is None:
        defects.append("no Date header")
        return None
    value = value.strip()
    try:
        moment = parsedate_to_datetime(value)
    except (ValueError, TypeError, OverflowError, IndexError):
        if parsedate_tz(value) is not None:
            defects.append("impossible Date header")
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            defects.append("unreadable Date header")
            return None
        defects.append("Date header in ISO 8601 instead of RFC 5322 form")
    if not 1900 <= moment.year <= 2200:
        defects.append("implausible year in Date header")
        return None
    if moment.tzinfo is None:
        # "-0000" says: UTC, sender's zone unknown; no zone at all is a defect
        if not re.search(r"-0000\s*(\(.*\))?$", value):
            defects.append("Date header without time zone, read as UTC")
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


# ---------------------------------------------------------------------------
# subjects

# reply and forward prefixes of the clients our correspondents use: English, French
# (Outlook "RE :", "TR :", Lotus "Réf. :", "Rép. :"), German, Nordic, Spanish/Italian,
# with optional counters ("RE[2]:", "Re^3:", "Re(2):"); and what automatic answers put
# in front of the subject they answer (Exchange, in French and English), so that an
# auto-reply or a bounce without headers still matches its letter's subject
_PREFIX = re.compile(
    r"^\s*(?:"
    r"(?:re|ré|aw|sv|antw|antwort|fw|fwd|tr|wg|rv|enc|réf|rép|ref|rep|fyi"
    r"|réponse automatique|automatic reply|auto-?reply|out of office|absence du bureau"
    r"|accusé de réception|non remis|undeliverable|undelivered)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*\.?\s*[:：]"
    r"|\[[^\[\]]{0,60}\]"  # list or gateway tags: [collectif-bureau], [EXT], [SPAM]
    r")\s*",
    re.IGNORECASE,
)


def normalize_subject(subject: str) -> str:
    """The subject as threading compares it: reply/forward prefixes and tags removed,
    case folded, whitespace collapsed.

    Leading ``[tags]`` are removed too (mailing lists and mail gateways add them to
    some copies of a message and not to others, so they would split a thread); the
    subject as written stays in ``ParsedMessage.subject``.

    >>> normalize_subject("RE : TR: [bureau] Réf. : Demande d'audience  du 3 mai")
    "demande d'audience du 3 mai"
    """
    text = unicodedata.normalize("NFKC", subject or "")
    while True:
        match = _PREFIX.match(text)
        if not match or match.end() == 0:
            break
        text = text[match.end():]
    return " ".join(text.casefold().split())
