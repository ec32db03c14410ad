"""The import's parser workers read each new message's matching evidence
(``ingest._evidence``) and the writer keeps it aside (``store.staged.stage_evidence``) for the
run's rethread, which then reads none of those bodies again. What ends up stored must be
exactly what the threader derives from the stored rows alone, in a full run (a first import)
and in an incremental one (an import into a threaded database)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tracker import config as config_module
from tracker import demo, store
from tracker.store import ingest
from tracker.thread import Threader, rethread
from tracker.sources import local
from tests.test_rethread_reclassify import _evidence

MAILBOX = Path(demo.__file__).resolve().parent / "mailbox"


def _config(folder: Path, timezone: str = "Europe/Paris"):
    """The demo's config with its database in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = demo.CONFIG.read_text(encoding="utf-8")
    assert 'timezone = "Europe/Paris"' in text
    (folder / "tracker.toml").write_text(
        text.replace('database = "tracker.db"', f'database = "{folder / "tracker.db"}"').replace(
            'timezone = "Europe/Paris"', f'timezone = "{timezone}"'
        ),
        encoding="utf-8",
    )
    return config_module.load(folder / "tracker.toml")


def _threading_tables(db) -> dict[str, list[tuple]]:
    return {
        table: db.execute(f"select * from {table} order by 1, 2").fetchall()
        for table in ("message_keys", "threads", "thread_messages", "unmatched", "message_links")
    }


def _halves(tmp_path: Path) -> tuple[Path, Path]:
    """The demo mailbox split in two Maildirs (every other file of each folder)."""
    halves = (tmp_path / "first", tmp_path / "second")
    for path in sorted(MAILBOX.rglob("*")):
        if path.is_dir():
            for half in halves:
                (half / path.relative_to(MAILBOX)).mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in MAILBOX.rglob("*") if p.is_file())
    for index, path in enumerate(files):
        shutil.copyfile(path, halves[index % 2] / path.relative_to(MAILBOX))
    return halves


@pytest.fixture
def bodies_read(monkeypatch) -> list[str]:
    """The messages whose bodies the threader itself reads for evidence."""
    read: list[str] = []
    original = Threader._evidence_keys

    def recording(self, rows):
        rows = list(rows)
        read.extend(row[0] for row in rows)
        return original(self, rows)

    monkeypatch.setattr(Threader, "_evidence_keys", recording)
    return read


def _import(config, *folders: Path, workers: int = 2):
    """What ``tracker import`` does: store with the parser pool, then rethread what is new."""
    db = store.open_db(config.database)
    items = local.items(list(folders), lambda source, folder: store.known_locations(db, source, folder))
    with ingest.Ingester(db, config, workers=workers, batch_size=25) as ingester:
        summary = ingester.run(items)
    rethread(db, config, summary.to_rethread + store.unthreaded(db))
    return db


def _reference(config, *folders: Path):
    """The same mail, its evidence derived by the threader alone from the stored rows: a
    fresh connection has nothing staged."""
    db = store.open_db(config.database)
    items = local.items(list(folders), lambda source, folder: store.known_locations(db, source, folder))
    with ingest.Ingester(db, config, workers=2, batch_size=25) as ingester:
        ingester.run(items)
    db.conn.close()
    db = store.open_db(config.database)
    rethread(db, config, None)
    return db


def _answers_with_text(db) -> list[str]:
    """The answers whose attachments have text, which the threader reads itself."""
    return sorted(r[0] for r in db.execute(
        "select distinct a.message_id from attachments a join message_keys k on k.message_id = a.message_id "
        "and k.key = 'x:evidence' and k.role = 'probe' where a.text != ''"
    ))


def test_a_first_import_reads_no_body_twice_and_stores_what_the_threader_would(tmp_path, bodies_read):
    db = _import(_config(tmp_path / "staged"), MAILBOX)
    staged = _threading_tables(db)
    evidence = _evidence(db)
    assert len({m for m, _, role in evidence if role == "letter"}) > 50
    assert len({m for m, _, role in evidence if role == "probe"}) > 50
    # every body was read by the parser workers; answers whose attachments have text (a PDF
    # answer) are read again by the threader, which reads attachments' text too
    with_text = _answers_with_text(db)
    assert len(with_text) > 3
    assert sorted(bodies_read) == with_text

    reference = _reference(_config(tmp_path / "reference"), MAILBOX)
    assert len(bodies_read) > 100  # the threader alone reads them all
    assert _threading_tables(reference) == staged
    # nothing staged outlives the rethread that used it
    assert db.execute("select count(*) from sqlite_temp_master where name = 'staged_evidence'").fetchone() == (0,)


def test_an_import_into_a_threaded_database_uses_the_staged_evidence_too(tmp_path, bodies_read):
    first, second = _halves(tmp_path)
    config = _config(tmp_path / "staged")
    _import(config, first).conn.close()
    db = _import(config, second)  # incremental: the config has not changed
    assert sorted(bodies_read) == sorted(_answers_with_text(db))
    reference = _reference(_config(tmp_path / "reference"), first, second)
    assert _threading_tables(db) == _threading_tables(reference)


def test_one_process_and_the_pool_stage_the_same_evidence(tmp_path, bodies_read):
    one = _import(_config(tmp_path / "one"), MAILBOX, workers=1)
    two = _import(_config(tmp_path / "two"), MAILBOX, workers=2)
    assert sorted(bodies_read) == sorted(_answers_with_text(one) * 2)
    assert _evidence(one) == _evidence(two) != []


def test_a_run_that_dies_before_its_rethread_leaves_the_next_run_to_read_the_bodies(tmp_path, bodies_read):
    config = _config(tmp_path / "killed")
    db = store.open_db(config.database)
    with ingest.Ingester(db, config, workers=2, batch_size=25) as ingester:
        ingester.run(local.items([MAILBOX], lambda source, folder: set()))
    db.conn.close()  # the staged evidence goes with the connection
    db = store.open_db(config.database)
    rethread(db, config, store.unthreaded(db))
    assert len(bodies_read) > 100
    reference = _import(_config(tmp_path / "reference"), MAILBOX)
    assert _threading_tables(db) == _threading_tables(reference)


def test_evidence_staged_with_another_time_zone_is_not_used(tmp_path, bodies_read):
    """A letter's date key is its local date: evidence the workers read for Paris is no good
    to a rethread in Cayenne on the same connection (a program, not the command line)."""
    paris = _config(tmp_path / "db")
    db = store.open_db(paris.database)
    with ingest.Ingester(db, paris, workers=2, batch_size=25) as ingester:
        ingester.run(local.items([MAILBOX], lambda source, folder: set()))
    cayenne = _config(tmp_path / "db", "America/Cayenne")
    assert cayenne.database == paris.database
    rethread(db, cayenne, store.unthreaded(db))
    assert len(bodies_read) > 100
    reference = _reference(_config(tmp_path / "reference", "America/Cayenne"), MAILBOX)
    assert _threading_tables(db) == _threading_tables(reference)
