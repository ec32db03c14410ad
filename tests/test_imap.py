"""`tracker sync` against a real Dovecot on loopback: every scenario ends with exactly the
messages a clean run gets, nothing lost and nothing twice."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import CORPORA, write_config
from tests.support.dovecot import (
    PASSWORD, Dovecot, big_message, dovecot_module, french_letters,  # noqa: F401
)
from tracker import config as config_module
from tracker import store
from tracker.store import syncstate
from tracker.sources import imap
from tracker.store import sync as imap_sync

PASSWORD_ENV = "TRACKER_TEST_IMAP_PASSWORD"


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def make_config(folder: Path, server: Dovecot, user: str, extra: str = "", name: str = "tracker"):
    folder = folder / name
    folder.mkdir(exist_ok=True)
    return config_module.load(write_config(folder, server.mailbox_toml(user, extra=extra)))


def run(config, **kwargs) -> imap_sync.SyncSummary:
    db = store.open_db(config.database)
    return imap_sync.sync(db, config, workers=1, **kwargs)


def message_ids(config) -> Counter:
    db = store.open_db(config.database)
    return Counter(row[0] for row in db.execute("select message_id from messages"))


def ids_of(raws) -> list[str]:
    from tracker.parse import parse_message

    return [parse_message(raw).message_id for raw in raws]


def clean_run(tmp_path: Path, server: Dovecot, user: str, extra: str = "") -> Counter:
    """What a fresh database gets from the same account in one uninterrupted sync."""
    config = make_config(tmp_path, server, user, extra, name="clean")
    run(config)
    return message_ids(config)


def assert_same_as_clean(tmp_path, server, user, config, expected: list[str], extra: str = ""):
    got = message_ids(config)
    assert max(got.values()) == 1  # messages is keyed by Message-ID: a safety net
    assert set(got) == set(expected)  # nothing lost
    assert got == clean_run(tmp_path, server, user, extra)
    db = store.open_db(config.database)
    raw = db.execute("select count(*) from raw_messages").fetchone()[0]
    assert raw == len(set(expected))  # nothing stored twice


def corpus_messages(count: int) -> list[bytes]:
    """Real messages from the shared notmuch corpus (distinct Message-IDs)."""
    files = sorted((CORPORA / "notmuch-test" / "test" / "corpora" / "default").rglob("*"))
    raws, seen = [], set()
    for path in files:
        if not path.is_file():
            continue
        raw = path.read_bytes()
        mid = ids_of([raw])[0]
        if mid not in seen:
            seen.add(mid)
            raws.append(raw)
        if len(raws) == count:
            break
    return raws


def test_first_sync_inbox_and_sent_is_read_only(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    inbox = list(french_letters(40, seed=1)) + corpus_messages(20)
    sent = list(french_letters(15, seed=2, prefix="envoi"))
    server.deliver(user, inbox)
    server.deliver(user, sent, folder="Sent")
    with server.client(user) as client:
        client.select_folder("INBOX")
        client.remove_flags(client.search(["ALL"]), [b"\\Seen"])
    config = make_config(tmp_path, server, user)

    summary = run(config)

    assert [f.folder for f in summary.folders] == ["INBOX", "Sent"]  # found by \Sent
    assert (summary.new, summary.quarantined) == (75, 0)
    assert sorted(summary.new_message_ids) == sorted(ids_of(inbox + sent))
    assert_same_as_clean(tmp_path, server, user, config, ids_of(inbox + sent))
    db = store.open_db(config.database)
    states = {s.folder: s for s in syncstate.folder_states(db)}
    assert states["INBOX"].last_uid == 60 and states["Sent"].last_uid == 15
    assert states["INBOX"].last_new == 60 and states["INBOX"].last_success_at
    # Dovecot advertises CONDSTORE: the sync enabled it and keeps each folder's HIGHESTMODSEQ
    assert states["INBOX"].highestmodseq and states["Sent"].highestmodseq
    keys = {r[0] for r in db.execute("select key from message_locations where folder = 'INBOX'")}
    assert keys == {f"{states['INBOX'].uidvalidity}:{uid}" for uid in range(1, 61)}
    # BODY.PEEK: the server still has every message unread
    with server.client(user) as client:
        client.select_folder("INBOX", readonly=True)
        assert client.search(["SEEN"]) == []


def test_nothing_new_is_fast_and_changes_nothing(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    server.deliver(user, french_letters(30, seed=3))
    config = make_config(tmp_path, server, user)
    run(config)
    before = message_ids(config)

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        summary = run(config)
        timings.append(time.perf_counter() - started)
        assert (summary.new, summary.known, summary.quarantined) == (0, 0, 0)
    assert message_ids(config) == before
    # goal: under 50 ms per folder (2 folders); generous here for a loaded CI machine
    assert min(timings) < 0.5, timings


def test_new_mail_between_runs_and_deleted_mail_stays(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    first = list(french_letters(12, seed=4))
    server.deliver(user, first)
    config = make_config(tmp_path, server, user)
    assert run(config).new == 12

    later = list(french_letters(7, seed=5))
    server.append(user, later[:5])
    server.append(user, later[5:], folder="Sent")
    # a message deleted on the server stays in the database
    with server.client(user) as client:
        client.select_folder("INBOX")
        client.delete_messages([1, 2])
        client.expunge()
    summary = run(config)
    assert summary.new == 7 and summary.known == 0
    got = message_ids(config)
    assert set(got) == set(ids_of(first + later)) and max(got.values()) == 1


def test_non_ascii_folder(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    name = "Éléments envoyés"
    with server.client(user) as client:
        client.create_folder(name)
    letters = list(french_letters(6, seed=6))
    server.deliver(user, letters, folder=name)
    config = make_config(tmp_path, server, user, f'folders = ["INBOX", "{name}"]')
    summary = run(config)
    assert [f.folder for f in summary.folders] == ["INBOX", name]
    assert summary.new == 6
    db = store.open_db(config.database)
    assert {r[0] for r in db.execute("select distinct folder from message_locations")} == {name}
    assert syncstate.get(db, name).last_uid == 6
    assert run(config).new == 0


def test_default_folders_follow_special_use_never_all_mail(tmp_path):
    # a French Outlook-like Sent and a Gmail-like All Mail that holds everything again
    server = Dovecot(
        Path(__import__("tempfile").mkdtemp(prefix="tracker-dovecot-")),
        mailboxes={"Éléments envoyés": "\\Sent", "Tous les messages": "\\All"},
    ).start()
    try:
        user = server.add_user()
        letters = list(french_letters(4, seed=7))
        server.deliver(user, letters[:2])
        server.deliver(user, letters[2:], folder="Éléments envoyés")
        server.deliver(user, list(french_letters(3, seed=8)), folder="Tous les messages")
        config = make_config(tmp_path, server, user)
        summary = run(config)
        assert [f.folder for f in summary.folders] == ["INBOX", "Éléments envoyés"]
        assert set(message_ids(config)) == set(ids_of(letters))
    finally:
        server.destroy()


def test_uidvalidity_reset_rescans_without_duplicates(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    letters = list(french_letters(25, seed=9))
    server.deliver(user, letters[:20])
    config = make_config(tmp_path, server, user)
    run(config)
    db = store.open_db(config.database)
    old = syncstate.get(db, "INBOX").uidvalidity

    new_validity = server.reset_uidvalidity(user, "INBOX")
    server.append(user, letters[20:])
    summary = run(config)

    inbox = summary.folders[0]
    assert inbox.rescanned and inbox.uidvalidity == new_validity != old
    assert (inbox.new, inbox.known) == (5, 20)
    assert syncstate.get(db, "INBOX").uidvalidity == new_validity
    assert_same_as_clean(tmp_path, server, user, config, ids_of(letters))
    assert run(config).folders[0].rescanned is False


def test_oversized_message_is_quarantined_with_its_size(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    letters = list(french_letters(5, seed=10))
    big = big_message(300_000)
    server.deliver(user, letters[:2] + [big] + letters[2:])
    config = make_config(tmp_path, server, user, "max_message_size = 100000")
    summary = run(config)
    assert (summary.new, summary.quarantined) == (5, 1)
    db = store.open_db(config.database)
    rows = list(db["quarantine"].rows)
    assert len(rows) == 1
    assert rows[0]["key"].endswith(":3") and rows[0]["sha256"] is None
    assert abs(rows[0]["size"] - len(big)) < 100 and "max_message_size" in rows[0]["reason"]
    assert syncstate.get(db, "INBOX").last_uid == 6
    assert run(config).quarantined == 0  # recorded once, not again each run
    assert_same_as_clean(tmp_path, server, user, config, ids_of(letters), "max_message_size = 100000")


def test_sync_with_parser_workers_stores_what_one_process_stores(tmp_path, dovecot_module):
    """Batches large enough for the worker pool: what goes to the workers (IMAP arrival
    times included) must cross the process boundary, and the result equal one process's."""
    server = dovecot_module
    user = server.add_user()
    server.deliver(user, list(french_letters(120, seed=5)))
    rows = {}
    for workers in (1, 2):
        config = make_config(tmp_path, server, user, "batch_size = 60", name=f"w{workers}")
        db = store.open_db(config.database)
        summary = imap_sync.sync(db, config, workers=workers)
        assert summary.new == 120
        rows[workers] = [
            db.execute("select message_id, date, direction, kind, body_text from messages order by 1").fetchall(),
            db.execute("select message_id, key, role from message_keys order by 1, 2, 3").fetchall(),
        ]
    assert rows[1] == rows[2]


