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


def test_private_tables_and_leaks_are_refused_by_the_real_server(private):
    with running_server(private.path) as url:
        get(url + "/tracker.json?sql=" + quote("select 'PRIVATE-OTHER-VISITOR' as x"))
        for sql in ALL_QUERIES:
            for path in ("/tracker.json?sql=", "/tracker.csv?sql=", "/tracker?sql="):
                status, _, body = get(url + path + quote(sql))
                check_refused(sql, status, body, csv=".csv" in path)
        status, _, body = get(url + "/tracker.json?_shape=array&sql=" + quote("select count(*) as n from threads"))
        assert status == 200 and body == '[{"n": 3}]'
