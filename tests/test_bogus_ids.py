"""Message-IDs that are not ids (a lone quote, no "@", empty brackets) are not taken as a
message's identity: such a message gets the id derived from its bytes that a message
without Message-ID gets, so two different messages never collapse into one, while the
same message found in two folders stays one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker import config as config_module
from tracker import store
from tracker.parse import parse_message
from tracker.sources import local
from tracker.store import ingest
from tracker.thread import rethread
from tests.conftest import write_config

BOGUS = ['"', "<yes>", "<>", "yes", "< >", "<@>", "<a@>"]


def letter(header: str, subject: str) -> bytes:
    return (
        f"From: cabinet@interieur.gouv.fr\nTo: coordination@collectif.example.org\n"
        f"Subject: {subject}\nDate: Mon, 2 Mar 2026 10:00:00 +0100\nMessage-ID: {header}\n\n"
        f"Réponse : {subject}\n"
    ).encode()


@pytest.mark.parametrize("header", BOGUS)
def test_a_bogus_id_gets_the_id_a_missing_one_gets(header):
    msg = parse_message(letter(header, "Réponse"))
    assert msg.message_id_synthetic
    assert msg.message_id == f"{msg.sha256[:32]}@tracker.invalid"
    assert any("replaced by one derived from the bytes" in defect for defect in msg.defects)
    assert parse_message(letter(header, "Réponse")).message_id == msg.message_id  # stable


def test_real_ids_are_kept():
    for header, expected in (("<a@b>", "a@b"), ("abc@d.example", "abc@d.example"), ("<x@y", "x@y")):
        msg = parse_message(letter(header, "Réponse"))
        assert msg.message_id == expected and not msg.message_id_synthetic


def test_different_messages_with_one_bogus_id_are_all_stored_and_copies_stay_one(tmp_path):
    mailbox = tmp_path / "Maildir"
    raws = [letter(header, f"Lettre {n}") for n, header in enumerate(['"', '"', "<yes>", "<yes>"])]
    for folder, files in ((mailbox, raws), (mailbox / ".Archives", raws[:2])):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for number, raw in enumerate(files):
            (folder / "cur" / f"{number}.host:2,S").write_bytes(raw)
    config = config_module.load(write_config(tmp_path))
    db = store.open_db(config.database)
    items = local.items([mailbox], lambda s, f: store.known_locations(db, s, f))
    with ingest.Ingester(db, config, workers=1) as ingester:
        summary = ingester.run(items)
    rethread(db, config, summary.to_rethread + store.unthreaded(db))
    assert (summary.new, summary.known) == (4, 2)
    rows = db.execute("select subject, folders, message_id_synthetic from messages order by subject").fetchall()
    assert [row[0] for row in rows] == ["Lettre 0", "Lettre 1", "Lettre 2", "Lettre 3"]
    assert [json.loads(row[1]) for row in rows] == [["INBOX", "Archives"]] * 2 + [["INBOX"]] * 2
    assert all(row[2] == 1 for row in rows)
    # four messages, four conversations: a bogus id links nothing
    assert db.execute("select count(distinct conversation_id) from messages").fetchone()[0] == 4
