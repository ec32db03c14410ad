"""Conversations and per-recipient threads (being written by the threading owner)."""

from __future__ import annotations


def rethread(db, config, changed_message_ids=None) -> None:
    """Re-derive conversations and threads touched by ``changed_message_ids`` (all when None)."""
