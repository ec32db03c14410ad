"""The digest grouped by correspondent (``digest.build(..., by_correspondent=True)``) and what
is new since last week's digest marked, on the demo as of its last day (both renderings)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tracker import store
from tracker.config import load
from tracker.report import digest


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tracker import demo as demo_module

    config = load(demo_module.build(tmp_path_factory.mktemp("digest-grouped")))
    as_of = json.loads(demo_module.TRUTH.read_text())["as_of"]
    now = datetime.fromisoformat(as_of + "T09:00:00").replace(tzinfo=config.tz)
    db = store.open_db(config.database, private=config.private_database)
    try:
        flat = digest.build(db, config, now)
        grouped = digest.build(db, config, now, by_correspondent=True)
    finally:
        db.close()
    return config, now, flat, grouped


def test_grouped_lists_hold_the_same_rows_each_correspondent_together(demo):
    config, _, flat, grouped = demo
    assert not flat["grouped"] and grouped["grouped"]
    for key in ("overdue", "due_soon", "replies", "sent"):
        assert sorted(r["id"] for r in flat[key]) == sorted(r["id"] for r in grouped[key]), key
        names = [r["correspondent"] for r in grouped[key]]
        assert names == sorted(names), key
    assert len({r["correspondent"] for r in grouped["overdue"]}) > 1
    html, text = digest.render(grouped, config)
    for name in {r["correspondent"] for r in grouped["overdue"]}:
        assert f"\n# {name}\n" in text
        assert f'border-bottom:2px solid #ccc;">{name.replace(chr(39), "&#39;")}</td>' in html
    _, flat_text = digest.render(flat, config)
    assert "\n# " not in flat_text


def test_what_became_overdue_this_week_is_marked_new(demo):
    config, now, flat, _ = demo
    week_start = now - timedelta(days=7)
    assert flat["overdue"], "the demo as of its last day has overdue letters"
    marked = [r for r in flat["overdue"] if r["new"]]
    assert marked and len(marked) < len(flat["overdue"])
    html, text = digest.render(flat, config)
    assert text.count("[NOUVEAU]") == len(marked) + sum(1 for r in flat["due_soon"] if r["new"])
    assert html.count(">NOUVEAU</strong>") == text.count("[NOUVEAU]")
    assert week_start < now


def test_the_config_groups_the_digest_by_ministry(tmp_path):
    """`[digest] group = "correspondent"` is what `tracker digest` reads; a wrong value is a
    config error naming the key and what to write."""
    from click.testing import CliRunner

    from tracker import demo as demo_module
    from tracker.cli import cli
    from tracker.config import ConfigError

    path = demo_module.build(tmp_path / "demo")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[digest]\n", '[digest]\ngroup = "correspondent"\n', 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "digest", "--dry-run", "--force"])
    assert result.exit_code == 0, result.output
    assert "\n# " in result.output  # a ministry's heading in the text part
    path.write_text(text.replace("[digest]\n", '[digest]\ngroup = "ministry"\n', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match='digest.group must be "correspondent"'):
        load(path)
