"""Hostile input: every case is parsed with its defects noted, or refused with ParseFailure
and a clear reason; never another exception, never a traceback, never lost on import.

One fixture per case in tests/fixtures/hostile/, named for what it holds; the 30 MB
attachment is generated here (it would be silly to commit it).
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.store import ingest
from tracker.parse import ParseFailure, parse_message
from tests.conftest import write_config
from tests.support.snapshot import connect as connect_store

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
ROOT = Path(__file__).resolve().parent.parent

# fixture -> the reason it is refused with (quarantine)
REFUSED = {
    "empty.eml": "empty message",
    "no-headers.eml": "no mail headers",
    "random-binary.eml": "no mail headers",
}


def load(name: str) -> bytes:
    return (HOSTILE / name).read_bytes()


def has(defects: list[str], text: str) -> bool:
    return any(text in defect for defect in defects)


def test_every_hostile_fixture_has_a_test():
    tested = set(REFUSED) | {name for name, _ in PARSED}
    assert {p.name for p in HOSTILE.iterdir()} == tested


@pytest.mark.parametrize("name, reason", sorted(REFUSED.items()))
def test_refused_with_a_reason(name, reason):
    with pytest.raises(ParseFailure, match=reason):
        parse_message(load(name))
    assert reason in ingest.parse_item(load(name))


def check_nul_bytes(msg):
    assert msg.subject == "Lettre avec octets nuls"
    assert msg.body_text == "Madame, voici la lettre.\n"
    assert has(msg.defects, "NUL bytes in the body") and has(msg.defects, "NUL characters removed")


def check_truncated_multipart(msg):
    # the text part survives; the cut attachment is kept with what could be decoded
    assert msg.body_text == "Madame la ministre, voici la pièce jointe."
    (attachment,) = msg.attachments
    assert attachment.filename == "lettre.pdf" and attachment.size > 0 and attachment.text is None
    assert has(msg.defects, "broken base64") and has(msg.defects, "PDF text unreadable")


def check_unknown_charset(msg):
    assert msg.body_text == "Nous avons déjà écrit au ministère.\n"
    assert has(msg.defects, "unknown charset 'x-klingon-42'")


def check_lying_charset(msg):
    # declared UTF-8, written in windows-1252
    assert msg.body_text == "Nous avons déjà écrit au ministère.\n"
    assert has(msg.defects, "not valid utf-8")


def check_broken_encoded_words(msg):
    assert msg.subject == "=?utf-8?B?!!pas-du-base64?= Réponse =?utf-8?q?coup=C3"
    assert msg.cc[0].address == "anne@collectif.example.org" and msg.cc[0].name.startswith("Ann")
    assert has(msg.defects, "broken base64 in an encoded word")
    assert has(msg.defects, "unknown charset 'x-inconnu'")


def check_bad_base64(msg):
    assert msg.body_text.startswith("Madame, nous avons déjà écrit.")
    assert has(msg.defects, "broken base64 in the text/plain body")


def check_impossible_date(msg):
    assert msg.date is None  # the store falls back to the arrival time
    assert has(msg.defects, "impossible Date header")


def check_duplicated_headers(msg):
    assert msg.message_id == "boucle-2@collectif.example.org"
    assert msg.subject == "Premier sujet"
    assert msg.from_.address == "coordination@collectif.example.org"
    # the References loop through the message itself and repeat an id
    assert msg.references == ["boucle-1@collectif.example.org"]
    assert msg.in_reply_to == "boucle-1@collectif.example.org"
    for header in ("message-id", "subject", "from", "references"):
        assert has(msg.defects, f"2 {header} headers: the first is used")
    assert has(msg.defects, "refers to itself")


def check_garbage_addresses(msg):
    assert [a.address for a in msg.to] == ["secretariat.cabinet@interieur.gouv.fr"]
    assert [(a.address, a.name) for a in msg.cc] == [
        ("jean.dupont@interieur.gouv.fr", "Dupont, Jean"),
        ("marie@exemple.fr", "Marie"),
    ]
    assert has(msg.defects, "unreadable Cc address")


def check_huge_headers(msg):
    assert msg.subject == "En-tetes de 200 Ko"
    assert msg.from_.address == "coordination@collectif.example.org"
    assert msg.body_text == "Corps.\n"


def check_deep_nesting(msg):
    assert msg.subject == "Trois cents niveaux"
    assert has(msg.defects, "multipart or enclosed-message parts: body not read")


PARSED = [
    ("nul-bytes.eml", check_nul_bytes),
    ("truncated-multipart.eml", check_truncated_multipart),
    ("unknown-charset.eml", check_unknown_charset),
    ("lying-charset.eml", check_lying_charset),
    ("broken-encoded-words.eml", check_broken_encoded_words),
    ("bad-base64.eml", check_bad_base64),
    ("impossible-date.eml", check_impossible_date),
    ("duplicated-headers.eml", check_duplicated_headers),
    ("garbage-addresses.eml", check_garbage_addresses),
    ("huge-headers.eml", check_huge_headers),
    ("deep-nesting-300.eml", check_deep_nesting),
]


@pytest.mark.parametrize("name, check", PARSED, ids=[name for name, _ in PARSED])
def test_parsed_with_defects(name, check):
    raw = load(name)
    started = time.perf_counter()
    msg = parse_message(raw)
    assert time.perf_counter() - started < 2, "hostile input must not make parsing slow"
    assert msg.sha256 == hashlib.sha256(raw).hexdigest() and msg.size == len(raw)
    assert msg.defects, "a hostile message parses with its problems noted"
    check(msg)


def test_huge_headers_fixture_is_what_it_says():
    raw = load("huge-headers.eml")
    assert raw.index(b"\n\n") > 200 * 1024


def test_deep_nesting_fixture_is_what_it_says():
    assert load("deep-nesting-300.eml").count(b"Content-Type: multipart/mixed") == 300


def test_a_30_mb_attachment_is_read_in_bounded_memory():
    data = bytes(range(256)) * (30 * 4096)  # 30 MB
    raw = (
        b"From: Collectif <coordination@collectif.example.org>\r\nTo: cabinet@interieur.gouv.fr\r\n"
        b"Message-ID: <big@collectif.example.org>\r\nDate: Tue, 14 May 2024 10:12:00 +0200\r\n"
        b"Subject: Dossier complet\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nVoici le dossier.\r\n--B\r\n"
        b"Content-Type: application/zip; name=\"dossier.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(data)
        + b"--B--\r\n"
    )
    expected = hashlib.sha256(data).hexdigest()
    del data
    tracemalloc.start()
    try:
        msg = parse_message(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (attachment,) = msg.attachments
    assert (attachment.filename, attachment.size, attachment.sha256) == (
        "dossier.zip", 30 * 1024 * 1024, expected
    )
    assert msg.body_text == "Voici le dossier."
    # beyond the raw bytes themselves: one Latin-1 text copy for flanker, and chunks
    assert peak < 1.3 * len(raw), f"peak {peak / 2**20:.0f} MB for a {len(raw) / 2**20:.0f} MB message"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_nothing_but_parse_failure(raw):
    try:
        parse_message(raw)
    except ParseFailure as exc:
        assert str(exc)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mangled_real_messages_raise_nothing_but_parse_failure(data):
    fixtures = sorted((HOSTILE.parent / "parse").iterdir())
    raw = bytearray(data.draw(st.sampled_from(fixtures)).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[position] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[position:position + data.draw(st.integers(1, 200))]
        else:
            raw[position:position] = data.draw(
                st.sampled_from([b"\n\n", b"\x00", b"=?", b"--=_sep\n", b"<", b"\r", b"\xff\xfe"])
            )
        if not raw:
            break
    try:
        parse_message(bytes(raw))
    except ParseFailure as exc:
        assert str(exc)


def test_import_of_the_hostile_folder_keeps_everything_and_prints_no_traceback(tmp_path):
    config = write_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config), "import", str(HOSTILE)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "lexer" not in result.stderr
    files = sorted(HOSTILE.iterdir())
    db = connect_store(tmp_path / "tracker.db")
    stored = {row[0] for row in db.execute("select sha256 from raw_messages")}
    # nothing lost: every file's bytes are kept raw (the empty file included)
    assert stored == {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    quarantined = {Path(key).name: reason for key, reason in db.execute("select key, reason from quarantine")}
    assert set(quarantined) == set(REFUSED)
    for name, reason in REFUSED.items():
        assert reason in quarantined[name]
    parsed = {row[0] for row in db.execute("select message_id from messages")}
    assert len(parsed) == len({name for name, _ in PARSED})
    assert f"{len(REFUSED)} quarantined" in result.stdout
