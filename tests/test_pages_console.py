"""Datasette's generic pages only for admins once logins exist (tracker/web/console.py): a member
gets tracker's own page for the threads table and the ready-made queries that have one, a 403 in
the page's language for the other tables (HTML, JSON, CSV), the ready-made queries' JSON and CSV,
a database page without tables, and still every row page (thread, body, message); an admin gets
them all; anonymous visitors get the login page (SQL's refusal is tests/test_web_privacy.py's)."""

from __future__ import annotations

import asyncio

import pytest

from tests.test_publish import RAW_SECRET, build_database
from tracker import web as publish
from tracker.web.console import console_name

CONSOLE = ["/tracker/messages", "/tracker/messages.json", "/tracker/threads.csv", "/tracker/threads.json",
           "/tracker/recipients?_facet=role", "/tracker/marks"]
REDIRECTED = {"/tracker/threads": "/-/threads", "/tracker/unanswered": "/-/unanswered",
              "/tracker/responsiveness": "/-/responsiveness"}
ROWS = ["/tracker/threads/t-sante-1", "/tracker/correspondents/sante", "/-/threads", "/-/unanswered", "/",
        "/tracker", "/tracker/unanswered.json", "/tracker/unanswered.csv"]


@pytest.fixture(scope="module")
def responses(tmp_path_factory):
    from datasette_auth_passwords.utils import hash_password

    hashed = hash_password("s3cret-pass")
    config = build_database(
        tmp_path_factory.mktemp("console"),
        extra=f'[auth]\npassword_hashes = {{ carol = "{hashed}", bob = "{hashed}" }}\nadmins = ["carol"]\n')

    async def go():
        ds = publish.make_datasette(config)
        await ds.invoke_startup()
        seen = {}
        for who in (None, "bob", "carol"):
            cookies = {}
            if who:
                login = await ds.client.post("/-/login", data={"username": who, "password": "s3cret-pass"})
                cookies = {"ds_actor": login.cookies["ds_actor"]}
            for path in CONSOLE + list(REDIRECTED) + ROWS:
                seen[who, path] = await ds.client.get(path, cookies=cookies)
        return seen

    return asyncio.run(go())


def test_members_get_tracker_pages_or_a_403_never_the_console(responses):
    for path in CONSOLE:
        response = responses["bob", path]
        assert response.status_code == 403, (path, response.status_code)
        assert "réservée aux administrateurs" in response.text, path
        assert "Santé" not in response.text and "sante" not in response.text, path
        assert RAW_SECRET.decode() not in response.text, path
    for path, own in REDIRECTED.items():
        response = responses["bob", path]
        assert response.status_code == 302 and response.headers["location"] == own, path
    for path in ROWS:
        assert responses["bob", path].status_code == 200, path
    # the database page lists ready-made queries, no table, no SQL editor
    database = responses["bob", "/tracker"].text
    assert 'id="queries"' in database and 'id="tables"' not in database and 'name="sql"' not in database
    assert 'id="tables"' in responses["carol", "/tracker"].text


def test_admins_get_the_console_and_anonymous_visitors_the_login_page(responses):
    for path in CONSOLE + list(REDIRECTED) + ROWS:
        assert responses["carol", path].status_code == 200, path
        anonymous = responses[None, path]
        assert anonymous.status_code in (302, 403) and "Santé" not in anonymous.text, path
        if anonymous.status_code == 302:
            assert anonymous.headers["location"] == "/-/login", path
    assert RAW_SECRET.decode() not in responses["carol", "/tracker/messages.json"].text


def test_console_paths():
    assert console_name("/tracker") == "" and console_name("/tracker.json") == ""
    assert console_name("/tracker/threads") == "threads" and console_name("/tracker/threads.csv") == "threads"
    assert console_name("/tracker/threads/t-1") is None and console_name("/-/threads") is None
    assert console_name("/") is None
