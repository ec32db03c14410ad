"""Crash consistency: however `tracker import` or `tracker sync` dies, a rerun ends where
an unbroken run ends.

Each runs as a real process (the `tracker` command, with its parser workers;
the sync against a loopback Dovecot) and is killed with SIGKILL at seeded
random moments, three or four times per database until one run ends by itself:
sometimes the whole process group (a power cut), sometimes the writer alone (as
the OOM killer does). After every kill SQLite's integrity check and the
full-text indexes' own checks must pass; after the final, unbroken rerun the
database must equal that of an uninterrupted run (same messages, locations,
recipients, attachments, quarantine, conversations, threads, statuses and sync
state; only the clock columns differ). Imports are also killed on top of an
earlier, complete import (the next cron run's case).

TRACKER_CRASH_KILLS (default 30 each) and TRACKER_CRASH_SEED (default 7) change
the number of kills and the moments; a failure prints the seed and moments.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from bench.common import synth_maildir, synth_messages, write_tracker_config
from tests.support.dovecot import dovecot_module  # noqa: F401  (the fixture)
from tests.support.snapshot import differences, integrity_problems, snapshot
from tests.support.snapshot import connect as connect_store

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("TRACKER_CRASH_KILLS", "30"))
SEED = int(os.environ.get("TRACKER_CRASH_SEED", "7"))
MESSAGES = 120
BATCH = 12  # small transactions, so that kills fall between and inside them
# past this, stop adding databases once the minimum of kills is done
BUDGET_SECONDS = 90
MAILDIR = "<maildir>"
DUPLICATE = "1800000002.copy.bench:2,S"
KEEP_TOGETHER = {DUPLICATE}  # and the file it copies (added by the mailbox fixture)


def _tracker(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from tracker.cli import main; main()", "--config", str(config), *args]


def _import(config: Path, maildir: Path) -> list[str]:
    return _tracker(config, "import", "--quiet", f"--batch-size={BATCH}", str(maildir))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _copy(mailbox: Path, target: Path, keep=lambda path: True) -> Path:
    """Copy the files of ``mailbox`` that ``keep`` accepts to ``target`` (times kept)."""
    for path in sorted(mailbox.rglob("*")):
        if path.is_file() and keep(path):
            destination = target / path.relative_to(mailbox)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    for folder in (target, target / ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    return target


def _in_first_half(path: Path) -> bool:
    # the message found in two folders stays whole: which folder it is met in first is an
    # ordering question (tests/test_properties.py), not a crash one
    if path.name in KEEP_TOGETHER:
        return True
    return zlib.crc32(path.name.encode()) % 2 == 0


def _wait_for_a_moment(
    proc: subprocess.Popen, database: Path, before: int, total: int, took: float, work: float,
    rng: random.Random,
) -> tuple[float, bool]:
    """Let the import run until a random moment; return that moment and whether it ended first.

    A quarter of the moments fall anywhere (start-up included); the others fall once the
    import has committed its first batch, among its later batches and its rethread
    (``work``: how long an unbroken import spends after its first commit).
    """
    started = time.monotonic()
    if rng.random() < 0.25:
        delay = rng.uniform(0.0, took)
    else:
        while proc.poll() is None and _count(database) <= before and time.monotonic() - started < 3 * took:
            time.sleep(0.01)
        left = work * (total - before) / total
        delay = time.monotonic() - started + rng.uniform(0.0, left)
    try:
        proc.wait(timeout=max(0.0, delay - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        return delay, False
    return delay, True


def _round(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    database = folder / "tracker.db"
    return write_tracker_config(folder, database), database


def _count(database: Path) -> int:
    if not database.exists():
        return 0
    conn = connect_store(str(database))
    try:
        return conn.execute("select count(*) from raw_messages").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # killed before the schema was committed
    finally:
        conn.close()


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small realistic Maildir plus the hostile cases an import must quarantine."""
    root = tmp_path_factory.mktemp("crash")
    maildir = synth_maildir(root / "Maildir", MESSAGES, seed=3)
    cur = maildir / "cur"
    (cur / "1800000000.empty.bench:2,S").write_bytes(b"")
    (cur / "1800000001.garbage.bench:2,S").write_bytes(bytes(range(256)) * 8)
    # one message found in two folders: one message that remembers both places
    first = sorted(cur.iterdir())[0]
    shutil.copy2(first, maildir / ".Sent" / "cur" / DUPLICATE)
    KEEP_TOGETHER.add(first.name)
    return maildir


