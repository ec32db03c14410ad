"""``tracker serve`` for real: a subprocess on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_publish import RAW_SECRET, build_database
from tracker import store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(config_path: Path, *args: str, env: dict | None = None):
    """Start ``tracker serve`` and yield its root URL; stop it afterwards."""
    with running(["--config", str(config_path), "serve", *args], env) as url:
        yield url


@contextmanager
def running(arguments: list[str], env: dict | None = None, wait: float = 30):
    """Run ``tracker ARGUMENTS --port P`` until it listens on 127.0.0.1:P; yield the root URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", *arguments, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
    )
    running.last = process
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"tracker serve did not start: {process.communicate()[1].decode()}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    config = build_database(tmp_path_factory.mktemp("served"))
    with running_server(config.path) as url:
        yield config, url


def test_real_server_pages_and_headers(served):
    config, url = served
    status, headers, body = get(url + "/")
    assert status == 200 and "Lettres en retard de réponse" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    status, _, body = get(url + "/tracker/threads/t-sante-1")
    assert status == 200 and "Accès aux soins des personnes retenues" in body
    status, _, body = get(url + "/tracker/search.json?_shape=array&q=reponse+officielle")
    assert status == 200 and "reponse-ministere.pdf" in body
    # the raw bytes build_database wrote were moved to the private store before serving
    for path in ("/tracker/raw_messages", "/tracker.json?sql=select+raw+from+raw_messages"):
        status, _, body = get(url + path)
        assert status in (400, 403, 404) and RAW_SECRET.decode() not in body


def test_a_failing_search_leaves_no_search_words_on_stderr(tmp_path):
    """Datasette logs a failing query with its parameters; ``tracker serve`` keeps only the fact."""
    config = build_database(tmp_path)
    words = "Zorglub-Nadia-Quetzal"
    with running_server(config.path) as url:
        status, _, _ = get(url + "/tracker/messages?_searchmode=raw&_search=" + urllib.parse.quote(f'"{words}'))
        assert status >= 400  # an unbalanced quote is an FTS5 syntax error
        process = running.last
    process.wait(timeout=10)
    err = process.stderr.read().decode()
    assert "a database query failed" in err and words not in err and "sql =" not in err


def test_real_server_sees_concurrent_writes(served):
    """The database is served mutable (mode=ro), so what sync writes shows up at once."""
    config, url = served
    db = store.open_db(config.database)
    with db.conn:
        db.conn.execute(
            "insert into threads (id, correspondent_id, correspondent, subject, status, opened_at, overdue) "
            "values ('t-new', 'sante', 'Ministère de la Santé', 'Nouvelle lettre écrite pendant le service', "
            "'awaiting_reply', '2026-01-05T10:00:00+00:00', 0)"
        )
    db.conn.close()
    status, _, body = get(url + "/tracker/threads/t-new")
    assert status == 200 and "Nouvelle lettre écrite pendant le service" in body


def test_serve_refuses_a_public_host_without_logins(tmp_path):
    config = build_database(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config.path), "serve", "--host", "0.0.0.0",
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to serve on 0.0.0.0" in result.stderr and "password_hashes" in result.stderr


def test_real_server_with_logins_and_a_prefix(tmp_path):
    """Accounts configured: nothing without logging in; the password comes from the
    environment (here the test's), only its hash is in the config; under /suivi/."""
    from datasette_auth_passwords.utils import hash_password

    password = os.environ.get("TRACKER_TEST_WEB_PASSWORD", "correct horse battery")
    config = build_database(
        tmp_path,
        extra=f'base_url = "/suivi/"\n[auth]\npassword_hashes = {{ coordination = "{hash_password(password)}" }}\n',
    )
    with running_server(config.path) as url:
        status, headers, _ = get(url + "/suivi/")
        assert status == 302 and headers["location"] == "/suivi/-/login"
        status, _, body = get(url + "/suivi/tracker/threads.json")
        assert status in (302, 403) and "sante" not in body
        data = urllib.parse.urlencode({"username": "coordination", "password": password}).encode()
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(urllib.request.Request(url + "/suivi/-/login", data=data), timeout=10)
            raise AssertionError("the login should redirect")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302
            cookie = exc.headers["set-cookie"].split(";")[0]
        status, _, body = get(url + "/suivi/", cookie)
        assert status == 200 and "/suivi/tracker/correspondents/sante" in body
        status, _, body = get(url + "/suivi/tracker/threads/t-sante-1", cookie)
        assert status == 200


def test_demo_builds_and_serves(tmp_path):
    """`tracker demo`: the bundled mailbox imported into a fresh folder, served on loopback."""
    with running(["demo", "--dir", str(tmp_path / "demo")], wait=180) as url:
        status, _, body = get(url + "/")
        assert status == 200 and "Lettres en retard de réponse" in body
        assert "Ministère de l&#39;Intérieur" in body or "Ministère de l'Intérieur" in body
        status, _, body = get(url + "/tracker/threads.json?_shape=array&_size=1")
        assert status == 200 and '"status"' in body
    assert (tmp_path / "demo" / "tracker.db").exists()


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_taken_port_gives_one_line_suggesting_another_and_exit_1(command, tmp_path):
    """`tracker demo` / `tracker serve` on a port already listened on: no uvicorn traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        arguments = ["demo", "--dir", str(tmp_path / "demo")] if command == "demo" else \
            ["--config", str(build_database(tmp_path).path), "serve"]
        result = subprocess.run([sys.executable, "-m", "tracker", *arguments, "--port", str(port)],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and f"--port {port + 1}" in errors[0] and "already in use" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "errno" not in result.stderr.lower()
    assert "Serving" not in result.stderr  # no address that does not answer
