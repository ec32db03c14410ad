"""The bundled demo's answer by scan (issue 17): a two-line email from an address never seen,
a generic subject, no In-Reply-To, the answer itself a scanned page with no text layer. Imported
without OCR it waits at the triage; `tracker ocr` reads the scan, and the answer finds the thread
the truth names, with no person's help. ``demo.build`` (what `tracker demo` shows) does both."""

from __future__ import annotations

import json
import shutil
import sqlite3

from click.testing import CliRunner

from tracker import demo
from tracker.cli import cli


def test_the_demos_answer_by_scan_waits_for_ocr_then_finds_its_thread(tmp_path):
    truth = json.loads((demo.HERE / "truth.json").read_text(encoding="utf-8"))
    [answer] = [m for m in truth["messages"] if "scan_only_answer" in m["cases"] and m["direction"] == "incoming"]
    [(letter, _)] = answer["threads"]
    shutil.copytree(demo.MAILBOX, tmp_path / "mailbox")
    config = tmp_path / "tracker.toml"
    shutil.copyfile(demo.CONFIG, config)

    def invoke(*args):
        result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    invoke("import", "--quiet", str(tmp_path / "mailbox"))
    db = sqlite3.connect(tmp_path / "tracker.db")
    thread = db.execute("select id from threads where letter_message_id = ?", [letter]).fetchone()[0]
    assert db.execute("select thread_id from thread_messages where message_id = ?", [answer["message_id"]]).fetchall() == []
    assert db.execute("select count(*) from unmatched where message_id = ?", [answer["message_id"]]).fetchone()[0] == 1
    assert db.execute("select status from threads where id = ?", [thread]).fetchone()[0] != "answered"
    db.close()

    assert invoke("ocr").splitlines()[-1].startswith("OCR: 1 documents read (1 pages")
    db = sqlite3.connect(tmp_path / "tracker.db")
    assert db.execute("select thread_id from thread_messages where message_id = ?",
                      [answer["message_id"]]).fetchall() == [(thread,)]
    assert db.execute("select status from threads where id = ?", [thread]).fetchone()[0] == "answered"
    assert db.execute("select count(*) from unmatched where message_id = ?", [answer["message_id"]]).fetchone()[0] == 0
    [(text,)] = db.execute("select text from attachments where message_id = ?", [answer["message_id"]])
    assert "Objet" in text and "courrier du" in text  # the scan's words, now searchable
