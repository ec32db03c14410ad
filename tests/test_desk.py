"""The desk's library functions and their command line (``tracker mark``, ``tracker letter``) on
the demo correspondence: dates as people write them, marks with who and why, undo, the reopen
rule, attach and move, "not an answer", scans in the private store, letters sent by post."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import store
from tracker.cli import cli
from tracker.config import load
from tracker.demo.generate import generate
from tracker.demo.mime import make_pdf
from tracker.i18n import parse_day
from tracker.store import lock
from tracker.thread import desk


@pytest.fixture(scope="module")
def demo_source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("desk-demo")
    generate(out, letters=40)
    result = CliRunner().invoke(cli, ["--config", str(out / "tracker.toml"), "import", "--quiet", str(out / "mailbox")])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def demo(demo_source, tmp_path):
    """A fresh copy of the demo database per test: (config, db)."""
    for path in demo_source.glob("tracker*"):  # with the WAL files
        if path.is_file() and not path.name.endswith(".lock"):
            shutil.copy(path, tmp_path / path.name)
    config = load(tmp_path / "tracker.toml")
    db = store.open_db(config.database, private=config.private_database)
    yield config, db
    db.close()


def today(config) -> date:
    """The desk's today: the demo's config judges as of its as_of day."""
    return config.now().astimezone(config.tz).date()


def status(db, tid: str) -> str:
    return db.execute("select status from threads where id = ?", [tid]).fetchone()[0]


def waiting_thread(db) -> str:
    return db.execute("select id from threads where status = 'awaiting_reply' order by id limit 1").fetchone()[0]


def invoke(config, *args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config.path), *args])
    return result.exit_code, result.output


# --- dates as people write them ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-11-20", "20/11/2026", "20 novembre 2026", "20 Novembre 2026",
                                  "20 nov. 2026", "20.11.2026", "20 November 2026", "November 20, 2026"])
def test_a_day_as_people_write_it(text):
    assert parse_day(text, "fr") == date(2026, 11, 20)


def test_english_month_first_only_when_it_cannot_be_a_day_first():
    assert parse_day("11/20/2026", "en") == date(2026, 11, 20)
    assert parse_day("01/02/2026", "en") == date(2026, 2, 1)
    assert parse_day("1er mars 2026", "fr") == date(2026, 3, 1)


@pytest.mark.parametrize("text", ["31/02/2026", "hier", "20/11/26", "", "20 brumaire 2026"])
def test_what_is_not_a_day_says_what_to_write(text):
    with pytest.raises(ValueError, match="20/11/2026"):
        parse_day(text, "fr")


# --- marks ------------------------------------------------------------------------------------


def test_an_answer_in_the_future_or_before_the_letter_is_refused(demo):
    config, db = demo
    tid = waiting_thread(db)
    future = today(config) + timedelta(days=3)
    with pytest.raises(desk.DeskError, match="dans le futur"):
        desk.answered_by_post(db, config, tid, future.strftime("%d/%m/%Y"))
    with pytest.raises(desk.DeskError, match="avant le premier courrier"):
        desk.answered_by_post(db, config, tid, "1 janvier 2000")
    assert status(db, tid) == "awaiting_reply"
    assert db.execute("select count(*) from marks").fetchone()[0] == 0


def test_an_answer_received_today_counts_at_once(demo):
    config, db = demo
    tid = waiting_thread(db)
    desk.answered_by_post(db, config, tid, today(config).strftime("%d/%m/%Y"))
    assert status(db, tid) == "answered"
    # without as_of the desk's today is the clock's, in the coalition's time zone
    clock = dataclasses.replace(config, as_of=None)
    other = waiting_thread(db)
    desk.answered_by_post(db, clock, other, datetime.now(config.tz).strftime("%d/%m/%Y"))
    assert status(db, other) == "answered"


def test_reopen_after_an_answer_is_refused_and_undo_withdraws_the_answer(demo):
    config, db = demo
    tid = waiting_thread(db)
    desk.answered_by_post(db, config, tid, "3 mars 2026", note="lettre papier", made_by="alice")
    assert status(db, tid) == "answered"
    with pytest.raises(desk.DeskError, match="n'est pas clos"):
        desk.reopen(db, config, tid, made_by="alice")
    undone = desk.undo(db, config, tid, made_by="bob")
    assert undone["action"] == "answered" and status(db, tid) == "awaiting_reply"
    desk.close(db, config, tid, note="rendez-vous obtenu", made_by="alice")
    assert status(db, tid) == "closed"
    desk.reopen(db, config, tid, made_by="bob")
    assert status(db, tid) == "awaiting_reply"
    shown = [(h["action"], h["made_by"], h["note"], h["undone_by"]) for h in desk.history(db, tid)]
    assert shown == [("answered", "alice", "lettre papier", "bob"), ("closed", "alice", "rendez-vous obtenu", None),
                     ("reopened", "bob", None, None)]
    # ids are never reused: the undone mark keeps its own
    assert len({h["id"] for h in desk.history(db, tid)}) == 3


def test_undo_of_an_attach_sends_the_message_back_to_triage(demo):
    config, db = demo
    message_id, candidates = db.execute(f"select message_id, candidates from {desk.WAITING} order by message_id").fetchone()
    first, second = [c["thread_id"] for c in json.loads(candidates)][:2]
    before = desk.waiting_count(db)
    desk.attach(db, config, first, message_id, made_by="alice")
    assert desk.waiting_count(db) == before - 1
    assert db.execute("select thread_id from thread_messages where message_id = ?", [message_id]).fetchall() == [(first,)]
    assert status(db, first) == "answered"
    # already in a thread: it moves only when asked to
    with pytest.raises(desk.DeskError, match=first):
        desk.attach(db, config, second, message_id, made_by="alice")
    desk.attach(db, config, second, message_id, move=True, made_by="alice")
    assert db.execute("select thread_id from thread_messages where message_id = ?", [message_id]).fetchall() == [(second,)]
    desk.undo(db, config, second)
    desk.undo(db, config, first)
    assert desk.waiting_count(db) == before
    assert db.execute("select count(*) from thread_messages where message_id = ?", [message_id]).fetchone()[0] == 0


def test_a_message_answers_only_a_thread_of_its_sender(demo):
    config, db = demo
    message_id, cid = db.execute(f"select message_id, correspondent_id from {desk.WAITING}").fetchone()
    other = db.execute("select id from threads where correspondent_id != ? limit 1", [cid]).fetchone()[0]
    with pytest.raises(desk.DeskError, match="ne peut répondre qu'à un fil de son expéditeur"):
        desk.attach(db, config, other, message_id)


def test_not_an_answer_leaves_the_queue_and_stays_stored(demo):
    config, db = demo
    message_id = db.execute(f"select message_id from {desk.WAITING}").fetchone()[0]
    before = desk.waiting_count(db)
    desk.not_an_answer(db, message_id, note="invitation à un colloque", made_by="alice")
    assert desk.waiting_count(db) == before - 1
    assert db.execute("select count(*) from messages where message_id = ?", [message_id]).fetchone()[0] == 1


# --- uploads ----------------------------------------------------------------------------------


def test_a_scan_goes_to_the_private_store_and_its_text_to_the_thread(demo):
    config, db = demo
    tid = waiting_thread(db)
    pdf = make_pdf("Monsieur le Président, en réponse à votre courrier relatif aux victimes de traite")
    desk.answered_by_post(db, config, tid, "3 mars 2026", scan=desk.Upload("reponse.pdf", pdf), made_by="alice")
    scan = db.execute("select filename, content_type, size, text, sha256 from scans where thread_id = ?", [tid]).fetchone()
    assert scan[:3] == ("reponse.pdf", "application/pdf", len(pdf))
    assert "victimes de traite" in scan[3]
    assert db.execute("select raw from private.scan_files where sha256 = ?", [scan[4]]).fetchone()[0] == pdf
    db.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
    assert pdf not in config.database.read_bytes()
    assert "scan_files" not in {r[0] for r in db.execute("select name from main.sqlite_master")}


@pytest.mark.parametrize("name, data, reason", [
    ("reponse.pdf", b"<html>not a pdf</html>", "n'est pas un vrai PDF"),
    ("photo.png", b"\xff\xd8\xff\xe0JFIF", "n'est pas un vrai PNG"),
    ("lettre.docx", b"PK\x03\x04", "ni un PDF"),
    ("vide.pdf", b"", "vide"),
    ("gros.pdf", b"%PDF-" + b"0" * desk.MAX_UPLOAD, "au plus"),
])
def test_an_upload_that_is_not_what_it_says_is_refused_with_the_reason(demo, name, data, reason):
    config, db = demo
    tid = waiting_thread(db)
    with pytest.raises(desk.DeskError, match=reason):
        desk.answered_by_post(db, config, tid, "3 mars 2026", scan=desk.Upload(name, data))
    assert status(db, tid) == "awaiting_reply"
    assert db.execute("select count(*) from marks").fetchone()[0] == 0


# --- letters sent outside the mailbox -----------------------------------------------------------


SUBJECT = "Hébergement sécurisé des victimes de traite en Seine-Saint-Denis"


def answer_eml(path: Path, cited: str) -> Path:
    message = EmailMessage()
    message["Message-ID"] = "<reponse-postale-1@interieur.gouv.fr>"
    message["Date"] = "Tue, 14 Apr 2026 10:00:00 +0200"
    message["From"] = "Secrétariat du cabinet <secretariat.cabinet@interieur.gouv.fr>"
    message["To"] = "coordination@ensemble-traite.example.org"
    message["Subject"] = f"Votre courrier : {SUBJECT}"
    message.set_content(f"Madame, Monsieur,\n\nEn réponse à votre courrier du {cited} relatif à l'hébergement "
                        f"sécurisé des victimes de traite, ...\n")
    path.write_bytes(bytes(message))
    return path


def test_a_letter_by_post_opens_threads_and_a_later_email_answer_finds_it(demo, tmp_path):
    config, db = demo
    pdf = make_pdf(f"Objet : {SUBJECT}")
    message_id, threads = desk.record_letter(
        db, config, to=["interieur", "Justice"], cc=["travail"], on="2 mars 2026", subject=SUBJECT,
        note="envoyée en recommandé", pdf=desk.Upload("courrier.pdf", pdf), made_by="alice")
    bodies = dict(db.execute("select id, correspondent_id from threads where id in (?, ?)", threads).fetchall())
    assert sorted(bodies.values()) == ["interieur", "justice"]  # Cc opens no thread
    row = db.execute("select direction, kind, date, subject from messages where message_id = ?", [message_id]).fetchone()
    assert row == ("outgoing", "letter", "2026-03-01T23:00:00+00:00", SUBJECT)
    assert all(status(db, t) in ("awaiting_reply", "acknowledged") for t in threads)
    assert db.execute("select raw from private.raw_messages r join messages m on m.sha256 = r.sha256 "
                      "where m.message_id = ?", [message_id]).fetchone()[0].count(b"courrier.pdf") == 1
    db.close()
    code, output = invoke(config, "import", "--quiet", str(answer_eml(tmp_path / "answer.eml", "2 mars 2026")))
    assert code == 0, output
    db = store.open_db(config.database, private=config.private_database)
    interieur = next(t for t, c in bodies.items() if c == "interieur")
    assert db.execute("select thread_id from thread_messages where message_id = 'reponse-postale-1@interieur.gouv.fr'"
                      ).fetchall() == [(interieur,)]
    assert status(db, interieur) == "answered"


def test_a_letter_needs_a_known_correspondent_a_subject_and_a_past_day(demo):
    config, db = demo
    with pytest.raises(desk.DeskError, match="pas un correspondant configuré"):
        desk.record_letter(db, config, to=["ministere-des-licornes"], on="2 mars 2026", subject="x")
    with pytest.raises(desk.DeskError, match="objet"):
        desk.record_letter(db, config, to=["interieur"], on="2 mars 2026", subject="  ")
    with pytest.raises(desk.DeskError, match="futur"):
        desk.record_letter(db, config, to=["interieur"], on=today(config) + timedelta(days=1), subject="x")
    with pytest.raises(desk.DeskError, match="doit être un PDF"):
        desk.record_letter(db, config, to=["interieur"], on="2 mars 2026", subject="x",
                           pdf=desk.Upload("scan.png", b"\x89PNG\r\n\x1a\n..."))
    assert db.execute("select count(*) from messages where message_id like 'desk.%'").fetchone()[0] == 0


# --- the run lock -----------------------------------------------------------------------------


def test_an_action_waits_for_a_sync_then_says_one_is_running(demo):
    config, db = demo
    with lock.run_lock(config.database, "sync"):
        started = time.monotonic()
        with pytest.raises(desk.DeskBusy, match="synchronisation du courrier est en cours"):
            with desk.waiting_lock(config.database, "desk", seconds=0.6):
                pytest.fail("the lock was taken")
        assert time.monotonic() - started >= 0.6

    held = threading.Event()

    def sync_for_a_moment():
        with lock.run_lock(config.database, "sync"):
            held.set()
            time.sleep(0.4)

    runner = threading.Thread(target=sync_for_a_moment)
    runner.start()
    held.wait()
    with desk.waiting_lock(config.database, "desk", seconds=5):
        entered = True
    runner.join()
    assert entered


# --- the command line -------------------------------------------------------------------------


def test_cli_mark_records_who_and_undo_withdraws_it(demo, tmp_path):
    config, db = demo
    tid = waiting_thread(db)
    db.close()
    scan = tmp_path / "reponse.pdf"
    scan.write_bytes(make_pdf("Réponse du ministère"))
    code, output = invoke(config, "mark", tid[:8], "--answered-on", "20 mars 2026", "--scan", str(scan),
                          "--note", "reçue par la poste", "--by", "alice")
    assert code == 0, output
    assert output.strip() == f"{tid}: answered recorded; status answered"
    code, output = invoke(config, "mark", tid, "--reopened")
    assert code == 1 and "not closed (it is answered)" in output
    code, output = invoke(config, "mark", tid, "--undo", "--by", "bob")
    assert code == 0 and output.strip().endswith("undone; status awaiting_reply"), output
    code, output = invoke(config, "mark", tid, "--undo")
    assert code == 1 and "no mark to undo" in output
    code, output = invoke(config, "mark", tid, "--answered-on", "31/02/2026")
    assert code == 2 and "--answered-on" in output and "is not a date" in output
    db = store.open_db(config.database, private=config.private_database)
    assert [(h["made_by"], h["undone_by"]) for h in desk.history(db, tid)] == [("alice", "bob")]


def test_cli_letter(demo, tmp_path):
    config, db = demo
    db.close()
    pdf = tmp_path / "courrier.pdf"
    pdf.write_bytes(make_pdf("Objet : Demande de rendez-vous"))
    code, output = invoke(config, "letter", "--to", "interieur", "--cc", "justice", "--date", "20/11/2025",
                          "--subject", "Demande de rendez-vous", "--file", str(pdf), "--note", "remise en main propre",
                          "--via", "hand")
    assert code == 0, output
    tid = output.strip().rsplit(" ", 1)[1]
    code, output = invoke(config, "threads", "--format", "json")
    shown = next(t for t in json.loads(output) if t["id"] == tid)
    assert shown["subject"] == "Demande de rendez-vous" and shown["correspondent"] == "Ministère de l'Intérieur"
    assert shown["opened_at"] == "2025-11-20T00:00:00+01:00"  # the day it was sent, local time
    fake = tmp_path / "faux.pdf"
    fake.write_text("bonjour")
    code, output = invoke(config, "letter", "--to", "interieur", "--date", "20/11/2025", "--subject", "x", "--file", str(fake))
    assert code == 1 and "is not a real PDF" in output


def test_not_an_answer_holds_through_every_rethread_until_a_person_attaches_it(demo):
    """The threader knows the mark: neither a full nor an incremental rethread puts the
    message back in the queue or in a thread; attaching it later wins."""
    from tracker.thread import rethread

    config, db = demo
    message_id, cid = db.execute(f"select message_id, correspondent_id from {desk.WAITING}").fetchone()
    desk.not_an_answer(db, message_id, made_by="alice")
    for changed in (None, [message_id]):
        rethread(db, config, changed)
        assert db.execute("select count(*) from unmatched where message_id = ?", [message_id]).fetchone() == (0,)
        assert db.execute("select count(*) from thread_messages where message_id = ?", [message_id]).fetchone() == (0,)
    thread = db.execute("select id from threads where correspondent_id = ? order by id limit 1", [cid]).fetchone()[0]
    desk.attach(db, config, thread, message_id, made_by="alice")
    rethread(db, config, None)
    assert db.execute("select thread_id from thread_messages where message_id = ?", [message_id]).fetchone() == (thread,)


def test_a_detached_message_leaves_its_thread_for_good_until_attached_again(demo):
    """Detach: the answer leaves the thread (whose status follows), waits for a person again,
    and neither a full nor an incremental rethread puts it back; attaching it again wins."""
    from tracker.thread import rethread

    config, db = demo
    thread, message_id = db.execute(
        "select tm.thread_id, tm.message_id from thread_messages tm join threads t on t.id = tm.thread_id "
        "join messages m on m.message_id = tm.message_id where t.status = 'answered' and tm.matched_by in "
        "('header', 'evidence') and m.kind = 'reply' order by tm.thread_id limit 1"
    ).fetchone()
    desk.detach(db, config, thread, message_id, note="une autre affaire", made_by="alice")
    for changed in (None, [message_id]):
        rethread(db, config, changed)
        assert db.execute("select count(*) from thread_messages where thread_id = ? and message_id = ?",
                          [thread, message_id]).fetchone() == (0,)
    assert status(db, thread) != "answered"
    waiting = {row[0] for row in db.execute(f"select message_id from {desk.WAITING}")}
    in_threads = {row[0] for row in db.execute("select message_id from thread_messages")}
    assert message_id in waiting | in_threads  # kept: back in the queue, or in another thread
    assert [h["action"] for h in desk.history(db, thread)][-1] == "detach"
    with pytest.raises(desk.DeskError, match="pas parmi les réponses"):
        desk.detach(db, config, thread, message_id)
    desk.attach(db, config, thread, message_id, move=True, made_by="alice")
    rethread(db, config, None)
    assert status(db, thread) == "answered"


def test_mark_detach_on_the_command_line(demo):
    config, db = demo
    thread, message_id = db.execute(
        "select tm.thread_id, tm.message_id from thread_messages tm join messages m on m.message_id = tm.message_id "
        "where tm.matched_by in ('header', 'evidence') and m.kind = 'reply' order by tm.thread_id limit 1"
    ).fetchone()
    db.close()
    code, out = invoke(config, "mark", thread, "--detach", message_id, "--by", "alice")
    assert code == 0, out
    assert f"{thread}: detach recorded" in out
    code, out = invoke(config, "mark", thread, "--detach", message_id)
    assert code == 1 and "is not among this thread's answers" in out, out
