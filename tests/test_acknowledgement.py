"""The duty to acknowledge (``acknowledgement_within``, off by default) on the generated demo:
letters never acknowledged are flagged on their thread, in a report and in the digest."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import holidays
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import store
from tracker.cli import cli
from tracker.config import load
from tracker.demo.generate import generate
from tracker.report import digest

AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, letters=40)
    path = out / "tracker.toml"
    text = path.read_text(encoding="utf-8")
    # the Ministry of the Interior owes an acknowledgement within 10 working days; no one else
    text = text.replace('domains = ["interieur.gouv.fr"]\n',
                        'domains = ["interieur.gouv.fr"]\nacknowledgement_within = "10 working days"\n', 1)
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "import", "--quiet", str(out / "mailbox")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path


def run(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_flag_on_threads_only_for_the_body_that_owes_it(demo):
    threads = json.loads(run(demo, "threads", "--format", "json", "--as-of", AS_OF))
    interieur = [t for t in threads if t["correspondent"] == "Ministère de l'Intérieur"]
    others = [t for t in threads if t["correspondent"] != "Ministère de l'Intérieur"]
    assert interieur and others
    assert all(t["acknowledgement_due_at"] is None and not t["acknowledgement_overdue"] for t in others)
    flagged = [t for t in interieur if t["acknowledgement_overdue"]]
    assert flagged, "the demo has Intérieur letters nobody acknowledged"
    for t in interieur:
        assert t["acknowledgement_due_at"] > t["opened_at"]
        answers = [m["date"] for m in t["messages"]
                   if m["direction"] == "incoming" and m["kind"] in ("acknowledgement", "reply")]
        if t["acknowledgement_overdue"]:
            assert not answers and t["acknowledged_at"] is None
            assert t["status"] in ("awaiting_reply", "acknowledged")
            assert t["acknowledgement_due_at"][:10] < AS_OF
        elif answers:
            assert t["acknowledged_at"][:10] == min(answers)[:10]
    # 10 working days: weekends and French public holidays skipped (20/12/2024 -> 07/01/2025)
    france = holidays.France()
    for t in interieur:
        opened, due = (datetime.fromisoformat(t[k]).date() for k in ("opened_at", "acknowledgement_due_at"))
        days = [opened + timedelta(days=n) for n in range(1, (due - opened).days + 1)]
        assert sum(d.weekday() < 5 and d not in france for d in days) == 10 and due.weekday() < 5


def test_report_and_digest_list_the_same_letters(demo):
    threads = json.loads(run(demo, "threads", "--format", "json", "--as-of", AS_OF))
    flagged = sorted(t["id"] for t in threads if t["acknowledgement_overdue"])
    reported = json.loads(run(demo, "report", "acknowledgements", "--format", "json", "--as-of", AS_OF))
    assert sorted(t["id"] for t in reported) == flagged
    assert "ne donne pas d'avis juridique" in run(demo, "report", "acknowledgements", "--as-of", AS_OF)
    config = load(demo)
    db = store.open_db(config.database, private=config.private_database)
    context = digest.build(db, config, datetime(2026, 6, 30, 12, tzinfo=config.tz))
    assert context["unacknowledged"]["count"] == len(flagged)
    html, text = digest.render(context, config)
    assert re.search(rf"!! {len(flagged)} courrier\(s\) sans accusé de réception", text)
    assert 'id="unacknowledged"' in html


def test_off_by_default_no_line_in_the_digest(tmp_path):
    out = tmp_path / "demo"
    generate(out, letters=12)
    run(out / "tracker.toml", "import", "--quiet", str(out / "mailbox"))
    config = load(out / "tracker.toml")
    db = store.open_db(config.database, private=config.private_database)
    context = digest.build(db, config, datetime(2026, 6, 30, 12, tzinfo=config.tz))
    assert context["unacknowledged"] is None
    assert "accusé de réception dans le délai" not in digest.render(context, config)[1]
