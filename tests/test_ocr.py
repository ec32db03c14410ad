"""The OCR queue against the real Tesseract: what is queued, caps (pages, memory), the budget
leaving the rest queued, a killed run's rethread done by the next, and a machine without
Tesseract (it is taken off the PATH: the program is really absent) getting one line."""

from __future__ import annotations

import os
import sqlite3
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_config
from tracker import config as config_module
from tracker import store
from tracker.cli import cli
from tracker.demo.mime import make_pdf
from tracker.demo.scans import scan_page, scan_pdf
from tracker.parse.ocr import ocr_kind, read_scan
from tracker.store import ocr

CONFIG = '\n[[correspondents]]\nname = "Ministère de la Justice"\ndomains = ["justice.gouv.fr"]\n[ocr]\ndpi = 200\n'
LINES = ["MINISTÈRE DE LA JUSTICE", "Objet : interprétariat lors des auditions à Besançon", "Madame la Présidente,"]


def mail(folder: Path, name: str, data: bytes, filename: str, ctype: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bureau@justice.gouv.fr", "coordination@collectif.example.org", "Courrier"
    msg["Message-ID"], msg["Date"] = f"<{name}@justice.gouv.fr>", "Mon, 03 Feb 2025 10:00:00 +0100"
    msg.set_content("Veuillez trouver ci-joint la réponse apportée à votre courrier.\n")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    (folder / f"{name}.eml").write_bytes(msg.as_bytes())


def imported(tmp_path: Path, attachments: list[tuple[str, bytes, str, str]], extra: str = "") -> Path:
    mails = tmp_path / "mail"
    mails.mkdir()
    for name, data, filename, ctype in attachments:
        mail(mails, name, data, filename, ctype)
    config = write_config(tmp_path, CONFIG + extra)
    result = CliRunner().invoke(cli, ["--config", str(config), "import", "--quiet", str(mails)])
    assert result.exit_code == 0, result.output
    return config


def queue(tmp_path: Path) -> list[tuple]:
    db = sqlite3.connect(tmp_path / "tracker-private.db")
    return db.execute("select attachment_id, kind, status, pages, error from ocr_queue order by attachment_id").fetchall()


def test_what_needs_ocr() -> None:
    assert ocr_kind("application/pdf", "a.pdf", 1000, "") == "pdf"
    assert ocr_kind("application/pdf", "a.pdf", 1000, "Page 1") == "pdf"
    assert ocr_kind("application/pdf", "a.pdf", 1000, "Madame la Présidente, par votre courrier du 3 mars") is None
    assert ocr_kind("image/png", "image001.png", 4000, None) is None  # a logo in a signature
    assert ocr_kind("application/octet-stream", "SCAN.JPG", 150_000, None) == "image"
    assert ocr_kind("application/msword", "a.doc", 150_000, None) is None


def test_a_scanned_image_and_pdf_are_read_a_text_pdf_is_not_queued(tmp_path: Path) -> None:
    jpeg = scan_page(LINES, seed=1)
    config = imported(tmp_path, [("jpg", jpeg, "scan.jpg", "image/jpeg"), ("pdf", scan_pdf([scan_page(LINES, seed=2)]), "scan.pdf", "application/pdf"),
                                 ("text", make_pdf("Madame la Présidente, nous avons bien reçu votre courrier du 3 mars."), "lettre.pdf", "application/pdf")])
    result = CliRunner().invoke(cli, ["--config", str(config), "ocr"])
    assert result.exit_code == 0, result.output
    assert "OCR: 2 documents read (2 pages" in result.output
    assert [row[:4] for row in queue(tmp_path)] == [("jpg@justice.gouv.fr/0", "image", "done", 1), ("pdf@justice.gouv.fr/0", "pdf", "done", 1)]
    db = sqlite3.connect(tmp_path / "tracker.db")
    for (text,) in db.execute("select text from attachments where filename like 'scan%'"):
        assert "interprétariat lors des auditions à Besançon" in text


def test_pages_over_the_cap_are_left_and_said(tmp_path: Path) -> None:
    pages = [scan_page([f"Page {n}", *LINES], seed=n, signature=False) for n in range(3)]
    scan = read_scan(scan_pdf(pages), "pdf", max_pages=2, dpi=200)
    assert scan.pages == 2 and scan.page_count == 3
    assert scan.defects == ["only the first 2 of 3 pages were read (ocr.max_pages)"]


def test_a_document_over_the_memory_cap_fails_alone(tmp_path: Path) -> None:
    config = imported(tmp_path, [("pdf", scan_pdf([scan_page(LINES, seed=2)]), "scan.pdf", "application/pdf")],
                      "memory_mb = 128\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "ocr"])
    assert result.exit_code == 0, result.output
    assert "0 documents read" in result.output and "1 unreadable" in result.output
    [(_, _, status, _, error)] = queue(tmp_path)
    # read again by the next runs before it is failed for good (tests/test_ocr_retry.py)
    assert status == "retry" and ("memory" in error or "ended without" in error), error


def test_a_budget_too_short_leaves_the_queue_for_the_next_run(tmp_path: Path) -> None:
    config = imported(tmp_path, [("pdf", scan_pdf([scan_page(LINES, seed=2)]), "scan.pdf", "application/pdf")])
    result = CliRunner().invoke(cli, ["--config", str(config), "ocr", "--budget", "1"])
    assert "0 documents read" in result.output and "1 waiting" in result.output
    assert queue(tmp_path)[0][2] == "waiting"
    result = CliRunner().invoke(cli, ["--config", str(config), "ocr"])
    assert "1 documents read" in result.output and queue(tmp_path)[0][2] == "done"


def test_a_run_killed_before_its_rethread_is_rethreaded_by_the_next(tmp_path: Path) -> None:
    config_path = imported(tmp_path, [("pdf", scan_pdf([scan_page(LINES, seed=2)]), "scan.pdf", "application/pdf")])
    config = config_module.load(config_path)
    db = store.open_db(config.database, private=config.private_database)
    first = ocr.work(db, config, rethread=None)  # as if killed before it could place the message
    assert first.documents == 1
    assert db.execute("select count(*) from message_keys where message_id = 'pdf@justice.gouv.fr'").fetchone() == (0,)
    placed: list[list[str]] = []
    second = ocr.work(db, config, rethread=placed.append)
    assert second.documents == 0 and placed == [["pdf@justice.gouv.fr"]]
    assert ocr.work(db, config, rethread=placed.append).rethreaded == []


@pytest.fixture
def without_tesseract(monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    monkeypatch.delenv("TESSERACT_CMD", raising=False)


def test_without_tesseract_status_says_it_in_one_line_and_nothing_fails(tmp_path: Path, without_tesseract) -> None:
    config = imported(tmp_path, [("pdf", scan_pdf([scan_page(LINES, seed=2)]), "scan.pdf", "application/pdf")])
    result = CliRunner().invoke(cli, ["--config", str(config), "ocr"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: Tesseract is not installed")
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "Tesseract" in line]
    assert lines == ["OCR: Tesseract is not installed: scanned letters are not read (install the Debian packages "
                     "tesseract-ocr and tesseract-ocr-fra, then run tracker ocr); 1 documents wait"]
    assert queue(tmp_path)[0][2] == "waiting"


def test_without_tesseract_the_digest_warns_in_one_line(tmp_path: Path, without_tesseract) -> None:
    config = imported(tmp_path, [("pdf", scan_pdf([scan_page(LINES, seed=2)]), "scan.pdf", "application/pdf")],
                      '[digest]\nto = ["bureau@collectif.example.org"]\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "digest", "--dry-run", "--force"])
    assert result.exit_code == 0, result.output
    text = [line for line in result.output.splitlines() if line.startswith("!!")]
    assert text == ["!! Tesseract n'est pas installé ou lui manque une langue : les courriers scannés ne sont pas "
                    "lus (installer les paquets Debian tesseract-ocr et tesseract-ocr-fra, puis lancer tracker ocr)"]
    assert result.output.count("Tesseract n&#39;est pas install") == 1  # and once in the HTML part


def test_with_tesseract_the_digest_has_no_such_line(tmp_path: Path) -> None:
    config = imported(tmp_path, [("text", make_pdf("Madame la Présidente, votre courrier du 3 mars."), "l.pdf", "application/pdf")],
                      '[digest]\nto = ["bureau@collectif.example.org"]\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "digest", "--dry-run", "--force"])
    assert result.exit_code == 0 and "Tesseract" not in result.output
