"""The tree of MIME parts: flanker's scanner fed in place, the standard library as fallback, text decoded by declared charset."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass

from flanker.mime.message import scanner  # (tracker.parse silenced its loggers)
from flanker.mime.message.headers import MimeHeaders, parsing
from .headers import _Headers
from .limits import LARGE_BASE64, MAX_DEPTH, MAX_FALLBACK_BOUNDARIES, MAX_PARTS
from .text import decode_words

# ---------------------------------------------------------------------------
# the MIME tree, flattened into leaves


@dataclass
class _Leaf:
    """One non-multipart part: its type, how it is encoded, and its raw body bytes."""

    content_type: str
    charset: str | None
    encoding: str
    disposition: str
    filename: str
    raw: bytes | memoryview
    headers_only: bool = False  # an enclosed message of which only the headers were kept


def _fix_latin1(text: str) -> str:
    """Undo our Latin-1 reading of UTF-8 bytes in a flanker header value."""
    if text and any("\x80" <= ch <= "\xff" for ch in text) and max(text) <= "\xff":
        data = text.encode("latin-1")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            # UTF-8 cut short by a client (a truncated long name) is still UTF-8
            head = data[:exc.start]
            if exc.start >= len(data) - 3 and not head.isascii():
                return head.decode("utf-8") + "\ufffd"
    return text


class _TextStream:
    """The part of StringIO flanker's scanner uses (seek, tell, read, lines), over the text
    itself: StringIO copies it at 4 bytes a character (160 MB for a 40 MB message)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos
        return pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int | None = -1) -> str:
        end = len(self.text) if size is None or size < 0 else self.pos + size
        chunk = self.text[self.pos:end]
        self.pos += len(chunk)
        return chunk

    def readline(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end + 1
        line = self.text[self.pos:end]
        self.pos = end
        return line

    def __iter__(self) -> "_TextStream":
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class _Tokens(scanner.TokensIterator):
    """flanker's token iterator over a _TextStream instead of a StringIO copy."""

    def __init__(self, tokens, string: str) -> None:  # noqa: D107
        self.position = -1
        self.tokens = tokens
        self.string = string
        self.stream = _TextStream(string)
        self.opcount = 0


# flanker's tokenizer pattern can only match at the start of a line that begins with
# "content-type:" (any case), "--" or a line break; the "regex" module tries it at every
# character of the message instead, base64 attachments included (a quarter of an import's
# CPU). We find those line starts with a plain search and try flanker's pattern there only.
# And as flanker's filter (``scanner._filter_false_tokens``) keeps only boundaries outside a
# header section, only lines that begin with "--" are looked at there: a body's paragraphs
# (its empty lines) are skipped at C speed.
_TOKEN_LINES = re.compile(r"\n(?=(?i:content-type:)|--|\r?\n)")
_BOUNDARY_LINES = re.compile(r"\n(?=--)")


def _tokenize(text: str, limit: int | None = None) -> list:
    """``scanner.tokenize`` (its pattern, then ``_filter_false_tokens``) with the same tokens,
    in one pass that tries the pattern only where a kept token can start; DecodingError
    past ``limit`` tokens."""
    match = scanner._RE_TOKENIZER.match
    filtered: list = []
    boundaries: list = []
    section, content_type = scanner._SECTION_HEADERS, None
    start = end = 0
    while True:
        if start >= end:  # not inside the previous token (a folded Content-Type)
            found = match(text, start)
            if found is not None:
                end = found.end()
                if found.group("ctype"):
                    token = parsing.parse_header(found.group("ctype"))[1]
                    if not isinstance(token, scanner.ContentType):
                        raise scanner.DecodingError("Unknown token")
                    if content_type is None and section == scanner._SECTION_HEADERS:
                        content_type = token  # only the first of a header section counts
                        boundaries.append(token.get_boundary())
                        filtered.append(token)
                elif found.group("boundary"):
                    token = scanner.Boundary(
                        found.group("boundary").strip("\t\r\n"),
                        scanner._grab_newline(found.start(), text, -1),
                        scanner._grab_newline(end, text, 1),
                    )
                    value = token.value[2:]
                    if value in boundaries:
                        token.value, token.final = value, False
                        section, content_type = scanner._SECTION_HEADERS, None
                        filtered.append(token)
                    elif scanner._strip_endings(value) in boundaries:
                        token.value, token.final = scanner._strip_endings(value), True
                        section = scanner._SECTION_MULTIPART_EPILOGUE
                        filtered.append(token)
                elif section == scanner._SECTION_HEADERS:  # the empty line that ends headers
                    if content_type is None:
                        content_type = scanner._DEFAULT_CONTENT_TYPE
                    if content_type.is_singlepart():
                        section = scanner._SECTION_BODY
                    elif content_type.is_multipart():
                        section = scanner._SECTION_MULTIPART_PREAMBLE
                    else:  # an enclosed message, or just its headers
                        content_type = None
        if limit is not None and len(filtered) > limit:
            raise scanner.DecodingError(f"Too many parts: more than {limit}")
        lines = _TOKEN_LINES if section == scanner._SECTION_HEADERS else _BOUNDARY_LINES
        following = lines.search(text, start)
        if following is None:
            return filtered
        start = following.end()


def _scan(text: str):
    """flanker's ``mime.from_string`` (``scanner.scan``) without the StringIO copy."""
    # flanker's traversal gives up past _MAX_OPS tokens: stop before finding millions
    tokens = _tokenize(text, scanner._MAX_OPS)
    if not tokens:
        tokens = [scanner.default_content_type()]
    return scanner.traverse(scanner.Start(), _Tokens(tokens, text))


_PART_HEADERS = ("content-type", "content-transfer-encoding", "content-disposition")


def _prime_root(root, head: _Headers) -> None:
    """Give a single-part root the few headers flanker needs, from our own reading:
    flanker would otherwise parse every Received line again."""
    items = []
    for name, value in head.fields:
        if name in _PART_HEADERS:
            try:
                items.append(parsing.parse_header(f"{name}: {value.decode('latin-1')}"))
            except Exception:  # noqa: BLE001 - a header flanker cannot read is left out
                continue
    root._container._headers = MimeHeaders(items)
    root._container._body_start = head.body_offset


def _flanker_leaves(raw: bytes, defects: list[str], head: _Headers) -> list[_Leaf]:
    """Leaves in document order from flanker's scanner (raises on broken MIME)."""
    # Latin-1 maps each byte to one character: flanker guesses nothing, and its
    # character offsets are byte offsets into ``raw``
    root = _scan(raw.decode("latin-1"))
    if not root.content_type.is_multipart() and not root.content_type.is_message_container():
        _prime_root(root, head)
    view = memoryview(raw)
    leaves: list[_Leaf] = []
    stack = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        ctype = part.content_type
        if ctype.is_multipart():
            if depth >= MAX_DEPTH:
                defects.append(f"MIME parts nested deeper than {MAX_DEPTH} levels not read")
                continue
            stack.extend((child, depth + 1) for child in reversed(part.parts))
            continue
        if len(leaves) >= MAX_PARTS:
            defects.append(f"more than {MAX_PARTS} MIME parts: the rest not read")
            break
        headers = part.headers
        encoding = headers.get("Content-Transfer-Encoding")
        encoding = str(getattr(encoding, "value", None) or "").strip().lower()
        disposition = (part.content_disposition[0] or "").lower()
        try:
            filename = _fix_latin1(part.detected_file_name or "")
        except Exception:  # noqa: BLE001 - a broken RFC 2231 parameter
            filename = ""
            defects.append("unreadable attachment file name")
        charset = ctype.params.get("charset")
        leaves.append(
            _Leaf(
                content_type=ctype.value,
                charset=charset if isinstance(charset, str) else None,
                encoding=encoding,
                disposition=disposition,
                filename=filename,
                raw=_body_bytes(view, part._container),
            )
        )
    return leaves


def _body_bytes(view: memoryview, stream) -> bytes | memoryview:
    """A part's body straight from the original bytes (a view when large: no copy)."""
    stream.headers  # noqa: B018 - loading the headers finds where the body starts
    body = view[stream._body_start:stream.end + 1]
    return body if len(body) > LARGE_BASE64 else bytes(body)


def _stdlib_leaves(raw: bytes, defects: list[str]) -> list[_Leaf]:
    """Leaves from the standard library's tolerant parser (used when flanker gives up)."""
    root = email.message_from_bytes(raw, policy=email.policy.compat32)
    leaves: list[_Leaf] = []
    stack = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        ctype = part.get_content_type()
        payload = part.get_payload()
        headers_only = False
        if ctype.startswith("message/") and isinstance(payload, list):
            if ctype == "message/delivery-status":
                body = b"\n".join(sub.as_bytes() for sub in payload)  # its blocks of fields
            else:
                # re-serializing a whole enclosed message costs seconds on absurd ones:
                # keep its headers (a bounce's original Message-ID), not an attachment
                body = b"".join(
                    f"{name}: {value}\n".encode("utf-8", "surrogateescape")
                    for sub in payload[:1] for name, value in sub.items()
                )
                headers_only = True
        elif isinstance(payload, list):
            if depth >= MAX_DEPTH:
                defects.append(f"MIME parts nested deeper than {MAX_DEPTH} levels not read")
                continue
            stack.extend((child, depth + 1) for child in reversed(payload))
            continue
        else:
            # the stdlib keeps undecodable bytes as surrogates: this gives them back
            body = str(payload or "").encode("utf-8", "surrogateescape")
        if len(leaves) >= MAX_PARTS:
            defects.append(f"more than {MAX_PARTS} MIME parts: the rest not read")
            break
        try:
            filename = part.get_filename() or ""
        except Exception:  # noqa: BLE001
            filename = ""
        leaves.append(
            _Leaf(
                content_type=ctype,
                charset=part.get_content_charset(),
                encoding=str(part.get("content-transfer-encoding", "")).strip().lower(),
                disposition=part.get_content_disposition() or "",
                filename=decode_words(str(filename)),
                raw=body,
                headers_only=headers_only,
            )
        )
    return leaves


# a line break first (not "^" in multi-line mode) lets the search skip from line to line
_CONTAINER = re.compile(rb"(?i)\ncontent-type:[ \t]*(?:multipart|message)/")
MAX_CONTAINERS = 100  # real messages have a handful (22 in the worst corpus torture test)


def _leaves(raw: bytes, defects: list[str], head: _Headers) -> list[_Leaf]:
    # both parsers recurse: hundreds of nested containers cost seconds before failing
    if len(_CONTAINER.findall(raw, max(head.body_offset - 1, 0))) > MAX_CONTAINERS:
        defects.append(f"more than {MAX_CONTAINERS} multipart or enclosed-message parts: body not read")
        return []
    try:
        return _flanker_leaves(raw, defects, head)
    except RecursionError:
        defects.append("MIME structure too deep for flanker: read by the fallback parser")
    except Exception as exc:  # noqa: BLE001 - flanker raises many types on broken MIME
        defects.append(f"MIME structure broken ({_short(exc)}): read by the fallback parser")
    try:
        return _stdlib_leaves(_first_boundaries(raw, head.body_offset, defects), defects)
    except (RecursionError, Exception) as exc:  # noqa: BLE001
        defects.append(f"MIME structure unreadable ({type(exc).__name__}): body not read")
        return []


def _first_boundaries(raw: bytes, start: int, defects: list[str]) -> bytes:
    """``raw`` cut before its boundary line number MAX_FALLBACK_BOUNDARIES + 1: the standard
    library parses every part it is given, however many."""
    pos = max(start - 1, 0)
    for _ in range(MAX_FALLBACK_BOUNDARIES + 1):
        pos = raw.find(b"\n--", pos + 1)
        if pos < 0:
            return raw
    defects.append(f"more than {MAX_FALLBACK_BOUNDARIES} boundary lines: the rest not read")
    return raw[:pos + 1]


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:80]
