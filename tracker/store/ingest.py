"""From raw messages to stored rows: parse in worker processes, write in batches.

Parsing is pure Python and bound by the GIL, so it runs in one worker process
per core while this process, the only writer, commits batches to SQLite. At
most two batches are in memory at once (one being parsed, one being written),
so memory stays bounded however large the mailbox.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable, Iterable, Iterator

import sqlite_utils

from ..config import Config
from ..parse import classify
from ..parse import evidence as matching
from ..parse import limits, message
from ..parse.records import ParsedMessage
from ..sources.item import RawItem
from . import db as store
from . import staged, writes
from .writes import WriteSummary

Outcome = ParsedMessage | str  # a record, or the reason it went to quarantine
Checkpoint = Callable[[list[RawItem]], None]

# below this many messages a batch is parsed in-process: a pool costs more than it saves
POOL_THRESHOLD = 40
CHUNK = 16
# what a row holds besides the raw bytes (sha256, Message-ID, dates), within SQLite's length limit
ROW_MARGIN = 4096


def parse_item(raw: bytes | None) -> Outcome:
    """Parse one message; never raises: a failure becomes a quarantine reason."""
    if raw is None:
        return "not fetched"
    try:
        return message.parse_message(raw)
    except limits.ParseFailure as exc:
        return str(exc)
    except RecursionError:
        return "parser failed: nesting too deep"
    except MemoryError:
        return "parser failed: out of memory"
    except Exception as exc:  # noqa: BLE001 - a message's fault must never stop an import
        return f"parser failed: {type(exc).__name__}"


Classification = tuple[str, str] | None  # (direction, kind) of a parsed message
Evidence = list[tuple[str, str]] | None  # (key, role) rows of message_keys, when known
Result = tuple[Outcome, Classification, Evidence]


def _evidence(config: Config, msg: ParsedMessage, found: Classification, arrived_at: str | None) -> Evidence:
    """The matching evidence the next rethread would read from this message's stored row,
    derived here in the parser workers instead of afterwards in the single writer."""
    if found is None or (msg.date is None and arrived_at is None):
        return None  # its stored date is the moment it is written: the threader reads it then
    role = matching.evidence_role(
        found[0], found[1], msg.from_.address if msg.from_ else None, (a.address for a in msg.to),
        _resolver(config),
    )
    if role is None:
        return None
    when = store.iso(msg.date) if msg.date is not None else arrived_at  # as the row will store it
    return [(key, role) for key in matching.evidence_keys(role, msg.subject, when, msg.body_text, config.tz)]


# the last config's correspondents and their resolver: holding the list itself (not its id(),
# which Python hands out again once an object is gone) keeps another config from matching
_RESOLVER: list[tuple[object, "matching.Resolver"]] = []


def _resolver(config: Config) -> "matching.Resolver":
    if not _RESOLVER or _RESOLVER[0][0] is not config.correspondents:
        _RESOLVER[:] = [(config.correspondents, matching.Resolver(config.correspondents))]
    return _RESOLVER[0][1]


def _parse_chunk(config: Config, items: list[tuple[bytes | None, str, str | None]]) -> list[Result]:
    """Parse, classify and read matching evidence from (all pure) messages found in their
    folders; runs in the workers, so the single writer only writes."""
    results: list[Result] = []
    for raw, folder, arrived_at in items:
        outcome = parse_item(raw)
        found = evidence = None
        if not isinstance(outcome, str):
            try:
                found = classify.classify(outcome, folder, config)
                evidence = _evidence(config, outcome, found, arrived_at)
            except Exception:  # noqa: BLE001 - the writer classifies again, the threader reads evidence
                found = evidence = None
        results.append((outcome, found, evidence))
    return results


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class Ingester:
    """Parses and stores batches of raw messages; one per import or sync run."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        config: Config,
        *,
        workers: int | None = None,
        batch_size: int = 400,
        batch_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.db = db
        self.config = config
        self.workers = default_workers() if workers is None else workers
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self._pool: ProcessPoolExecutor | None = None
        self._completed = False

    def __enter__(self) -> "Ingester":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _submit(self, batch: list[RawItem]) -> list:
        # arrival times as text: IMAP's (imapclient's FixedOffset time zones) do not pickle
        pairs = [(item.raw, item.folder, store.iso(item.arrived_at)) for item in batch]
        if self.workers <= 1 or len(batch) < POOL_THRESHOLD:
            return _parse_chunk(self.config, pairs)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork")
            )
        return [
            self._pool.submit(_parse_chunk, self.config, pairs[i : i + CHUNK])
            for i in range(0, len(pairs), CHUNK)
        ]

    @staticmethod
    def _collect(pending: list) -> list[Result]:
        if pending and isinstance(pending[0], Future):
            results: list[Result] = []
            for future in pending:
                results.extend(future.result())
            return results
        return pending

    def write(self, batch: list[RawItem], checkpoint: Checkpoint | None = None) -> WriteSummary:
        """Parse and store one batch in one transaction, with the caller's checkpoint."""
        outcomes = self._fit(batch, self._collect(self._submit(batch)))
        return self._write(batch, outcomes, checkpoint)

    def _fit(self, batch: list[RawItem], results: list[Result]) -> list[Result]:
        """Quarantine what SQLite could not store (a value over its length limit would abort
        the whole batch, and every rerun after it): bytes too long are not stored, a record
        with a text too long keeps only its bytes."""
        limit = self.db.conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) - ROW_MARGIN
        fitted: list[Result] = []
        for item, result in zip(batch, results):
            outcome = result[0]
            if item.raw is not None and len(item.raw) > limit:
                item.size, item.raw = len(item.raw), None
                item.problem = (
                    f"too large for the database: {item.size} bytes, over SQLite's length limit "
                    f"({limit + ROW_MARGIN}); not stored"
                )
                result = (item.problem, None, None)
            elif not isinstance(outcome, str):
                longest = max(_stored_length(outcome.body_text, limit), _stored_length(outcome.body_html, limit))
                if longest > limit:
                    reason = (
                        f"too large for the database: a text of {longest} bytes, over SQLite's "
                        f"length limit ({limit + ROW_MARGIN}); kept raw, not read"
                    )
                    result = (reason, None, None)
            fitted.append(result)
        return fitted

    def _write(
        self,
        batch: list[RawItem],
        results: list[Result],
        checkpoint: Checkpoint | None,
    ) -> WriteSummary:
        found = {id(outcome): known for outcome, known, _ in results if known is not None}

        def classified(msg: ParsedMessage, folder: str) -> tuple[str, str]:
            return found.get(id(msg)) or classify.classify(msg, folder, self.config)

        # the raw bytes and the checkpoint commit first, in the private store (see store.private)
        summary = writes.write_batch(
            self.db, zip(batch, (outcome for outcome, _, _ in results)), classified,
            (lambda: checkpoint(batch)) if checkpoint is not None else None,
        )
        if summary.new_message_ids:
            # kept aside for this run's rethread, which would otherwise read every body again
            read: dict[str, Evidence] = {}
            for outcome, _, evidence in results:
                if not isinstance(outcome, str):
                    read.setdefault(outcome.message_id, evidence)  # the first copy is the one stored
            staged.stage_evidence(
                self.db, self.config, [(m, *row) for m in summary.new_message_ids for row in read.get(m) or ()]
            )
        return summary

    def complete(self) -> int:
        """Finish what a killed run left half-written (raw bytes stored, rows not yet)."""
        return writes.complete(
            self.db, parse_item, lambda msg, folder: classify.classify(msg, folder, self.config)
        )

    def batches(self, items: Iterable[RawItem]) -> Iterator[list[RawItem]]:
        batch: list[RawItem] = []
        size = 0
        for item in items:
            batch.append(item)
            size += len(item.raw or b"")
            if len(batch) >= self.batch_size or size >= self.batch_bytes:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def run(
        self,
        items: Iterable[RawItem],
        *,
        checkpoint: Checkpoint | None = None,
        progress: Callable[[WriteSummary], None] | None = None,
    ) -> WriteSummary:
        """Store every item; the next batch is parsed while the current one is written. What a
        killed run left half-written is finished first."""
        total = WriteSummary()
        if not self._completed:
            self._completed = True
            self.complete()
        previous: tuple[list[RawItem], list] | None = None
        for batch in self.batches(items):
            pending = self._submit(batch)
            if previous is not None:
                total.add(self._write(previous[0], self._fit(previous[0], self._collect(previous[1])), checkpoint))
                if progress:
                    progress(total)
            previous = (batch, pending)
        if previous is not None:
            total.add(self._write(previous[0], self._fit(previous[0], self._collect(previous[1])), checkpoint))
            if progress:
                progress(total)
        return total


def _stored_length(text: str | None, limit: int) -> int:
    """The bytes SQLite stores for ``text`` (UTF-8), counted only when it may be over ``limit``."""
    if text is None or len(text) * 4 <= limit:  # at most 4 bytes a character
        return 0 if text is None else len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
