"""`tracker digest`: built from the report fixtures (see tests/test_report.py), sent through
a real SMTP server on loopback (aiosmtpd), and read back as it arrived."""

from __future__ import annotations

import dataclasses
import html as html_module
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from tests.support import correspondence
from tests.support.smtp import PASSWORD, USERNAME, free_port, smtp_server
from tracker import store
from tracker.report import digest
from tracker.cli import cli
from tracker.config import load
from tests.support.snapshot import connect as connect_store

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=PARIS)  # ISO week 2026-W49
SUBJECT = "2 courriers en retard, 1 réponse cette semaine"
OVERDUE = ["Demande de rendez-vous : accueil des victimes à Paris", "Protection des témoins"]
BODIES = ["Corps confidentiel", "Réponse du ministère", "Réponse (confidentielle)"]


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    return correspondence.build(tmp_path_factory.mktemp("digest"))


def smtp_section(server=None, *, port: int | None = None, security: str = "none", extra: str = "") -> str:
    lines = [
        "\n[smtp]",
        'host = "127.0.0.1"',
        f"port = {server.port if server else port}",
        f'security = "{security}"',
        "timeout = 5",
    ]
    if server is not None and server.ca_file:
        lines += [f'ca_file = "{server.ca_file}"', f'username = "{USERNAME}"']
    return "\n".join(lines) + "\n" + extra


def configured(imported: Path, folder: Path, smtp: str, weekday: str = "monday") -> tuple:
    config_path = correspondence.clone(
        imported, folder, extra=correspondence.DIGEST + f'weekday = "{weekday}"\n' + smtp
    )
    config = load(config_path)
    return config_path, config, store.open_db(config.database)


def recorded(config) -> list[tuple]:
    with connect_store(config.database) as conn:
        return conn.execute("select iso_week, message_id, recipients, subject from digests").fetchall()


def thread_ids(config) -> dict[str, str]:
    with connect_store(config.database) as conn:
        return {
            subject: tid
            for tid, subject in conn.execute("select id, subject from threads where correspondent_id != 'sante'")
        }


def test_sends_one_multipart_alternative_email_over_plain_smtp(imported, tmp_path):
    with smtp_server("none", tmp_path) as server:
        _, config, db = configured(imported, tmp_path, smtp_section(server))
        outcome = digest.run(db, config, now=MONDAY)
    assert outcome.action == "sent"
    (received,) = server.received
    assert received.rcpt_tos == ["bureau@collectif.example.org"]
    assert received.mail_from == "tracker@collectif.example.org"
    message = received.message
    assert message["Subject"] == SUBJECT  # accents intact through RFC 2047
    assert message["From"] == "tracker@collectif.example.org"
    assert message["To"] == "bureau@collectif.example.org"
    assert message.get_content_type() == "multipart/alternative"
    text, html = list(message.iter_parts())
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    text, html = text.get_content(), html.get_content()

    ids = thread_ids(config)
    for subject in OVERDUE:
        link = f"https://tracker.example.org/suivi/tracker/threads/{ids[subject]}"
        assert subject in text and link in text
        assert subject in html and f'href="{link}"' in html
    assert "88 j" in text and "88 j" in html  # 3 September to 30 November
    assert "cabinet@interieur.gouv.fr" in text and "bureau@justice.gouv.fr" in html
    for section in ("Courriers en retard", "Échéances des 14 prochains jours", "Réponses reçues cette semaine",
                    "Courriers envoyés cette semaine", "Courriers non distribués"):
        assert section in text and section in html
    assert "Saisine : accès aux droits des mineurs" in text  # the reply of 26 November
    assert "Saisine : délais de traitement à l'OFPRA" in text  # the letter of 27 November
    assert "Santé des victimes : question n° 5" in text  # due 5 December
    assert "Demande de statistiques" in text  # bounced
    for body in BODIES:
        assert body not in received.raw.decode("utf-8", "replace")
        assert body not in text and body not in html
    # HTML that survives mail clients: inline styles, no classes, nothing fetched
    assert "<style" not in html and "class=" not in html
    assert "<img" not in html and "<link" not in html and "src=" not in html

    ((week, message_id, recipients, subject),) = recorded(config)
    assert week == "2026-W49" and subject == SUBJECT
    assert f"<{message_id}>" == message["Message-ID"].strip()
    assert recipients == "bureau@collectif.example.org"


