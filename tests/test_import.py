"""`tracker import` from Maildir, mbox and .eml: nothing lost, nothing twice."""

from __future__ import annotations

import json
import mailbox
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tracker.cli import cli
from tracker.sources import local
from tests.conftest import write_config
from tests.support.snapshot import connect as connect_store

LETTER = """\
From: Coordination <coordination@collectif.example.org>
To: =?utf-8?q?Minist=C3=A8re_de_l=27Int=C3=A9rieur?= <cabinet@interieur.gouv.fr>
Subject: =?utf-8?q?Demande_de_rendez-vous_=E2=80=94_traite_des_=C3=AAtres_humains?=
Date: Thu, 3 Oct 2024 10:15:00 +0200
Message-ID: <{n}.letter@collectif.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Madame la Ministre,
From the start: a line beginning with From must survive the mbox round trip.
Nous sollicitons un rendez-vous (lettre n°{n}).
"""


def messages(count: int) -> list[bytes]:
    return [LETTER.format(n=n).encode("utf-8") for n in range(count)]


def make_maildir(root: Path, inbox: list[bytes], sent: list[bytes]) -> Path:
    box = mailbox.Maildir(root, create=True)
    for raw in inbox:
        box.add(mailbox.MaildirMessage(raw))
    sent_box = box.add_folder("Sent")
    for raw in sent:
        sent_box.add(mailbox.MaildirMessage(raw))
    return root


