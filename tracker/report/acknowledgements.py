"""``tracker report acknowledgements``: letters whose acknowledgement of receipt is overdue
(``acknowledgement_within`` of their correspondent; off by default). tracker computes dates
from the config; it gives no legal advice on whether a body owes an acknowledgement."""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from ..config import Config
from . import reports as report

NOTICE = {
    "fr": "tracker calcule des dates à partir de la configuration ; il ne donne pas d'avis juridique.",
    "en": "tracker computes dates from the config; it gives no legal advice.",
}


def unacknowledged(db: sqlite_utils.Database, config: Config, as_of: datetime | None = None) -> list[report.Thread]:
    """Open threads whose first letter had no acknowledgement, reply or answer by post by its
    acknowledgement due date, the oldest first."""
    return [t for t in report.thread_states(db, config, as_of) if t.acknowledgement_overdue]


def render(threads: list[report.Thread], config: Config, fmt: str = "text") -> str:
    """JSON (the thread objects of ``report unanswered`` plus ``acknowledgement_due_at``) or text."""
    if fmt == "json":
        rows = [dict(t.to_dict(config), acknowledgement_due_at=report._local_iso(t.acknowledgement.due_at, config))
                for t in threads]
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    lines = [NOTICE[config.language], ""]
    lines += [f"{(report._local_iso(t.acknowledgement.due_at, config) or '')[:10]}  {t.id}  "
              f"{t.correspondent[:28]:<28} {t.subject}" for t in threads]
    return "\n".join(lines) + "\n"
