"""Plain records passed between the stages of the pipeline.

They carry no behaviour and no I/O, and they pickle, so worker processes can
hand them to the single writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Address:
    """One mailbox: ``address`` is lower-cased, ``name`` is the decoded display name."""

    address: str
    name: str = ""


@dataclass
class Attachment:
    """A file carried by a message; ``text`` is the extracted text of PDF letters."""

    filename: str
    content_type: str
    size: int
    sha256: str
    text: str | None = None


@dataclass
class DeliveryReport:
    """What a delivery status notification (bounce) says about one recipient."""

    recipient: str
    action: str = ""  # failed | delayed | delivered | relayed | expanded
    status: str = ""  # 5.1.1 ...
    diagnostic: str = ""


@dataclass
class ParsedMessage:
    """Everything tracker reads from one message's raw bytes.

    ``message_id`` is the id without angle brackets; when the message has
    none, it is derived from the bytes and ``message_id_synthetic`` is true.
    ``date`` keeps the original offset; ``None`` when the header is missing
    or impossible (the caller falls back to the arrival time).
    """

    message_id: str
    sha256: str
    size: int
    message_id_synthetic: bool = False
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    from_: Address | None = None
    sender: Address | None = None
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    date: datetime | None = None
    subject: str = ""
    subject_normalized: str = ""
    body_text: str = ""
    body_html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    # headers that classification reads, lower-cased names -> decoded values
    headers: dict[str, str] = field(default_factory=dict)
    # bounces: one entry per recipient named in a message/delivery-status part
    delivery_reports: list[DeliveryReport] = field(default_factory=list)
    # the Message-ID of the original message quoted in a bounce, if any
    original_message_id: str | None = None
    is_delivery_report: bool = False
    defects: list[str] = field(default_factory=list)
