"""DNS rebinding: without logins, the real server answers only to its own host names."""

from __future__ import annotations

import http.client

from tests.test_publish import build_database
from tests.test_publish_server import running_server


def request(url: str, host: str) -> tuple[int, str]:
    netloc = url.split("//", 1)[1].split("/", 1)[0]
    name, port = netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(name, int(port), timeout=10)
    try:
        connection.request("GET", "/tracker.json?sql=select+body_text+from+messages", headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def test_foreign_host_names_are_refused(tmp_path):
    config = build_database(tmp_path, extra='[digest]\nbase_url = "https://suivi.collectif.example.org/"\n')
    with running_server(config.path) as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        status, body = request(url, f"attacker.example:{port}")
        assert status == 421 and "Monsieur" not in body and "rebinding" not in body
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "suivi.collectif.example.org"):
            status, body = request(url, host)
            assert status == 200, (host, status)


def test_a_month_facet_on_an_unknown_column_is_ignored_not_an_error(tmp_path):
    import asyncio

    from tracker import web as publish

    config = build_database(tmp_path)
    ds = publish.make_datasette(config)
    asyncio.run(ds.invoke_startup())
    response = asyncio.run(ds.client.get("/tracker/messages.json?_facet_month=nosuchcolumn"))
    assert response.status_code == 200
    assert "nosuchcolumn" not in response.json()["facet_results"]
    months = asyncio.run(ds.client.get("/tracker/messages.json?_facet_month=date")).json()
    assert months["facet_results"]["date"]["results"], "the month facet still works on a real column"
