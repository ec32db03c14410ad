"""Evidence (what matching reads from a message: a letter's date and subject, an answer's
citations) is read for the role a message plays; a message whose role changes is read again."""

from __future__ import annotations

from pathlib import Path

from tracker import config as config_module
from tracker import demo, store
from tracker.store import ingest
from tracker.thread import rethread
from tracker.sources import local

EVIDENCE = "not (key >= 'to:' and key < 'to;' or key >= 'cc:' and key < 'cc;' or key >= 'from:' and " \
    "key < 'from;' or key >= 'bounce:' and key < 'bounce;' or key >= '@' and key < 'A')"


def _evidence(db) -> list[tuple]:
    return db.execute(f"select message_id, key, role from message_keys where {EVIDENCE} order by 1, 2, 3").fetchall()


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
        rethread(db, settings, None)
        return db

    before = config("before", '["ensemble-traite.example.org"]')
    after = config("after", '["ensemble-traite.example.org", "interieur.gouv.fr"]')
    db = imported(before)
    assert {role for _, _, role in _evidence(db)} == {"probe"}
    rethread(db, after, None)  # the coalition now counts the ministry's domain as its own
    assert db.execute("select direction, kind from messages").fetchall() == [("outgoing", "letter")]
    fresh = imported(after)
    assert _evidence(db) == _evidence(fresh) and {role for _, _, role in _evidence(db)} == {"letter"}
