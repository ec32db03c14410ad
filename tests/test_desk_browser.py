"""The desk in Debian's Chromium against a real ``tracker serve`` on the demo data: a coordinator
attaches a waiting reply from the triage page, records a postal answer with a scan, records a
postal letter and opens its thread, closes and undoes; a member's POSTs are refused; the command
line and the digest then say the same; the server never opened the private store. Screenshots
(1280 and 390 px wide, French and English) go to $TRACKER_SCREENSHOTS or the test's folder."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.browser import browser, shots  # noqa: F401
from tests.test_desk import demo_source  # noqa: F401  (the fixture)
from tests.test_desk_web import PASSWORDS, with_accounts
from tests.test_publish_server import running, running_server
from tracker.cli import cli
from tracker.demo.mime import make_pdf

playwright_api = pytest.importorskip("playwright.sync_api")


def log_in(page, url, user):
    page.goto(url + "/-/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("input[type=submit], button[type=submit]")


def cli_json(config_path, *args):
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def status_of(config_path, tid):
    return next(t for t in json.loads(cli_json(config_path, "threads", "--format", "json")) if t["id"] == tid)["status"]


def private_files_open(pid: int) -> list[str]:
    opened = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [p for p in opened if "tracker-private" in p] + (["maps"] if "tracker-private" in maps else [])


def test_the_coordinators_desk_in_chromium(demo_source, tmp_path, browser, shots):  # noqa: F811
    config_path = with_accounts(demo_source, tmp_path)
    scan = tmp_path / "reponse-cabinet.pdf"
    scan.write_bytes(make_pdf("Le cabinet du ministre accuse réception et répond sur l'hébergement des victimes"))
    letter_pdf = tmp_path / "courrier.pdf"
    letter_pdf.write_bytes(make_pdf("Objet : Formation des magistrats à la traite"))
    with running_server(config_path) as url:
        pid = running.last.pid
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page, url, "alice")

        # triage: attach the first waiting reply to its first candidate
        page.goto(url + "/-/desk/triage")
        cards = page.locator("article.desk-card")
        before = cards.count()
        assert before >= 2 and "Messages à rattacher à un fil" in page.locator("h1").inner_text()
        page.screenshot(path=str(shots / "desk-triage-fr-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(shots / "desk-triage-fr-390.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        target = cards.first.locator("li.candidate").first.locator("a").get_attribute("href")
        cards.first.locator("li.candidate").first.locator("button").click()
        page.wait_for_url(re.compile(r".*/-/desk/triage$"))
        assert page.locator("article.desk-card").count() == before - 1
        tid = target.rsplit("/", 1)[1]
        assert status_of(config_path, tid) == "answered"

        # a postal answer with its scan, on a thread still waiting
        waiting = next(t for t in json.loads(cli_json(config_path, "threads", "--format", "json"))
                       if t["status"] == "awaiting_reply")["id"]
        page.goto(url + f"/tracker/threads/{waiting}")
        form = page.locator("form.desk-form").first
        form.locator("input[name=on]").fill("3 mars 2026")
        form.locator("input[name=note]").fill("reçue par la poste")
        form.locator("input[type=file]").set_input_files(str(scan))
        form.locator("button").click()
        page.wait_for_url(re.compile(rf".*/tracker/threads/{waiting}$"))
        assert "reponse-cabinet.pdf" in page.content()
        page.locator("details.scan summary").click()
        assert "hébergement des victimes" in page.locator("details.scan").inner_text()
        assert "par alice" in page.locator(".desk-history").inner_text()
        assert status_of(config_path, waiting) == "answered"
        page.screenshot(path=str(shots / "desk-thread-fr-1280.png"), full_page=True)

        # close, then undo the close
        page.locator("button[value=close]").click()
        page.wait_for_url(re.compile(rf".*/tracker/threads/{waiting}$"))
        assert status_of(config_path, waiting) == "closed"
        page.locator("form.desk-form:has(input[value=undo]) button").click()
        page.wait_for_url(re.compile(rf".*/tracker/threads/{waiting}$"))
        assert status_of(config_path, waiting) == "answered"
        assert "Annulée par alice" in page.locator(".desk-history").inner_text()
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(shots / "desk-thread-fr-390.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

        # a letter sent by post, and its thread
        page.goto(url + "/-/desk/letter")
        page.check("input[name=to-justice]")
        page.fill("input[name=on]", "20/11/2025")
        page.fill("input[name=subject]", "Formation des magistrats à la traite")
        page.locator("input[type=file]").set_input_files(str(letter_pdf))
        page.screenshot(path=str(shots / "desk-letter-fr-1280.png"), full_page=True)
        page.locator("form.desk-form button").click()
        page.wait_for_url(re.compile(r".*/tracker/threads/t-[0-9a-f]+$"))
        assert page.locator("h1").inner_text() == "Formation des magistrats à la traite"
        letter_thread = page.url.rsplit("/", 1)[1]
        assert status_of(config_path, letter_thread) in ("awaiting_reply", "acknowledged")
        assert not errors
        context.close()

        # a member reads, and every POST of theirs is refused
        member = browser.new_context(viewport={"width": 1280, "height": 900})
        page = member.new_page()
        log_in(page, url, "bob")
        page.goto(url + "/-/desk/triage")
        assert page.locator("article.desk-card").count() == before - 1
        assert page.locator("form[action$='/-/desk/act']").count() == 0
        token = page.locator("input[name=csrftoken]").first.get_attribute("value")
        for action in ("close", "undo", "answered", "attach", "not_answer", "letter"):
            response = page.request.post(url + "/-/desk/act", form={"csrftoken": token, "action": action,
                                                                    "thread": waiting, "on": "3 mars 2026"})
            assert response.status == 403, action
        member.close()

        # the web process never opened the private store, even to store a scan
        assert private_files_open(pid) == []

    # the CLI, the reports and the digest say the same
    assert status_of(config_path, waiting) == "answered" and status_of(config_path, tid) == "answered"
    digest = cli_json(config_path, "digest", "--dry-run", "--force")
    assert f"{before - 1} messages attendent qu'une personne" in digest or f"{before - 1} message attend" in digest
    report = json.loads(cli_json(config_path, "report", "unanswered", "--format", "json"))
    assert waiting not in {t["id"] for t in report["overdue"]}


def test_english_screenshots(demo_source, tmp_path, browser, shots):  # noqa: F811
    config_path = with_accounts(demo_source, tmp_path)
    config_path.write_text(config_path.read_text("utf-8").replace('language = "fr"', 'language = "en"'), "utf-8")
    with running_server(config_path) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        log_in(page, url, "alice")
        page.goto(url + "/-/desk/triage")
        assert page.locator("h1").inner_text() == "Messages to attach to a thread"
        page.screenshot(path=str(shots / "desk-triage-en-1280.png"), full_page=True)
        href = page.locator("li.candidate a").first.get_attribute("href")
        page.goto(url + href)
        assert page.locator(".desk-actions h2").inner_text() == "Act on this thread"
        page.screenshot(path=str(shots / "desk-thread-en-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(shots / "desk-thread-en-390.png"), full_page=True)
        page.goto(url + "/-/desk/letter")
        page.screenshot(path=str(shots / "desk-letter-en-390.png"), full_page=True)
        context.close()
