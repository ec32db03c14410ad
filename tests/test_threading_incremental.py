"""Threading after a sync costs what the sync brought, not what the mailbox holds; and what
it derives one message at a time is what a full rethread derives."""

from __future__ import annotations

import random
from pathlib import Path

from bench.thread import Mailbox, write_config
from tracker import config as config_module
from tracker import store
from tracker.thread import rethread


def build(folder: Path, messages: int):
    folder.mkdir()
    config = config_module.load(write_config(folder))
    db = store.open_db(config.database)
    mailbox = Mailbox(seed=3)
    mailbox.correspondence(messages)
    mailbox.write(db)
    rethread(db, config, None)
    return config, db, mailbox


def sqlite_steps(db, action) -> int:
    """SQLite virtual-machine instructions (in thousands) that ``action`` runs: a measure of
    work that does not depend on how busy the machine is."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    db.conn.set_progress_handler(tick, 1000)
    try:
        action()
    finally:
        db.conn.set_progress_handler(None, 1000)
    return count[0]


def add_one_at_a_time(config, db, mailbox: Mailbox, letters: int) -> int:
    mailbox.rng = random.Random(99)  # the same new letters and answers, whatever came before
    steps = 0
    for _ in range(letters):
        mailbox.correspondence(len(mailbox.messages) + 1)
        for message_id in mailbox.write(db):
            steps += sqlite_steps(db, lambda: rethread(db, config, [message_id]))
    return steps


def snapshot(db) -> dict:
    return {
        "conversations": sorted(db.execute("select message_id, conversation_id from messages")),
        "threads": sorted(db.execute("select * from threads"), key=repr),
        "members": sorted(db.execute("select thread_id, message_id, matched_by from thread_messages")),
        "unmatched": sorted(db.execute("select * from unmatched"), key=repr),
        "keys": sorted(db.execute("select message_id, key, role from message_keys")),
        "links": sorted(db.execute("select message_id, target_id, rel from message_links")),
    }


def test_cost_of_new_messages_does_not_grow_with_the_mailbox(tmp_path: Path) -> None:
    small = build(tmp_path / "small", 1500)
    large = build(tmp_path / "large", 7500)
    small_steps = add_one_at_a_time(*small, letters=15)
    large_steps = add_one_at_a_time(*large, letters=15)
    # five times the mailbox, the same new letters and answers
    assert large_steps < 2 * small_steps, (small_steps, large_steps)


def test_one_at_a_time_equals_a_full_rethread(tmp_path: Path) -> None:
    config, db, mailbox = build(tmp_path / "box", 600)
    add_one_at_a_time(config, db, mailbox, letters=40)
    incremental = snapshot(db)
    rethread(db, config, None)
    assert snapshot(db) == incremental
