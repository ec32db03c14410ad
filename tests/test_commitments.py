"""Commitments (what bodies promised), meetings and the digest's two commitment sections, on
the generated demo (tracker/demo/generate.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import store
from tracker.cli import cli
from tracker.config import load
from tracker.demo.generate import generate
from tracker.report import digest
from tracker.thread import commitments
from tracker.thread.commitments import CommitmentError


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, letters=40)
    result = CliRunner().invoke(cli, ["--config", str(out / "tracker.toml"), "import", "--quiet",
                                      str(out / "mailbox")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "tracker.toml"


def run(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_add_keep_break_and_list_as_json(demo):
    config = load(demo)
    db = store.open_db(config.database, private=config.private_database)
    thread = db.execute("select id, correspondent_id from threads where correspondent_id = 'interieur' "
                        "order by opened_at limit 1").fetchone()
    meeting = run(demo, "meeting", thread[0], "--on", "12/03/2025", "--note", "reçus au cabinet")
    meeting_id = int(meeting.split()[1])
    out = run(demo, "commitment", "add", "--thread", thread[0], "--meeting", str(meeting_id),
              "--words", "la transmission d'une circulaire aux préfets", "--due", "31/12/2025",
              "--said-on", "12/03/2025")
    first = int(out.split()[1])
    out = run(demo, "commitment", "add", "--correspondent", "Justice", "--said-in", "reply",
              "--words", "une réponse détaillée", "--due", "2099-01-31")
    second = int(out.split()[1])
    run(demo, "commitment", "broken", str(second), "--note", "rien reçu")
    listed = json.loads(run(demo, "commitment", "list", "--format", "json"))
    by_id = {c["id"]: c for c in listed}
    assert by_id[first]["correspondent"] == "Ministère de l'Intérieur"
    assert by_id[first]["thread_id"] == thread[0] and by_id[first]["meeting_id"] == meeting_id
    assert (by_id[first]["due_on"], by_id[first]["said_on"], by_id[first]["said_in"]) == (
        "2025-12-31", "2025-03-12", "meeting")
    assert by_id[first]["status"] == "pending" and by_id[first]["overdue"] is True  # 31/12/2025 is past
    assert by_id[second]["status"] == "not_kept" and by_id[second]["note"] == "rien reçu"
    assert by_id[second]["overdue"] is False  # not pending any more
    assert [c["id"] for c in json.loads(run(demo, "commitment", "list", "--format", "json",
                                            "--correspondent", "justice"))] == [second]
    run(demo, "commitment", "kept", str(first))
    assert {c["id"]: c for c in commitments.list_commitments(db, config)}[first]["overdue"] is False
    threads = json.loads(run(demo, "threads", "--format", "json"))
    assert [m["on_date"] for t in threads if t["id"] == thread[0] for m in t["meetings"]] == ["2025-03-12"]


def test_refusals_say_what_to_do(demo):
    config = load(demo)
    db = store.open_db(config.database, private=config.private_database)
    with pytest.raises(CommitmentError, match="no correspondent"):
        commitments.add(db, config, words="x", correspondent="Ministère des Songes")
    with pytest.raises(CommitmentError, match="name the body"):
        commitments.add(db, config, words="x")
    with pytest.raises(CommitmentError, match="no commitment has the id 999"):
        commitments.set_status(db, config, 999, "kept")
    result = CliRunner().invoke(cli, ["--config", str(demo), "commitment", "kept", "999"])
    assert result.exit_code == 1 and "tracker commitment list" in result.output


def test_digest_sections_past_due_and_next_30_days(demo):
    config = load(demo)
    db = store.open_db(config.database, private=config.private_database)
    now = datetime(2026, 6, 15, 9, tzinfo=config.tz)
    past = commitments.add(db, config, words="un rendez-vous avec la DGEF", correspondent="travail",
                           due_on="2026-06-01")
    soon = commitments.add(db, config, words="une circulaire sur l'hébergement", correspondent="travail",
                           due_on="2026-07-10")
    later = commitments.add(db, config, words="un décret en conseil d'État", correspondent="travail",
                            due_on="2026-09-01")
    context = digest.build(db, config, now)
    words = lambda rows: [r["words"] for r in rows]
    assert "un rendez-vous avec la DGEF" in words(context["commitments_past_due"])
    assert words(context["commitments_due_soon"]) == ["une circulaire sur l'hébergement"]
    html, text = digest.render(context, config)
    assert "== Engagements échus (" in text and "== Engagements attendus dans les 30 jours (1) ==" in text
    assert "une circulaire sur l'hébergement" in text and "un décret" not in text
    assert 'id="commitments-due_soon"' in html and "un rendez-vous avec la DGEF" in html
    for cid in (past, soon, later):
        commitments.set_status(db, config, cid, "dropped")
    text = digest.render(digest.build(db, config, now), config)[1]
    assert "Aucun engagement attendu dans les 30 jours." in text
