"""Delivery status notifications (bounces): the reports their message/delivery-status parts give."""

from __future__ import annotations

import re
from .headers import _is_address
from .records import DeliveryReport


# ---------------------------------------------------------------------------
# delivery status notifications (bounces)

_QUOTED_ID = re.compile(r"(?im)^[ \t>]*message-id:[ \t]*<([^<>\s]+)>")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_CODE = re.compile(r"\s*([245])\d\d\b")
# Actions as some servers spell them -> RFC 3464's words (old OpenSMTPD: "error").
_ACTIONS = {"failure": "failed", "fail": "failed", "error": "failed", "delay": "delayed",
            "deliverable": "delivered"}
# "Action: failed (bad destination mailbox)", "Action: delayed; retrying": the first word.
_ACTION_WORD = re.compile(r"\s*([A-Za-z]+)")


def _dsn_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            name = key.strip().lower()
            fields.setdefault(name, value.strip())
    return fields


def _typed_address(value: str) -> str:
    """``rfc822; Someone@Example.org`` -> ``someone@example.org``."""
    _, sep, addr = value.partition(";")
    return (addr if sep else value).strip().strip("<>").lower()


def _delivery_reports(text: str) -> list[DeliveryReport]:
    reports = []
    for block in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields = _dsn_fields(block)
        recipient = ""
        for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
            candidate = _typed_address(fields.get(name, ""))
            if _is_address(candidate):
                recipient = candidate
                break
        if not recipient:
            continue
        status = _STATUS.search(fields.get("status", ""))
        code = status.group(1) if status else ""
        smtp = _SMTP_CODE.match(fields.get("status", ""))
        if not code and smtp:
            code = f"{smtp.group(1)}.0.0"  # "Status: 553 sorry, ..." : an SMTP reply, its class kept
        word = _ACTION_WORD.match(fields.get("action", ""))
        action = word.group(1).lower()[:20] if word else ""
        diagnostic = fields.get("diagnostic-code", "")
        kind, sep, rest = diagnostic.partition(";")
        if sep and " " not in kind.strip():
            diagnostic = rest
        reports.append(
            DeliveryReport(
                recipient=recipient,
                action=_ACTIONS.get(action, action),
                status=code,
                diagnostic=" ".join(diagnostic.split())[:1000],
            )
        )
    return reports
