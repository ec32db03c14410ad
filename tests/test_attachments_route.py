"""Attachments readable (issue 16): on the demo, served by a real ``tracker serve``, a thread
page shows a PDF's text folded and links the file; ``/-/attachments/ID`` sends exactly that
attachment's bytes (read by the child ``tracker attachment-bytes``), while the server process
never has the private store open or mapped (/proc); with logins, anonymous visitors get the
login page and members the file."""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import sqlite3
import urllib.request
from pathlib import Path

import pytest
from datasette.utils import tilde_encode

from tests.test_publish_server import get, running, running_server


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tracker import demo as demo_module

    return demo_module.build(tmp_path_factory.mktemp("attachments"))


def a_pdf(config: Path) -> dict:
    db = sqlite3.connect(config.parent / "tracker.db")
    db.row_factory = sqlite3.Row
    row = db.execute(
        "select a.id, a.sha256, a.text, a.filename, tm.thread_id from attachments a "
        "join thread_messages tm on tm.message_id = a.message_id "
        "where a.content_type = 'application/pdf' and length(a.text) > 20 order by a.id limit 1").fetchone()
    db.close()
    return dict(row)


def download(url: str, cookie: str | None = None) -> tuple[int, object, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers, response.read()


def test_a_thread_shows_the_pdf_text_and_serves_the_file_without_opening_the_private_store(demo):
    pdf = a_pdf(demo)
    with running_server(demo) as url:
        status, _, page = get(url + "/tracker/threads/" + tilde_encode(pdf["thread_id"]))
        assert status == 200
        link = re.search(r'<a href="(/-/attachments/[^"]+)" download>' + re.escape(pdf["filename"]), page)
        assert link, "no link to the file on the thread page"
        folded = re.findall(r'<details class="attachment-text"><summary>[^<]+</summary><pre>(.*?)</pre>', page, re.S)
        first_line = html.escape(pdf["text"].strip().splitlines()[0])
        assert any(first_line in text for text in folded), (first_line, folded)
        status, headers, body = download(url + link.group(1).replace("&amp;", "&"))
        assert status == 200 and body.startswith(b"%PDF")
        assert hashlib.sha256(body).hexdigest() == pdf["sha256"]  # that file, nothing else
        assert headers["Content-Disposition"].startswith("attachment;")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert get(url + "/-/attachments/" + tilde_encode("nothing@here/0"))[0] == 404
        pid = running.last.pid
        opened = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        maps = Path(f"/proc/{pid}/maps").read_text()
    assert not any("private" in Path(name).name for name in opened), opened
    assert "tracker-private.db" not in maps
    assert str(demo.parent / "tracker.db") in "".join(opened)  # it did serve the published file


def test_with_logins_anonymous_visitors_get_the_login_page_and_members_the_file(demo, tmp_path):
    from datasette_auth_passwords.utils import hash_password

    for name in ("tracker.db", "tracker-private.db"):
        shutil.copyfile(demo.parent / name, tmp_path / name)
    config = tmp_path / "tracker.toml"
    config.write_text(demo.read_text() + f'\n[auth]\npassword_hashes = {{ bob = "{hash_password("s3cret-pass")}" }}\n')
    pdf = a_pdf(config)
    path = "/-/attachments/" + tilde_encode(pdf["id"])
    with running_server(config) as url:
        status, headers, body = get(url + path)
        assert status == 302 and headers["location"].endswith("/-/login") and "PDF" not in body
        login = urllib.request.Request(url + "/-/login", data=b"username=bob&password=s3cret-pass", method="POST")
        opener = urllib.request.build_opener(NoRedirects())
        try:
            opener.open(login, timeout=10)
            raise AssertionError("the login did not redirect")
        except urllib.error.HTTPError as exc:
            cookie = exc.headers["set-cookie"].split(";")[0]
        status, _, body = download(url + path, cookie)
    assert status == 200 and hashlib.sha256(body).hexdigest() == pdf["sha256"]


import urllib.error  # noqa: E402


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_postal_scan_is_served_from_the_private_store_by_the_child(demo, tmp_path):
    """The desk's postal scans: the thread page links /-/scans/ID, which sends the scan's bytes
    (private scan_files, read by `tracker attachment-bytes --scan`), the server never opening it."""
    from tracker import store
    from tracker.config import load
    from tracker.demo.mime import make_pdf
    from tracker.thread import desk

    for name in ("tracker.db", "tracker-private.db"):
        shutil.copyfile(demo.parent / name, tmp_path / name)
    config_path = tmp_path / "tracker.toml"
    config_path.write_text(demo.read_text())
    config = load(config_path)
    db = store.open_db(config.database, private=config.private_database)
    thread = db.execute("select id from threads where status = 'awaiting_reply' order by id limit 1").fetchone()[0]
    scan = make_pdf("réponse par courrier postal") + b"%SCAN-BYTES-ONLY-IN-THE-PRIVATE-STORE"
    desk.answered_by_post(db, config, thread, "3 mars 2026", scan=desk.Upload("courrier.pdf", scan))
    db.close()
    with running_server(config_path) as url:
        status, _, page = get(url + "/tracker/threads/" + tilde_encode(thread))
        link = re.search(r'<a href="(/-/scans/\d+)" download>', page)
        assert status == 200 and link, "no link to the scan on the thread page"
        status, headers, body = download(url + link.group(1))
        assert get(url + "/-/scans/999999")[0] == 404
        pid = running.last.pid
        opened = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        maps = Path(f"/proc/{pid}/maps").read_text()
    assert status == 200 and body == scan and headers["Content-Disposition"].startswith("attachment;")
    assert not any("private" in Path(name).name for name in opened) and "tracker-private.db" not in maps