def test_starttls_with_a_test_certificate_and_password_from_env(imported, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_TEST_SMTP_PASSWORD", PASSWORD)
    with smtp_server("starttls", tmp_path) as server:
        smtp = smtp_section(server, security="starttls", extra="") + 'password_env = "TRACKER_TEST_SMTP_PASSWORD"\n'
        _, config, db = configured(imported, tmp_path, smtp)
        assert digest.run(db, config, now=MONDAY).action == "sent"
    assert server.logins == [USERNAME]
    (message,) = server.messages
    assert message["Subject"] == SUBJECT
    assert "Protection des témoins" in message.get_body(("plain",)).get_content()
    assert len(recorded(config)) == 1


def test_implicit_tls_with_password_from_a_file(imported, tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    with smtp_server("ssl", tmp_path) as server:
        smtp = smtp_section(server, security="ssl") + f'password_file = "{secret}"\n'
        _, config, db = configured(imported, tmp_path, smtp)
        assert digest.run(db, config, now=MONDAY).action == "sent"
    assert server.logins == [USERNAME] and len(server.messages) == 1


def test_a_wrong_password_is_one_clear_line_and_nothing_is_recorded(imported, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_TEST_SMTP_PASSWORD", "not it")
    with smtp_server("starttls", tmp_path) as server:
        smtp = smtp_section(server, security="starttls") + 'password_env = "TRACKER_TEST_SMTP_PASSWORD"\n'
        config_path, config, _ = configured(imported, tmp_path, smtp)
        result = CliRunner().invoke(cli, ["--config", str(config_path), "digest"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "rejected the login" in result.output
    assert "not it" not in result.output
    assert server.messages == [] and recorded(config) == []


def test_two_runs_in_one_week_send_one_email_and_the_next_week_another(imported, tmp_path):
    with smtp_server("none", tmp_path) as server:
        _, config, db = configured(imported, tmp_path, smtp_section(server))
        assert digest.run(db, config, now=MONDAY).action == "sent"
        assert digest.run(db, config, now=MONDAY + timedelta(hours=1)).action == "already_sent"
        assert digest.run(db, config, now=MONDAY + timedelta(days=6, hours=15)).action == "already_sent"
        assert len(server.messages) == 1
        assert digest.run(db, config, now=MONDAY + timedelta(days=7)).action == "sent"
        assert len(server.messages) == 2
        # --force resends in a week that already had its digest
        assert digest.run(db, config, now=MONDAY + timedelta(days=8), force=True).action == "sent"
        assert len(server.messages) == 3
    assert [row[0] for row in sorted(recorded(config))] == ["2026-W49", "2026-W50"]


def test_nothing_goes_out_before_the_configured_weekday(imported, tmp_path):
    with smtp_server("none", tmp_path) as server:
        _, config, db = configured(imported, tmp_path, smtp_section(server), weekday="wednesday")
        assert digest.run(db, config, now=MONDAY).action == "not_yet"
        assert digest.run(db, config, now=MONDAY + timedelta(days=1)).action == "not_yet"
        assert server.messages == []
        # a daily cron that missed Wednesday still sends on Thursday, once
        assert digest.run(db, config, now=MONDAY + timedelta(days=3)).action == "sent"
        assert digest.run(db, config, now=MONDAY + timedelta(days=4)).action == "already_sent"
        assert len(server.messages) == 1


def test_a_refused_connection_exits_non_zero_records_nothing_and_the_next_run_retries(imported, tmp_path):
    port = free_port()  # nothing listens there
    config_path, config, _ = configured(imported, tmp_path, smtp_section(port=port))
    result = CliRunner().invoke(cli, ["--config", str(config_path), "digest"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0] and "refused" in lines[0].lower()
    assert recorded(config) == []

    with smtp_server("none", tmp_path) as server:
        config_path.write_text(config_path.read_text().replace(f"port = {port}", f"port = {server.port}"))
        result = CliRunner().invoke(cli, ["--config", str(config_path), "digest"])
        assert result.exit_code == 0, result.output
        assert "sent to bureau@collectif.example.org" in result.output
        result = CliRunner().invoke(cli, ["--config", str(config_path), "digest", "--quiet"])
        assert result.exit_code == 0 and result.output == ""
    assert len(server.messages) == 1 and len(recorded(config)) == 1


def test_dry_run_prints_the_email_and_sends_nothing(imported, tmp_path):
    with smtp_server("none", tmp_path) as server:
        config_path, config, _ = configured(imported, tmp_path, smtp_section(server))
        result = CliRunner().invoke(cli, ["--config", str(config_path), "digest", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Subject: " in result.output and "courrier" in result.output
    assert "----- text/plain -----" in result.output and "----- text/html -----" in result.output
    assert "Demande de rendez-vous : accueil des victimes à Paris" in result.output
    assert server.messages == [] and recorded(config) == []


def test_to_overrides_the_recipients_and_is_not_recorded(imported, tmp_path):
    with smtp_server("none", tmp_path) as server:
        config_path, config, _ = configured(imported, tmp_path, smtp_section(server))
        result = CliRunner().invoke(
            cli, ["--config", str(config_path), "digest", "--to", "moi@collectif.example.org"]
        )
        assert result.exit_code == 0, result.output
        assert server.received[0].rcpt_tos == ["moi@collectif.example.org"]
        assert server.messages[0]["To"] == "moi@collectif.example.org"
        assert recorded(config) == []
        # so the bureau still gets this week's digest
        result = CliRunner().invoke(cli, ["--config", str(config_path), "digest"])
        assert result.exit_code == 0
        assert server.received[1].rcpt_tos == ["bureau@collectif.example.org"]


def test_a_stale_sync_is_announced(imported, tmp_path):
    _, config, db = configured(imported, tmp_path, "")
    fresh = (MONDAY - timedelta(hours=20)).isoformat()
    old = (MONDAY - timedelta(days=3)).isoformat()
    db.execute("insert into sync_state (folder, last_uid, last_success_at) values ('INBOX', 1, ?)", [fresh])
    text = digest.preview(digest.run(db, config, now=MONDAY, dry_run=True).message)
    assert "Attention" not in text
    db.execute("insert into sync_state (folder, last_uid, last_success_at) values ('Sent', 1, ?)", [old])
    text = digest.preview(digest.run(db, config, now=MONDAY, dry_run=True).message)
    assert "la dernière synchronisation réussie de Sent date du 27 novembre 2026" in text


def test_english_digest(imported, tmp_path):
    config_path = correspondence.clone(imported, tmp_path, "en")
    config = load(config_path)
    message = digest.run(store.open_db(config.database), config, now=MONDAY, dry_run=True).message
    assert message["Subject"] == "2 overdue letters, 1 reply this week"
    assert "Falling due in the next 14 days" in message.get_body(("html",)).get_content()


def test_a_digest_waits_for_a_running_sync(imported, tmp_path):
    from tracker.store import lock

    with smtp_server("none", tmp_path) as server:
        config_path, config, _ = configured(imported, tmp_path, smtp_section(server))
        with lock.run_lock(config.database, "sync"):
            result = CliRunner().invoke(cli, ["--config", str(config_path), "digest"])
        assert result.exit_code == 75
        assert "another tracker run is in progress" in result.output
        assert server.messages == [] and recorded(config) == []


def test_a_quiet_week_says_so_in_the_subject(imported, tmp_path):
    _, config, db = configured(imported, tmp_path, "")
    # 1 June, before any letter fell due and before any reply
    message = digest.run(db, config, now=datetime(2026, 6, 1, 9, 0, tzinfo=PARIS), dry_run=True).message
    assert message["Subject"] == "Aucun courrier en retard, aucune réponse cette semaine"


def test_every_link_in_the_digest_opens_its_thread_in_datasette(imported, tmp_path):
    import asyncio
    import re

    from tracker import web as publish

    _, config, db = configured(imported, tmp_path, "")
    html = digest.run(db, config, now=MONDAY, dry_run=True).message.get_body(("html",)).get_content()
    base = "https://tracker.example.org/suivi"
    links = sorted(set(re.findall(r'href="([^"]+)"', html)))  # 2 overdue, 3 due soon, 1 reply, 1 sent, 1 bounce
    assert len(links) == 8 and all(link.startswith(base + "/tracker/threads/") for link in links)
    ds = publish.make_datasette(config, base_url="/")

    async def fetch() -> list[tuple[str, int, str]]:
        pages = []
        for link in links:
            response = await ds.client.get(link[len(base):])
            pages.append((link, response.status_code, response.text))
        return pages

    subjects = {row[0]: row[1] for row in db.execute("select id, subject from threads")}
    for link, code, page in asyncio.run(fetch()):
        assert code == 200, link
        assert subjects[link.rsplit("/", 1)[1]] in html_module.unescape(page), link


def test_scans_failed_for_good_are_one_warning_line_with_their_reasons(imported, tmp_path):
    config_path, config, _ = configured(imported, tmp_path, smtp_section(port=25))
    db = store.open_db(config.database, private=config.private_database)
    assert digest.build(db, config, MONDAY)["ocr_failed"] is None  # nothing failed
    from tracker.store import ocr as ocr_queue

    ocr_queue.ensure(db)
    db.conn.executemany(
        "insert into private.ocr_queue (attachment_id, message_id, kind, status, error, attempts) "
        "values (?, ?, 'pdf', ?, ?, 3)",
        [("a1", "m1@x", "failed", "courrier-signe.pdf unreadable (PdfiumError)"),
         ("a2", "m2@x", "failed", "courrier-2.pdf unreadable (PdfiumError)"),
         ("a3", "m3@x", "failed", "no text read from 1 pages: OCR of a page stopped after 60 s (ocr.page_seconds)"),
         ("a4", "m4@x", "retry", "unreadable (PdfiumError)")])  # a retry is not a failure yet
    db.conn.commit()
    content = digest.build(db, config, MONDAY)
    line = content["ocr_failed"]
    assert line == ("3 documents scannés n’ont pas pu être lus (2 fichier illisible, 1 trop long à lire) : leur "
                    "texte manque à la recherche et au rattachement des réponses ; voir tracker ocr.")
    html, text = digest.render(content, config)
    assert line in html_module.unescape(html) and f"!! {line}" in text
    assert "courrier-signe" not in html + text  # no file name, no text
    english = digest.build(db, dataclasses.replace(config, language="en"), MONDAY)["ocr_failed"]
    assert english.startswith("3 scanned documents could not be read (2 unreadable file, 1 timed out)")
