"""What every source yields: one message's bytes and where it was found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class RawItem:
    """One message as a source found it: where, its bytes and when it arrived."""

    source: str
    folder: str
    key: str
    raw: bytes | None
    arrived_at: datetime | None = None
    size: int | None = None
    # set when the source could not get the bytes (too large, unreadable)
    problem: str | None = None
