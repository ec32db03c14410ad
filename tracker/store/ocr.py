"""The OCR queue: scanned attachments read by Tesseract after they are stored, within a budget.

``tracker ocr`` works the whole queue; ``tracker sync`` ends by working it for at most
``[ocr] budget_seconds``. The queue (``ocr_queue``) and how far attachments were looked at
(``ocr_seen``) are bookkeeping, in the private store. A document is read from the raw bytes
of its message (``raw_messages``), in a child process whose memory is capped (RLIMIT_AS,
which Tesseract, its child, inherits) and which a crashing renderer takes down alone.

Resumable at every step: the attachment's text and the removal of its message's evidence
commit first (the text is then indexed by the attachments' update trigger), the queue row
after (a crash in between only reads the document again); a message read but not yet
rethreaded keeps ``rethread = 1`` until ``rethread`` (the threader, passed in by the caller:
the store comes before it) has placed it again.

A failure is not final at once: Tesseract killed at its time limit, a memory cap or a crash
may not happen again. Each read counts in ``attempts`` (before it starts, so a run killed
during a read counts it too); a document that failed is read again by a later run
(``status = 'retry'``), after the documents never tried, until it has failed ``MAX_ATTEMPTS``
times: then it is ``failed`` for good, with its last reason in ``error``.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import sqlite_utils

from ..config import Config
from ..parse import ocr as reader

QUEUE_DDL = (
    "create table if not exists private.ocr_queue (attachment_id TEXT PRIMARY KEY, message_id TEXT, "
    "kind TEXT, status TEXT NOT NULL DEFAULT 'waiting', pages INTEGER, page_count INTEGER, "
    "seconds REAL, error TEXT, queued_at TEXT, done_at TEXT, rethread INTEGER NOT NULL DEFAULT 0, "
    "attempts INTEGER NOT NULL DEFAULT 0)",
    "create index if not exists private.ocr_queue_waiting on ocr_queue (status)",
    # the highest attachments rowid already looked at (attachments are only ever added)
    "create table if not exists private.ocr_seen (id INTEGER PRIMARY KEY CHECK (id = 1), last_rowid INTEGER)",
    # the pages of a document read by a run the budget cut short: the next read starts after them
    "create table if not exists private.ocr_pages (attachment_id TEXT NOT NULL, page INTEGER NOT NULL, "
    "text TEXT, PRIMARY KEY (attachment_id, page))",
)
# reads of one document before it is failed for good
MAX_ATTEMPTS = 3
# statuses: waiting (never read to the end), retry (failed, read again later), done, failed (for good)
TO_READ = ("waiting", "retry")
# why a document failed, in a few words for the status lines (never its text): the first
# fragment found in ``error`` names it; the errors of older queues read the same way
REASONS = (
    ("the OCR run was interrupted", "run interrupted"),
    ("not in the private store", "bytes missing"),
    ("memory cap of", "over the memory cap"),
    ("ended without an answer", "OCR process crashed"),
    ("stopped after", "timed out"),
    ("unreadable (", "unreadable file"),
    ("no text read", "no text read"),
)


@dataclass
class OcrRun:
    """What one run of the queue did."""

    documents: int = 0
    pages: int = 0
    failed: int = 0  # reads that failed in this run (to retry or for good)
    waiting: int = 0  # left for the next run, never read to the end
    retrying: int = 0  # failed, read again by the next run
    failed_for_good: dict[str, int] = field(default_factory=dict)  # in the whole queue, by reason
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the OCR processes (rendering and Tesseract)
    missing: str | None = None  # why nothing was read (Tesseract not installed)
    rethreaded: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def ensure(db: sqlite_utils.Database) -> None:
    """Create the queue's tables in the private store (m009, and a private file made anew) and
    give a queue made before m011 its ``attempts`` column (m011, and an older private file put
    back beside a migrated database: migrations are recorded in the published file only)."""
    for sql in QUEUE_DDL:
        db.execute(sql)
    if "attempts" not in {row[1] for row in db.execute("pragma private.table_info(ocr_queue)")}:
        with db.atomic():
            db.execute("alter table private.ocr_queue add column attempts INTEGER NOT NULL DEFAULT 0")
            # read once already; a failure then was final, it now gets the retries it never had
            db.execute("update private.ocr_queue set attempts = 1 where status in ('done', 'failed')")
            db.execute("update private.ocr_queue set status = 'retry' where status = 'failed'")


def enqueue(db: sqlite_utils.Database) -> int:
    """Queue the attachments stored since the last call that need OCR; returns how many."""
    ensure(db)
    row = db.execute("select last_rowid from private.ocr_seen where id = 1").fetchone()
    last = row[0] if row else 0
    highest = db.execute("select coalesce(max(rowid), 0) from attachments").fetchone()[0]
    if highest < last:  # a published file built anew: look at everything again
        last = 0
    wanted = []
    for _, attachment_id, message_id, filename, ctype, size, text in db.execute(
        "select rowid, id, message_id, filename, content_type, size, substr(text, 1, 200) from attachments "
        "where rowid > ? and rowid <= ?",
        [last, highest],
    ):
        kind = reader.ocr_kind(ctype, filename, size, text)
        if kind:
            wanted.append((attachment_id, message_id, kind, _now()))
    with db.atomic():
        db.conn.executemany(
            "insert or ignore into private.ocr_queue (attachment_id, message_id, kind, queued_at) values (?, ?, ?, ?)",
            wanted,
        )
        db.execute("insert or replace into private.ocr_seen (id, last_rowid) values (1, ?)", [highest])
    return len(wanted)


def waiting(db: sqlite_utils.Database) -> int:
    """Documents waiting in the queue, never read to the end (retries not counted)."""
    ensure(db)
    return db.execute("select count(*) from private.ocr_queue where status = 'waiting'").fetchone()[0]


def retrying(db: sqlite_utils.Database) -> int:
    """Documents that failed fewer than ``MAX_ATTEMPTS`` times, to be read again."""
    ensure(db)
    return db.execute("select count(*) from private.ocr_queue where status = 'retry'").fetchone()[0]


def queue_failed_again(db: sqlite_utils.Database) -> int:
    """Give the documents failed for good their reads back (after raising ``ocr.memory_mb``
    or ``ocr.page_seconds``, or installing a language); returns how many."""
    ensure(db)
    with db.atomic():
        return db.execute("update private.ocr_queue set status = 'waiting', attempts = 0, error = null "
                          "where status = 'failed'").rowcount


def reason(error: str | None) -> str:
    """The few words that say why a document failed (``REASONS``), from its ``error``."""
    for fragment, words in REASONS:
        if fragment in (error or ""):
            return words
    return "other"


def failed_for_good(db: sqlite_utils.Database) -> dict[str, int]:
    """Documents failed for good, counted by reason, the most frequent first."""
    ensure(db)
    counts: dict[str, int] = {}
    for (error,) in db.execute("select error from private.ocr_queue where status = 'failed'"):
        words = reason(error)
        counts[words] = counts.get(words, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _child(connection, data: bytes, kind: str, ocr, deadline: float | None, memory: int, first_page: int = 0) -> None:
    """Read one document in a process of its own, within ``memory`` bytes of address space."""
    try:
        # the libraries first: the cap is for the document's pages, not for loading the readers
        import pypdfium2  # noqa: F401
        import pytesseract  # noqa: F401
        from PIL import Image, ImageSequence  # noqa: F401

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract: one core per page, the box has few
        scan = reader.read_scan(data, kind, languages=ocr.languages, max_pages=ocr.max_pages,
                                page_seconds=ocr.page_seconds, dpi=ocr.dpi, deadline=deadline,
                                first_page=first_page)
        connection.send(("ok", scan))
    except MemoryError:
        connection.send(("error", f"over the memory cap of {memory // 2**20} MB (ocr.memory_mb)"))
    except Exception as exc:  # noqa: BLE001 - a broken file fails the renderer in many ways
        connection.send(("error", f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"))
    finally:
        connection.close()


def read_document(data: bytes, kind: str, ocr, deadline: float | None = None,
                  first_page: int = 0) -> tuple[reader.Scan | None, str | None, float]:
    """OCR ``data`` from ``first_page`` in a child process: (scan, None, cpu) or (None, why it
    failed, cpu)."""
    # a fresh interpreter, not a fork: RLIMIT_AS counts the address space a forked child inherits,
    # which in a large process (a sync after a big import, a test run) is over the cap already
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = context.Process(target=_child, args=(send, data, kind, ocr, deadline, ocr.memory_mb * 2**20, first_page))
    process.start()
    send.close()
    # the child ends by itself (each page has its timeout); this bounds a renderer stuck in C
    limit = ocr.page_seconds * (ocr.max_pages + 1) + 30
    outcome = ("error", "the OCR process ended without an answer (over the memory cap?)")
    if receive.poll(limit):
        try:
            outcome = receive.recv()
        except EOFError:
            pass
    else:
        outcome = ("error", f"stopped after {limit:g} s")
        process.kill()
    process.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return (outcome[1], None, cpu) if outcome[0] == "ok" else (None, outcome[1], cpu)


Progress = Callable[[OcrRun, int], None]


def work(
    db: sqlite_utils.Database,
    config: Config,
    *,
    budget: float | None = None,
    rethread: Callable[[list[str]], None] | None = None,
    progress: Progress | None = None,
) -> OcrRun:
    """Read queued scans, each at most once a run, newest first and those read before (that
    failed) after the others, for at most ``budget`` seconds (None: until each was read); then
    ``rethread`` the messages whose text changed, so the next placement reads their scans as
    evidence. A document cut short by the budget stays queued, its attempt not counted."""
    started = time.monotonic()
    deadline = None if budget is None else started + budget
    run = OcrRun()
    enqueue(db)
    run.missing = reader.tesseract_missing(config.ocr.languages)
    if run.missing is None:
        _give_up_interrupted(db)
        # each document once a run; those read before (retries, a killed run's) after the others,
        # so that a bad scan never holds up the new ones
        order = [r[0] for r in db.execute(
            "select attachment_id from private.ocr_queue where status in (?, ?) order by attempts > 0, rowid desc",
            TO_READ,
        )]
        for attachment_id in order:
            if deadline is not None and time.monotonic() >= deadline - 1:
                break
            row = db.execute(
                "select q.attachment_id, q.message_id, q.kind, a.sha256, r.raw from private.ocr_queue q "
                "left join attachments a on a.id = q.attachment_id left join messages m on m.message_id = q.message_id "
                "left join private.raw_messages r on r.sha256 = m.sha256 where q.attachment_id = ? and q.status in (?, ?)",
                [attachment_id, *TO_READ],
            ).fetchone()
            if row is None:
                continue
            if not _read_one(db, config, run, row, deadline):
                break
            if progress:
                progress(run, len(order))
    run.waiting = waiting(db)
    run.retrying = retrying(db)
    run.failed_for_good = failed_for_good(db)
    _rethread(db, rethread, run)
    run.seconds = time.monotonic() - started
    return run


def _read_one(db: sqlite_utils.Database, config: Config, run: OcrRun, row, deadline: float | None) -> bool:
    """Read one queued document and record it; False when the budget ran out first."""
    attachment_id, message_id, kind, sha256, raw = row
    with db.atomic():  # counted before the read: a read that kills the whole run counts too
        db.execute("update private.ocr_queue set attempts = attempts + 1 where attachment_id = ?", [attachment_id])
    data = reader.attachment_bytes(raw, sha256) if raw is not None and sha256 else None
    # the pages a run cut short read already: this read starts after them
    before = [text for (text,) in db.execute(
        "select text from private.ocr_pages where attachment_id = ? order by page", [attachment_id])]
    if data is None:
        scan, error, cpu = None, "the attachment's bytes are not in the private store", 0.0
    else:
        scan, error, cpu = read_document(data, kind, config.ocr, deadline, first_page=len(before))
    run.cpu_seconds += cpu
    if scan is not None and scan.stopped == "budget":
        with db.atomic():  # the run's time ran out, not the document's chances; its pages are kept
            db.execute("update private.ocr_queue set attempts = attempts - 1 where attachment_id = ?", [attachment_id])
            db.conn.executemany(
                "insert or replace into private.ocr_pages (attachment_id, page, text) values (?, ?, ?)",
                [(attachment_id, len(before) + number, text) for number, text in enumerate(scan.page_texts)])
        run.pages += scan.pages
        return False
    read_now = scan.pages if scan is not None else 0
    if scan is not None and before:  # the whole document: the pages of the runs before, then these
        scan.text = "\n\n".join(before + scan.page_texts)[:reader.PDF_MAX_TEXT_CHARS]
        scan.pages += len(before)
    if scan is not None and not scan.text.strip():
        # PDFium renders a blank page when it cannot decode an image (memory cap, broken JPEG);
        # a page Tesseract was stopped on says so in the defects
        scan, error = None, (f"no text read from {scan.pages} pages: " + "; ".join(scan.defects) if scan.defects else
                             f"no text read from {scan.pages} pages (blank, unreadable, or over the "
                             f"memory cap ocr.memory_mb = {config.ocr.memory_mb})")
    if scan is not None:
        with db.atomic():  # the published side first: a crash after it only reads the scan again
            db.execute("update attachments set text = ? where id = ?", [scan.text, attachment_id])
            # its evidence is read again, attachments included, by the next rethread
            db.execute("delete from message_keys where message_id = ?", [message_id])
        run.documents += 1
        run.pages += read_now
    else:
        run.failed += 1
    with db.atomic():
        db.execute("delete from private.ocr_pages where attachment_id = ?", [attachment_id])  # read to the end, or failed
        tried = db.execute("select attempts from private.ocr_queue where attachment_id = ?", [attachment_id]).fetchone()[0]
        status = "done" if scan is not None else "failed" if tried >= MAX_ATTEMPTS else "retry"
        db.execute(
            "update private.ocr_queue set status = ?, pages = ?, page_count = ?, seconds = ?, error = ?, "
            "done_at = ?, rethread = ? where attachment_id = ?",
            [status, scan.pages if scan else None,
             scan.page_count if scan else None, round(cpu, 3),
             error or ("; ".join(scan.defects) if scan and scan.defects else None), _now(),
             int(scan is not None), attachment_id],
        )
    return True


def _give_up_interrupted(db: sqlite_utils.Database) -> None:
    """Fail for good the documents whose last allowed read was cut short by the end of its run
    (killed, or the machine down): such a document may be what kills the run."""
    with db.atomic():
        db.execute(
            "update private.ocr_queue set status = 'failed', done_at = ?, error = 'the OCR run was interrupted "
            "during read ' || attempts || coalesce(' (before: ' || error || ')', '') where status in (?, ?) and attempts >= ?",
            [_now(), *TO_READ, MAX_ATTEMPTS],
        )


def _rethread(db: sqlite_utils.Database, rethread: Callable[[list[str]], None] | None, run: OcrRun) -> None:
    """Place again the messages whose scans were read (this run's, and a killed run's)."""
    ids = [r[0] for r in db.execute("select distinct message_id from private.ocr_queue where rethread = 1")]
    if not ids or rethread is None:
        return
    rethread(ids)
    with db.atomic():
        db.conn.executemany("update private.ocr_queue set rethread = 0 where message_id = ?", [(m,) for m in ids])
    run.rethreaded = ids


def _failures(retry: int, for_good: dict[str, int]) -> list[str]:
    """The parts of a line that say what failed: how many wait for a retry, how many failed for
    good and why (counts and reasons only: no file name, no text)."""
    parts = [f"{retry} to retry after a failure"] if retry else []
    if for_good:
        reasons = ", ".join(f"{count} {words}" for words, count in for_good.items())
        parts.append(f"{sum(for_good.values())} failed for good ({reasons})")
    return parts


def run_line(run: OcrRun) -> str:
    """What a run of the queue did, in one line (``tracker ocr``, ``tracker sync``)."""
    return "; ".join([
        f"OCR: {run.documents} documents read ({run.pages} pages, {run.cpu_seconds:.0f} s of CPU), "
        f"{run.failed} unreadable, {run.waiting} waiting",
        *_failures(run.retrying, run.failed_for_good),
    ])


def status_line(db: sqlite_utils.Database, config: Config) -> str | None:
    """One line for ``tracker status``: why scans are not read (and how many wait), or how
    many wait for ``tracker ocr``, for a retry, and how many failed for good by reason; None
    when there is nothing to say."""
    missing = reader.tesseract_missing(config.ocr.languages)
    count = waiting(db)
    failures = _failures(retrying(db), failed_for_good(db))
    if missing:
        return "; ".join([f"OCR: {missing}", *([f"{count} documents wait"] if count else []), *failures])
    parts = [f"{count} scanned documents wait for tracker ocr"] if count else []
    return "OCR: " + "; ".join(parts + failures) if parts or failures else None
