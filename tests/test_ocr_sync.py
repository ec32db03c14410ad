"""OCR at the end of `tracker sync`, against a real Dovecot and the real Tesseract: letters in
Sent, headerless answers whose only evidence is a scanned PDF in INBOX (tests/test_ocr_accuracy's
correspondence). A sync with a short `[ocr] budget_seconds` reads what fits and leaves the rest
queued, as cron needs; the next sync goes on; `tracker ocr` reads the rest, and every answer ends
in its letter's thread with no person's help."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from tests.conftest import write_config
from tests.support.dovecot import PASSWORD, dovecot_module  # noqa: F401
from tests.test_ocr_accuracy import CONFIG, build

ANSWERS = 8


def run(config, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TRACKER_TEST_IMAP_PASSWORD=PASSWORD)
    return subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), *args],
                          env=env, capture_output=True, text=True, timeout=600)


def queue(config) -> dict[str, int]:
    db = sqlite3.connect(config.parent / "tracker-private.db")
    try:
        return dict(db.execute("select status, count(*) from ocr_queue group by status"))
    finally:
        db.close()


def placed(config, expected: dict[str, str]) -> int:
    db = sqlite3.connect(config.parent / "tracker.db")
    thread_of = dict(db.execute("select message_id, thread_id from thread_messages"))
    db.close()
    return sum(1 for answer, letter in expected.items() if thread_of.get(answer) and thread_of.get(answer) == thread_of.get(letter))


def test_a_sync_reads_scans_within_its_budget_and_the_rest_later(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _, expected = build(corpus, ANSWERS)
    mail = corpus / "mail"
    server.deliver(user, [p.read_bytes() for p in sorted(mail.glob("letter-*.eml"))], folder="Sent")
    server.deliver(user, [p.read_bytes() for p in sorted(mail.glob("answer-*.eml"))])
    folder = tmp_path / "run"
    folder.mkdir()
    config = write_config(folder, server.mailbox_toml(user) + CONFIG.replace("budget_seconds = 0", "budget_seconds = 6"))

    first = run(config, "sync")
    assert first.returncode == 0, first.stderr
    assert placed(config, expected) < ANSWERS  # six seconds cannot read eight pages
    left = queue(config).get("waiting", 0)
    assert 0 < left <= ANSWERS
    assert "OCR" in first.stdout
    status = run(config, "status")
    assert f"{left} scanned documents wait for tracker ocr" in status.stdout, status.stdout

    second = run(config, "sync", "--quiet")  # nothing new on the server: the queue goes on
    assert second.returncode == 0, second.stderr
    assert queue(config).get("waiting", 0) <= left
    assert queue(config).get("done", 0) >= 1  # twelve seconds of budget read a page at least
    assert placed(config, expected) == queue(config)["done"]  # each scan read placed its answer

    rest = run(config, "ocr", "--quiet")
    assert rest.returncode == 0, rest.stderr
    assert queue(config) == {"done": ANSWERS}
    assert placed(config, expected) == ANSWERS
    for output in (first.stdout + first.stderr, status.stdout, rest.stdout + rest.stderr):
        assert "Pontarlier" not in output and "Madame" not in output  # no text of a scan in a line
