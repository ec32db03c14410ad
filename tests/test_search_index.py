"""The full-text index always matches the stored text: write_batch indexes each batch in
one statement (store.m006), every other writer through the triggers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import store
from tracker.cli import cli
from tests.conftest import write_config

DEMO_MAILBOX = Path(__file__).resolve().parent.parent / "tracker" / "demo" / "mailbox"


def integrity(db: sqlite3.Connection) -> None:
    """FTS5's own check that each index equals its content table (raises when not)."""
    for table in ("messages_fts", "attachments_fts"):
        db.execute(f"insert into {table} ({table}, rank) values ('integrity-check', 1)")


def test_an_import_indexes_every_message_and_attachment(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "import", "--quiet", str(DEMO_MAILBOX)])
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(tmp_path / "tracker.db")
    messages, attachments = (db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("messages", "attachments"))
    assert messages > 100 and attachments > 0
    integrity(db)
    # every message is found by a word of its own subject, accents folded
    for rowid, subject in db.execute("select rowid, subject from messages where subject != ''").fetchall()[:50]:
        word = max(subject.replace('"', " ").split(), key=len)
        found = {r[0] for r in db.execute("select rowid from messages_fts where messages_fts match ?", [f'"{word}"'])}
        assert rowid in found, subject
    assert db.execute("select value from store_state where key = 'index_later'").fetchone() == (0,)


def test_the_check_above_notices_a_row_left_out_of_the_index(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "tracker.db")
    with db.atomic():
        db.execute("update store_state set value = 1 where key = 'index_later'")
        db["messages"].insert({"message_id": "a@b", "sha256": "0", "subject": "Hébergement", "body_text": "x"})
        db.execute("update store_state set value = 0 where key = 'index_later'")
    with pytest.raises(sqlite3.DatabaseError):
        integrity(db.conn)


def test_rows_written_outside_write_batch_are_indexed_by_the_triggers(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "tracker.db")
    db["messages"].insert({"message_id": "a@b", "sha256": "0", "subject": "Hébergement d'urgence", "body_text": "x"})
    db["attachments"].insert({"id": "a@b/0", "message_id": "a@b", "position": 0, "filename": "lettre.pdf",
                              "text": "protection des victimes"})
    assert db.execute("select rowid from messages_fts where messages_fts match 'hebergement'").fetchall() == [(1,)]
    assert db.execute("select rowid from attachments_fts where attachments_fts match 'victimes'").fetchall() == [(1,)]
    integrity(db.conn)


def test_a_batch_that_fails_indexes_nothing_and_leaves_the_triggers_on(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "tracker.db")
    item = store.RawItem(source="test", folder="INBOX", key="1", raw=b"Subject: x\n\nbody\n")

    def classify(msg, folder):
        raise RuntimeError("classifier broke")

    from tracker.parse import parse_message

    parsed = parse_message(item.raw)
    with pytest.raises(RuntimeError):
        with db.atomic():
            store.write_batch(db, [(item, parsed)], classify)
    assert db.execute("select count(*) from messages").fetchone() == (0,)
    assert db.execute("select value from store_state where key = 'index_later'").fetchone() == (0,)
    db["messages"].insert({"message_id": "a@b", "sha256": "0", "subject": "Relance", "body_text": "x"})
    assert db.execute("select count(*) from messages_fts where messages_fts match 'relance'").fetchone() == (1,)
    integrity(db.conn)
