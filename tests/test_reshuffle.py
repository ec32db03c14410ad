"""A reshuffle on the generated demo: the Ministry of Labour renamed, with a new domain, on
1 June 2025 (``successor`` + ``since`` on its old entry). Old domains still resolve, to the
successor; its letters carry over there, shown as written to the old name; the successor's
answer from its new domain answers an old letter; responsiveness reads across both names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import store
from tracker.cli import cli
from tracker.config import load
from tracker.demo.generate import generate
from tracker.parse.evidence import Resolver
from tracker.thread import commitments

NEW = "Ministère du Travail, de la Santé et des Solidarités"
OLD = "Ministère du Travail et de l'Emploi"

RESHUFFLE = f'''
[[correspondents]]
name = "{NEW}"
short_name = "Travail-Santé"
addresses = ["cabinet@travail-sante.gouv.fr"]
domains = ["travail-sante.gouv.fr"]
'''


def run(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("demo")
    generate(out, letters=40)
    path = out / "tracker.toml"
    before = out / "before.toml"
    text = path.read_text(encoding="utf-8")
    before.write_text(text.replace('database = "tracker.db"', 'database = "before.db"'), encoding="utf-8")
    old = 'short_name = "Travail"\naddresses = ["cabinet@travail.gouv.fr"]\ndomains = ["travail.gouv.fr"]\n'
    assert old in text
    text = text.replace(old, old + 'successor = "travail-sante"\nsince = 2025-06-01\n') + RESHUFFLE
    path.write_text(text, encoding="utf-8")
    for config in (before, path):  # apart: store.ingest caches its Resolver by id(config.correspondents)
        subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), "import", "--quiet",
                        str(out / "mailbox")], check=True)
    return before, path


def test_old_addresses_and_domains_resolve_to_the_successor(demo):
    config = load(demo[1])
    assert [c.name for c in config.correspondents if c.name in (OLD, NEW)] == [NEW]
    resolve = Resolver(config.correspondents)
    for address in ("cabinet@travail.gouv.fr", "dgt@travail.gouv.fr", "cabinet@travail-sante.gouv.fr"):
        assert resolve(address) == "travail-sante"
    assert resolve("x@interieur.gouv.fr") == "interieur"


def test_letters_carry_over_shown_as_written_to_the_old_name(demo, tmp_path):
    # a letter to several bodies opens one thread each: the letter and the body name a thread
    old = {t["messages"][0]["message_id"]: t
           for t in json.loads(run(demo[0], "threads", "--format", "json", "--as-of", "2026-06-30"))
           if t["correspondent"] == OLD}
    listed = json.loads(run(demo[1], "threads", "--format", "json", "--as-of", "2026-06-30"))
    after = {t["messages"][0]["message_id"]: t for t in listed if t["correspondent"] == NEW}
    assert old
    for message_id, thread in old.items():
        moved = after[message_id]
        assert moved["correspondent"] == NEW
        assert moved["written_to"] == (OLD if thread["opened_at"][:10] < "2025-06-01" else None)
        assert moved["status"] == thread["status"]
    carried = [after[m] for m, t in old.items() if after[m]["carried_over"]]
    assert carried, "the demo has Labour letters still open on 1 June 2025"
    for t in carried:  # open on the day: no reply before it
        assert t["opened_at"][:10] < "2025-06-01"
        assert not any(m["kind"] == "reply" and m["date"][:10] < "2025-06-01" for m in t["messages"])
    assert all(not t["carried_over"] and t["written_to"] is None for t in listed if t["correspondent"] != NEW)

    # the successor answers a carried-over letter from its new domain
    waiting = next(t for t in after.values() if t["status"] == "bounced")
    letter = waiting["messages"][0]["message_id"]
    answer = tmp_path / "answer.eml"
    answer.write_text(
        "From: Cabinet <cabinet@travail-sante.gouv.fr>\nTo: coordination@ensemble-traite.example.org\n"
        f"Subject: Re: {waiting['subject']}\nDate: Mon, 15 Jun 2026 10:00:00 +0200\n"
        f"Message-ID: <reponse-reshuffle@travail-sante.gouv.fr>\nIn-Reply-To: <{letter}>\n"
        "Content-Type: text/plain; charset=utf-8\n\nMadame, nous avons bien étudié votre courrier et "
        "vous répondons sur le fond.\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "tracker", "--config", str(demo[1]), "import", "--quiet", str(answer)],
                   check=True)
    now = {t["messages"][0]["message_id"]: t
           for t in json.loads(run(demo[1], "threads", "--format", "json", "--as-of", "2026-06-30"))
           if t["correspondent"] == NEW}
    assert now[letter]["status"] == "answered" and now[letter]["correspondent"] == NEW

    rows = {r["correspondent"]: r for r in
            json.loads(run(demo[1], "report", "responsiveness", "--format", "json"))["correspondents"]}
    assert OLD not in rows and NEW in rows
    assert rows[NEW]["letters"] >= len(old)


def test_commitments_said_under_the_old_name_list_under_the_successor(demo):
    config = load(demo[1])
    db = store.open_db(config.database, private=config.private_database)
    cid = commitments.add(db, config, words="un bilan du plan national", correspondent="Travail", due_on="2026-01-31")
    found = {c["id"]: c for c in commitments.list_commitments(db, config, correspondent="travail-sante")}
    assert found[cid]["correspondent"] == NEW


def test_marks_commitments_and_meetings_follow_the_renamed_thread(demo, tmp_path):
    """The reshuffle renames the old body's threads (their ids hash the body's id): what a person
    recorded on one (a mark and its history, a commitment, a meeting) moves to the successor's
    thread of the same first letter, and the mark counts in that very rethread."""
    import shutil

    from tracker.config import private_path
    from tracker.thread.correspondents import thread_id

    before, after = demo
    was, now = tmp_path / "was.toml", tmp_path / "now.toml"
    for source, target in ((before, was), (after, now)):
        text = source.read_text(encoding="utf-8")
        for name in ('"before.db"', '"tracker.db"'):
            text = text.replace(f"database = {name}", f'database = "{tmp_path / "moved.db"}"')
        target.write_text(text, encoding="utf-8")
    old_db = load(before).database
    shutil.copy(old_db, tmp_path / "moved.db")
    shutil.copy(private_path(old_db), private_path(tmp_path / "moved.db"))
    db = store.open_db(tmp_path / "moved.db", private=private_path(tmp_path / "moved.db"))
    old = db.execute("select id, letter_message_id, status from threads where correspondent_id = 'travail' "
                     "order by status = 'bounced', opened_at").fetchall()
    assert len(old) >= 2 and old[0][2] != "bounced"  # a bounced thread stays bounced when closed
    (closed, closed_letter, _), (kept, kept_letter, kept_status) = old[:2]
    db.conn.close()
    run(was, "mark", closed, "--closed", "--note", "rendez-vous obtenu")
    run(was, "mark", kept, "--closed")
    run(was, "mark", kept, "--undo")
    run(was, "commitment", "add", "--thread", kept, "--words", "un plan national", "--due", "2099-01-31")
    run(was, "meeting", kept, "--on", "2025-05-12")
    run(now, "rethread", "--quiet")
    db = store.open_db(tmp_path / "moved.db", private=private_path(tmp_path / "moved.db"))
    new_closed, new_kept = thread_id(closed_letter, "travail-sante"), thread_id(kept_letter, "travail-sante")
    threads = dict(db.execute("select id, status from threads").fetchall())
    assert closed not in threads and kept not in threads
    assert threads[new_closed] == "closed"  # the mark counted in the run that moved it
    assert threads[new_kept] == kept_status
    assert db.execute("select thread_id, action, note from marks order by id").fetchall() == [
        (new_closed, "closed", "rendez-vous obtenu")]
    assert db.execute("select thread_id from marks_undone").fetchall() == [(new_kept,)]
    assert db.execute("select thread_id from commitments").fetchall() == [(new_kept,)]
    assert db.execute("select thread_id, correspondent_id from meetings").fetchall() == [(new_kept, "travail")]
    listed = json.loads(run(now, "threads", "--format", "json"))
    assert [m["on_date"] for t in listed if t["id"] == new_kept for m in t["meetings"]] == ["2025-05-12"]
    db.conn.close()


def test_a_late_earlier_letter_renames_the_thread_and_commitments_follow(demo, tmp_path):
    """An incremental run: the reminder came first and opened the thread; its earlier letter,
    imported later, renames it (the id hashes the first letter): marks, commitments and meetings
    follow."""
    from email.message import EmailMessage

    from tracker.thread.correspondents import thread_id

    config = tmp_path / "late.toml"
    config.write_text(demo[0].read_text(encoding="utf-8").replace(
        'database = "before.db"', f'database = "{tmp_path / "late.db"}"'), encoding="utf-8")
    files = {}
    for name, mid, day, subject, parent in (
            ("first", "late-a@ensemble-traite.example.org", "Mon, 03 Mar 2025", "Hébergement des victimes", None),
            ("reminder", "late-b@ensemble-traite.example.org", "Tue, 01 Apr 2025",
             "Relance : Hébergement des victimes", "late-a@ensemble-traite.example.org")):
        msg = EmailMessage()
        msg["From"] = "coordination@ensemble-traite.example.org"
        msg["To"] = "secretariat.cabinet@interieur.gouv.fr"
        msg["Subject"], msg["Date"], msg["Message-ID"] = subject, f"{day} 10:00:00 +0100", f"<{mid}>"
        if parent:
            msg["In-Reply-To"] = msg["References"] = f"<{parent}>"
        msg.set_content("Madame, Monsieur,\n\nNous vous écrivons.")
        files[name] = tmp_path / f"{name}.eml"
        files[name].write_bytes(msg.as_bytes())
    run(config, "import", "--quiet", str(files["reminder"]))
    first = thread_id("late-b@ensemble-traite.example.org", "interieur")
    run(config, "mark", first, "--closed")
    run(config, "commitment", "add", "--thread", first, "--words", "une réponse avant l'été")
    run(config, "meeting", first, "--on", "2025-04-10")
    run(config, "import", "--quiet", str(files["first"]))
    renamed = thread_id("late-a@ensemble-traite.example.org", "interieur")
    cfg = load(config)
    db = store.open_db(cfg.database, private=cfg.private_database)
    assert [r[0] for r in db.execute("select id from threads")] == [renamed]
    for table in ("marks", "commitments", "meetings"):
        assert db.execute(f"select thread_id from {table}").fetchall() == [(renamed,)], table
    db.conn.close()