UNDATED = """\
From: Cabinet <cabinet@justice.gouv.fr>
To: Collectif <coordination@collectif.example.org>
Subject: Re: Demande de rendez-vous ({n})
Message-ID: <undated-{n}@justice.gouv.fr>
Content-Type: text/plain; charset=utf-8

Sans en-tete Date : la date est celle de l'arrivee.
"""


def test_a_large_folder_fetched_by_another_process_stores_what_the_writer_fetches(tmp_path, dovecot_module):
    """Above two batches a folder is fetched by a forked process over its own connection
    (``imap.fetch_elsewhere``): the rows must equal those of a sync that fetches in the
    writer, arrival times of undated messages included."""
    from datetime import datetime, timedelta, timezone

    server = dovecot_module
    user = server.add_user()
    server.deliver(user, list(french_letters(150, seed=9)))
    paris = timezone(timedelta(hours=2))
    with server.client(user) as client:
        for n in range(3):
            client.append("INBOX", UNDATED.format(n=n).encode(), msg_time=datetime(2025, 6, 2 + n, 9, 30, tzinfo=paris))
    rows, fetched_elsewhere = {}, []
    original = imap.fetch_elsewhere

    def recording(*args, **kwargs):
        fetched_elsewhere.append(args[1])
        yield from original(*args, **kwargs)

    for batch_size in (20, 500):
        config = make_config(tmp_path, server, user, f"batch_size = {batch_size}", name=f"b{batch_size}")
        db = store.open_db(config.database)
        imap.fetch_elsewhere = recording
        try:
            assert imap_sync.sync(db, config, workers=2).new == 153
        finally:
            imap.fetch_elsewhere = original
        rows[batch_size] = [
            db.execute("select * from messages order by message_id").fetchall(),
            db.execute("select source, folder, key, sha256, message_id, arrived_at from message_locations "
                       "order by key").fetchall(),
            db.execute("select message_id, key, role from message_keys order by 1, 2, 3").fetchall(),
            db.execute("select sha256, raw from raw_messages order by sha256").fetchall(),
        ]
        undated = db.execute(
            "select date, date_original, date_source from messages where message_id like 'undated-%' order by 1"
        ).fetchall()
        # (Dovecot keeps INTERNALDATE as a file time: it answers in its own zone, UTC here)
        assert undated[0][0] == "2025-06-02T07:30:00+00:00" and undated[0][2] == "arrival"
    assert fetched_elsewhere == ["INBOX"]  # the first sync only: 153 messages are more than two batches of 20
    imported_at = [c[1] for c in store.open_db(config.database).execute("pragma table_info(messages)")].index(
        "imported_at"
    )
    for table in rows.values():
        table[0] = [row[:imported_at] + row[imported_at + 1:] for row in table[0]]
    assert rows[20] == rows[500]


