"""The import's parser workers read each new message's matching evidence
(``ingest._evidence``): exactly the rows the threader would have derived from the stored
row, so the end of a first import no longer reads every body again."""

from __future__ import annotations

from pathlib import Path

from tracker import config as config_module
from tracker import demo, ingest, store, threading
from tracker.sources import local

MAILBOX = Path(demo.__file__).resolve().parent / "mailbox"
EVIDENCE = "not (key >= 'to:' and key < 'to;' or key >= 'cc:' and key < 'cc;' or key >= 'from:' and " \
    "key < 'from;' or key >= 'bounce:' and key < 'bounce;' or key >= '@' and key < 'A')"


def _import(folder: Path, workers: int):
    folder.mkdir()
    text = demo.CONFIG.read_text(encoding="utf-8")
    (folder / "tracker.toml").write_text(
        text.replace('database = "tracker.db"', f'database = "{folder / "tracker.db"}"'), encoding="utf-8"
    )
    config = config_module.load(folder / "tracker.toml")
    db = store.open_db(config.database)
    found = local.items([MAILBOX], lambda source, folder: store.known_locations(db, source, folder))
    with ingest.Ingester(db, config, workers=workers, batch_size=25) as ingester:
        ingester.run(found)
    return config, db


def _evidence(db) -> list[tuple]:
    return db.execute(f"select message_id, key, role from message_keys where {EVIDENCE} order by 1, 2, 3").fetchall()


def test_evidence_read_by_the_workers_equals_the_threaders(tmp_path: Path) -> None:
    config, db = _import(tmp_path / "workers", workers=2)
    at_import = _evidence(db)
    letters = {m for m, key, role in at_import if role == "letter"}
    answers = {m for m, key, role in at_import if role == "probe"}
    assert len(letters) > 50 and len(answers) > 50
    assert db.execute("select value from threading_state where key = 'evidence'").fetchone() == (
        threading.evidence_state(config),
    )
    threading.rethread(db, config, None)
    after_rethread = _evidence(db)
    # the same mail, its evidence read by the threader alone
    with db.atomic():
        db.execute("delete from message_keys")
        db.execute("delete from threading_state")
    threading.rethread(db, config, None)
    assert _evidence(db) == after_rethread
    # what the workers wrote is all of it: the rethread read no body of its own
    assert at_import == after_rethread


def test_in_process_and_worker_imports_store_the_same_evidence(tmp_path: Path) -> None:
    _, one = _import(tmp_path / "one", workers=1)
    _, two = _import(tmp_path / "two", workers=2)
    assert _evidence(one) == _evidence(two) != []


MINISTRY_TO_MINISTRY = """\
From: Secrétariat <secretariat.cabinet@interieur.gouv.fr>
To: Cabinet <courrier.cabinet@justice.gouv.fr>
Cc: Coordination <coordination@ensemble-traite.example.org>
Subject: Protection des victimes de traite
Date: Tue, 4 Mar 2025 10:00:00 +0100
Message-ID: <m2m-1@interieur.gouv.fr>
Content-Type: text/plain; charset=utf-8

Madame, Monsieur, N/Réf : INT-2025-0042.
"""


def test_a_message_the_coalition_now_sends_has_its_evidence_read_again(tmp_path: Path) -> None:
    """Evidence depends on the role a message plays: when a new coalition makes an answer
    from a ministry a letter to another one, the rethread reads it again as a letter."""
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1.m2m:2,S").write_bytes(MINISTRY_TO_MINISTRY.encode("utf-8"))

    def config(name: str, domains: str):
        text = demo.CONFIG.read_text(encoding="utf-8").replace(
            'database = "tracker.db"', f'database = "{tmp_path / name}.db"'
        ).replace('domains = ["ensemble-traite.example.org"]', f"domains = {domains}")
        (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")
        return config_module.load(tmp_path / f"{name}.toml")

    def imported(settings):
        db = store.open_db(settings.database)
        with ingest.Ingester(db, settings, workers=1) as ingester:
            ingester.run(local.items([maildir], lambda source, folder: set()))
        threading.rethread(db, settings, None)
        return db

    before = config("before", '["ensemble-traite.example.org"]')
    after = config("after", '["ensemble-traite.example.org", "interieur.gouv.fr"]')
    db = imported(before)
    assert {role for _, _, role in _evidence(db)} == {"probe"}
    threading.rethread(db, after, None)  # the coalition now counts the ministry's domain as its own
    assert db.execute("select direction, kind from messages").fetchall() == [("outgoing", "letter")]
    fresh = imported(after)
    assert _evidence(db) == _evidence(fresh) and {role for _, _, role in _evidence(db)} == {"letter"}
