"""`tracker sync` and `tracker status` as cron runs them: real processes against a real
Dovecot, killed with SIGKILL mid-sync, run twice at once, failing with one clear line."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.support.dovecot import (
    PASSWORD, PausableProxy, dovecot_module, french_letters,  # noqa: F401
)
from tracker import config as config_module
from tracker import store
from tracker.store import lock
from tracker.sources import imap
from tracker.store import sync as imap_sync
from tests.support.snapshot import connect as connect_store

PASSWORD_ENV = "TRACKER_TEST_IMAP_PASSWORD"
TRACKER = [sys.executable, "-m", "tracker"]


def tracker(config: Path, *args: str, password: str = PASSWORD, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, **{PASSWORD_ENV: password})
    return subprocess.Popen(
        [*TRACKER, "--config", str(config), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def setup(tmp_path: Path, server, user: str, extra: str = "", port: int | None = None,
          name: str = "run") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    body = server.mailbox_toml(user, extra=extra)
    if port is not None:
        body = body.replace(f"port = {server.port}", f"port = {port}")
    return write_config(folder, body)


def database(config: Path) -> Path:
    return config.parent / "tracker.db"


def message_ids(config: Path) -> Counter:
    db = connect_store(database(config))
    try:
        return Counter(row[0] for row in db.execute("select message_id from messages"))
    finally:
        db.close()


def last_uid(config: Path) -> int:
    if not database(config).exists():
        return 0
    db = connect_store(database(config), timeout=5)
    try:
        row = db.execute("select last_uid from sync_state where folder = 'INBOX'").fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        db.close()
    return row[0] if row else 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_sigkill_mid_sync_then_rerun_and_a_second_run_exits_75(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    total = 400
    server.deliver(user, french_letters(total, seed=21))
    server.deliver(user, french_letters(30, seed=22, prefix="envoi"), folder="Sent")
    proxy = PausableProxy(server.port)
    config = setup(tmp_path, server, user, "batch_size = 25", port=proxy.port)
    try:
        first = tracker(config, "sync", "--quiet")
        deadline = time.monotonic() + 60
        while last_uid(config) == 0:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proxy.pause()  # the first run is now frozen in the middle of a fetch
        # batches already received may still be written: wait until the checkpoint settles
        checkpoint, settled = last_uid(config), time.monotonic()
        while time.monotonic() - settled < 2:
            time.sleep(0.1)
            if last_uid(config) != checkpoint:
                checkpoint, settled = last_uid(config), time.monotonic()
        assert 0 < checkpoint < total

        started = time.monotonic()
        code, out, err = finish(tracker(config, "sync"))
        assert code == 75, err
        assert "another tracker run is in progress" in err and "try again" in err
        assert len(err.strip().splitlines()) == 1 and out == ""
        assert time.monotonic() - started < 20  # at once, not after waiting
        assert first.poll() is None and last_uid(config) == checkpoint  # touched nothing

        # the process fetching INBOX (batches this small are parsed by the writer itself)
        children = _children(first.pid)
        assert len(children) == 1, children
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        proxy.close()
    # none of them outlives the run (nor keeps a connection to the server)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in children):
        assert time.monotonic() < deadline, [pid for pid in children if Path(f"/proc/{pid}").exists()]
        time.sleep(0.1)
    interrupted = last_uid(config)
    assert interrupted < total
    partial = message_ids(config)
    assert len(partial) >= interrupted and max(partial.values()) == 1

    # the rerun goes straight to the server: the proxy is gone (a sync may open a second
    # connection, to fetch in another process)
    config.write_text(config.read_text(encoding="utf-8").replace(
        f"port = {proxy.port}", f"port = {server.port}"), encoding="utf-8")
    code, out, err = finish(tracker(config, "sync"))
    assert code == 0, err
    assert "INBOX:" in out and "Sent: 30 new" in out
    got = message_ids(config)
    clean = setup(tmp_path, server, user, name="clean")
    os.environ[PASSWORD_ENV] = PASSWORD
    imap_sync.sync(store.open_db(database(clean)), config_module.load(clean), workers=1)
    assert got == message_ids(clean) and len(got) == total + 30 and max(got.values()) == 1


def test_locked_run_touches_nothing(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    config = setup(tmp_path, server, user)
    with lock.run_lock(database(config), "import"):
        code, out, err = finish(tracker(config, "sync"))
    assert code == 75
    assert "another tracker run is in progress (import, pid" in err
    assert not database(config).exists()  # not even created


def test_server_dying_mid_fetch_is_one_line_and_next_run_resumes(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    server.deliver(user, french_letters(300, seed=23))
    proxy = PausableProxy(server.port)
    config = setup(tmp_path, server, user, "batch_size = 25", port=proxy.port)
    run = tracker(config, "sync", "--quiet")
    while last_uid(config) == 0 and run.poll() is None:
        time.sleep(0.01)
    proxy.cut()
    proxy.close()
    code, out, err = finish(run)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "connection to 127.0.0.1" in err and "was lost" in err and "next run resumes" in err

    code, out, err = finish(tracker(config, "status"))
    assert "INBOX: last success never" in out and "was lost" in out and "STALE" in out

    config.write_text(config.read_text().replace(f"port = {proxy.port}", f"port = {server.port}"))
    code, out, err = finish(tracker(config, "sync", "--quiet"))
    assert (code, out, err) == (0, "", "")
    assert len(message_ids(config)) == 300


@pytest.mark.parametrize("problem", ["password", "refused"])
def test_failures_exit_1_with_one_line(tmp_path, dovecot_module, problem):
    server = dovecot_module
    user = server.add_user()
    config = setup(tmp_path, server, user)
    if problem == "refused":
        server_port = server.port
        config.write_text(config.read_text().replace(f"port = {server_port}", "port = 9"))
    code, out, err = finish(tracker(config, "sync", password="wrong" if problem == "password" else PASSWORD))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    expected = {"password": f"refused the login of '{user}'", "refused": "connection refused"}[problem]
    assert expected in lines[0] and "check" in lines[0]
    assert "wrong" not in lines[0]  # never the secret


def test_status_shows_each_folder_and_flags_stale(tmp_path, dovecot_module, monkeypatch):
    from click.testing import CliRunner

    from tracker.cli import cli

    server = dovecot_module
    user = server.add_user()
    server.deliver(user, french_letters(4, seed=24))
    config = setup(tmp_path, server, user)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    runner = CliRunner()
    done = runner.invoke(cli, ["--config", str(config), "sync", "--quiet", "--workers", "1"])
    assert done.exit_code == 0 and done.output == ""
    shown = runner.invoke(cli, ["--config", str(config), "status"])
    assert shown.exit_code == 0
    lines = dict(line.split(": ", 1) for line in shown.output.strip().splitlines())
    assert set(lines) == {"INBOX", "Sent"}
    assert "(4 new)" in lines["INBOX"] and "STALE" not in shown.output

    db = store.open_db(database(config))
    db.execute("update sync_state set last_success_at = '2026-01-01T00:00:00+00:00' "
               "where folder = 'Sent'")
    shown = runner.invoke(cli, ["--config", str(config), "status"])
    assert [line.split(":")[0] for line in shown.output.splitlines() if "STALE" in line] == ["Sent"]
