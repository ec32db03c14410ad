"""The reports against the demo generator's truth (tracker/demo/generate.py): a seeded
French correspondence whose statuses, due dates and replies the generator decided itself."""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from tracker import store
from tracker.report import reports as report
from tracker.cli import cli
from tracker.config import load
from tracker.demo.generate import generate


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    truth = generate(out, letters=40)
    result = CliRunner().invoke(
        cli, ["--config", str(out / "tracker.toml"), "import", "--quiet", str(out / "mailbox")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out / "tracker.toml", truth


def key(thread: dict) -> tuple[str, str]:
    return thread["messages"][0]["message_id"], thread["correspondent"]


def test_unanswered_matches_the_truth(demo):
    config_path, truth = demo
    result = CliRunner().invoke(
        cli, ["--config", str(config_path), "report", "unanswered", "--as-of", truth["as_of"], "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = {(t["letter"], t["correspondent"]): t for t in truth["threads"] if t["overdue"]}
    assert expected, "the demo should have overdue letters"
    assert {key(t) for t in data["overdue"]} == set(expected)
    for thread in data["overdue"]:
        assert thread["due_at"][:10] == expected[key(thread)]["due_at"]
    waiting = [t["days_waiting"] for t in data["overdue"]]
    assert waiting == sorted(waiting, reverse=True)
    bounced = {(t["letter"], t["correspondent"]) for t in truth["threads"] if t["status"] == "bounced"}
    assert {key(t) for t in data["bounced"]} == bounced


def test_responsiveness_matches_the_truth(demo):
    config_path, truth = demo
    config = load(config_path)
    tz = ZoneInfo(truth["timezone"])
    dates = {m["message_id"]: datetime.fromisoformat(m["date"]) for m in truth["messages"]}
    expected: dict[str, dict] = {}
    for thread in truth["threads"]:
        if thread["status"] == "bounced" and not thread["replies"]:
            continue
        row = expected.setdefault(thread["correspondent"], {"letters": 0, "replied": 0, "delays": [], "overdue": 0})
        row["letters"] += 1
        row["overdue"] += thread["overdue"]
        if thread["replies"]:
            row["replied"] += 1
            first = min(dates[m] for m in thread["replies"]).astimezone(tz).date()
            row["delays"].append((first - datetime.fromisoformat(thread["opened_at"]).astimezone(tz).date()).days)
    as_of = report.parse_as_of(truth["as_of"], config)
    rows = {r.correspondent: r for r in report.responsiveness(store.open_db(config.database), config, as_of)}
    for name, want in expected.items():
        got = rows[name]
        assert (got.letters, got.replied, got.overdue_now) == (want["letters"], want["replied"], want["overdue"]), name
        assert got.median_days == (statistics.median(want["delays"]) if want["delays"] else None), name
        assert got.too_few == (want["letters"] < 5)
    assert any(not r.too_few for r in rows.values())
