"""Local sources read only what lies inside the folder given, and no single file stops an
import: links out of the folder are skipped and counted, links back up never loop, a file
over ``max_message_size`` or over SQLite's length limit goes to quarantine with its size
and where it was found, and a rerun skips it instead of failing again."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tracker import config as config_module
from tracker import store
from tracker.sources import local
from tracker.store import ingest
from tests.conftest import ROOT, write_config


def letter(number: int, body: str = "Madame la Ministre,\n") -> bytes:
    return (
        f"From: coordination@collectif.example.org\r\nTo: cabinet@interieur.gouv.fr\r\n"
        f"Subject: Lettre {number}\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n"
        f"Message-ID: <{number}.local@collectif.example.org>\r\n\r\n{body}"
    ).encode()


def maildir(path: Path, *raws: bytes) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for number, raw in enumerate(raws):
        (path / "cur" / f"{number}.host:2,S").write_bytes(raw)
    return path


def run_import(tmp_path: Path, *paths: Path, max_size: int | None = None, limit: int | None = None):
    """What ``tracker import`` does with the library: (summary, stats, db)."""
    tmp_path.mkdir(exist_ok=True)
    config = config_module.load(write_config(tmp_path))
    db = store.open_db(config.database)
    if limit is not None:
        db.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    cap = {} if max_size is None else {"max_size": max_size}
    items = local.items(list(paths), lambda s, f: store.known_locations(db, s, f), **cap)
    with ingest.Ingester(db, config, workers=1) as ingester:
        summary = ingester.run(items)
    return summary, getattr(items, "stats", None), db


def test_a_link_to_a_file_outside_the_folder_is_skipped_and_counted(tmp_path):
    secret = tmp_path / "elsewhere" / "secret.eml"
    secret.parent.mkdir()
    secret.write_bytes(letter(99, "SECRET-OUTSIDE\n"))
    box = maildir(tmp_path / "Maildir", letter(1))
    (box / "cur" / "2.host:2,S").symlink_to(secret)
    (box / "cur" / "3.host:2,S").symlink_to(box / "cur" / "0.host:2,S")  # inside: may be read
    loose = tmp_path / "Maildir" / "lettres"
    loose.mkdir()
    (loose / "a.eml").write_bytes(letter(4))
    (loose / "b.eml").symlink_to(secret)
    (loose / "old").symlink_to(secret.parent, target_is_directory=True)

    summary, stats, db = run_import(tmp_path / "db", box)
    bodies = [row[0] for row in db.execute("select body_text from messages")]
    assert not any("SECRET-OUTSIDE" in body for body in bodies)
    raws = [row[0] for row in db.execute("select raw from raw_messages")]
    assert not any(b"SECRET-OUTSIDE" in raw for raw in raws)
    assert summary.new == 2 and summary.quarantined == 0
    assert summary.known == 1  # the link inside the folder: the same bytes as its target
    assert stats.skipped_links == 3


def test_a_folder_given_through_a_link_is_read(tmp_path):
    box = maildir(tmp_path / "real", letter(1))
    (tmp_path / "alias").symlink_to(box, target_is_directory=True)
    summary, stats, _ = run_import(tmp_path / "db", tmp_path / "alias")
    assert summary.new == 1 and stats.skipped_links == 0


def test_links_back_up_do_not_make_discovery_loop(tmp_path):
    box = maildir(tmp_path / "archive" / "INBOX", letter(1))
    (tmp_path / "archive" / "a").mkdir()
    (tmp_path / "archive" / "a" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "archive" / "b").mkdir()
    (tmp_path / "archive" / "b" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "archive" / "out").symlink_to("../..", target_is_directory=True)
    # in a child process: the old walk recursed until the path was too long, for minutes
    code = (
        "import sys; from pathlib import Path; from tracker.sources import local\n"
        "print(len(local.discover(Path(sys.argv[1]))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "archive")],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1"]
    summary, stats, _ = run_import(tmp_path / "db", tmp_path / "archive")
    assert summary.new == 1 and stats.skipped_links == 3
    assert box.is_dir()


def test_a_file_over_max_message_size_is_quarantined_with_size_and_path(tmp_path):
    big = letter(2, "x" * 5000 + "\n")
    box = maildir(tmp_path / "Maildir", letter(1), big)
    eml = tmp_path / "loose"
    eml.mkdir()
    (eml / "big.eml").write_bytes(big)
    (eml / "small.eml").write_bytes(letter(3))
    mbox = tmp_path / "archive.mbox"
    mbox.write_bytes(
        b"From a@b Mon Mar  2 10:00:00 2026\n" + letter(4).replace(b"\r\n", b"\n") + b"\n"
        b"From a@b Mon Mar  2 10:00:00 2026\n" + big.replace(b"\r\n", b"\n") + b"\n"
        b"From a@b Mon Mar  2 10:00:00 2026\n" + letter(5).replace(b"\r\n", b"\n")
    )
    summary, stats, db = run_import(tmp_path / "db", box, eml, mbox, max_size=4000)
    assert summary.new == 4 and summary.quarantined == 3 and stats.too_large == 3
    rows = db.execute("select source, key, size, reason, sha256 from quarantine order by source").fetchall()
    assert [row[0] for row in rows] == ["eml", "maildir", "mbox"]
    for source, key, size, reason, sha in rows:
        assert reason.startswith("too large: ") and "max_message_size (4000)" in reason
        assert size >= len(big) - 200 and str(size) in reason
        assert sha is None
    assert str(eml / "big.eml") in rows[0][3]
    assert str(box / "cur" / "1.host:2,S") in rows[1][3]
    assert str(mbox) in rows[2][3] and "message at byte" in rows[2][3]
    # a rerun neither reads them again nor counts them again
    again, stats, _ = run_import(tmp_path / "db", box, eml, mbox, max_size=4000)
    assert (again.new, again.known, again.quarantined, stats.too_large) == (0, 0, 0, 0)


def test_the_default_cap_is_the_mailbox_default():
    assert local.items([], lambda s, f: set()).max_size == config_module.Mailbox.max_message_size


def test_a_message_over_sqlites_length_limit_does_not_abort_the_batch(tmp_path):
    """With the limit lowered to 200 KB, a 300 KB message and a 150 KB one whose text is
    300 KB are quarantined with the reason; the others of the batch are stored, and a
    rerun passes."""
    big_raw = letter(2, "Pièce jointe.\n").replace(
        b"\r\n\r\n", b"\r\nX-Padding: " + b"p" * 300_000 + b"\r\n\r\n", 1
    )
    # 150 KB of Latin-1 "é" are 300 KB of UTF-8 text
    big_text = letter(3).replace(
        b"\r\n\r\n", b"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n", 1
    ) + b"\xe9" * 150_000
    box = maildir(tmp_path / "Maildir", letter(1), big_raw, big_text, letter(4))
    summary, _, db = run_import(tmp_path / "db", box, limit=200_000)
    assert (summary.new, summary.quarantined) == (2, 2)
    reasons = dict(db.execute("select size, reason from quarantine").fetchall())
    assert all("SQLite's length limit (200000)" in reason for reason in reasons.values())
    assert len(big_raw) in reasons and "not stored" in reasons[len(big_raw)]
    stored = [row[0] for row in db.execute("select length(raw) from raw_messages")]
    assert len(big_text) in stored  # its bytes fit: kept raw, only its text did not
    again, _, _ = run_import(tmp_path / "db", box, limit=200_000)
    assert (again.new, again.quarantined) == (0, 0)
