"""A scan that fails is read again by later runs, after the new ones, and is failed for good at
its third read, its reason kept and counted in `tracker ocr` and `tracker status`; m011 gives
an existing queue its ``attempts`` column. Against the real Tesseract: a timeout is Tesseract
killed at a seconds-per-page cap set too small, an unreadable file is a corrupt PDF."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_config
from tests.test_ocr import CONFIG, LINES, mail
from tracker import config as config_module
from tracker import store
from tracker.cli import cli
from tracker.demo.scans import scan_page, scan_pdf
from tracker.store import ocr

CORRUPT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + bytes(range(256)) * 40
# the queue as m009 made it before m011 (QUEUE_DDL of then, without ``attempts``)
OLD_QUEUE = (
    "create table ocr_queue (attachment_id TEXT PRIMARY KEY, message_id TEXT, "
    "kind TEXT, status TEXT NOT NULL DEFAULT 'waiting', pages INTEGER, page_count INTEGER, "
    "seconds REAL, error TEXT, queued_at TEXT, done_at TEXT, rethread INTEGER NOT NULL DEFAULT 0)"
)
OLD_COLUMNS = "attachment_id, message_id, kind, status, pages, page_count, seconds, error, queued_at, done_at, rethread"


class Stop(Exception):
    """The run ended there (killed, interrupted)."""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, CONFIG)


def add(config_path: Path, name: str, data: bytes, filename: str = "reponse-prefecture.pdf",
        ctype: str = "application/pdf") -> None:
    """Import one message with one attachment, in an import of its own (queued after the others)."""
    folder = config_path.parent / f"mail-{name}"
    folder.mkdir()
    mail(folder, name, data, filename, ctype)
    result = CliRunner().invoke(cli, ["--config", str(config_path), "import", "--quiet", str(folder)])
    assert result.exit_code == 0, result.output


def good_scan(seed: int = 2) -> bytes:
    return scan_pdf([scan_page(LINES, seed=seed)])


def rows(config_path: Path) -> dict[str, tuple]:
    """attachment id -> (status, attempts, reason of its error)"""
    db = sqlite3.connect(config_path.parent / "tracker-private.db")
    return {a: (s, n, ocr.reason(e) if e else None)
            for a, s, n, e in db.execute("select attachment_id, status, attempts, error from ocr_queue")}


def run(config_path: Path, *args: str) -> list[str]:
    """The lines a command printed, the CPU seconds (which vary) as N."""
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
    assert result.exit_code == 0, result.output
    return re.sub(r"\d+ s of CPU", "N s of CPU", result.output).splitlines()


def open_store(config_path: Path):
    config = config_module.load(config_path)
    return store.open_db(config.database, private=config.private_database), config


def test_reasons_are_a_few_words_for_every_error_the_queue_writes() -> None:
    assert ocr.reason("over the memory cap of 128 MB (ocr.memory_mb)") == "over the memory cap"
    assert ocr.reason("the OCR process ended without an answer (over the memory cap?)") == "OCR process crashed"
    assert ocr.reason("stopped after 90 s") == "timed out"
    assert ocr.reason("no text read from 1 pages: OCR of a page stopped after 0.05 s (ocr.page_seconds)") == "timed out"
    assert ocr.reason("no text read from 2 pages (blank, unreadable, or over the memory cap ocr.memory_mb = 1024)") == "no text read"
    assert ocr.reason("unreadable (PdfiumError: Failed to load document (PDFium: Data format error).)") == "unreadable file"
    assert ocr.reason("the attachment's bytes are not in the private store") == "bytes missing"
    assert ocr.reason("the OCR run was interrupted during read 3 (before: stopped after 90 s)") == "run interrupted"
    assert ocr.reason("something new") == "other"


def test_a_failure_is_retried_by_the_next_runs_then_failed_for_good_with_its_reason(config_path: Path) -> None:
    add(config_path, "corrupt", CORRUPT_PDF)
    key = "corrupt@justice.gouv.fr/0"
    assert run(config_path, "ocr") == ["OCR: 0 documents read (0 pages, N s of CPU), 1 unreadable, 0 waiting; "
                                       "1 to retry after a failure"]
    assert rows(config_path)[key] == ("retry", 1, "unreadable file")
    assert run(config_path, "status")[-1] == "OCR: 1 to retry after a failure"
    run(config_path, "ocr")
    assert rows(config_path)[key] == ("retry", 2, "unreadable file")
    assert run(config_path, "ocr") == ["OCR: 0 documents read (0 pages, N s of CPU), 1 unreadable, 0 waiting; "
                                       "1 failed for good (1 unreadable file)"]
    assert rows(config_path)[key] == ("failed", 3, "unreadable file")
    # failed for good: no fourth read
    assert run(config_path, "ocr")[-1].startswith("OCR: 0 documents read (0 pages, N s of CPU), 0 unreadable")
    assert rows(config_path)[key] == ("failed", 3, "unreadable file")
    assert run(config_path, "status")[-1] == "OCR: 1 failed for good (1 unreadable file)"


def test_tesseract_killed_at_its_time_limit_is_read_on_a_later_run(config_path: Path) -> None:
    add(config_path, "slow", good_scan())
    key = "slow@justice.gouv.fr/0"
    db, config = open_store(config_path)
    config.ocr.page_seconds = 0.05  # below what the config allows: Tesseract is killed on every page
    first = ocr.work(db, config, rethread=None)
    assert (first.documents, first.failed, first.retrying, first.failed_for_good) == (0, 1, 1, {})
    assert rows(config_path)[key] == ("retry", 1, "timed out")
    error = db.execute("select error from private.ocr_queue").fetchone()[0]
    assert error == "no text read from 1 pages: OCR of a page stopped after 0.05 s (ocr.page_seconds)"
    db.close()
    # the cap back to its default: the next run reads it, and places its message again
    output = run(config_path, "ocr")
    assert output[-1].startswith("OCR: 1 documents read (1 pages") and output[-1].endswith("0 unreadable, 0 waiting")
    assert rows(config_path)[key] == ("done", 2, None)
    published = sqlite3.connect(config_path.parent / "tracker.db")
    [(text,)] = published.execute("select text from attachments where id = ?", [key])
    assert "interprétariat lors des auditions à Besançon" in text
    assert sqlite3.connect(config_path.parent / "tracker-private.db").execute(
        "select rethread from ocr_queue").fetchone() == (0,)
    assert not [line for line in run(config_path, "status") if "OCR" in line]


def test_new_scans_are_read_before_those_to_retry(config_path: Path) -> None:
    add(config_path, "older", good_scan(seed=3))
    add(config_path, "corrupt", CORRUPT_PDF)  # the newest: read first by the first run

    def stop_after_one(progress_run, total) -> None:
        raise Stop

    db, config = open_store(config_path)
    with pytest.raises(Stop):
        ocr.work(db, config, progress=stop_after_one)
    assert rows(config_path) == {"corrupt@justice.gouv.fr/0": ("retry", 1, "unreadable file"),
                                 "older@justice.gouv.fr/0": ("waiting", 0, None)}
    assert ocr.status_line(db, config) == "OCR: 1 scanned documents wait for tracker ocr; 1 to retry after a failure"
    add(config_path, "newest", good_scan(seed=4))
    seen: list[tuple[int, int]] = []
    second = ocr.work(db, config, progress=lambda r, total: seen.append((r.documents, r.failed, total)))
    # never read before, newest first (the new one, then the one left waiting), then the retry
    assert seen == [(1, 0, 3), (2, 0, 3), (2, 1, 3)]
    assert (second.documents, second.failed, second.waiting, second.retrying) == (2, 1, 0, 1)
    assert rows(config_path)["corrupt@justice.gouv.fr/0"] == ("retry", 2, "unreadable file")


def test_a_run_killed_during_each_of_three_reads_fails_the_document_for_good(config_path: Path, monkeypatch) -> None:
    add(config_path, "killer", good_scan())
    key = "killer@justice.gouv.fr/0"
    db, config = open_store(config_path)

    def killed(data, kind, ocr_config, deadline=None, first_page=0):
        raise Stop  # the run dies while this document is read (a renderer hang, the OOM killer)

    with monkeypatch.context() as patch:
        patch.setattr(ocr, "read_document", killed)
        for attempt in range(1, ocr.MAX_ATTEMPTS + 1):
            with pytest.raises(Stop):
                ocr.work(db, config)
            assert rows(config_path)[key] == ("waiting", attempt, None)  # counted, though never ended
    add(config_path, "fine", good_scan(seed=5))
    after = ocr.work(db, config)  # the real reader again
    assert rows(config_path) == {key: ("failed", 3, "run interrupted"), "fine@justice.gouv.fr/0": ("done", 1, None)}
    assert (after.documents, after.failed, after.failed_for_good) == (1, 0, {"run interrupted": 1})
    assert db.execute("select error from private.ocr_queue where status = 'failed'").fetchone() == (
        "the OCR run was interrupted during read 3",)


def test_a_document_cut_by_the_budget_keeps_its_attempts(config_path: Path) -> None:
    pages = [scan_page([f"Page {n}", *LINES], seed=n, signature=False) for n in range(3)]
    add(config_path, "long", scan_pdf(pages))
    db, config = open_store(config_path)
    cut = ocr.work(db, config, budget=2.5)  # three pages at 200 dpi take longer than that
    assert (cut.documents, cut.failed, cut.waiting) == (0, 0, 1)
    assert rows(config_path)["long@justice.gouv.fr/0"] == ("waiting", 0, None)


def test_failures_for_good_are_counted_by_reason_in_one_line_without_names_or_text(config_path: Path) -> None:
    add(config_path, "slow", good_scan())
    add(config_path, "corrupt1", CORRUPT_PDF)
    add(config_path, "corrupt2", CORRUPT_PDF + b"%%EOF")
    db, config = open_store(config_path)
    config.ocr.page_seconds = 0.05
    for _ in range(ocr.MAX_ATTEMPTS):
        last = ocr.work(db, config)
    add(config_path, "waiting", good_scan(seed=6))
    ocr.enqueue(db)
    expected = "3 failed for good (2 unreadable file, 1 timed out)"
    assert ocr.run_line(last).endswith(f" s of CPU), 3 unreadable, 0 waiting; {expected}")
    db.close()
    status = run(config_path, "status")
    assert [line for line in status if "OCR" in line] == [f"OCR: 1 scanned documents wait for tracker ocr; {expected}"]
    words = ("reponse-prefecture", "Besançon", "MINISTÈRE", "justice.gouv.fr", "PDFium", "0.05")
    assert not [w for w in words if w in "\n".join(status)]


def test_without_tesseract_the_status_line_still_counts_the_failures(config_path: Path, monkeypatch) -> None:
    add(config_path, "corrupt", CORRUPT_PDF)
    run(config_path, "ocr")
    add(config_path, "new", good_scan())
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # as tests/test_ocr.py takes it away
    monkeypatch.delenv("TESSERACT_CMD", raising=False)
    result = CliRunner().invoke(cli, ["--config", str(config_path), "ocr"])  # queues the new one, reads nothing
    assert result.exit_code == 1 and "Tesseract is not installed" in result.output
    [line] = [line for line in run(config_path, "status") if "OCR" in line]
    assert line.startswith("OCR: Tesseract is not installed: ") and line.endswith(
        "then run tracker ocr); 1 documents wait; 1 to retry after a failure")
    assert rows(config_path)["corrupt@justice.gouv.fr/0"] == ("retry", 1, "unreadable file")


def old_queue(config_path: Path, forget_m011: bool) -> None:
    """Make the private store's queue as it was before m011 (the same rows, no ``attempts``);
    ``forget_m011``: the published file as if m011 had not run either."""
    private = sqlite3.connect(config_path.parent / "tracker-private.db", isolation_level=None)
    private.execute("begin")
    private.execute(OLD_QUEUE.replace("ocr_queue", "ocr_queue_old"))
    private.execute(f"insert into ocr_queue_old ({OLD_COLUMNS}) select {OLD_COLUMNS} from ocr_queue")
    private.execute("drop table ocr_queue")
    private.execute("alter table ocr_queue_old rename to ocr_queue")
    private.execute("create index ocr_queue_waiting on ocr_queue (status)")
    private.execute("commit")
    assert "attempts" not in {r[1] for r in private.execute("pragma table_info(ocr_queue)")}
    private.close()
    if forget_m011:
        published = sqlite3.connect(config_path.parent / "tracker.db")
        with published:
            published.execute("delete from _sqlite_migrations where name = 'm011_ocr_attempts'")
        published.close()


def three_rows(config_path: Path) -> None:
    """A queue with a document read, one failed (final, before m011) and one waiting."""
    add(config_path, "read", good_scan())
    add(config_path, "corrupt", CORRUPT_PDF)
    run(config_path, "ocr")
    add(config_path, "later", good_scan(seed=7))
    db, _ = open_store(config_path)
    ocr.enqueue(db)
    db.execute("update private.ocr_queue set status = 'failed' where status = 'retry'")  # as m009's queue did
    db.close()


def test_m011_gives_an_old_queue_its_attempts_and_old_failures_their_retries(config_path: Path) -> None:
    three_rows(config_path)
    old_queue(config_path, forget_m011=True)
    db, config = open_store(config_path)  # m011 runs
    assert db.execute("select count(*) from _sqlite_migrations where name = 'm011_ocr_attempts'").fetchone() == (1,)
    assert rows(config_path) == {"read@justice.gouv.fr/0": ("done", 1, None),
                                 "corrupt@justice.gouv.fr/0": ("retry", 1, "unreadable file"),
                                 "later@justice.gouv.fr/0": ("waiting", 0, None)}
    column = [r for r in db.execute("pragma private.table_info(ocr_queue)") if r[1] == "attempts"]
    assert [(r[2], r[3], r[4]) for r in column] == [("INTEGER", 1, "0")]
    seen: list[tuple[int, int]] = []
    ocr.work(db, config, progress=lambda r, total: seen.append((r.documents, r.failed)))
    assert seen == [(1, 0), (1, 1)]  # the waiting one, then the old failure's retry
    assert rows(config_path)["corrupt@justice.gouv.fr/0"] == ("retry", 2, "unreadable file")


def test_m011_is_safe_where_the_column_already_exists(config_path: Path) -> None:
    three_rows(config_path)
    before = rows(config_path)
    published = sqlite3.connect(config_path.parent / "tracker.db")
    with published:
        published.execute("delete from _sqlite_migrations where name = 'm011_ocr_attempts'")
    published.close()
    db, _ = open_store(config_path)  # m011 again, on a queue that has the column
    assert db.execute("select count(*) from _sqlite_migrations where name = 'm011_ocr_attempts'").fetchone() == (1,)
    assert rows(config_path) == before


def test_an_old_private_store_beside_a_migrated_database_gets_the_column_when_used(config_path: Path) -> None:
    three_rows(config_path)
    old_queue(config_path, forget_m011=False)  # a private file put back from a backup older than m011
    status = run(config_path, "status")
    assert [line for line in status if "OCR" in line] == [
        "OCR: 1 scanned documents wait for tracker ocr; 1 to retry after a failure"]
    assert rows(config_path)["corrupt@justice.gouv.fr/0"] == ("retry", 1, "unreadable file")


def test_a_private_file_made_anew_has_the_column(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "tracker.db")
    db.close()
    (tmp_path / "tracker-private.db").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"tracker-private.db{suffix}").unlink(missing_ok=True)
    db = store.open_db(tmp_path / "tracker.db")  # m009 and m011 do not run again
    assert ocr.waiting(db) == 0
    assert "attempts" in {r[1] for r in db.execute("pragma private.table_info(ocr_queue)")}


def test_scans_failed_for_good_are_read_again_on_request(config_path: Path) -> None:
    add(config_path, "capped", good_scan())
    key = "capped@justice.gouv.fr/0"
    db, config = open_store(config_path)
    config.ocr.page_seconds = 0.05  # Tesseract killed on every page, three runs: failed for good
    for _ in range(3):
        ocr.work(db, config, rethread=None)
    assert rows(config_path)[key] == ("failed", 3, "timed out")
    db.close()
    assert run(config_path, "ocr")[-1].endswith("1 failed for good (1 timed out)")  # not read a fourth time
    # the cap raised again (the config's default): --again gives it its reads back
    output = run(config_path, "ocr", "--again")
    assert output[0] == "OCR: 1 documents failed for good queued again"
    assert output[-1].startswith("OCR: 1 documents read (1 pages")
    assert rows(config_path)[key] == ("done", 1, None)
    assert run(config_path, "ocr", "--again")[0] == "OCR: 0 documents failed for good queued again"


def test_a_scan_reads_from_a_given_page_with_the_real_tesseract() -> None:
    from tracker.parse.ocr import read_scan

    first, second = scan_page(LINES, seed=3), scan_page(["PAGE DEUX", "Rendez-vous fixé à Besançon."], seed=4)
    scan = read_scan(scan_pdf([first, second]), "pdf", dpi=200, first_page=1)
    assert (scan.pages, scan.page_count, len(scan.page_texts)) == (1, 2, 1)
    assert "PAGE DEUX" in scan.text and "interprétariat" not in scan.text


def test_a_document_cut_by_the_budget_goes_on_from_its_next_page(config_path: Path, monkeypatch) -> None:
    two_pages = scan_pdf([scan_page(LINES, seed=3), scan_page(["PAGE DEUX", "Rendez-vous fixé à Besançon."], seed=4)])
    add(config_path, "long", two_pages)
    key = "long@justice.gouv.fr/0"
    db, config = open_store(config_path)
    real = ocr.read_document
    asked = []

    def cut_after_the_first_page(data, kind, settings, deadline=None, first_page=0):
        asked.append(first_page)
        scan, error, cpu = real(data, kind, settings, deadline, first_page)
        # as if the budget ran out after the first page: its text kept, the second not read
        return ocr.reader.Scan(text=scan.page_texts[0], pages=1, page_count=2, page_texts=scan.page_texts[:1],
                               stopped="budget"), None, cpu

    monkeypatch.setattr(ocr, "read_document", cut_after_the_first_page)
    first = ocr.work(db, config, rethread=None)
    assert (first.documents, first.pages, first.waiting) == (0, 1, 1)
    assert rows(config_path)[key] == ("waiting", 0, None)  # the attempt given back
    kept = db.execute("select page, text from private.ocr_pages").fetchall()
    assert [page for page, _ in kept] == [0] and "interprétariat" in kept[0][1]
    monkeypatch.setattr(ocr, "read_document", lambda *args, **kwargs: (asked.append(kwargs["first_page"]), real(*args, **kwargs))[1])
    second = ocr.work(db, config, rethread=None)
    assert asked == [0, 1]  # the second run read the second page only
    assert (second.documents, second.pages) == (1, 1)
    assert rows(config_path)[key] == ("done", 1, None)
    assert db.execute("select pages, page_count from private.ocr_queue").fetchone() == (2, 2)
    [(text,)] = db.execute("select text from attachments where id = ?", [key])
    assert text.index("interprétariat") < text.index("PAGE DEUX")  # both pages, in order
    assert db.execute("select count(*) from private.ocr_pages").fetchone() == (0,)
    db.close()