def test_the_waiting_connection_is_kept_alive_while_another_process_fetches(tmp_path, dovecot_module, monkeypatch):
    server = dovecot_module
    user = server.add_user()
    server.deliver(user, list(french_letters(90, seed=13)))
    noops = []
    monkeypatch.setattr(imap, "KEEP_ALIVE", 0)
    original = imap.IMAPClient.noop
    monkeypatch.setattr(imap.IMAPClient, "noop", lambda self: noops.append(1) or original(self))
    config = make_config(tmp_path, server, user, "batch_size = 10")
    assert imap_sync.sync(store.open_db(config.database), config, workers=1).new == 90
    assert noops  # a NOOP at each batch handed over, with KEEP_ALIVE at 0


def test_arrival_times_cross_to_the_writer_with_their_offset():
    """imapclient's INTERNALDATE time zone does not pickle: the fetching process hands over
    the same moment with the same offset."""
    import pickle
    from datetime import datetime

    from imapclient.fixed_offset import FixedOffset

    moment = datetime(2025, 6, 2, 9, 30, tzinfo=FixedOffset(120))
    with pytest.raises(TypeError):  # it pickles, but cannot be unpickled
        pickle.loads(pickle.dumps(moment))
    crossed = pickle.loads(pickle.dumps(imap._portable_time(moment)))
    assert crossed == moment and crossed.isoformat() == "2025-06-02T09:30:00+02:00"
    assert imap._portable_time(None) is None


