"""IMAP sync speed: `tracker sync` beside `mbsync` and `tracker import`, same mailbox.

    python bench/sync.py                    # 20,000 generated messages
    python bench/sync.py --messages 2000    # quicker

A generated Maildir (INBOX + Sent) is served by a loopback Dovecot started for
the run (tests/support/dovecot.py). Measured, each as its own process:

- first sync: `tracker sync` into an empty database; `mbsync` (isync) pulling the
  same two folders into an empty Maildir; `tracker import` of the same Maildir
  from disk (the local ceiling the sync is held to: goal within 1.2x);
- nothing new: a second `tracker sync` and `mbsync` (process wall time, which for
  tracker is mostly Python start-up), and `tracker.store.sync.sync()` called in a warm process
  (connect, log in, SELECT each folder, compare UIDVALIDITY/UIDNEXT, record):
  goal under 50 ms per folder.

Before measuring, the server's index is built and the files are read once
(a SELECT and a size fetch per folder) so neither client pays for the first
touch of the mailbox.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from tests.support.dovecot import PASSWORD, Dovecot  # noqa: E402

PASSWORD_ENV = "TRACKER_BENCH_IMAP_PASSWORD"
FOLDERS = ["INBOX", "Sent"]


def serve(maildir: Path, root: Path) -> tuple[Dovecot, str]:
    """A Dovecot whose first account holds a copy of ``maildir``; warmed up."""
    server = Dovecot(root)
    user = server.add_user()
    target = root / "home" / user / "Maildir"
    shutil.rmtree(target)
    shutil.copytree(maildir, target)
    server._chown(root / "home" / user)
    server.start()
    with server.client(user) as client:
        for folder in FOLDERS:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            for start in range(0, len(uids), 2000):
                client.fetch(uids[start : start + 2000], ["RFC822.SIZE"])
    return server, user


def tracker_config(workdir: Path, server: Dovecot, user: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    config = common.write_tracker_config(workdir, workdir / "tracker.db")
    with config.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[mailbox]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
            f'username = "{user}"\npassword_env = "{PASSWORD_ENV}"\nfolders = ["INBOX", "Sent"]\n'
        )
    return config


def env() -> dict[str, str]:
    environment = dict(os.environ, **{PASSWORD_ENV: PASSWORD})
    environment["PYTHONPATH"] = str(common.ROOT) + os.pathsep + environment.get("PYTHONPATH", "")
    return environment


def tracker_sync(config: Path) -> common.Measurement:
    cmd = common.python_cmd("from tracker.cli import main; main()")
    return common.run_measured(cmd + ["--config", str(config), "sync", "--quiet"], env=env())


def mbsync_config(workdir: Path, server: Dovecot, user: str) -> Path:
    local = workdir / "mail"
    local.mkdir(parents=True, exist_ok=True)
    rc = workdir / "mbsyncrc"
    # FSync no: tracker's SQLite does not fsync each message either (WAL, synchronous=NORMAL)
    rc.write_text(
        "FSync no\n\n"
        f"IMAPAccount bench\nHost 127.0.0.1\nPort {server.port}\nUser {user}\nPass {PASSWORD}\n"
        "SSLType None\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX Sent\nCreate Near\n"
        "Sync Pull\nSyncState *\nExpunge None\n"
    )
    return rc


def mbsync(rc: Path) -> common.Measurement:
    return common.run_measured(["mbsync", "-q", "-c", str(rc), "bench"])


def count_rows(database: Path) -> int:
    db = sqlite3.connect(database)
    try:
        return db.execute("select count(*) from messages").fetchone()[0]
    finally:
        db.close()


def in_process_nothing_new(config: Path, runs: int = 7) -> list[float]:
    """Seconds of each ``store.sync.sync()`` call in one warm process (nothing new each time)."""
    code = (
        "import os, time, json; "
        f"os.environ[{PASSWORD_ENV!r}] = {PASSWORD!r}; "
        "from tracker import config as c, store; from tracker.store import sync as imap; "
        f"cfg = c.load({str(config)!r}); db = store.open_db(cfg.database); times = []\n"
        f"for _ in range({runs}):\n"
        "    t = time.perf_counter(); s = imap.sync(db, cfg); times.append(time.perf_counter() - t)\n"
        "    assert s.new == 0, s.new\n"
        "print(json.dumps(times))"
    )
    import json

    measured = common.run_measured(common.python_cmd(code), env=env())
    return json.loads(measured.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages (default 20000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)

    work = common.scratch("tracker-bench-sync-")
    os.chmod(work, 0o755)  # Dovecot runs as nobody
    server = None
    try:
        maildir, generator = common.build_mailbox(work / "maildir", args.messages, seed=args.seed)
        count = common.count_messages(maildir)
        server, user = serve(maildir, work / "dovecot")
        print(f"{count:,} messages ({generator}), Dovecot on 127.0.0.1:{server.port}; "
              f"{common.machine_line()}", file=sys.stderr)

        (work / "import").mkdir()
        imported = common.measure_import(maildir, work / "import")
        config = tracker_config(work / "sync", server, user)
        first = tracker_sync(config)
        rc = mbsync_config(work / "mbsync", server, user)
        mb_first = mbsync(rc)
        again = tracker_sync(config)
        mb_again = mbsync(rc)
        warm = in_process_nothing_new(config)

        synced, local = count_rows(work / "sync" / "tracker.db"), count_rows(work / "import" / "tracker.db")
        pulled = common.count_messages(work / "mbsync" / "mail" / "INBOX") + common.count_messages(
            work / "mbsync" / "mail" / "Sent")
        rows = [
            ["first sync: tracker sync", count, first.seconds, first.rate(count),
             first.seconds / imported.seconds, first.peak_tree_mb, synced],
            ["first sync: mbsync", count, mb_first.seconds, mb_first.rate(count),
             mb_first.seconds / imported.seconds, mb_first.peak_tree_mb, pulled],
            ["local: tracker import", count, imported.seconds, imported.rate(count), 1.0,
             imported.peak_tree_mb, local],
            ["nothing new: tracker sync (process)", 0, again.seconds, None, None, again.peak_tree_mb, None],
            ["nothing new: mbsync (process)", 0, mb_again.seconds, None, None, mb_again.peak_tree_mb, None],
            [f"nothing new: imap.sync() warm, median of {len(warm)}", 0, statistics.median(warm),
             None, None, None, None],
            ["  per folder (goal < 0.050 s)", 0, statistics.median(warm) / len(FOLDERS),
             None, None, None, None],
        ]
        print(common.table(
            ["", "messages", "seconds", "msg/s", "vs import", "peak MB", "stored"], rows))
        ratio = first.seconds / imported.seconds
        print(f"\nfirst sync / local import = {ratio:.2f} (goal <= 1.2); "
              f"nothing new per folder = {statistics.median(warm) / len(FOLDERS) * 1000:.1f} ms "
              f"(goal < 50 ms); {common.now_utc()}")
        if synced != local:
            print(f"WARNING: sync stored {synced} messages, import {local}", file=sys.stderr)
            return 1
        return 0
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
