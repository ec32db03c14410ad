"""Issue 13, the web side: nothing private within reach of SQL, SQL for admins only, CSV cells
that no spreadsheet runs, and a login cookie fit for a network.

Each private table is put back into the *published* file here (an old database, a migration
not yet run): the second wall must hold on its own. The queries are tried in-process with
``datasette.client`` and over HTTP against a real ``tracker serve``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from urllib.parse import quote

import pytest

from tests.test_publish import build_database
from tests.test_publish_server import get, running_server
from tracker import web as publish
from tracker.web.settings import NEVER_SERVED


def marker(table: str) -> str:
    return f"PRIVATE-{table.upper()}-MARKER"


def with_private_tables(config):
    """Every name of ``NEVER_SERVED`` as a table of the published file, holding its marker."""
    conn = sqlite3.connect(config.database)
    with conn:
        for table in NEVER_SERVED:
            conn.execute(f"drop table if exists {table}")
            conn.execute(f"create table {table} (raw blob, secret text)")
            conn.execute(f"create index {table}_secret on {table} (secret)")
            conn.execute(f"insert into {table} values (?, ?)", (marker(table).encode(), marker(table)))
    conn.close()
    return config


def private_queries(table: str) -> list[str]:
    """The queries of issue 13 item 1 (and their cousins) against ``table``."""
    return [
        f"select cast(raw as text) from (select null as raw) x full join {table} using(raw) limit 1 offset 1",
        f"select secret from (select null as secret) x full join {table} using(secret) limit 1 offset 1",
        f"select raw from {table} natural full join (select null as raw)",
        f"select secret from (select null as secret) natural full join {table}",
        f"select secret from (select null as secret) x left join {table} using(secret)",
        f'select cast(raw as text) from (select null as raw) x full join "{table.upper()}" using(raw)',
        f"select count(*) from {table}",
        f"select 1 from (select 1) left join {table}",
        f"select * from {table}",
        f"with r as (select * from main.{table}) select * from r",
    ]


LEAKS = [  # issue 13 item 9
    "select sql from sqlite_stmt",
    "select * from sqlite_stmt",
    "select hex(fts3_tokenizer('simple'))",
    "select fts3_tokenizer('porter')",
    "select * from dbstat",
    "select name, pgsize from dbstat where name = 'raw_messages'",
    "select load_extension('/tmp/nothing')",
]

ALL_QUERIES = [q for t in NEVER_SERVED for q in private_queries(t)] + LEAKS


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    return with_private_tables(build_database(tmp_path_factory.mktemp("private")))


def check_refused(sql: str, status: int, body: str, csv: bool = False) -> None:
    # Datasette's CSV of a failing query is an empty 200 response
    assert status in (400, 403) or (csv and body.strip() == ""), (sql, status, body[:300])
    for table in NEVER_SERVED:
        assert marker(table) not in body, sql
    assert "PRIVATE-OTHER-VISITOR" not in body, sql  # another request's SQL (sqlite_stmt)
    if body.startswith("{"):  # JSON: no rows at all (a pointer, the sizes of private tables)
        assert json.loads(body)["rows"] == [], sql


def test_private_tables_and_leaks_are_refused_in_process(private):
    ds = publish.make_datasette(private)

    async def go():
        await ds.invoke_startup()
        # another visitor's SQL, which sqlite_stmt would show
        await ds.client.get("/tracker.json?sql=" + quote("select 'PRIVATE-OTHER-VISITOR' as x"))
        return [await ds.client.get("/tracker.json?sql=" + quote(sql)) for sql in ALL_QUERIES]

    for sql, response in zip(ALL_QUERIES, asyncio.run(go())):
        check_refused(sql, response.status_code, response.text)


def test_sql_as_such_still_works(private):
    ds = publish.make_datasette(private)

    async def go():
        await ds.invoke_startup()
        return [await ds.client.get("/tracker.json?_shape=array&sql=" + quote(sql)) for sql in (
            "select count(*) as n from messages",
            "select subject from messages natural join recipients limit 1",
            "select m.subject from (select null as subject) x full join messages m using(subject) limit 1",
            "explain select subject from messages",
            "select upper('ok') as x",
        )]

    responses = asyncio.run(go())
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert responses[0].json() == [{"n": 9}]
    assert "OpenRead" in responses[3].text


def test_private_tables_and_leaks_are_refused_by_the_real_server(tmp_path):
    config = build_database(tmp_path)
    with running_server(config.path) as url:
        # put back into the published file while it is served: at its start `tracker serve` has
        # any it finds moved to the private store (tests/test_private_store.py)
        with_private_tables(config)
        get(url + "/tracker.json?sql=" + quote("select 'PRIVATE-OTHER-VISITOR' as x"))
        for sql in ALL_QUERIES:
            for path in ("/tracker.json?sql=", "/tracker.csv?sql=", "/tracker?sql="):
                status, _, body = get(url + path + quote(sql))
                check_refused(sql, status, body, csv=".csv" in path)
        status, _, body = get(url + "/tracker.json?_shape=array&sql=" + quote("select count(*) as n from threads"))
        assert status == 200 and body == '[{"n": 3}]'


# --- SQL for admins only ---------------------------------------------------------------------

PASSWORDS = {"alice": "alice-s3cret-pass", "bob": "bob-s3cret-pass"}


def with_accounts(folder, admins='["alice"]', extra=""):
    from datasette_auth_passwords.utils import hash_password

    hashes = ", ".join(f'{user} = "{hash_password(pw)}"' for user, pw in PASSWORDS.items())
    return build_database(folder, extra=f"{extra}\n[auth]\npassword_hashes = {{ {hashes} }}\nadmins = {admins}\n")


async def login(ds, user):
    response = await ds.client.post("/-/login", data={"username": user, "password": PASSWORDS[user]})
    assert response.status_code == 302, response.text
    return {"ds_actor": response.cookies["ds_actor"]}


SQL = "/tracker.json?_shape=array&sql=" + quote("select subject from messages order by date limit 1")
CANNED = "/tracker/letters_to.json?_shape=array&correspondent=" + quote("Santé")
WHERE = "/tracker/messages.json?_shape=array&_where=" + quote("subject like '%soins%'")


def test_sql_belongs_to_admins_once_logins_exist(tmp_path):
    config = with_private_tables(with_accounts(tmp_path))
    ds = publish.make_datasette(config)
    leak = "/tracker.json?sql=" + quote(private_queries("raw_messages")[0])

    async def go():
        await ds.invoke_startup()
        admin, member = await login(ds, "alice"), await login(ds, "bob")
        paths = [SQL, CANNED, WHERE, "/tracker", leak]
        return ({who: [await ds.client.get(p, cookies=c) for p in paths]
                 for who, c in (("admin", admin), ("member", member), ("anonymous", None))})

    got = asyncio.run(go())
    admin, member, anonymous = got["admin"], got["member"], got["anonymous"]
    assert admin[0].status_code == 200 and admin[0].json() == [{"subject": "Conditions de rétention administrative"}]
    assert admin[2].status_code == 200 and len(admin[2].json()) == 1
    assert 'name="sql"' in admin[3].text  # the SQL editor on the database page
    check_refused("admin", admin[4].status_code, admin[4].text)  # the wall holds for admins too
    assert member[0].status_code == 403 and "rétention" not in member[0].text
    assert member[2].status_code == 403 and "soins" not in member[2].text.replace("soins%", "")
    assert member[1].status_code == 200 and [r["thread_id"] for r in member[1].json()] == ["t-sante-1"]
    assert member[3].status_code == 200 and 'name="sql"' not in member[3].text
    assert admin[1].status_code == 200
    for response in anonymous:
        assert response.status_code in (302, 403) and "rétention" not in response.text


def test_no_admins_means_no_sql_for_anyone_with_logins(tmp_path):
    config = with_accounts(tmp_path, admins="[]")
    ds = publish.make_datasette(config)

    async def go():
        await ds.invoke_startup()
        return [await ds.client.get(p, cookies=await login(ds, "alice")) for p in (SQL, CANNED)]

    sql, canned = asyncio.run(go())
    assert sql.status_code == 403 and canned.status_code == 200


def test_loopback_without_logins_keeps_sql(private):
    response = asyncio.run(publish.make_datasette(private).client.get(SQL))
    assert response.status_code == 200 and response.json()[0]["subject"]


def test_an_admin_without_an_account_is_a_config_error(tmp_path):
    from tests.conftest import write_config
    from tracker import config as config_module

    path = write_config(tmp_path, '[auth]\npassword_hashes = { alice = "pbkdf2_sha256$1$x$y" }\nadmins = ["mallory"]\n')
    with pytest.raises(config_module.ConfigError, match=r"auth\.admins names 'mallory'.*password_hashes"):
        config_module.load(path)


# --- CSV cells no spreadsheet runs ------------------------------------------------------------

FORMULA = '=HYPERLINK("http://203.0.113.9/x","cliquez")'
PLUS_NAME = "+33 Mallory, cabinet"
AT_NAME = "@mallory"
TAB_NAME = "\t-1+1"


def with_formulas(config):
    from datetime import datetime, timezone

    from tests.test_publish import _message
    from tracker import store

    db = store.open_db(config.database)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _message(db, "<f1@interieur>", now, "incoming", "reply", "cabinet@interieur.gouv.fr", FORMULA,
             "-2+3 corps", [("coordination@collectif.example.org", AT_NAME), ("x@collectif.example.org", TAB_NAME)],
             from_name=PLUS_NAME)
    db.conn.close()
    return config


def csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))


def test_datasette_csv_exports_neutralize_formulas(tmp_path):
    from tracker.report.reports import spreadsheet_safe

    config = with_formulas(build_database(tmp_path))
    ds = publish.make_datasette(config)
    paths = [
        "/tracker/messages.csv?_size=max",
        "/tracker/messages.csv?_stream=1&_dl=1",
        "/tracker/recipients.csv?_size=max&_labels=on",
        "/tracker/replies_this_week.csv",
        "/tracker.csv?sql=" + quote("select subject, from_name, '-5' as minus, 7 as n from messages"),
    ]

    async def go():
        await ds.invoke_startup()
        return [await ds.client.get(p) for p in paths]

    seen = set()
    for path, response in zip(paths, asyncio.run(go())):
        assert response.status_code == 200, (path, response.text[:300])
        assert "content-length" not in response.headers or int(response.headers["content-length"]) == len(response.content)
        rows = csv_rows(response.text)
        assert len(rows) > 2, path
        for row in rows:
            for cell in row:
                assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (path, cell)
                seen.add(cell)
    for value in (FORMULA, PLUS_NAME, AT_NAME, TAB_NAME, "-2+3 corps", "-5"):
        assert spreadsheet_safe(value) in seen, value
    assert "7" in seen  # other cells untouched


def test_csv_cells_neutralized_wherever_the_stream_is_cut():
    import csv
    import io
    import random

    from tracker.report.reports import spreadsheet_safe
    from tracker.web.responses import CsvCells

    parts = ["=1+1", "+x", "-", "@", "\tt", "\rcr", '"quoted", =no', '=a""b', "", "plain", "a\r\n=b",
             '""', "é=", "-3", "ok,=x", "\n=y"]
    rng = random.Random(13)
    rows = [[rng.choice(parts) for _ in range(rng.randint(1, 5))] for _ in range(200)]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    data = out.getvalue().encode()
    for size in (1, 2, 3, 5, 7, 64, len(data)):
        cells = CsvCells()
        body = b"".join(cells.feed(data[i:i + size]) for i in range(0, len(data), size))
        assert csv_rows(body.decode()) == [[spreadsheet_safe(c) for c in row] for row in rows], size


# --- over a network ---------------------------------------------------------------------------

SECRET = "test-secret-for-signing-cookies-only"


def real_login(url: str, user: str = "alice") -> str:
    """POST the login form to a real server; the raw Set-Cookie header of ds_actor."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from tests.test_publish_server import NoRedirect

    data = urllib.parse.urlencode({"username": user, "password": PASSWORDS[user]}).encode()
    try:
        urllib.request.build_opener(NoRedirect).open(urllib.request.Request(url + "/-/login", data=data), timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        cookies = [c for c in exc.headers.get_all("set-cookie") if c.startswith("ds_actor=")]
        assert len(cookies) == 1, cookies
        return cookies[0]
    raise AssertionError("the login should redirect")


def cookie_attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts[1:]}


