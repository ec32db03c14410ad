"""The coalition's pages (tracker/web/coalition.py) in-process on the generated demo: a page per
member association with the letters it co-signed and their status, commitments per body (past
due, due within 30 days, later, settled), a letter's co-signers; French and English; the desk's
actions on them through POST /-/desk/act (CSRF, roles); privacy: nothing from the private
store, the login page for anonymous visitors, members read but do not act."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_desk_web import PASSWORDS, login, token
from tests.test_publish import Text
from tracker import store
from tracker.cli import cli
from tracker.config import load
from tracker.demo.generate import generate
from tracker.web.serve import make_datasette

MEMBERS = """
[[members]]
name = "Amicale du Nid"
short_name = "Amicale du Nid"

[[members]]
name = "Comité contre l'esclavage moderne"
short_name = "CCEM"
"""
SECRET = b"X-Private-Marker: NEVER-SERVED-7f3a"
ROUTES = ["/-/associations", "/-/associations/ccem", "/-/commitments", "/-/commitments/interieur", "/-/cosigners?letter="]


def cli_run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict:
    """The demo with two members, co-signed letters, commitments of the Intérieur (past due, due
    in ten days, undated, kept) and of the Justice; a marker in every raw message."""
    out = tmp_path_factory.mktemp("coalition")
    generate(out, letters=40)
    config_path = out / "tracker.toml"
    config_path.write_text(config_path.read_text("utf-8") + MEMBERS, "utf-8")
    cli_run(config_path, "import", "--quiet", str(out / "mailbox"))
    config = load(config_path)
    db = store.open_db(config.database, private=config.private_database)
    letters = db.execute("select m.message_id, m.subject, t.id, t.correspondent_id from messages m join "
                         "thread_messages tm on tm.message_id = m.message_id join threads t on t.id = tm.thread_id "
                         "where m.kind = 'letter' and t.correspondent_id = 'interieur' order by m.date").fetchall()
    db.execute("update private.raw_messages set raw = cast(? || raw as blob)", [SECRET + b"\r\n"])
    db.conn.commit()
    db.conn.close()
    signed, unsigned = letters[0], letters[1]
    cli_run(config_path, "cosigners", signed[0], "--set", "ccem", "--set", "Amicale du Nid")
    soon = (config.as_of + timedelta(days=10)).isoformat()  # the demo is judged as of its as_of day
    cli_run(config_path, "commitment", "add", "--thread", signed[2], "--words", "une circulaire aux préfets",
            "--due", "31/12/2025", "--said-on", "12/03/2025")
    cli_run(config_path, "commitment", "add", "--correspondent", "interieur", "--words", "un rendez-vous au cabinet",
            "--due", soon, "--said-in", "phone")
    cli_run(config_path, "commitment", "add", "--correspondent", "interieur", "--words", "une réponse écrite",
            "--said-in", "reply")
    cli_run(config_path, "commitment", "add", "--correspondent", "interieur", "--words", "un groupe de travail")
    cli_run(config_path, "commitment", "kept", "4", "--note", "réuni le 2 juin")
    cli_run(config_path, "commitment", "add", "--correspondent", "justice", "--words", "une instruction aux parquets")
    return {"folder": out, "signed": signed, "unsigned": unsigned}


def copy_of(source: dict, folder: Path, extra: str = "", language: str = "fr") -> Path:
    for path in source["folder"].glob("tracker*"):
        if path.is_file() and not path.name.endswith(".lock"):
            shutil.copy(path, folder / path.name)
    config = folder / "tracker.toml"
    text = config.read_text("utf-8").replace('language = "fr"', f'language = "{language}"')
    config.write_text(text + extra, "utf-8")
    return config


def accounts() -> str:
    from datasette_auth_passwords.utils import hash_password

    hashes = ", ".join(f'{user} = "{hash_password(pw)}"' for user, pw in PASSWORDS.items())
    return f'\n[auth]\npassword_hashes = {{ {hashes} }}\nadmins = ["carol"]\ncoordinators = ["alice"]\n'


def site(config_path: Path):
    config = load(config_path)
    ds = make_datasette(config)
    asyncio.run(ds.invoke_startup())
    return config, ds


@pytest.fixture(scope="module")
def french(source, tmp_path_factory):
    return site(copy_of(source, tmp_path_factory.mktemp("fr")))


@pytest.fixture(scope="module")
def english(source, tmp_path_factory):
    return site(copy_of(source, tmp_path_factory.mktemp("en"), language="en"))


@pytest.fixture
def with_logins(source, tmp_path):
    return site(copy_of(source, tmp_path, extra=accounts()))


def get(ds, path, cookies=None):
    return asyncio.run(ds.client.get(path, cookies=cookies))


def page(ds, path, cookies=None) -> Text:
    response = get(ds, path, cookies)
    assert response.status_code == 200, (path, response.text[:400])
    return Text(response.text)


def test_an_association_page_lists_the_letters_it_signed_with_their_status(source, french):
    _, ds = french
    listing = page(ds, "/-/associations")
    assert "Comité contre l'esclavage moderne" in listing.text and "1 courrier cosigné" in listing.text
    assert "/-/associations/ccem" in listing.links and "/-/associations/amicale-du-nid" in listing.links
    ccem = page(ds, "/-/associations/ccem")
    mid, subject, thread, _ = source["signed"]
    assert subject in ccem.text and source["unsigned"][1] not in ccem.text
    assert f"/tracker/threads/{thread}" in ccem.links
    assert "Ministère de l'Intérieur" in ccem.text
    assert re.search(r"(en attente|répondu|accusé|non distribué)", ccem.text)
    assert get(ds, "/-/associations/ligue-des-songes").status_code == 404


def test_a_body_page_shows_its_commitments_past_due_due_soon_later_and_settled(source, french):
    _, ds = french
    html = get(ds, "/-/commitments/interieur").text
    sections = {name: html.split(f'id="{name}"')[1].split("<h2")[0]
                for name in ("overdue", "due_soon", "later", "settled")}
    assert "une circulaire aux préfets" in sections["overdue"] and "en retard" in sections["overdue"]
    assert "un rendez-vous au cabinet" in sections["due_soon"] and "au téléphone" in sections["due_soon"]
    assert "une réponse écrite" in sections["later"] and "sans date" in sections["later"]
    assert "un groupe de travail" in sections["settled"] and "réuni le 2 juin" in sections["settled"]
    assert "une instruction aux parquets" not in html  # the Justice's
    assert "31/12/2025" in html and "2025-12-31" not in Text(html).text
    summary = page(ds, "/-/commitments")
    assert "/-/commitments/interieur" in summary.links and "/-/commitments/justice" in summary.links
    assert "/-/commitments/travail" not in summary.links  # no commitment
    # linked from the body's page and from a thread page
    assert "/-/commitments/interieur" in page(ds, "/tracker/correspondents/interieur").links
    thread = page(ds, f"/tracker/threads/{source['signed'][2]}")
    assert "/-/commitments/interieur" in thread.links
    assert any(link.startswith("/-/cosigners?letter=") for link in thread.links)


def test_the_pages_in_english(source, english):
    _, ds = english
    text = page(ds, "/-/commitments/interieur").text
    assert "Commitments past due" in text and "Due in the next 30 days" in text and "on the phone" in text
    assert "Engagements" not in text and "en attente" not in text
    assert "1 letter co-signed" in page(ds, "/-/associations").text
    assert "Addressees and status" in page(ds, "/-/associations/ccem").text
    assert "Co-signers" in page(ds, f"/-/cosigners?letter={source['signed'][0]}").text


def test_the_cosigners_page_flags_what_is_set(source, french):
    _, ds = french
    html = get(ds, f"/-/cosigners?letter=<{source['signed'][0]}>").text
    assert re.search(r'name="member-ccem" value="ccem" checked', html)
    assert re.search(r'name="member-amicale-du-nid" value="amicale-du-nid" checked', html)
    other = get(ds, f"/-/cosigners?letter={source['unsigned'][0]}").text
    assert "checked" not in other
    assert get(ds, "/-/cosigners?letter=nowhere@x").status_code == 404


def test_nothing_from_the_private_store(source, french):
    _, ds = french
    for path in ROUTES[:-1] + [ROUTES[-1] + source["signed"][0], ROUTES[-1] + source["unsigned"][0]]:
        response = get(ds, path)
        assert response.status_code == 200, path
        assert "NEVER-SERVED" not in response.text and "X-Private-Marker" not in response.text, path
    assert all("private" not in name for name in ds.databases)


def test_a_visitor_logs_in_a_member_reads_without_forms_a_coordinator_gets_them(source, with_logins):
    _, ds = with_logins
    paths = ROUTES[:-1] + [ROUTES[-1] + source["signed"][0]]

    async def go():
        anonymous = [await ds.client.get(p) for p in paths]
        bob = await login(ds, "bob")
        member = [await ds.client.get(p, cookies=bob) for p in paths]
        alice = await login(ds, "alice")
        coordinator = [await ds.client.get(p, cookies=alice) for p in paths]
        return anonymous, member, coordinator

    anonymous, member, coordinator = asyncio.run(go())
    for path, response in zip(paths, anonymous):
        assert response.status_code == 302 and response.headers["location"].endswith("/-/login"), path
    for path, response in zip(paths, member):
        assert response.status_code == 200, path
        assert "/-/desk/act" not in response.text, path
    assert "commitment_add" in coordinator[3].text and 'value="commitment_kept"' in coordinator[3].text
    assert 'value="cosigners"' in coordinator[4].text


def count(config, sql, params=()):
    db = store.open_db(config.database, private=config.private_database)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.conn.close()


def test_desk_actions_for_commitments_and_cosigners(source, with_logins):
    config, ds = with_logins
    thread = source["signed"][2]
    letter = source["unsigned"][0]

    async def go():
        alice = await login(ds, "alice")
        cookies, csrf = await token(ds, alice, "/-/commitments/interieur")
        post = lambda form, who=cookies: ds.client.post("/-/desk/act", data={"csrftoken": csrf, **form}, cookies=who)
        added = await post({"action": "commitment_add", "correspondent": "interieur", "thread": thread,
                            "words": "saisir les préfets", "due_on": "15/01/2027", "said_in": "meeting",
                            "said_on": "02/12/2026", "note": "reçus par le directeur"})
        new = count(config, "select id, thread_id, due_on, said_on, made_by, status from commitments "
                            "where words = 'saisir les préfets'")
        broken = await post({"action": "commitment_not_kept", "commitment": str(new[0][0]), "note": "rien"})
        unknown = await post({"action": "commitment_kept", "commitment": "999"})
        empty = await post({"action": "commitment_add", "correspondent": "interieur", "words": " "})
        signed = await post({"action": "cosigners", "letter": letter, "member-ccem": "ccem"})
        forged = await ds.client.post("/-/desk/act", data={"csrftoken": csrf[:-2] + "xx", "action": "commitment_kept",
                                                           "commitment": str(new[0][0])}, cookies=cookies)
        bob = await login(ds, "bob")
        bob, bob_csrf = await token(ds, bob, "/-/commitments/interieur")
        from itsdangerous import URLSafeSerializer

        valid = URLSafeSerializer(ds._secret).dumps("member-token", "csrftoken")
        refused = [await ds.client.post("/-/desk/act", data={"csrftoken": valid, "action": action,
                                                               "commitment": "1", "letter": letter,
                                                               "correspondent": "interieur", "words": "x",
                                                               "member-ars": "ccem"},
                                        cookies={**who, "ds_csrftoken": valid})
                   for who in (bob, {}) for action in ("commitment_add", "commitment_dropped", "cosigners")]
        return added, new, broken, unknown, empty, signed, forged, refused

    added, new, broken, unknown, empty, signed, forged, refused = asyncio.run(go())
    assert added.status_code == 302 and added.headers["location"] == f"/-/commitments/interieur#c{new[0][0]}"
    assert new == [(new[0][0], thread, "2027-01-15", "2026-12-02", "alice", "pending")]
    assert broken.status_code == 302
    assert count(config, "select status, note, updated_by from commitments where id = ?",
                 [new[0][0]]) == [("not_kept", "rien", "alice")]
    assert unknown.status_code == 400 and "no commitment has the id 999" in unknown.text
    assert empty.status_code == 400 and "needs the body's words" in html.unescape(empty.text)
    assert signed.status_code == 302 and signed.headers["location"].startswith("/-/cosigners?letter=")
    assert count(config, "select member, set_by from cosigners where message_id = ?", [letter]) == [("ccem", "alice")]
    assert forged.status_code == 403
    assert [r.status_code for r in refused] == [403] * 6
    assert count(config, "select status from commitments where id = 1") == [("pending",)]
    assert count(config, "select count(*) from commitments where words = 'x'") == [(0,)]


def test_under_a_base_url_prefix(source, tmp_path):
    config = load(copy_of(source, tmp_path))
    ds = make_datasette(config, base_url="/suivi/")
    asyncio.run(ds.invoke_startup())
    # datasette.client puts the prefix in front of every path itself
    body = page(ds, "/-/commitments/interieur")
    assert "/suivi/-/commitments" in body.links and "/suivi/tracker/correspondents/interieur" in body.links
    assert 'action="/suivi/-/desk/act"' in get(ds, "/-/commitments/interieur").text
    assert "/suivi/-/associations/ccem" in page(ds, "/-/associations").links
    thread = page(ds, f"/tracker/threads/{source['signed'][2]}")
    assert "/suivi/-/commitments/interieur" in thread.links
    assert any(link.startswith("/suivi/-/cosigners?letter=") for link in thread.links)
