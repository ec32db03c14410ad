"""Correspondents in the database, and the stable ids of the threads their letters open."""

from __future__ import annotations

import hashlib
import json

import sqlite_utils

from ..config import Config

DERIVATION_VERSION = "4"  # bump when the derived keys change: the next run re-derives everything


def sync_correspondents(db: sqlite_utils.Database, config: Config) -> None:
    """Make the ``correspondents`` table say what the config says (id = slug)."""
    rows = [
        {
            "id": c.slug,
            "name": c.name,
            "short_name": c.short_name,
            "addresses": json.dumps(c.addresses),
            "domains": json.dumps(c.domains),
            "deadline": str(config.deadline_for(c)),
        }
        for c in config.correspondents
    ]
    with db.atomic():
        db["correspondents"].upsert_all(rows, pk="id") if rows else None
        keep = [row["id"] for row in rows]
        db.execute(
            f"delete from correspondents where id not in ({','.join('?' * len(keep))})", keep
        )


def thread_id(letter_message_id: str, correspondent_id: str) -> str:
    """The stable id of the thread a letter opens for one correspondent ("t-" + 10 hex)."""
    digest = hashlib.sha1(f"{letter_message_id}\n{correspondent_id}".encode("utf-8", "surrogatepass"))
    return "t-" + digest.hexdigest()[:10]


def fingerprint(config: Config) -> str:
    return json.dumps(
        {
            "correspondents": [
                [c.slug, c.name, sorted(c.addresses), sorted(c.domains), str(config.deadline_for(c))]
                for c in config.correspondents
            ],
            "coalition": [sorted(config.coalition_addresses), sorted(config.coalition_domains)],
            "holidays": config.holidays,
            "timezone": config.timezone,
            "threading": DERIVATION_VERSION,
        },
        sort_keys=True,
    )

