"""What tracker changes in Datasette's responses on their way out (see ``plugin.asgi_wrapper``).

- :class:`CsvCells`: Datasette 0.65 writes CSV itself (``views/base.py``, a ``csv.writer`` fed
  straight into the response) and offers no hook for its cells, so the streamed bytes are
  rewritten: a cell starting with ``= + - @`` or a tab (or, quoted, a carriage return) gets a
  leading ``'``, as :func:`tracker.report.reports.spreadsheet_safe` does for ``tracker report``.
  The CSV is read as it streams, byte by byte of state, so a chunk may end anywhere. Numbers
  are text by then: a negative number gets the ``'`` too (spreadsheets still read it as text).
- :func:`login_cookie`: the ``ds_actor`` cookie set at login (by datasette-auth-passwords)
  comes back ``HttpOnly``, ``SameSite=Lax``, expiring after :data:`LOGIN_HOURS` (the browser's
  ``Max-Age`` and Datasette's signed ``"e"``, so a copied cookie expires too), and ``Secure``
  when the public base URL is https.
"""

from __future__ import annotations

import re
import time
from http.cookies import SimpleCookie

from datasette.utils import baseconv

LOGIN_HOURS = 12
# what makes a spreadsheet run a cell (tracker.report.reports.spreadsheet_safe)
_UNQUOTED_DANGER = frozenset(b"=+-@\t")  # an unquoted \r at a field's start ends the line
_QUOTED_DANGER = frozenset(b"=+-@\t\r")
_FIELD_END = re.compile(rb"[,\n]")


class CsvCells:
    """Neutralizes formula cells of a CSV stream written with Python's default dialect
    (``,`` and ``"``, doubled quotes), fed in chunks of any size."""

    def __init__(self) -> None:
        self.start = True  # at the first byte of a field
        self.opening = False  # just after a field's opening quote
        self.quoted = False
        self.pending_quote = False  # a quote inside a quoted field: doubled, or its end

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        i, n = 0, len(data)
        while i < n:
            if self.start:
                self.start = False
                if data[i] == 0x22:  # "
                    out.append(b'"')
                    i += 1
                    self.quoted = self.opening = True
                    continue
                if data[i] in _UNQUOTED_DANGER:
                    out.append(b"'")
            if self.opening:
                self.opening = False
                if data[i] in _QUOTED_DANGER:
                    out.append(b"'")
            if self.quoted:
                if self.pending_quote:
                    self.pending_quote = False
                    if data[i] == 0x22:
                        out.append(b'"')
                        i += 1
                        continue
                    self.quoted = False
                    continue  # the field has ended: read this byte as a separator
                j = data.find(b'"', i)
                if j < 0:
                    out.append(data[i:])
                    break
                out.append(data[i:j + 1])
                i = j + 1
                self.pending_quote = True
                continue
            match = _FIELD_END.search(data, i)
            if match is None:
                out.append(data[i:])
                break
            out.append(data[i:match.end()])
            i = match.end()
            self.start = True
        return b"".join(out)


def is_csv(path: str, headers) -> bool:
    """Whether a response is one of Datasette's CSV exports (``.csv`` paths are sent as
    text/plain unless ``_dl`` asks for text/csv)."""
    if not path.endswith(".csv"):
        return False
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() in (b"text/csv", b"text/plain")
    return False


def login_cookie(header: bytes, datasette, secure: bool) -> bytes:
    """A ``Set-Cookie`` header value, with ``ds_actor`` made HttpOnly, SameSite=Lax, expiring
    and (``secure``) Secure; any other cookie unchanged."""
    cookie = SimpleCookie()
    try:
        cookie.load(header.decode("latin-1"))
    except Exception:  # http.cookies.CookieError and malformed values: not ours to fix
        return header
    morsel = cookie.get("ds_actor")
    if morsel is None:
        return header
    if morsel.value:
        try:
            signed = datasette.unsign(morsel.value, "actor")
        except Exception:  # itsdangerous.BadSignature: not a login, leave it
            return header
        if isinstance(signed, dict) and "a" in signed:
            expires = baseconv.base62.encode(int(time.time()) + LOGIN_HOURS * 3600)
            cookie["ds_actor"] = datasette.sign({**signed, "e": expires}, "actor")
            morsel = cookie["ds_actor"]
            morsel["max-age"] = LOGIN_HOURS * 3600
    morsel["path"] = morsel["path"] or "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    if secure:
        morsel["secure"] = True
    return morsel.OutputString().encode("latin-1")
