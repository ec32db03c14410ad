"""Stage 3, store: the SQLite database, written by one process.

``db`` holds the schema, its migrations and the idempotent writes; ``ingest`` parses in
worker processes and writes in batches; ``sync`` drives ``tracker sync`` over IMAP with
its per-folder bookkeeping (``syncstate``); ``staged`` keeps the parser workers' matching
evidence for the run's rethread; ``lock`` keeps two runs from writing at once.
"""

from ..sources.item import RawItem
from .db import MESSAGE_COLUMNS, WriteSummary, iso, known_locations, now_iso, open_db, unthreaded, write_batch

__all__ = [
    "MESSAGE_COLUMNS", "RawItem", "WriteSummary", "iso", "known_locations", "now_iso", "open_db",
    "unthreaded", "write_batch",
]
