"""Local archives for backfill and the demo: Maildir (with Maildir++ sub-folders),
mbox (streamed, never read whole) and .eml files or folders of them.

Each source yields RawItems keyed by a stable location, so a second import
skips what the first one stored without reading it again.

Only what lies inside the folder given is read: a symbolic link that leads out of it
(an archive may hold links to anywhere) is skipped and counted, and a folder already
visited (a link to ``..``) is not walked again. A file over the size cap becomes a
RawItem without bytes and with the reason, which the writer quarantines.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from ..config import Mailbox
from .item import RawItem

# an mbox "From " separator: "From sender Sun Aug  7 11:40:37 2022"; a body line such as
# "From time to time" (unescaped in mboxo files) has no time of day and does not split
_FROM_LINE = re.compile(rb"^From \S+ +.*\b\d{1,2}:\d{2}")
_ESCAPED_FROM = re.compile(rb"^>(>*From )")

# the same cap as IMAP's [mailbox] max_message_size when the config sets none
DEFAULT_MAX_SIZE = Mailbox.max_message_size

Known = Callable[[str, str], set[str]]


class SourceError(Exception):
    """A path that cannot be imported; the message says why."""


@dataclass
class SourceStats:
    """What the walk left out, for the import summary."""

    skipped_links: int = 0  # symbolic links out of the folder given, or back into a visited one
    too_large: int = 0  # files (or mbox messages) over the size cap: quarantined unread


@dataclass
class Found:
    """One importable place: a Maildir folder, an mbox file or .eml files."""

    source: str  # maildir | mbox | eml
    folder: str  # logical name: INBOX, Sent, the mbox's or the folder's name
    path: Path
    root: Path | None = None  # the folder given: nothing outside it is read


@dataclass
class _Walk:
    """One folder given: its real path, the folders visited, and the counts."""

    root: Path
    stats: SourceStats
    visited: set[tuple[int, int]] = field(default_factory=set)

    def enters(self, path: Path) -> bool:
        """Whether to walk folder ``path``: inside the root and not seen before."""
        if path.is_symlink() and not _inside(path, self.root):
            self.stats.skipped_links += 1
            return False
        try:
            info = path.stat()
        except OSError:
            return False
        if (info.st_dev, info.st_ino) in self.visited:
            self.stats.skipped_links += 1  # only a link (or a bind mount) comes back to a folder
            return False
        self.visited.add((info.st_dev, info.st_ino))
        return True


def _inside(path: Path | str, root: Path | None) -> bool:
    """Whether ``path``, links resolved, lies within ``root`` (always when there is none)."""
    if root is None:
        return True
    real = os.path.realpath(path)
    return real == str(root) or real.startswith(str(root).rstrip(os.sep) + os.sep)


def _readable(path: Path | str, root: Path | None, stats: SourceStats) -> bool:
    """A regular file that is no link, or a link that stays inside ``root``; a link out is counted."""
    if os.path.islink(path) and not _inside(path, root):
        stats.skipped_links += 1
        return False
    return os.path.isfile(path)


def is_maildir(path: Path) -> bool:
    return path.is_dir() and ((path / "cur").is_dir() or (path / "new").is_dir())


def is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
    except OSError:
        return False
    return head == b"From "


def discover(path: Path, name: str | None = None, stats: SourceStats | None = None) -> list[Found]:
    """What is importable at ``path``: Maildirs (Maildir++ ``.Sub`` folders and nested
    Maildirs too), mbox files, and loose message files, which count as .eml files.

    Links out of ``path`` are skipped and counted in ``stats``. Raises SourceError
    for a path that does not exist.
    """
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    root = Path(os.path.realpath(path))
    if path.is_file():
        if is_mbox(path):
            return [Found("mbox", path.stem, path, root)]
        return [Found("eml", path.parent.name or "eml", path, root)]
    walk = _Walk(root, stats if stats is not None else SourceStats())
    walk.enters(path)
    return _discover(path, name, walk)


def _discover(path: Path, name: str | None, walk: _Walk) -> list[Found]:
    found: list[Found] = []
    maildir = is_maildir(path)
    if maildir:
        found.append(Found("maildir", name or "INBOX", path, walk.root))
    loose = False
    for child in sorted(path.iterdir()):
        if maildir and child.name in ("cur", "new", "tmp"):
            continue
        if child.is_dir():
            if not walk.enters(child):
                continue
            if child.name.startswith("."):
                # Maildir++: ".Sent", ".Archives.2024" are sub-folders of the same mailbox
                if maildir and is_maildir(child):
                    sub = child.name[1:].replace(".", "/")
                    found.append(Found("maildir", f"{name}/{sub}" if name else sub, child, walk.root))
                continue
            found.extend(_discover(child, f"{name}/{child.name}" if name else child.name, walk))
        elif child.name.startswith("."):
            continue
        elif not _readable(child, walk.root, walk.stats):
            continue
        elif is_mbox(child):
            found.append(Found("mbox", child.stem, child, walk.root))
        else:
            loose = True
    if loose:
        found.append(Found("eml", name or path.name, path, walk.root))
    return found


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return None


def _too_large(size: int, max_size: int, where: str) -> str:
    return (
        f"too large: {size} bytes, over mailbox.max_message_size ({max_size}); not read ({where})"
    )


def _read(path: Path, item: RawItem, max_size: int, stats: SourceStats) -> RawItem:
    """The file's bytes, or no bytes and the reason (unreadable, over ``max_size``)."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                item.problem = f"not a regular file ({path})"
                return item
            if info.st_size > max_size:
                item.size, item.problem = info.st_size, _too_large(info.st_size, max_size, str(path))
                stats.too_large += 1
                return item
            data = handle.read(max_size + 1)  # the file may have grown since
    except OSError as exc:
        item.problem = f"unreadable file: {exc.strerror} ({path})"
        return item
    if len(data) > max_size:
        item.size, item.problem = len(data), _too_large(len(data), max_size, str(path))
        stats.too_large += 1
        return item
    item.raw = data
    return item


