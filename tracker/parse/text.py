"""Text from bytes: declared charsets, transfer encodings, RFC 2047 words, HTML, caps."""

from __future__ import annotations

import binascii
import codecs
import re
from html.parser import HTMLParser
from .limits import MAX_TEXT_BYTES, MAX_TEXT_CHARS


def _text(value: bytes, what: str, defects: list[str], hint: str | None = None) -> str:
    """Decode a raw header value: ASCII, else UTF-8, else the declared or Windows charset."""
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        pass
    if b"\x00" in value:
        value = value.replace(b"\x00", b"")
        defects.append(f"NUL bytes removed from {what}")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for charset in (hint, "cp1252"):
        codec = _codec(charset) if charset else None
        if codec and codec not in ("utf-8", "ascii"):
            try:
                text = value.decode(codec)
            except UnicodeDecodeError:
                continue
            defects.append(f"raw 8-bit {what} header read as {codec}")
            return text
    defects.append(f"raw 8-bit {what} header read as latin-1")
    return value.decode("latin-1")


# RFC 2047 encoded words; charset may carry an RFC 2231 language ("utf-8*fr")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def _b64(data: bytes) -> tuple[bytes, bool]:
    """Decode base64 leniently; the flag says whether it needed repair."""
    try:
        return binascii.a2b_base64(data), False
    except binascii.Error:
        cleaned = _B64_JUNK.sub(b"", data)
        cleaned = cleaned[: len(cleaned) - (len(cleaned) % 4 == 1)]
        cleaned += b"=" * (-len(cleaned) % 4)
        try:
            return binascii.a2b_base64(cleaned), True
        except binascii.Error:
            return b"", True


def decode_words(value: str, defects: list[str] | None = None) -> str:
    """Decode the RFC 2047 encoded words of a header value (broken ones as best we can).

    Adjacent encoded words are joined without the whitespace between them, and
    their bytes are decoded together so that a character split across two words
    survives.
    """
    if "=?" not in value:
        return value
    sink: list[str] = [] if defects is None else defects
    out: list[str] = []
    pending: bytes = b""
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(_decode_text(pending, pending_charset, "an encoded word", sink))
        pending, pending_charset = b"", ""

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos:match.start()]
        if between and (between.strip() or not pending):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        encoding, payload = match.group(2).upper(), match.group(3).encode("ascii", "replace")
        if encoding == "B":
            if _B64_JUNK.search(payload.rstrip(b"=")):
                # not base64 at all: leave the word as written rather than show noise
                flush()
                out.append(match.group(0))
                sink.append("broken base64 in an encoded word, left as is")
                pos = match.end()
                continue
            data, repaired = _b64(payload)
            if repaired:
                sink.append("broken base64 in an encoded word")
        else:
            data = binascii.a2b_qp(payload.replace(b"_", b" "))
        if pending and charset != pending_charset:
            flush()
        pending += data
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(value[pos:])
    text = "".join(out)
    if "=?" in text and defects is not None:
        defects.append("undecodable encoded word left as is")
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """One line: control characters dropped, runs of whitespace made single spaces."""
    return " ".join(_CONTROL.sub("", text).split())


# ---------------------------------------------------------------------------
# bodies


def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when unknown."""
    if not charset:
        return None
    charset = charset.strip().strip("\"'").lower()
    if charset in ("iso-8859-1", "latin1", "latin-1", "iso8859-1", "us-ascii", "ascii", "iso_8859-1"):
        # what clients label Latin-1 or ASCII is in practice windows-1252 (as browsers read it)
        return "cp1252"
    try:
        return codecs.lookup(charset).name
    except (LookupError, ValueError):
        return None


def _decode_text(
    data: bytes, charset: str | None, what: str, defects: list[str], quiet: bool = False
) -> str:
    """Bytes -> text with the declared charset first; UTF-8 then windows-1252 otherwise."""
    codec = _codec(charset)
    if charset and codec is None and not quiet:
        defects.append(f"unknown charset {charset[:40]!r} in {what}")
    if codec is not None:
        if codec == "cp1252":
            if data.isascii():
                return data.decode("ascii")
            # parts labelled ASCII or Latin-1 are often UTF-8 in fact; and valid UTF-8
            # with accented letters does not happen by accident in Latin-1 text
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                if not quiet:
                    defects.append(f"{what} declared {charset[:40]} but is UTF-8")
                return text
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            if codec == "cp1252":
                return data.decode("latin-1")
            if not quiet:
                defects.append(f"{what} is not valid {charset[:40]}")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if not quiet and charset is None:
        defects.append(f"8-bit {what} without charset read as windows-1252")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _transfer_decode(data: bytes | memoryview, encoding: str, what: str, defects: list[str]) -> bytes:
    if encoding == "base64":
        decoded, repaired = _b64(data)
        if repaired:
            defects.append(f"broken base64 in {what}")
        return decoded
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data)
    if encoding not in ("", "7bit", "8bit", "binary"):
        defects.append(f"unknown transfer encoding {encoding[:40]!r} in {what}")
    return bytes(data)


class _HTMLText(HTMLParser):
    """Visible text of an HTML body, with line breaks where blocks end."""

    BREAKS = frozenset(
        "br p div li tr h1 h2 h3 h4 h5 h6 table ul ol blockquote pre hr section article".split()
    )
    HIDDEN = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BREAKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(data)


def html_to_text(markup: str) -> str:
    """Readable text from an HTML body: tags dropped, blocks on their own lines."""
    parser = _HTMLText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is tolerant; keep what it read
        pass
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cut(data: bytes, what: str, defects: list[str]) -> bytes:
    """At most MAX_TEXT_BYTES of a text part, cut between characters if it is UTF-8:
    decoding 30 MB to keep 1 MB would cost up to 120 MB of memory."""
    if len(data) <= MAX_TEXT_BYTES:
        return data
    end = MAX_TEXT_BYTES
    while end > MAX_TEXT_BYTES - 4 and (data[end] & 0xC0) == 0x80:
        end -= 1  # not inside a UTF-8 sequence
    defects.append(f"{what} part cut at {MAX_TEXT_BYTES // (1024 * 1024)} MB before decoding")
    return data[:end]


def _cap(text: str, what: str, defects: list[str]) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "")
        defects.append(f"NUL characters removed from {what}")
    if len(text) > MAX_TEXT_CHARS:
        defects.append(f"{what} cut at {MAX_TEXT_CHARS // 1024} K characters")
        text = text[:MAX_TEXT_CHARS]
    return text