def run(config: Path, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result


def db_rows(config: Path, sql: str) -> list[tuple]:
    db = connect_store(config.parent / "tracker.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_maildir_twice_and_mbox_of_the_same_messages_store_each_once(tmp_path):
    config = write_config(tmp_path)
    raws = messages(12)
    maildir = make_maildir(tmp_path / "Maildir", raws[:8], raws[8:])
    first = run(config, "import", str(maildir))
    assert first.exit_code == 0, first.output
    assert "12 imported, 0 already known, 0 quarantined" in first.output

    second = run(config, "import", str(maildir))
    assert "0 imported, 0 already known, 0 quarantined" in second.output

    mbox_path = tmp_path / "archive.mbox"
    box = mailbox.mbox(mbox_path)
    for raw in raws:
        box.add(mailbox.mboxMessage(raw))
    box.close()
    third = run(config, "import", str(mbox_path))
    assert "0 imported, 12 already known, 0 quarantined" in third.output

    assert db_rows(config, "select count(*) from messages") == [(12,)]
    # every place a message was found is remembered
    assert db_rows(config, "select count(*) from message_locations") == [(24,)]
    folders = dict(db_rows(config, "select message_id, folders from messages"))
    assert json.loads(folders["0.letter@collectif.example.org"]) == ["INBOX", "archive"]
    assert json.loads(folders["9.letter@collectif.example.org"]) == ["Sent", "archive"]
    # the mbox round trip kept the body intact ("From " lines unescaped)
    body = db_rows(config, "select body_text from messages where message_id = '3.letter@collectif.example.org'")
    assert "From the start" in body[0][0] and "lettre n°3" in body[0][0]


def test_mbox_is_split_as_python_does(tmp_path):
    """Our streaming reader finds the same messages as the stdlib's mailbox.mbox."""
    source = tmp_path / "a.mbox"
    box = mailbox.mbox(source)
    for raw in messages(5):
        box.add(mailbox.mboxMessage(raw))
    box.close()
    found = list(local.mbox_items(local.Found("mbox", "x", source), set()))
    reader = mailbox.mbox(source)
    expected = [reader.get_bytes(key) for key in reader.keys()]
    assert len(found) == len(expected) == 5
    for item, raw in zip(found, expected):
        # Python leaves ">From " escaped in what it reads back; we unescape it
        assert item.raw.strip() == raw.replace(b"\n>From ", b"\nFrom ").strip()


def test_unescaped_from_in_a_body_does_not_split_the_message(corpora):
    """mboxo files leave "From time to time" unescaped: only a real separator line
    (sender and time of day) starts a message, so the body is not cut in two."""
    source = corpora / "cpython-email" / "data" / "mailbox_01.mbox"
    found = list(local.mbox_items(local.Found("mbox", "x", source), set()))
    assert len(found) == 1
    assert found[0].raw.rstrip().endswith(b"From time to time")
    assert found[0].arrived_at.year == 2022


def test_nested_maildirs_and_loose_files_are_all_found(tmp_path, corpora):
    """notmuch's corpus is a Maildir with nested Maildirs (foo/, bar/baz/) and loose files."""
    config = write_config(tmp_path)
    source = corpora / "notmuch-test" / "test" / "corpora" / "default"
    files = [p for p in source.rglob("*") if p.is_file() and p.name != "README"]
    result = run(config, "import", str(source))
    assert result.exit_code == 0, result.output
    stored = db_rows(config, "select count(*) from raw_messages")[0][0]
    quarantined = db_rows(config, "select count(*) from quarantine")[0][0]
    locations = db_rows(config, "select count(*) from message_locations")[0][0]
    # every file is stored (as a message somewhere or in quarantine with a reason)
    assert locations + quarantined >= len(files) - 1
    assert stored >= len(files) - 1 - 1  # README aside; duplicates share bytes at most once


def test_maildir_new_to_cur_move_is_not_a_new_message(tmp_path):
    config = write_config(tmp_path)
    maildir = make_maildir(tmp_path / "Maildir", messages(3), [])
    run(config, "import", str(maildir))
    for path in (maildir / "new").iterdir():
        shutil.move(path, maildir / "cur" / (path.name + ":2,S"))
    again = run(config, "import", str(maildir))
    assert "0 imported, 0 already known" in again.output
    assert db_rows(config, "select count(*) from messages") == [(3,)]


def test_eml_files_and_folders(tmp_path):
    config = write_config(tmp_path)
    folder = tmp_path / "lettres"
    folder.mkdir()
    for n, raw in enumerate(messages(4)):
        (folder / f"{n}.eml").write_bytes(raw)
    result = run(config, "import", str(folder / "0.eml"), str(folder))
    # 0.eml is named twice: stored once, the second sighting counted as known
    assert "4 imported, 1 already known, 0 quarantined" in result.output
    assert db_rows(config, "select count(*) from raw_messages") == [(4,)]


def test_raw_bytes_are_kept_exactly(tmp_path):
    config = write_config(tmp_path)
    raw = messages(1)[0]
    (tmp_path / "one.eml").write_bytes(raw)
    run(config, "import", str(tmp_path / "one.eml"))
    assert db_rows(config, "select raw from raw_messages") == [(raw,)]


def test_database_is_private(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "one.eml").write_bytes(messages(1)[0])
    run(config, "import", str(tmp_path / "one.eml"))
    assert (tmp_path / "tracker.db").stat().st_mode & 0o077 == 0


def test_missing_path_is_one_clear_line(tmp_path):
    config = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "import", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output and "Traceback" not in result.output


def test_empty_folder_says_so(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["--config", str(config), "import", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "no Maildir, mbox or message files" in result.output


def test_import_in_worker_processes_equals_single_process(tmp_path):
    """The parallel path (pool of parsers, one writer) stores exactly what one process stores."""
    raws = messages(150)
    maildir = make_maildir(tmp_path / "Maildir", raws[:100], raws[100:])
    results = {}
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        config = write_config(folder)
        run(config, "import", "--workers", str(workers), str(maildir))
        results[workers] = db_rows(
            config, "select message_id, subject, body_text, direction from messages order by 1"
        )
    assert len(results[1]) == 150 and results[1] == results[2]


def test_quiet_prints_nothing(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "one.eml").write_bytes(messages(1)[0])
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config), "import", "--quiet", str(tmp_path / "one.eml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_import_while_another_run_holds_the_lock_exits_75_touching_nothing(tmp_path):
    from tracker.store import lock

    config = write_config(tmp_path)
    (tmp_path / "one.eml").write_bytes(messages(1)[0])
    with lock.run_lock(tmp_path / "tracker.db", "sync"):
        result = subprocess.run(
            [sys.executable, "-m", "tracker", "--config", str(config), "import", str(tmp_path / "one.eml")],
            capture_output=True, text=True,
        )
    assert result.returncode == 75
    assert "another tracker run is in progress (sync" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "tracker.db").exists()


def test_the_import_writes_every_column_of_messages():
    """store.MESSAGE_COLUMNS (the insert's column list) is the table's, in its order: a
    column added by a migration must be written by the import too."""
    from tracker import store

    db = store.open_db(":memory:")
    assert [column.name for column in db["messages"].columns] == list(store.MESSAGE_COLUMNS)
