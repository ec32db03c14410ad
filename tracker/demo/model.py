"""What the generator decides before it writes anything: messages, letters, threads, ids."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from .world import Body, PARIS


# ---------------------------------------------------------------------------- the model

@dataclass
class Msg:
    """One message the generator decided to exist."""

    mid: str
    folder: str  # INBOX | Sent
    when: datetime  # aware, local
    kind: str
    direction: str
    sender: str
    correspondent: str | None = None
    cases: list[str] = field(default_factory=list)
    also_inbox: bool = False  # the coalition Bcc'd itself: the same message in two folders
    subject: str = ""
    inbox_copies: int = 1  # delivered twice (To one coalition address, Cc another)
    file_stamp: int | None = None  # a file name out of date order (restored from a backup)
    raw: bytes = b""
    threads: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Letter:
    msg: Msg
    subject: str
    topic: str
    ref: str
    to: list[Body]
    to_addresses: list[str]
    cc: list[Body]
    cc_partner: tuple[str, str] | None
    signer: tuple[str, str, str]
    ambiguous: bool = False
    pdf: bool = False
    text: str = ""


@dataclass
class Thread:
    letter: Letter
    body: Body
    address: str
    reminders: list[Msg] = field(default_factory=list)
    replies: list[Msg] = field(default_factory=list)
    others: list[Msg] = field(default_factory=list)
    reply_at: datetime | None = None
    second_reply_at: datetime | None = None
    bounced: bool = False
    acknowledged: bool = False
    cases: list[str] = field(default_factory=list)


class Ids:
    """Deterministic Message-IDs in the styles real mailers use."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def new(self, when: datetime, style: str, domain: str) -> str:
        rng = self.rng
        while True:
            stamp = int(when.timestamp())
            if style == "coalition":
                mid = f"{when.strftime('%Y%m%d%H%M%S')}.{rng.getrandbits(40):010x}@{domain}"
            elif style == "zimbra":
                mid = f"{rng.randrange(10**8, 10**9)}.{rng.randrange(10**4, 10**5)}.{stamp}{rng.randrange(1000):03d}.JavaMail.zimbra@{domain}"
            elif style == "outlook":
                box = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(4))
                mid = (f"PR1P264MB{rng.randrange(1000, 9999)}{box}"
                       f"{rng.getrandbits(48):012X}@PR1P264MB{rng.randrange(1000, 9999)}.FRAP264.PROD.OUTLOOK.COM")
            elif style == "lotus":
                mid = f"OF{rng.getrandbits(32):08X}.{rng.getrandbits(32):08X}-ON{rng.getrandbits(32):08X}@{domain}"
            else:
                mid = f"{stamp}.{rng.getrandbits(32):08x}@{domain}"
            if mid not in self.seen:
                self.seen.add(mid)
                return mid


def _work_time(rng: random.Random, day: date, start: int = 8, end: int = 19) -> datetime:
    """A realistic office time on ``day`` (moved to the next weekday), Paris time."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    minutes = rng.randrange(start * 60 + 30, end * 60)
    return datetime.combine(day, time(minutes // 60, minutes % 60, rng.randrange(60)), PARIS)


def _later(when: datetime, seconds: float) -> datetime:
    return (when.astimezone(timezone.utc) + timedelta(seconds=seconds)).astimezone(PARIS)


def _header_date(when: datetime, utc: bool = False) -> str:
    return format_datetime(when.astimezone(timezone.utc) if utc else when)


def _mailer_charset(body: Body, rng: random.Random) -> tuple[str, str]:
    """(charset, transfer encoding) the body's mail system would use."""
    return {
        "zimbra": rng.choice([("utf-8", "quoted-printable"), ("utf-8", "8bit")]),
        "outlook": rng.choice([("iso-8859-1", "quoted-printable"), ("utf-8", "base64")]),
        "lotus": rng.choice([("iso-8859-1", "8bit"), ("iso-8859-1", "quoted-printable")]),
        "legacy": rng.choice([("windows-1252", "8bit"), ("windows-1252", "quoted-printable")]),
    }[body.mailer]


def _mailer_header(body: Body) -> str:
    return {
        "zimbra": "X-Mailer: Zimbra 9.0.0_GA_4546 (ZimbraWebClient - FF128 (Linux)/9.0.0_GA_4546)",
        "outlook": "X-Mailer: Microsoft Outlook 16.0",
        "lotus": "X-Mailer: Lotus Notes Release 9.0.1FP10 SHF82 June 14, 2019",
        "legacy": "X-Mailer: Microsoft Office Outlook 12.0",
    }[body.mailer]
