"""The private store: raw bytes and bookkeeping in a second file that the web never opens.

A fresh import writes the original bytes only there; a database made by an older tracker
has them moved there without losing a byte, killed or not, and its published file rebuilt
so that no raw bytes stay on disk in it; `tracker serve` never opens it.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from tests.conftest import write_config
from tests.support.snapshot import integrity_problems, private_file
from tracker import config as config_module
from tracker import store
from tracker.store import private
from tracker.store.db import migrations

ROOT = Path(__file__).resolve().parents[1]
MARKER = b"X-Only-In-The-Raw-Bytes: 5b1e0c9d-raw-marker"


def message(n: int, padding: int = 0) -> bytes:
    return (
        f"From: Cabinet <cabinet@interieur.gouv.fr>\r\nTo: coordination@collectif.example.org\r\n"
        f"Bcc: confidentiel@collectif.example.org\r\n"
        f"Subject: Reponse {n}\r\nMessage-ID: <m{n}@interieur.gouv.fr>\r\n"
        f"Date: Mon, 2 Mar 2026 10:{n % 60:02d}:00 +0100\r\n".encode()
        + MARKER + b"\r\n\r\nBonjour,\r\nvoici notre reponse.\r\n" + b"x" * padding + b"\r\n"
    )


def on_disk(database: Path) -> bytes:
    """Every byte of a database file and its WAL."""
    wal = database.with_name(database.name + "-wal")
    return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_a_fresh_import_keeps_the_raw_bytes_in_the_private_store_only(tmp_path):
    box = tmp_path / "eml"
    box.mkdir()
    for n in range(5):
        (box / f"{n}.eml").write_bytes(message(n))
    config = write_config(tmp_path)
    done = subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), "import", str(box)],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    database, secret = tmp_path / "tracker.db", private_file(tmp_path / "tracker.db")
    assert MARKER not in on_disk(database)
    assert on_disk(secret).count(MARKER) >= 5
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    published = sqlite3.connect(database)
    names = {row[0] for row in published.execute("select name from sqlite_master where type = 'table'")}
    assert not names & set(private.TABLES), names & set(private.TABLES)
    assert published.execute("select count(*) from messages").fetchone() == (5,)
    db = store.open_db(database)
    assert db.execute("select count(*) from raw_messages").fetchone() == (5,)
    assert db.execute("select count(*) from private.pending").fetchone() == (0,)


def test_the_private_store_goes_where_the_config_says(tmp_path):
    config_path = write_config(tmp_path, 'private_database = "vault/secret.db"\n')
    config = config_module.load(config_path)
    assert config.private_database == tmp_path / "vault" / "secret.db"
    db = store.open_db(config.database, private=config.private_database)
    db.close()
    assert (tmp_path / "vault" / "secret.db").exists() and not private_file(config.database).exists()
    same = write_config(tmp_path / "x", f'private_database = "{tmp_path / "x" / "tracker.db"}"\n') \
        if (tmp_path / "x").mkdir() is None else None
    with pytest.raises(config_module.ConfigError, match="private_database is the same file as database"):
        config_module.load(same)


def old_database(path: Path, messages: int, padding: int) -> dict[str, list[tuple]]:
    """A database as tracker made it before the private store (every table in one file)."""
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    migrations.apply(db, stop_before="m007_private_store")
    rows = {
        "raw_messages": [(hashlib.sha256(message(n, padding)).hexdigest(), f"m{n}@interieur.gouv.fr",
                          len(message(n, padding)), "2026-03-02T09:00:00+00:00", message(n, padding))
                         for n in range(messages)],
        "message_locations": [("maildir", "/srv/mail/INBOX", f"{n}.eml", "sha", f"m{n}@interieur.gouv.fr",
                               None, "2026-03-02T09:00:00+00:00") for n in range(messages)],
        "sync_state": [("INBOX", 7, 42, None, None, "2026-03-02T09:00:00+00:00", 3, None)],
        "digests": [("2026-W10", "2026-03-02T09:00:00+00:00", "<d@x>", "bureau@example.org", "Récapitulatif")],
    }
    with db.conn:
        for table, values in rows.items():
            db.conn.executemany(f"insert into {table} values ({','.join('?' * len(values[0]))})", values)
    db.conn.close()
    return rows


def private_rows(database: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(private_file(database))
    try:
        return {table: sorted(conn.execute(f"select * from {table}").fetchall()) for table in private.TABLES}
    finally:
        conn.close()


def test_an_older_database_is_moved_to_the_private_store_and_the_published_file_rebuilt(tmp_path):
    database = tmp_path / "tracker.db"
    rows = old_database(database, 40, 2000)
    assert MARKER in on_disk(database)  # the check below would prove nothing otherwise
    store.open_db(database).close()
    assert private_rows(database) == {table: sorted(values) for table, values in rows.items()}
    assert MARKER not in on_disk(database)
    assert private.left_in_main(sqlite3.connect(database)) == []
    assert stat.S_IMODE(private_file(database).stat().st_mode) == 0o600
    assert integrity_problems(database) == []


MIGRATION = "import sys; from tracker.store import open_db; open_db(sys.argv[1]).close()"


def test_the_move_killed_at_random_moments_loses_nothing(tmp_path):
    """SIGKILL while an older database's 24 MB of raw bytes move to the private store; rerun."""
    original = tmp_path / "original.db"
    rows = old_database(original, 300, 80_000)
    expected = {table: sorted(values) for table, values in rows.items()}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", MIGRATION, str(shutil.copy(original, tmp_path / "timing.db"))],
                   env=env, check=True, timeout=120)
    took = time.monotonic() - started
    rng = random.Random(13)
    kills = midway = 0
    for round_ in range(8):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        database = Path(shutil.copy(original, folder / "tracker.db"))
        for _ in range(3):
            proc = subprocess.Popen([sys.executable, "-c", MIGRATION, str(database)], env=env)
            time.sleep(rng.uniform(0.1, took))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            if private_file(database).exists():
                conn = sqlite3.connect(database)
                copied = private.left_in_main(conn)
                conn.close()
                if copied:
                    try:
                        moved = sqlite3.connect(private_file(database)).execute(
                            "select count(*) from raw_messages").fetchone()[0]
                    except sqlite3.OperationalError:
                        moved = 0  # killed before its tables were made
                    midway += 0 < moved
        subprocess.run([sys.executable, "-c", MIGRATION, str(database)], env=env, check=True, timeout=120)
        assert private_rows(database) == expected, f"round {round_}"
        assert MARKER not in on_disk(database), f"round {round_}"
        assert integrity_problems(database) == []
    assert kills >= 8, kills
    print(f"{kills} kills, {midway} after the copy and before the drop; the move took {took:.2f}s")


