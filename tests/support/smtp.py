"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

``smtp_server(security)`` starts one in plain text, STARTTLS (required, with a trustme
certificate and AUTH) or implicit TLS (``ssl``), and stops it afterwards. Tests read
back ``server.messages`` (parsed with the stdlib, ``policy.default``) and
``server.logins``.
"""

from __future__ import annotations

import contextlib
import email
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Iterator

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "tracker@collectif.example.org"
PASSWORD = "mot de passe à accents é"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """One delivery: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class Server:
    host: str
    port: int
    security: str
    ca_file: Path | None
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]


class _Handler:
    def __init__(self, server: Server) -> None:
        self.server = server

    async def handle_DATA(self, smtp, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        self.server.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(raw, policy=policy.default),
                raw,
            )
        )
        return "250 Message accepted for delivery"


def _authenticator(server: Server):
    def check(smtp, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USERNAME
            and auth_data.password.decode() == PASSWORD
        )
        if ok:
            server.logins.append(USERNAME)
        return AuthResult(success=ok, handled=False)

    return check


@contextlib.contextmanager
def smtp_server(security: str, folder: Path) -> Iterator[Server]:
    """An SMTP server on 127.0.0.1: ``none`` (plain, no AUTH), ``starttls`` (STARTTLS
    required, AUTH with USERNAME/PASSWORD) or ``ssl`` (implicit TLS, AUTH)."""
    server = Server("127.0.0.1", free_port(), security, None)
    kwargs: dict = {}
    if security in ("starttls", "ssl"):
        ca = trustme.CA()
        certificate = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        server.ca_file = folder / "smtp-test-ca.pem"
        ca.cert_pem.write_to_path(str(server.ca_file))
        kwargs.update(authenticator=_authenticator(server))
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        else:
            # aiosmtpd 1.4 only counts STARTTLS as TLS; the whole connection is TLS here
            kwargs.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(_Handler(server), hostname=server.host, port=server.port, **kwargs)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