@pytest.mark.parametrize("base_url, secure", [("https://suivi.collectif.example.org", True),
                                              ("http://127.0.0.1:8001", False)])
def test_login_cookie_from_a_real_server(tmp_path, base_url, secure):
    import time

    from datasette.app import Datasette
    from datasette.utils import baseconv

    config = with_accounts(tmp_path, extra=f'[digest]\nbase_url = "{base_url}"\n')
    with running_server(config.path, env={"TRACKER_DATASETTE_SECRET": SECRET}) as url:
        header = real_login(url)
        value = header.split(";")[0]
        status, _, body = get(url + "/tracker/threads/t-sante-1", value)
        assert status == 200 and "Accès aux soins" in body
    attributes = cookie_attributes(header)
    assert "httponly" in attributes and attributes["samesite"].lower() == "lax"
    assert attributes["max-age"] == str(12 * 3600) and attributes["path"] == "/"
    assert ("secure" in attributes) is secure
    signed = Datasette(secret=SECRET).unsign(value.split("=", 1)[1], "actor")
    assert signed["a"] == {"id": "alice"}
    expires = int(baseconv.base62.decode(signed["e"]))  # a copied cookie stops working too
    assert abs(expires - (time.time() + 12 * 3600)) < 120


def serve_stderr(config, host: str) -> str:
    from tests.test_publish_server import running

    with running_server(config.path, "--host", host):
        process = running.last
    process.wait(timeout=10)
    return process.stderr.read().decode()


def test_plain_http_on_a_network_prints_one_warning_line(tmp_path):
    (tmp_path / "plain").mkdir()
    plain = with_accounts(tmp_path / "plain")
    err = serve_stderr(plain, "0.0.0.0")
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "plain HTTP" in warnings[0] and "https://" in warnings[0], err
    assert "Caddyfile.example" in warnings[0]
    (tmp_path / "tls").mkdir()
    tls = with_accounts(tmp_path / "tls", extra='[digest]\nbase_url = "https://suivi.collectif.example.org"\n')
    assert "warning" not in serve_stderr(tls, "0.0.0.0")
    assert "warning" not in serve_stderr(plain, "127.0.0.1")