def test_tracker_serve_never_opens_the_private_store(tmp_path):
    """An older database: `tracker serve` has a child process move it, then serves it without
    the private store among its open files or on any Datasette connection."""
    from tests.test_publish_server import get, running_server

    database = tmp_path / "tracker.db"
    old_database(database, 5, 0)
    config_path = write_config(tmp_path)
    with running_server(config_path) as url:
        from tests.test_publish_server import running

        status, _, page = get(url + "/")
        assert status == 200
        for path in ("/tracker/messages", "/tracker.json?sql=select+1", "/-/databases.json"):
            get(url + path)
        pid = running.last.pid
        opened = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        maps = Path(f"/proc/{pid}/maps").read_text()
    assert not any("private" in Path(name).name for name in opened), opened
    assert str(private_file(database)) not in maps
    assert str(database) in "".join(opened)  # it did serve the published file
    assert private_rows(database)["raw_messages"], "the older database was not moved first"
    assert MARKER not in on_disk(database)
    assert migrations.pending(sqlite_utils.Database(database)) == []  # every later migration too


def test_tracker_serve_applies_pending_migrations_in_a_child_process(tmp_path):
    """A database already moved out, but older than the desk's and later migrations."""
    from tests.test_publish_server import get, running, running_server

    database = tmp_path / "tracker.db"
    db = sqlite_utils.Database(database)
    private.attach(db, private_file(database))
    migrations.apply(db, stop_before="m008_desk")
    db.conn.close()
    assert private.left_in_main(sqlite3.connect(database)) == []
    assert [m.name for m in migrations.pending(sqlite_utils.Database(database))][:1] == ["m008_desk"]
    config_path = write_config(tmp_path)
    with running_server(config_path) as url:
        assert get(url + "/")[0] == 200
        opened = {os.readlink(f"/proc/{running.last.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{running.last.pid}/fd")}
    assert not any("private" in Path(name).name for name in opened), opened
    assert migrations.pending(sqlite_utils.Database(database)) == []


def test_no_datasette_connection_has_the_private_store_attached(tmp_path):
    import asyncio

    from tracker import web

    database = tmp_path / "tracker.db"
    store.open_db(database).close()
    config = config_module.load(write_config(tmp_path))
    ds = web.make_datasette(config)

    async def lists():
        await ds.invoke_startup()
        found = []
        for name, db in ds.databases.items():
            found.append((name, await db.execute_fn(lambda conn: conn.execute("pragma database_list").fetchall())))
        response = await ds.client.get("/tracker.json?sql=select+1")
        return found, response.status_code

    found, _ = asyncio.run(lists())
    files = [row[2] for _, listing in found for row in listing]
    assert all("private" not in Path(f).name for f in files if f), files
    assert any(Path(f) == database for f in files if f), files


def test_a_new_database_beside_an_old_private_store_is_refused_with_what_to_do(tmp_path):
    """Deleting tracker.db alone must not leave an import that takes every message for known."""
    box = tmp_path / "eml"
    box.mkdir()
    (box / "1.eml").write_bytes(message(1))
    config = write_config(tmp_path)
    command = [sys.executable, "-m", "tracker", "--config", str(config), "import", str(box)]
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'tracker.db'}{suffix}").unlink(missing_ok=True)
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "tracker-private.db beside it holds messages of an earlier database" in again.stderr, again.stderr
    assert "Traceback" not in again.stderr
    # moved away as the line says, the import starts afresh and finds the message
    private_file(tmp_path / "tracker.db").rename(tmp_path / "old-private.db")
    fresh = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0 and fresh.stdout.startswith("1 imported"), fresh.stdout + fresh.stderr
    # and two files that do belong together open as ever
    store.open_db(tmp_path / "tracker.db").close()
    with pytest.raises(private.StoreMismatch, match="belongs to another database"):
        store.open_db(tmp_path / "tracker.db", private=tmp_path / "old-private.db")
