"""Threads against the truth of a realistic French correspondence (tracker.demo.generate):
180 letters to a dozen public bodies, replies without headers, reminders, Cc, bounces,
acknowledgements, auto-replies, ambiguous replies, and the situations subjects alone cannot
sort out (``tracker.demo.situations``: letters sharing a subject, reminders of an older
unanswered letter, same-day letters answered by do-not-reply PDFs); imported through the real
pipeline and scored per (letter, correspondent) pair. Order of arrival must not matter."""

from __future__ import annotations

import json
import random
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import config as config_module
from tracker import store
from tracker.thread import list_threads, rethread
from tracker.cli import cli
from tracker.demo.generate import generate

LETTERS = 180
# the threads of the hard situations, which must all be right
SITUATIONS = ("same_subject", "same_day_pair")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=7, letters=LETTERS, scans=0)  # imported without OCR: no answer by scan
    return out


def fresh_copy(demo: Path, target: Path) -> Path:
    """A copy of the generated demo with no database yet; returns its config path."""
    shutil.copytree(demo, target)
    (target / "tracker.db").unlink(missing_ok=True)
    return target / "tracker.toml"


def run(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def import_paths(config_path: Path, paths: list[Path]) -> None:
    run(config_path, "import", "--quiet", "--workers", "1", *map(str, paths))


def score(config_path: Path, truth: dict) -> dict:
    """Per (letter, correspondent): right status and right replies; unanswered report's
    precision and recall; unmatched triage."""
    config = config_module.load(config_path)
    db = store.open_db(config.database)
    as_of = date.fromisoformat(truth["as_of"])
    ours = {t["id"]: t for t in list_threads(db, config, as_of)}
    slug = {c.name: c.slug for c in config.correspondents}
    letter_thread = {}
    for tid, message_id, cid in db.execute(
        "select tm.thread_id, tm.message_id, t.correspondent_id from thread_messages tm "
        "join threads t on t.id = tm.thread_id where tm.matched_by = 'letter'"
    ):
        letter_thread[(message_id, cid)] = tid
    right = 0
    wrong: list[str] = []
    situations = situations_right = 0
    expected_overdue, found_overdue = set(), set()
    for thread in truth["threads"]:
        pair = (thread["letter"], slug[thread["correspondent"]])
        tid = letter_thread.get(pair)
        mine = ours.get(tid)
        if thread["overdue"]:
            expected_overdue.add(pair)
        if mine is None:
            wrong.append(f"{pair}: no thread ({thread['cases']})")
            continue
        if mine["overdue"]:
            found_overdue.add(pair)
        replies = {m["message_id"] for m in mine["messages"] if m["kind"] == "reply" and m["direction"] == "incoming"}
        hard = any(case in thread["cases"] for case in SITUATIONS)
        situations += hard
        if mine["status"] == thread["status"] and replies == set(thread["replies"]):
            right += 1
            situations_right += hard
        else:
            wrong.append(
                f"{pair[1]} {thread['subject'][:40]!r}: status {mine['status']} vs {thread['status']}, "
                f"replies +{sorted(replies - set(thread['replies']))} -{sorted(set(thread['replies']) - replies)} "
                f"({thread['cases']})"
            )
    true_positive = len(expected_overdue & found_overdue)
    unmatched = {r[0] for r in db.execute("select message_id from unmatched")}
    return {
        "pairs": len(truth["threads"]),
        "right": right,
        "accuracy": right / len(truth["threads"]),
        "precision": true_positive / len(found_overdue) if found_overdue else 1.0,
        "recall": true_positive / len(expected_overdue) if expected_overdue else 1.0,
        "unmatched_expected": sorted(truth["unmatched"]),
        "unmatched_missing": sorted(set(truth["unmatched"]) - unmatched),
        "unmatched_extra": len(unmatched - set(truth["unmatched"])),
        "situations": situations,
        "situations_right": situations_right,
        "wrong": wrong,
    }


def snapshot(config_path: Path) -> dict:
    """Everything threading decided, in a comparable form."""
    config = config_module.load(config_path)
    db = store.open_db(config.database)
    return {
        "conversations": sorted(
            sorted(ids.split("\n"))
            for (ids,) in db.execute(
                "select group_concat(message_id, char(10)) from messages group by conversation_id"
            )
        ),
        "threads": sorted(
            db.execute("select id, correspondent_id, status, opened_at, due_at, letter_message_id from threads")
        ),
        "thread_messages": sorted(db.execute("select thread_id, message_id, matched_by from thread_messages")),
        "unmatched": sorted(db.execute("select message_id, correspondent_id from unmatched")),
    }


def assert_scores(result: dict) -> None:
    summary = {k: v for k, v in result.items() if k != "wrong"}
    detail = "\n".join(result["wrong"][:40])
    assert result["accuracy"] >= 0.995, f"{summary}\n{detail}"
    assert result["precision"] >= 0.99 and result["recall"] >= 0.99, f"{summary}\n{detail}"
    assert not result["unmatched_missing"], f"{summary}\n{detail}"
    assert result["situations"] >= 20, summary
    assert result["situations_right"] == result["situations"], f"{summary}\n{detail}"


@pytest.fixture(scope="module")
def imported(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config_path = fresh_copy(demo, tmp_path_factory.mktemp("whole") / "demo")
    import_paths(config_path, [config_path.parent / "mailbox"])
    return config_path


def test_accuracy_on_the_generated_correspondence(imported: Path, demo: Path) -> None:
    truth = json.loads((demo / "truth.json").read_text())
    assert len(truth["threads"]) >= 150
    result = score(imported, truth)
    print({k: v for k, v in result.items() if k != "wrong"})
    assert_scores(result)


@pytest.mark.parametrize("seed", [3, 11])
def test_accuracy_on_other_draws(seed: int, tmp_path: Path) -> None:
    generate(tmp_path / "demo", seed=seed, letters=LETTERS, scans=0)
    truth = json.loads((tmp_path / "demo" / "truth.json").read_text())
    config_path = fresh_copy(tmp_path / "demo", tmp_path / "copy")
    import_paths(config_path, [config_path.parent / "mailbox"])
    result = score(config_path, truth)
    print(seed, {k: v for k, v in result.items() if k != "wrong"})
    assert_scores(result)


def test_rethread_changes_nothing(imported: Path) -> None:
    before = snapshot(imported)
    run(imported, "rethread", "--quiet")
    assert snapshot(imported) == before


def test_inbox_before_sent_gives_the_same_threads(imported: Path, demo: Path, tmp_path: Path) -> None:
    config_path = fresh_copy(demo, tmp_path / "demo")
    mailbox = config_path.parent / "mailbox"
    inbox = sorted((mailbox / "cur").iterdir())
    import_paths(config_path, inbox)  # as .eml files: replies before their letters
    import_paths(config_path, [mailbox])
    assert snapshot(config_path) == snapshot(imported)


def test_one_message_at_a_time_shuffled_gives_the_same_threads(imported: Path, demo: Path, tmp_path: Path) -> None:
    config_path = fresh_copy(demo, tmp_path / "demo")
    mailbox = config_path.parent / "mailbox"
    files = sorted(p for p in mailbox.rglob("*") if p.is_file() and p.parent.name == "cur")
    random.Random(11).shuffle(files)
    config = config_module.load(config_path)
    from tracker.store import ingest
    from tracker.sources import local

    db = store.open_db(config.database)
    with ingest.Ingester(db, config, workers=1) as ingester:
        for path in files:
            summary = ingester.run(local.items([path], lambda s, f: set()))
            rethread(db, config, summary.new_message_ids)
    mine, whole = snapshot(config_path), snapshot(imported)
    assert mine["conversations"] == whole["conversations"]
    assert mine["threads"] == whole["threads"]
    assert mine["thread_messages"] == whole["thread_messages"]
    assert mine["unmatched"] == whole["unmatched"]