@pytest.fixture(scope="module")
def reference(mailbox: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, float, float]:
    """The database of one uninterrupted import, how long it took, and how long after its
    first commit."""
    root = tmp_path_factory.mktemp("reference")
    maildir = _copy(mailbox, root / "Maildir")
    config, database = _round(root / "db")
    started = time.monotonic()
    proc = subprocess.Popen(_import(config, maildir), env=_env())
    while proc.poll() is None and _count(database) == 0:
        time.sleep(0.01)
    first_commit = time.monotonic() - started
    assert proc.wait(timeout=300) == 0
    took = time.monotonic() - started
    assert integrity_problems(database) == []
    expected = snapshot(database, {str(maildir.resolve()): MAILDIR})
    assert len(expected["messages"]) >= MESSAGES - 2, "the reference import lost messages"
    assert expected["quarantine"], "the hostile files should be quarantined"
    assert any(row for row in expected.get("threads", [])), "the reference import made no thread"
    return expected, took, took - first_commit


def test_import_killed_at_random_moments_ends_like_an_unbroken_import(
    mailbox: Path, reference: tuple[dict, float, float], tmp_path: Path
) -> None:
    """SIGKILL during a first import, or during a second one over an earlier import."""
    expected, took, work = reference
    total = len(expected["raw_messages"])
    rng = random.Random(SEED)
    kills = partial = rounds = 0  # partial: kills that left some, not all, messages stored
    started = time.monotonic()
    while kills < KILLS or (partial < 5 and time.monotonic() - started < BUDGET_SECONDS):
        rounds += 1
        config, database = _round(tmp_path / f"round{rounds}" / "db")
        maildir = tmp_path / f"round{rounds}" / "Maildir"
        incremental = rng.random() < 0.4
        moments: list[str] = ["after an earlier import of half the files"] if incremental else []
        if incremental:
            # the mailbox as it was at the previous import, fully imported and threaded
            _copy(mailbox, maildir, keep=_in_first_half)
            subprocess.run(_import(config, maildir), env=_env(), check=True, timeout=300,
                           stdout=subprocess.DEVNULL)
        _copy(mailbox, maildir)
        before = _count(database)
        for _ in range(rng.choice([3, 4])):
            whole_group = rng.random() < 0.7
            proc = subprocess.Popen(
                _import(config, maildir), env=_env(), stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )
            delay, finished = _wait_for_a_moment(proc, database, _count(database), total, took, work, rng)
            if not finished:
                # the writer alone is what the OOM killer picks; the group is a power cut
                os.killpg(proc.pid, signal.SIGKILL) if whole_group else os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # orphaned parser workers, if any
            except ProcessLookupError:
                pass
            stored = _count(database)
            moments.append(
                f"{delay:.2f}s{'' if whole_group else ' writer only'}: {stored}/{total} stored"
                + (" (it had finished)" if finished else "")
            )
            if before < stored < total and not finished:
                partial += 1
            problems = integrity_problems(database) if database.exists() else []
            assert problems == [], f"seed {SEED}, round {rounds}, after kills at {moments}: {problems}"
            if finished:
                break
        rerun = subprocess.run(_import(config, maildir), env=_env(), capture_output=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr.decode(errors="replace")[-2000:]
        assert integrity_problems(database) == []
        found = differences(expected, snapshot(database, {str(maildir.resolve()): MAILDIR}))
        assert found == [], f"seed {SEED}, round {rounds}, after kills at {moments}:\n" + "\n".join(found)
        print(f"round {rounds}: {moments}", file=sys.stderr)
    print(f"{kills} kills in {rounds} databases ({partial} mid-import) in {time.monotonic() - started:.0f}s")
    assert kills >= KILLS
    # kills that all fell before the first commit or after the last would prove nothing
    assert partial >= 5, f"only {partial} of {kills} kills fell mid-import (seed {SEED}); the timing is off"


SYNC_MESSAGES = 80


@pytest.fixture(scope="module")
def imap_account(dovecot_module, tmp_path_factory) -> tuple[object, str, Path]:
    """A Dovecot account holding realistic INBOX and Sent folders plus a hostile message, and
    the database of a complete sync made when only the first half of them had arrived."""
    user = dovecot_module.add_user()
    mail = list(synth_messages(SYNC_MESSAGES, seed=4))
    inbox = [raw for folder, raw in mail if folder == "INBOX"]
    sent = [raw for folder, raw in mail if folder == "Sent"]
    dovecot_module.deliver(user, inbox[: len(inbox) // 2])
    dovecot_module.deliver(user, sent[: len(sent) // 2], folder="Sent")
    time.sleep(1.2)  # Dovecot re-reads its passwd-file at most once a second
    config, first_half = _sync_config(tmp_path_factory.mktemp("first-half") / "db", dovecot_module, user)
    subprocess.run(_tracker(config, "sync", "--quiet"), env=_sync_env(), check=True, timeout=300)
    dovecot_module.deliver(user, inbox[len(inbox) // 2:] + [bytes(range(256)) * 4])
    dovecot_module.deliver(user, sent[len(sent) // 2:], folder="Sent")
    return dovecot_module, user, first_half


def _clone(source: Path, target: Path) -> None:
    """Copy a database and its private store with SQLite's backup API (their WALs included)."""
    from tests.support.snapshot import private_file

    for one, other in ((source, target), (private_file(source), private_file(target))):
        src, dst = sqlite3.connect(str(one)), sqlite3.connect(str(other))
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()


def _sync_config(folder: Path, server, user: str) -> tuple[Path, Path]:
    config, database = _round(folder)
    with config.open("a", encoding="utf-8") as handle:
        # small batches: kills fall between and inside the transactions
        handle.write("\n" + server.mailbox_toml(user, extra='folders = ["INBOX", "Sent"]\nbatch_size = 8'))
        # scans are read by `tracker ocr` here: the kills are meant for the sync's own writes
        handle.write("\n[ocr]\nbudget_seconds = 0\n")
    return config, database


def _sync_env() -> dict[str, str]:
    from tests.support.dovecot import PASSWORD

    return dict(_env(), TRACKER_TEST_IMAP_PASSWORD=PASSWORD)


def test_sync_killed_at_random_moments_ends_like_an_unbroken_sync(imap_account, tmp_path: Path) -> None:
    """SIGKILL during a first sync from a loopback Dovecot, or during the next one over a sync
    of the first half of the mail (the next cron run's case); rerun until done, compare."""
    server, user, first_half = imap_account
    config, database = _sync_config(tmp_path / "reference", server, user)
    started = time.monotonic()
    proc = subprocess.Popen(_tracker(config, "sync", "--quiet"), env=_sync_env())
    while proc.poll() is None and _count(database) == 0:
        time.sleep(0.01)
    first_commit = time.monotonic() - started
    assert proc.wait(timeout=300) == 0
    took = time.monotonic() - started
    expected = snapshot(database)
    total = len(expected["raw_messages"])
    assert total >= SYNC_MESSAGES and expected["threads"] and expected["sync_state"]

    rng = random.Random(SEED + 1)
    kills = partial = rounds = 0
    started = time.monotonic()
    while kills < KILLS or (partial < 5 and time.monotonic() - started < BUDGET_SECONDS):
        rounds += 1
        config, database = _sync_config(tmp_path / f"round{rounds}", server, user)
        moments: list[str] = []
        if rng.random() < 0.4:
            _clone(first_half, database)
            moments.append(f"after a sync of the first half ({_count(database)} stored)")
        for _ in range(rng.choice([3, 4])):
            before = _count(database)
            whole_group = rng.random() < 0.7
            proc = subprocess.Popen(
                _tracker(config, "sync", "--quiet"), env=_sync_env(), stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )
            delay, finished = _wait_for_a_moment(proc, database, before, total, took, took - first_commit, rng)
            if not finished:
                os.killpg(proc.pid, signal.SIGKILL) if whole_group else os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            stored = _count(database)
            moments.append(f"{delay:.2f}s{'' if whole_group else ' writer only'}: {stored}/{total} stored"
                           + (" (it had finished)" if finished else ""))
            if before < stored < total and not finished:
                partial += 1
            problems = integrity_problems(database) if database.exists() else []
            assert problems == [], f"seed {SEED}, sync round {rounds}, after kills at {moments}: {problems}"
            if finished:
                break
        rerun = subprocess.run(_tracker(config, "sync", "--quiet"), env=_sync_env(), capture_output=True,
                               timeout=300)
        assert rerun.returncode == 0, f"after kills at {moments}: " + rerun.stderr.decode(errors="replace")[-2000:]
        assert integrity_problems(database) == []
        found = differences(expected, snapshot(database))
        assert found == [], f"seed {SEED}, sync round {rounds}, after kills at {moments}:\n" + "\n".join(found)
        print(f"sync round {rounds}: {moments}", file=sys.stderr)
    print(f"sync: {kills} kills in {rounds} databases ({partial} mid-sync) in {time.monotonic() - started:.0f}s")
    assert kills >= KILLS
    assert partial >= 5, f"only {partial} of {kills} kills fell mid-sync (seed {SEED}); the timing is off"