def maildir_items(
    found: Found, known: set[str], *, max_size: int = DEFAULT_MAX_SIZE, stats: SourceStats | None = None
) -> Iterator[RawItem]:
    stats = stats if stats is not None else SourceStats()
    root = found.path.resolve()
    for sub in ("new", "cur"):
        folder = root / sub
        if not folder.is_dir() or not _readable_folder(folder, found.root, stats):
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() and not _inside(entry.path, found.root):
                stats.skipped_links += 1
                continue
            if not entry.is_file():
                continue
            # the unique part of a Maildir name survives flag changes and new/ -> cur/
            key = f"{root}/{entry.name.split(':', 1)[0]}"
            if key in known:
                continue
            path = Path(entry.path)
            yield _read(path, RawItem("maildir", found.folder, key, None, _mtime(path)), max_size, stats)


def _readable_folder(folder: Path, root: Path | None, stats: SourceStats) -> bool:
    if folder.is_symlink() and not _inside(folder, root):
        stats.skipped_links += 1
        return False
    return True


def eml_items(
    found: Found, known: set[str], *, max_size: int = DEFAULT_MAX_SIZE, stats: SourceStats | None = None
) -> Iterator[RawItem]:
    stats = stats if stats is not None else SourceStats()
    if found.path.is_file():
        paths = [found.path]
    else:
        paths = sorted(
            p for p in found.path.iterdir()
            if not p.name.startswith(".") and not (p.is_symlink() and not _inside(p, found.root))
            and p.is_file() and not is_mbox(p)
        )  # links out were counted when the folder was discovered
    for path in paths:
        key = str(path.resolve())
        if key in known:
            continue
        yield _read(path, RawItem("eml", found.folder, key, None, _mtime(path)), max_size, stats)


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


def mbox_items(
    found: Found, known: set[str], *, max_size: int = DEFAULT_MAX_SIZE, stats: SourceStats | None = None
) -> Iterator[RawItem]:
    """Stream an mbox (mboxrd or mboxo): one message at a time, keyed by its byte offset.

    A message over ``max_size`` is not kept in memory: it comes without bytes, with its
    size and the reason."""
    stats = stats if stats is not None else SourceStats()
    path = found.path.resolve()
    offset = 0
    start = 0
    lines: list[bytes] | None = None
    size = 0  # bytes of the current message, kept or not
    arrived: datetime | None = None
    previous_blank = True

    def emit() -> RawItem | None:
        key = f"{path}@{start}"
        if lines is None or key in known:
            return None
        if size > max_size:
            stats.too_large += 1
            where = f"{path}, message at byte {start}"
            return RawItem(
                "mbox", found.folder, key, None, arrived, size=size,
                problem=_too_large(size, max_size, where),
            )
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
                start, lines, arrived, size = offset, [], _from_line_date(line), 0
            elif lines is not None:
                size += len(line)
                if size <= max_size:
                    lines.append(_ESCAPED_FROM.sub(rb"\1", line))
                elif lines:
                    lines = []  # over the cap: only its size is counted from here
            previous_blank = line in (b"\n", b"\r\n")
            offset += len(line)
        item = emit()
        if item is not None:
            yield item


READERS = {"maildir": maildir_items, "mbox": mbox_items, "eml": eml_items}


class LocalItems:
    """Every message under some paths not yet known, as an iterable of RawItems;
    ``stats`` counts what was left out (links, files too large) once iterated."""

    def __init__(self, paths: list[Path], known: Known, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.paths = [Path(path) for path in paths]
        self.known = known
        self.max_size = max_size
        self.stats = SourceStats()

    def __iter__(self) -> Iterator[RawItem]:
        places: list[Found] = []
        for path in self.paths:
            found = discover(path, stats=self.stats)
            if not found:
                raise SourceError(f"{path}: no Maildir, mbox or message files in this folder")
            places.extend(found)
        for place in places:
            yield from READERS[place.source](
                place, self.known(place.source, place.folder), max_size=self.max_size, stats=self.stats
            )


def items(paths: list[Path], known: Known, *, max_size: int | None = None) -> LocalItems:
    """Every message under ``paths`` not yet known; ``known(source, folder)`` gives stored keys.

    ``max_size`` is the config's ``mailbox.max_message_size`` (its default without a
    [mailbox]); the result's ``stats`` says, after iteration, what was skipped."""
    return LocalItems(paths, known, DEFAULT_MAX_SIZE if max_size is None else max_size)