def test_a_failure_that_does_not_pickle_reaches_the_writer_as_a_lost_connection():
    class Odd(Exception):  # local: pickle cannot find it again
        pass

    crossed = imap._portable_error(Odd("socket closed by peer"))
    assert isinstance(crossed, ConnectionError) and "Odd: socket closed by peer" in str(crossed)
    timeout = TimeoutError("timed out")
    assert imap._portable_error(timeout) is timeout


def test_server_killed_mid_sync_then_restarted(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    letters = list(french_letters(300, seed=11))
    server.deliver(user, letters)
    config = make_config(tmp_path, server, user, "batch_size = 20")
    kills = []

    def kill_after_first_batch(total):
        if not kills:
            kills.append(total.new)
            server.kill()

    try:
        with pytest.raises(imap.SyncError) as failure:
            run(config, progress=kill_after_first_batch)
        message = str(failure.value)
        assert "\n" not in message and "127.0.0.1" in message and "next run resumes" in message
        db = store.open_db(config.database)
        state = syncstate.get(db, "INBOX")
        assert 0 < state.last_uid < 300 and state.last_error == message
        assert state.last_success_at is None
        stored = db.execute("select count(*) from messages").fetchone()[0]
        assert stored >= state.last_uid  # every UID up to the checkpoint is stored
    finally:
        server.start()
    summary = run(config)
    assert summary.new == 300 - stored
    assert_same_as_clean(tmp_path, server, user, config, ids_of(letters), "batch_size = 20")
    assert syncstate.get(db, "INBOX").last_error is None


def test_wrong_password_says_what_to_check(tmp_path, dovecot_module, monkeypatch):
    server = dovecot_module
    user = server.add_user()
    config = make_config(tmp_path, server, user, 'folders = ["INBOX"]')
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    with pytest.raises(imap.SyncError, match=f"refused the login of '{user}'.*{PASSWORD_ENV}"):
        run(config)
    db = store.open_db(config.database)
    assert "refused the login" in syncstate.get(db, "INBOX").last_error
    assert "not-the-password" not in syncstate.get(db, "INBOX").last_error
    assert db.execute("select count(*) from messages").fetchone()[0] == 0


def test_connection_refused_and_timeout(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    config = make_config(tmp_path, server, user)
    config.mailbox.port = port
    with pytest.raises(imap.SyncError, match="connection refused; check mailbox.host"):
        run(config)

    # a server that accepts and never says hello
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True)
    thread.start()
    config.mailbox.port = silent.getsockname()[1]
    config.mailbox.timeout = 0.3
    try:
        with pytest.raises(imap.SyncError, match="did not answer within 0.3 s"):
            run(config)
    finally:
        silent.close()


def test_stale_folders_for_the_digest(tmp_path):
    from datetime import datetime, timezone

    db = store.open_db(tmp_path / "t.db")
    syncstate.succeeded(db, "INBOX", 7, 10, None, 3)
    syncstate.succeeded(db, "Sent", 7, 4, None, 0)
    syncstate.failed(db, ["Archives"], "the connection to imap.example.org:993 was lost")
    db.execute("update sync_state set last_success_at = '2026-11-20T08:00:00+00:00' where folder = 'Sent'")
    now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    assert [s.folder for s in syncstate.stale_folders(db, now)] == ["Archives", "Sent"]
    # two days exactly is not yet stale; a minute more is
    assert syncstate.stale_folders(db, datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc))[1:] == []
    assert [s.folder for s in syncstate.stale_folders(db, datetime(2026, 11, 22, 8, 1,
                                                                   tzinfo=timezone.utc))] == ["Archives", "Sent"]
    text = syncstate.render(syncstate.folder_states(db), now)
    assert "Archives: last success never; last error at" in text and "was lost" in text


