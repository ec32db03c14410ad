"""Local archives for backfill and the demo: Maildir (with Maildir++ sub-folders),
mbox (streamed, never read whole) and .eml files or folders of them.

Each source yields RawItems keyed by a stable location, so a second import
skips what the first one stored without reading it again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from .item import RawItem

# an mbox "From " separator: "From sender Sun Aug  7 11:40:37 2022"; a body line such as
# "From time to time" (unescaped in mboxo files) has no time of day and does not split
_FROM_LINE = re.compile(rb"^From \S+ +.*\b\d{1,2}:\d{2}")
_ESCAPED_FROM = re.compile(rb"^>(>*From )")

Known = Callable[[str, str], set[str]]


class SourceError(Exception):
    """A path that cannot be imported; the message says why."""


@dataclass
class Found:
    """One importable place: a Maildir folder, an mbox file or .eml files."""

    source: str  # maildir | mbox | eml
    folder: str  # logical name: INBOX, Sent, the mbox's or the folder's name
    path: Path


def is_maildir(path: Path) -> bool:
    return path.is_dir() and ((path / "cur").is_dir() or (path / "new").is_dir())


def is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
    except OSError:
        return False
    return head == b"From "


def discover(path: Path, name: str | None = None) -> list[Found]:
    """What is importable at ``path``: Maildirs (Maildir++ ``.Sub`` folders and nested
    Maildirs too), mbox files, and loose message files, which count as .eml files.

    Raises SourceError for a path that does not exist.
    """
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_file():
        if is_mbox(path):
            return [Found("mbox", path.stem, path)]
        return [Found("eml", path.parent.name or "eml", path)]
    found: list[Found] = []
    maildir = is_maildir(path)
    if maildir:
        found.append(Found("maildir", name or "INBOX", path))
    loose: list[Path] = []
    for child in sorted(path.iterdir()):
        if maildir and child.name in ("cur", "new", "tmp"):
            continue
        if child.is_dir():
            if child.name.startswith("."):
                # Maildir++: ".Sent", ".Archives.2024" are sub-folders of the same mailbox
                if maildir and is_maildir(child):
                    sub = child.name[1:].replace(".", "/")
                    found.append(Found("maildir", f"{name}/{sub}" if name else sub, child))
                continue
            found.extend(discover(child, f"{name}/{child.name}" if name else child.name))
        elif child.name.startswith("."):
            continue
        elif is_mbox(child):
            found.append(Found("mbox", child.stem, child))
        elif child.is_file():
            loose.append(child)
    if loose:
        found.append(Found("eml", name or path.name, path))
    return found


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return None


def _read(path: Path, item: RawItem) -> RawItem:
    try:
        item.raw = path.read_bytes()
    except OSError as exc:
        item.problem = f"unreadable file: {exc.strerror}"
    return item


def maildir_items(found: Found, known: set[str]) -> Iterator[RawItem]:
    root = found.path.resolve()
    for sub in ("new", "cur"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if not entry.is_file() or entry.name.startswith("."):
                continue
            # the unique part of a Maildir name survives flag changes and new/ -> cur/
            key = f"{root}/{entry.name.split(':', 1)[0]}"
            if key in known:
                continue
            path = Path(entry.path)
            yield _read(path, RawItem("maildir", found.folder, key, None, _mtime(path)))


def eml_items(found: Found, known: set[str]) -> Iterator[RawItem]:
    paths = [found.path] if found.path.is_file() else sorted(
        p for p in found.path.iterdir() if p.is_file() and not p.name.startswith(".") and not is_mbox(p)
    )
    for path in paths:
        key = str(path.resolve())
        if key in known:
            continue
        yield _read(path, RawItem("eml", found.folder, key, None, _mtime(path)))


def _from_line_date(line: bytes) -> datetime | None:
    from email.utils import parsedate_to_datetime

    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 3:
        return None
    try:
        moment = parsedate_to_datetime(parts[2].strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def mbox_items(found: Found, known: set[str]) -> Iterator[RawItem]:
    """Stream an mbox (mboxrd or mboxo): one message at a time, keyed by its byte offset."""
    path = found.path.resolve()
    offset = 0
    start = 0
    lines: list[bytes] | None = None
    arrived: datetime | None = None
    previous_blank = True

    def emit() -> RawItem | None:
        key = f"{path}@{start}"
        if lines is None or key in known:
            return None
        body = b"".join(lines)
        # the blank line before the next "From " belongs to the mbox, not the message
        if body.endswith(b"\r\n\r\n"):
            body = body[:-2]
        elif body.endswith(b"\n\n"):
            body = body[:-1]
        return RawItem("mbox", found.folder, key, body, arrived)

    with path.open("rb") as handle:
        for line in handle:
            # the file's first line is a separator whatever it holds (is_mbox checked it)
            if (lines is None and line.startswith(b"From ")) or (
                previous_blank and _FROM_LINE.match(line)
            ):
                item = emit()
                if item is not None:
                    yield item
                start, lines, arrived = offset, [], _from_line_date(line)
            elif lines is not None:
                lines.append(_ESCAPED_FROM.sub(rb"\1", line))
            previous_blank = line in (b"\n", b"\r\n")
            offset += len(line)
        item = emit()
        if item is not None:
            yield item


READERS = {"maildir": maildir_items, "mbox": mbox_items, "eml": eml_items}


def items(paths: list[Path], known: Known) -> Iterator[RawItem]:
    """Every message under ``paths`` not yet known; ``known(source, folder)`` gives stored keys."""
    places: list[Found] = []
    for path in paths:
        found = discover(Path(path))
        if not found:
            raise SourceError(f"{path}: no Maildir, mbox or message files in this folder")
        places.extend(found)
    for place in places:
        yield from READERS[place.source](place, known(place.source, place.folder))
