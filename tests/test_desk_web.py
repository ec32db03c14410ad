"""The desk in Datasette, in-process (datasette.client): the triage page in French, actions from
it and from a thread page, CSRF, roles (members and visitors get 403 on every action), the run
lock, uploads, and nothing from the private store on any desk page."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
from pathlib import Path

import pytest

from tests.test_desk import demo_source  # noqa: F401  (the fixture)
from tracker import store
from tracker.config import load
from tracker.demo.mime import make_pdf
from tracker.store import lock
from tracker.thread import desk
from tracker.web import desk as web_desk
from tracker.web.serve import make_datasette

PASSWORDS = {"alice": "alice-s3cret-pass", "bob": "bob-s3cret-pass", "carol": "carol-s3cret-pass"}
ACTIONS = ["answered", "close", "reopen", "attach", "move", "undo", "not_answer", "letter"]


def with_accounts(source: Path, folder: Path) -> Path:
    from datasette_auth_passwords.utils import hash_password

    for path in source.glob("tracker*"):
        if path.is_file() and not path.name.endswith(".lock"):
            shutil.copy(path, folder / path.name)
    hashes = ", ".join(f'{user} = "{hash_password(pw)}"' for user, pw in PASSWORDS.items())
    config = folder / "tracker.toml"
    config.write_text(config.read_text("utf-8") + f'\n[auth]\npassword_hashes = {{ {hashes} }}\n'
                      'admins = ["carol"]\ncoordinators = ["alice"]\n', "utf-8")
    return config


@pytest.fixture(scope="module")
def accounts_config(demo_source, tmp_path_factory) -> Path:  # noqa: F811
    return with_accounts(demo_source, tmp_path_factory.mktemp("desk-web"))


@pytest.fixture
def site(demo_source, tmp_path):  # noqa: F811
    """A fresh copy with accounts, and a Datasette over it: (config, ds)."""
    config = load(with_accounts(demo_source, tmp_path))
    ds = make_datasette(config)
    asyncio.run(ds.invoke_startup())
    return config, ds


def run(coroutine):
    return asyncio.run(coroutine)


async def login(ds, user):
    response = await ds.client.post("/-/login", data={"username": user, "password": PASSWORDS[user]})
    assert response.status_code == 302, response.text
    return {"ds_actor": response.cookies["ds_actor"]}


async def token(ds, cookies, path="/-/desk/triage"):
    """The CSRF cookie and token a page hands out, as a browser would get them."""
    page = await ds.client.get(path, cookies=cookies)
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    cookies = {**(cookies or {}), "ds_csrftoken": page.cookies.get("ds_csrftoken") or cookies.get("ds_csrftoken")}
    return cookies, found.group(1) if found else None


def db_of(config):
    return store.open_db(config.database, private=config.private_database)


def marks_count(config) -> int:
    db = db_of(config)
    try:
        return db.execute("select count(*) from marks").fetchone()[0]
    finally:
        db.close()


def first_waiting(config):
    import json

    db = db_of(config)
    try:
        message_id, candidates = db.execute(f"select message_id, candidates from {desk.WAITING} order by message_id").fetchone()
        thread = db.execute("select id from threads where status = 'awaiting_reply' order by id").fetchone()[0]
        return message_id, json.loads(candidates)[0]["thread_id"], thread
    finally:
        db.close()


def status(config, tid):
    db = db_of(config)
    try:
        return db.execute("select status from threads where id = ?", [tid]).fetchone()[0]
    finally:
        db.close()


# --- roles --------------------------------------------------------------------------------------


def test_members_and_visitors_get_403_on_every_action(site):
    config, ds = site
    message_id, candidate, thread = first_waiting(config)

    async def go():
        from itsdangerous import URLSafeSerializer

        member = await login(ds, "bob")
        member, member_token = await token(ds, member)
        # a valid CSRF pair, as any page with a form would give: the refusal is the role's
        valid = URLSafeSerializer(ds._secret).dumps("member-token", "csrftoken")
        member["ds_csrftoken"] = valid
        answers = []
        for action in ACTIONS:
            form = {"csrftoken": valid, "action": action, "thread": thread, "message": message_id,
                    "on": "3 mars 2026", "to-interieur": "interieur", "subject": "x"}
            answers.append(("member", action, await ds.client.post("/-/desk/act", data=form, cookies=member)))
            answers.append(("visitor", action, await ds.client.post("/-/desk/act", data=form,
                                                                   cookies={"ds_csrftoken": valid})))
        letter = [await ds.client.get("/-/desk/letter", cookies=member), await ds.client.get("/-/desk/letter")]
        return member_token, answers, letter

    member_token, answers, letter = run(go())
    for who, action, response in answers:
        assert response.status_code == 403, (who, action, response.status_code)
        assert "coordinateurs" in response.text
    assert [r.status_code for r in letter] == [403, 403]
    assert marks_count(config) == 0 and status(config, thread) == "awaiting_reply"


def test_a_member_reads_the_triage_page_without_actions_and_a_visitor_is_sent_to_log_in(site):
    config, ds = site

    async def go():
        return await ds.client.get("/-/desk/triage", cookies=await login(ds, "bob")), await ds.client.get("/-/desk/triage")

    member, visitor = run(go())
    assert member.status_code == 200 and "Messages à rattacher à un fil" in member.text
    assert 'name="action"' not in member.text
    assert visitor.status_code == 302 and visitor.headers["location"] == "/-/login"
    assert "Pourquoi il attend" not in visitor.text


# --- the triage page ----------------------------------------------------------------------------


def test_the_triage_page_speaks_french_and_shows_no_raw_json(site):
    config, ds = site

    async def go():
        return await ds.client.get("/-/desk/triage", cookies=await login(ds, "alice"))

    page = run(go())
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Messages à rattacher à un fil" in text and "Pourquoi il attend" in text
    assert "plusieurs fils correspondent aussi bien" in text
    assert "thread_id" not in text and "several threads" not in text
    assert "Il répond à ce fil" in text and "Ce n'est pas une réponse" in text and "Il répond à un autre fil" in text
    assert "cite la date du courrier" in text and "premier envoi le" in text


def test_a_coordinator_attaches_from_the_triage_page_and_the_status_follows(site):
    config, ds = site
    message_id, candidate, _ = first_waiting(config)
    before = status(config, candidate)

    async def go():
        cookies, csrf = await token(ds, await login(ds, "alice"))
        form = {"csrftoken": csrf, "action": "attach", "back": "triage", "message": message_id, "thread": candidate}
        done = await ds.client.post("/-/desk/act", data=form, cookies=cookies)
        page = await ds.client.get(f"/tracker/threads/{candidate}", cookies=cookies)
        return done, page

    done, page = run(go())
    assert done.status_code == 302 and done.headers["location"] == "/-/desk/triage"
    assert before != "answered" and status(config, candidate) == "answered"
    assert "Historique des annotations" in page.text and "par alice" in page.text


def test_not_an_answer_leaves_the_queue(site):
    config, ds = site
    message_id, _, _ = first_waiting(config)

    async def go():
        cookies, csrf = await token(ds, await login(ds, "carol"))  # an admin may act too
        form = {"csrftoken": csrf, "action": "not_answer", "back": "triage", "message": message_id, "note": "colloque"}
        await ds.client.post("/-/desk/act", data=form, cookies=cookies)
        return await ds.client.get("/-/desk/triage", cookies=cookies)

    page = run(go())
    assert message_id.split("@")[0] not in page.text


# --- CSRF ---------------------------------------------------------------------------------------


def test_an_action_without_the_csrf_token_is_refused(site):
    config, ds = site
    _, _, thread = first_waiting(config)

    async def go():
        cookies, csrf = await token(ds, await login(ds, "alice"))
        form = {"action": "close", "thread": thread}
        without = await ds.client.post("/-/desk/act", data=form, cookies=cookies)
        wrong = await ds.client.post("/-/desk/act", data={**form, "csrftoken": csrf[:-2] + "xx"}, cookies=cookies)
        # a cross-site form sends no cookie at all, which asgi-csrf lets through
        no_cookie = await ds.client.post("/-/desk/act", data={**form, "csrftoken": csrf},
                                         cookies={"ds_actor": cookies["ds_actor"]})
        return without, wrong, no_cookie

    for response in run(go()):
        assert response.status_code == 403
    assert marks_count(config) == 0


# --- a thread's actions -------------------------------------------------------------------------


def test_close_reopen_undo_and_their_sentences(site):
    config, ds = site
    _, _, thread = first_waiting(config)

    async def go():
        cookies, csrf = await token(ds, await login(ds, "alice"), f"/tracker/threads/{thread}")
        post = lambda **form: ds.client.post("/-/desk/act", data={"csrftoken": csrf, "thread": thread, **form}, cookies=cookies)
        seen = [await post(action="close", note="rendez-vous obtenu")]
        seen.append(status(config, thread))
        seen.append(await post(action="undo"))
        seen.append(status(config, thread))
        seen.append(await post(action="answered", on="20/11/2099"))
        seen.append(await post(action="reopen"))
        seen.append(await ds.client.get(f"/tracker/threads/{thread}", cookies=cookies))
        return seen

    closed, after_close, undone, after_undo, future, reopen, page = run(go())
    assert closed.status_code == 302 and after_close == "closed"
    assert undone.status_code == 302 and after_undo == "awaiting_reply"
    assert future.status_code == 400 and "est dans le futur" in html.unescape(future.text)
    assert reopen.status_code == 400 and "n'est pas clos" in html.unescape(reopen.text)
    assert "Annulée par alice" in page.text and "rendez-vous obtenu" in page.text


def test_a_postal_answer_with_a_scan_is_written_by_a_child_process(site):
    config, ds = site
    _, _, thread = first_waiting(config)
    pdf = make_pdf("Réponse du cabinet : hébergement des victimes")

    async def go():
        cookies, csrf = await token(ds, await login(ds, "alice"), f"/tracker/threads/{thread}")
        files = {"file": ("reponse.pdf", pdf, "application/pdf")}
        data = {"csrftoken": csrf, "action": "answered", "thread": thread, "on": "3 mars 2026", "note": "papier"}
        done = await ds.client.post("/-/desk/act", data=data, files=files, cookies=cookies)
        fake = await ds.client.post("/-/desk/act", data=data, files={"file": ("faux.pdf", b"<html>", "application/pdf")},
                                    cookies=cookies)
        page = await ds.client.get(f"/tracker/threads/{thread}", cookies=cookies)
        return done, fake, page

    done, fake, page = run(go())
    assert done.status_code == 302, done.text
    assert status(config, thread) == "answered"
    assert fake.status_code == 400 and "n'est pas un vrai PDF" in html.unescape(fake.text)
    assert "reponse.pdf" in page.text and "hébergement des victimes" in page.text
    db = db_of(config)
    assert db.execute("select count(*) from private.scan_files").fetchone()[0] == 1
    assert db.execute("select count(*) from scans").fetchone()[0] == 1


def test_an_upload_over_the_cap_is_refused_before_anything_is_written(site, monkeypatch):
    config, ds = site
    _, _, thread = first_waiting(config)
    monkeypatch.setattr(web_desk, "BODY_LIMIT", 50_000)

    async def go():
        cookies, csrf = await token(ds, await login(ds, "alice"), f"/tracker/threads/{thread}")
        data = {"csrftoken": csrf, "action": "answered", "thread": thread, "on": "3 mars 2026"}
        return await ds.client.post("/-/desk/act", data=data, files={"file": ("gros.pdf", b"%PDF-" + b"0" * 60_000)},
                                    cookies=cookies)

    response = run(go())
    assert response.status_code == 413 and "trop gros" in response.text
    assert marks_count(config) == 0


def test_a_letter_by_post_from_the_form_opens_its_thread(site):
    config, ds = site

    async def go():
        cookies, csrf = await token(ds, await login(ds, "alice"), "/-/desk/letter")
        data = {"csrftoken": csrf, "action": "letter", "to-interieur": "interieur", "cc-justice": "justice",
                "on": "2 mars 2026", "subject": "Formation des agents à l'identification des victimes", "via": "post"}
        done = await ds.client.post("/-/desk/act", data=data, files={"file": ("courrier.pdf", make_pdf("Objet : formation"))},
                                    cookies=cookies)
        page = await ds.client.get(done.headers.get("location", "/"), cookies=cookies)
        return done, page

    done, page = run(go())
    assert done.status_code == 302, done.text
    assert done.headers["location"].startswith("/tracker/threads/t-")
    assert "Formation des agents" in page.text and "Ministère de l'Intérieur" in html.unescape(page.text)


def test_an_action_during_a_sync_waits_then_says_so_in_french(site, monkeypatch):
    config, ds = site
    _, _, thread = first_waiting(config)
    monkeypatch.setattr(desk, "LOCK_WAIT", 0.5)

    async def go():
        cookies, csrf = await token(ds, await login(ds, "alice"), f"/tracker/threads/{thread}")
        with lock.run_lock(config.database, "sync"):
            return await ds.client.post("/-/desk/act", data={"csrftoken": csrf, "action": "close", "thread": thread},
                                        cookies=cookies)

    response = run(go())
    assert response.status_code == 503
    assert "Une synchronisation du courrier est en cours : rien n'a été enregistré. Réessayez" in html.unescape(response.text)
    assert marks_count(config) == 0


# --- privacy ------------------------------------------------------------------------------------


def test_desk_pages_serve_nothing_from_the_private_store(site):
    config, ds = site
    _, _, thread = first_waiting(config)
    db = db_of(config)
    secret = "SECRET-SCAN-BYTES-0xdeadbeef"
    desk.answered_by_post(db, config, thread, "3 mars 2026", scan=desk.Upload("r.pdf", make_pdf("texte lisible") + secret.encode()))
    raw_sample = db.execute("select raw from private.raw_messages limit 1").fetchone()[0]
    db.close()
    # a line of raw headers that no parsed column holds verbatim
    header = next(line for line in raw_sample.decode("utf-8", "replace").splitlines() if line.startswith("Received:") or line.startswith("Return-Path:")) if b"Received:" in raw_sample or b"Return-Path:" in raw_sample else None

    async def go():
        cookies = await login(ds, "alice")
        return [await ds.client.get(p, cookies=cookies) for p in
                ("/-/desk/triage", "/-/desk/letter", f"/tracker/threads/{thread}", "/tracker/scans", "/tracker/scan_files")]

    pages = run(go())
    for response in pages[:4]:
        assert response.status_code == 200
        assert secret not in response.text
        if header:
            assert header not in response.text
    assert pages[4].status_code in (403, 404)


def test_under_a_path_prefix(site):
    config, _ = site
    ds = make_datasette(config, base_url="/suivi/")
    message_id, candidate, _ = first_waiting(config)

    async def go():
        await ds.invoke_startup()
        # datasette.client puts the prefix in front of every path itself
        response = await ds.client.post("/-/login", data={"username": "alice", "password": PASSWORDS["alice"]})
        cookies = {"ds_actor": response.cookies["ds_actor"]}
        cookies, csrf = await token(ds, cookies, "/-/desk/triage")
        form = {"csrftoken": csrf, "action": "attach", "message": message_id, "thread": candidate}
        page = await ds.client.get("/-/desk/triage", cookies=cookies)
        return page, await ds.client.post("/-/desk/act", data=form, cookies=cookies)

    page, done = run(go())
    assert 'action="/suivi/-/desk/act"' in page.text and 'href="/suivi/tracker/threads/' in page.text
    assert done.status_code == 302 and done.headers["location"].startswith("/suivi/tracker/threads/t-")


def test_a_coordinator_detaches_a_message_from_the_thread_page_a_member_may_not(site):
    config, ds = site
    db = db_of(config)
    try:
        thread, message_id = db.execute(
            "select tm.thread_id, tm.message_id from thread_messages tm join messages m on "
            "m.message_id = tm.message_id where tm.matched_by in ('header', 'evidence') and m.kind = 'reply' "
            "order by tm.thread_id limit 1").fetchone()
    finally:
        db.close()

    async def go():
        member, member_csrf = await token(ds, await login(ds, "bob"), f"/tracker/threads/{thread}")
        refused = await ds.client.post("/-/desk/act", cookies=member, data={
            "csrftoken": member_csrf or "", "action": "detach", "thread": thread, "message": message_id})
        cookies, csrf = await token(ds, await login(ds, "alice"), f"/tracker/threads/{thread}")
        page = await ds.client.get(f"/tracker/threads/{thread}", cookies=cookies)
        done = await ds.client.post("/-/desk/act", cookies=cookies, data={
            "csrftoken": csrf, "action": "detach", "thread": thread, "message": message_id, "note": "autre affaire"})
        return refused, page, done

    refused, page, done = run(go())
    assert refused.status_code == 403
    assert "Détacher un message" in page.text
    assert done.status_code == 302, done.text
    db = db_of(config)
    try:
        assert db.execute("select count(*) from thread_messages where thread_id = ? and message_id = ?",
                          [thread, message_id]).fetchone() == (0,)
        assert db.execute("select made_by, note from marks where action = 'detach'").fetchone() == ("alice", "autre affaire")
    finally:
        db.close()
