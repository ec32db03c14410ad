"""One run at a time: an advisory lock on a file beside the database.

``tracker sync`` runs from cron every quarter of an hour; a slow first sync
must not be joined by a second one. The lock is ``fcntl.flock`` on
``<database>.lock``: the kernel releases it when the process dies, even by
SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class Locked(Exception):
    """Another tracker run holds the lock; the message says which file and what to do."""


def lock_path(database: str | Path) -> Path:
    """The lock file of a database: ``data/tracker.db`` -> ``data/tracker.db.lock``."""
    database = Path(database)
    return database.with_name(database.name + ".lock")


@contextmanager
def run_lock(database: str | Path, command: str = "tracker") -> Iterator[Path]:
    """Hold the database's run lock for the ``with`` block; raise Locked at once if taken.

    Nothing else is touched when the lock is taken: the database is opened only
    after the lock is held.
    """
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another run"
            raise Locked(
                f"another tracker run is in progress ({holder}; lock {path}); this {command} "
                f"did nothing: try again when it has finished"
            ) from None
        # who holds it, for the message a second run prints
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{command}, pid {os.getpid()}".encode(), 0)
        yield path
    finally:
        os.close(fd)
