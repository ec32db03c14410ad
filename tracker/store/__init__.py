"""Stage 3, store: the SQLite database, written by one process.

``db`` holds the schema and its migrations; ``writes`` the idempotent writes, raw bytes
first in the private store (``private``, a second file the web never opens); ``ingest`` parses in
worker processes and writes in batches; ``sync`` drives ``tracker sync`` over IMAP with
its per-folder bookkeeping (``syncstate``); ``staged`` keeps the parser workers' matching
evidence for the run's rethread; ``lock`` keeps two runs from writing at once.
"""

from ..sources.item import RawItem
from .db import iso, now_iso, open_db
from .writes import MESSAGE_COLUMNS, WriteSummary, complete, known_locations, unthreaded, write_batch

__all__ = [
    "MESSAGE_COLUMNS", "RawItem", "WriteSummary", "complete", "iso", "known_locations", "now_iso", "open_db",
    "unthreaded", "write_batch",
]
