"""Matching evidence read by the import's parser workers, kept for the run's rethread."""

from __future__ import annotations

import sqlite_utils

from ..config import Config
from ..parse.evidence import evidence_state


def stage_evidence(db: sqlite_utils.Database, config: Config, rows: list[tuple[str, str, str]]) -> None:
    """Keep (message_id, key, role) rows of matching evidence, read by the import's parser
    workers (``evidence_keys``) with ``config``, for this connection's next rethread, which
    then reads those bodies no more. A temporary table: appending to it costs little, and a
    run that dies loses it, its rethread reading the bodies itself."""
    if not rows:
        return
    db.execute("create temp table if not exists staged_evidence (message_id text, key text, role text)")
    db.execute("create temp table if not exists staged_evidence_state (value text not null)")
    state = evidence_state(config)
    if db.execute("select value from temp.staged_evidence_state").fetchall() != [(state,)]:
        db.execute("delete from temp.staged_evidence")  # read in another time zone, by other code
        db.execute("delete from temp.staged_evidence_state")
        db.execute("insert into temp.staged_evidence_state (value) values (?)", [state])
    db.conn.executemany("insert into temp.staged_evidence (message_id, key, role) values (?, ?, ?)", rows)


def staged(db: sqlite_utils.Database, config: Config) -> bool:
    """Whether evidence read with ``config`` is staged (``stage_evidence``); indexed once,
    when it is read."""
    if not db.execute("select 1 from sqlite_temp_master where type = 'table' and name = 'staged_evidence'").fetchone():
        return False
    if db.execute("select value from temp.staged_evidence_state").fetchall() != [(evidence_state(config),)]:
        return False
    db.execute("create index if not exists temp.staged_evidence_message on staged_evidence (message_id)")
    return True


def unstage(db: sqlite_utils.Database) -> None:
    db.execute("drop table if exists temp.staged_evidence")
    db.execute("drop table if exists temp.staged_evidence_state")

