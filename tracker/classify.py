"""What a message is: its direction (outgoing / incoming) and its kind.

Pure functions of a parsed record and the config; no I/O.
"""

from __future__ import annotations

from .config import Config
from .records import ParsedMessage

SENT_FOLDER_HINTS = ("sent", "envoy", "gesendet", "enviad", "inviat")


def is_coalition_address(address: str | None, config: Config) -> bool:
    if not address:
        return False
    address = address.lower()
    if address in config.coalition_addresses:
        return True
    domain = address.rpartition("@")[2]
    return any(domain == d or domain.endswith("." + d) for d in config.coalition_domains)


def direction(msg: ParsedMessage, folder: str | None, config: Config) -> str:
    """``outgoing`` when written by the coalition (or found in a Sent folder), else ``incoming``."""
    if msg.from_ and is_coalition_address(msg.from_.address, config):
        return "outgoing"
    if folder and any(hint in folder.lower() for hint in SENT_FOLDER_HINTS):
        return "outgoing"
    return "incoming"


def kind(msg: ParsedMessage, direction: str, config: Config) -> str:
    """One of letter, reply, auto_reply, acknowledgement, bounce, other."""
    if msg.is_delivery_report:
        return "bounce"
    if direction == "outgoing":
        return "letter"
    return "reply"


def classify(msg: ParsedMessage, folder: str | None, config: Config) -> tuple[str, str]:
    """Return ``(direction, kind)`` for a message found in ``folder``."""
    found = direction(msg, folder, config)
    return found, kind(msg, found, config)
