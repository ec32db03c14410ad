"""Stage 4, thread: per-recipient threads, where each answer goes, and each thread's status.

``rethread`` is the entry point (after every import and sync). ``conversations`` links
messages by their headers; ``threader`` runs the steps, each in its own module: ``keys``,
``full`` and ``incremental``, ``place`` (the one placement logic), ``matching`` (which
candidate the evidence picks); ``status`` decides a thread's state from its events,
``views`` reads threads as of a date, ``marks`` records what only a person knows.
"""

from .correspondents import sync_correspondents, thread_id
from .marks import find_thread, mark
from .rethread import refresh_overdue, rethread
from .threader import Threader, ThreadingError
from .views import ThreadView, decide, list_threads, render, thread_views

__all__ = [
    "Threader", "ThreadingError", "ThreadView", "decide", "find_thread", "list_threads", "mark",
    "refresh_overdue", "render", "rethread", "sync_correspondents", "thread_id", "thread_views",
]
