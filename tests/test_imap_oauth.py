"""XOAUTH2 login (Gmail, Microsoft 365): the token comes from oauth2_token_command, fresh each
run, and goes to the server in an AUTHENTICATE XOAUTH2 exchange; it is never logged or shown.

Driven through imapclient's TestableIMAPClient (no network), like imapclient's own tests, and
once end to end against Dovecot's oauth2 passdb with a local token introspection endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from imapclient.exceptions import LoginError
from imapclient import testable_imapclient

from tests.conftest import write_config
from tracker import config as config_module
from tracker.sources import imap
from tracker.store import sync as imap_sync

TOKEN = "ya29.a0AfH6SMB-fresh-token"


class FakeServer(testable_imapclient.TestableIMAPClient):
    """A TestableIMAPClient built the way connect() builds an IMAPClient."""

    made: list["FakeServer"] = []

    def __init__(self, host, port, ssl=True, ssl_context=None, timeout=None):
        super().__init__()
        self.args = (host, port, ssl, ssl_context, timeout)
        self._imap.authenticate.return_value = ("OK", [b"Logged in"])
        FakeServer.made.append(self)


def mailbox(tmp_path: Path, command: str):
    script = tmp_path / "token.py"
    script.write_text(command)
    toml = (
        '[mailbox]\nhost = "outlook.office365.com"\nport = 993\nsecurity = "ssl"\n'
        'username = "coordination@collectif.example.org"\n'
        f'oauth2_token_command = "{sys.executable} {script}"\n'
    )
    return config_module.load(write_config(tmp_path, toml)).mailbox


def test_xoauth2_login_with_the_token_the_command_prints(tmp_path):
    box = mailbox(tmp_path, f"print('{TOKEN}')\n")
    client = imap.connect(box, FakeServer)

    host, port, use_ssl, context, timeout = client.args
    assert (host, port, use_ssl) == ("outlook.office365.com", 993, True)
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"
    client._imap.login.assert_not_called()  # no password login
    (mechanism, respond), _ = client._imap.authenticate.call_args
    assert mechanism == "XOAUTH2"
    # RFC-less but documented by Google and Microsoft: user=...^Aauth=Bearer ...^A^A
    assert respond(None) == f"user=coordination@collectif.example.org\1auth=Bearer {TOKEN}\1\1"


def test_a_failing_token_command_says_so_without_logging_in(tmp_path):
    box = mailbox(tmp_path, "import sys\nprint('refresh token expired', file=sys.stderr)\nsys.exit(3)\n")
    FakeServer.made.clear()
    with pytest.raises(imap.SyncError, match=r"oauth2_token_command failed \(exit 3: refresh token expired\)"):
        imap.connect(box, FakeServer)
    assert FakeServer.made[0]._imap.authenticate.call_count == 0


def test_a_rejected_token_is_a_login_error_without_the_token(tmp_path):
    box = mailbox(tmp_path, f"print('{TOKEN}')\n")

    class Refusing(FakeServer):
        def oauth2_login(self, *args, **kwargs):
            raise LoginError("[AUTHENTICATIONFAILED] Invalid credentials")

    with pytest.raises(imap.SyncError) as failure:
        imap.connect(box, Refusing)
    message = str(failure.value)
    assert "refused the login" in message and "oauth2_token_command" in message
    assert TOKEN not in message


def test_xoauth2_sync_against_dovecot(tmp_path):
    """End to end: Dovecot's oauth2 passdb asks a local introspection endpoint about the token
    the command printed; the sync then runs as with a password."""
    import json
    import tempfile
    import threading
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from tests.support.dovecot import Dovecot, french_letters
    from tracker import store

    tokens: list[str] = []

    class Introspection(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            tokens.append(form["token"][0])
            body = json.dumps({"active": form["token"][0] == TOKEN, "username": "user1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Introspection)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = Dovecot(
        Path(tempfile.mkdtemp(prefix="tracker-dovecot-")),
        oauth2_introspection_url=f"http://127.0.0.1:{httpd.server_port}/introspect",
    ).start()
    try:
        user = server.add_user()
        server.deliver(user, french_letters(5, seed=41))
        script = tmp_path / "token.py"
        script.write_text(f"print('{TOKEN}')\n")
        toml = server.mailbox_toml(user).replace(
            'password_env = "TRACKER_TEST_IMAP_PASSWORD"',
            f'oauth2_token_command = "{sys.executable} {script}"',
        )
        config = config_module.load(write_config(tmp_path, toml))
        summary = imap_sync.sync(store.open_db(config.database), config, workers=1)
        assert summary.new == 5
        assert tokens == [TOKEN]
    finally:
        server.destroy()
        httpd.shutdown()