def test_run_lock_is_exclusive_and_released(tmp_path):
    from tracker.store import lock

    database = tmp_path / "tracker.db"
    with lock.run_lock(database, "sync"):
        with pytest.raises(lock.Locked, match=r"in progress \(sync, pid \d+; lock .*tracker.db.lock\)"):
            with lock.run_lock(database, "digest"):
                pass
    with lock.run_lock(database, "digest"):  # released on exit
        pass


def test_server_stalling_mid_fetch_times_out_and_next_run_resumes(tmp_path, dovecot_module):
    from tests.support.dovecot import PausableProxy

    server = dovecot_module
    user = server.add_user()
    letters = list(french_letters(120, seed=12))
    server.deliver(user, letters)
    proxy = PausableProxy(server.port)
    config = make_config(tmp_path, server, user, "batch_size = 20\ntimeout = 2")
    config.mailbox.port = proxy.port
    try:
        with pytest.raises(imap.SyncError, match="did not answer within 2 s while fetching INBOX"):
            run(config, progress=lambda total: proxy.pause())
    finally:
        proxy.close()
    db = store.open_db(config.database)
    assert 0 < syncstate.get(db, "INBOX").last_uid < 120
    config.mailbox.port = server.port
    run(config)
    assert_same_as_clean(tmp_path, server, user, config, ids_of(letters), "batch_size = 20")


def test_password_file(tmp_path, dovecot_module):
    server = dovecot_module
    user = server.add_user()
    server.deliver(user, french_letters(2, seed=13))
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    folder = tmp_path / "pf"
    folder.mkdir()
    toml = server.mailbox_toml(user).replace(
        f'password_env = "{PASSWORD_ENV}"', f'password_file = "{secret}"')
    config = config_module.load(write_config(folder, toml))
    assert run(config).new == 2
