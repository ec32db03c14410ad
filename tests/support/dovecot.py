"""A real Dovecot IMAP server on 127.0.0.1 for tests and the benchmark.

Follows ``../shared/recipes/dovecot-loopback.md``: everything lives in one
temporary folder, the server listens on loopback only on a free port and runs
as ``nobody``. One server serves many tests: each test takes its own account
(``add_user``), so mailboxes never leak between tests.

Helpers drop messages straight into an account's Maildir or APPEND them over
IMAP, kill the server (SIGKILL, children included) and restart it, and change a
folder's UIDVALIDITY with ``doveadm``.

Usage in a test module::

    from tests.support.dovecot import dovecot_module  # noqa: F401  (the fixture)

    def test_x(dovecot_module):
        user = dovecot_module.add_user()
        dovecot_module.deliver(user, raw_bytes, folder="INBOX")
"""

from __future__ import annotations

import itertools
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Iterable, Iterator

import pytest

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PASSWORD = "secret-pw"
USERS = 64

_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login{mechanisms}
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_internal_user = nobody
default_internal_group = nogroup
default_login_user = nobody
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 50
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
{extra}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
  default_fields = uid=nobody gid=nogroup home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
  # no growing delay after the wrong-password tests (it applies even to trusted networks)
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  user = nobody
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
service auth-worker {{
  user = nobody
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
service log {{
  user = nobody
}}
service config {{
  user = nobody
}}
service dict {{
  user = nobody
}}
service dict-async {{
  user = nobody
}}
protocol imap {{
  mail_plugins =
}}
"""


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (Dovecot's master forks its services)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for child in parents.get(current, []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _utf7(name: str) -> str:
    from imapclient.imap_utf7 import encode

    return encode(name).decode("ascii")


class Dovecot:
    """One Dovecot instance in ``root``; ``tls=True`` adds an imaps port and STARTTLS."""

    def __init__(
        self,
        root: Path,
        *,
        tls: bool = False,
        mailboxes: dict[str, str] | None = None,
        oauth2_introspection_url: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.port = free_port()
        self.tls_port = free_port()
        self.tls = tls
        # name -> special-use flag ("" for none); auto-created in every account
        self.mailboxes = {"Sent": "\\Sent"} if mailboxes is None else mailboxes
        self.ca = None
        # XOAUTH2 logins checked by POSTing the token to this URL (RFC 7662 introspection)
        self.oauth2_url = oauth2_introspection_url
        self._users = itertools.count(1)
        self.nobody = pwd.getpwnam("nobody")
        self._write_config()

    # -- setup ---------------------------------------------------------------------
    def _write_config(self) -> None:
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # every folder above must be traversable by nobody; the root itself is made so here
        os.chmod(self.root, 0o755)
        ssl = "ssl = no"
        if self.tls:
            import trustme

            self.ca = trustme.CA()
            cert = self.ca.issue_cert("127.0.0.1", "localhost")
            cert.private_key_and_cert_chain_pem.write_to_path(str(self.root / "server.pem"))
            self.ca.cert_pem.write_to_path(str(self.root / "ca.pem"))
            ssl = (
                f"ssl = yes\nssl_cert = <{self.root}/server.pem\nssl_key = <{self.root}/server.pem"
            )
        boxes = "\n".join(
            f'  mailbox "{name}" {{\n'
            + (f"    special_use = {flag}\n" if flag else "")
            + "    auto = create\n  }"
            for name, flag in self.mailboxes.items()
        )
        mechanisms, extra = "", ""
        if self.oauth2_url:
            mechanisms = " xoauth2 oauthbearer"
            (self.root / "oauth2.conf.ext").write_text(
                f"introspection_mode = post\nintrospection_url = {self.oauth2_url}\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            )
            extra = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                     f"  args = {self.root}/oauth2.conf.ext\n}}\n")
        (self.root / "users").write_text(
            "".join(f"user{n}:{{PLAIN}}{PASSWORD}::::::\n" for n in range(1, USERS + 1))
        )
        (self.root / "dovecot.conf").write_text(
            _CONF.format(
                d=self.root, port=self.port, tls_port=self.tls_port, ssl=ssl, mailboxes=boxes,
                mechanisms=mechanisms, extra=extra,
            ),
            encoding="utf-8",
        )
        self._chown(self.root)

    def _chown(self, path: Path) -> None:
        uid, gid = self.nobody.pw_uid, self.nobody.pw_gid
        os.chown(path, uid, gid)
        for base, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(base, name), uid, gid)

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    # -- process -------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        try:
            return int((self.root / "run" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def start(self) -> "Dovecot":
        # the daemon keeps inherited pipes open: never capture its output
        with (self.root / "start.log").open("ab") as log:
            subprocess.run(
                [DOVECOT, "-c", str(self.root / "dovecot.conf")],
                check=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        self.wait_listening()
        return self

    def wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"Dovecot did not start; see {self.root}/dovecot.log")

    def kill(self) -> None:
        """SIGKILL the master and every child: the server dies mid-command."""
        pid = self.pid
        if pid is None:
            return
        victims = [pid] + _children(pid)
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(v) for v in victims):
            time.sleep(0.01)
        (self.root / "run" / "master.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        pid = self.pid
        if pid is None:
            return
        victims = [pid] + _children(pid)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        # a test server holds nothing worth a slow shutdown
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and any(_alive(v) for v in victims):
            time.sleep(0.01)
        if any(_alive(v) for v in victims):
            self.kill()

    def destroy(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        self.kill()
        self.start()

    # -- accounts and messages -----------------------------------------------------
    def add_user(self) -> str:
        """A fresh account (password PASSWORD); returns its user name.

        Accounts are written before the server starts: Dovecot re-reads its
        passwd-file at most once a second, so one added later may not log in yet.
        """
        name = f"user{next(self._users)}"
        if int(name[4:]) > USERS:
            raise RuntimeError(f"only {USERS} accounts per server; start another Dovecot")
        home = self.root / "home" / name
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        self._chown(home)
        return name

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The on-disk Maildir++ folder of an IMAP folder name (created if missing)."""
        base = self.root / "home" / user / "Maildir"
        path = base if folder == "INBOX" else base / ("." + _utf7(folder).replace("/", "."))
        if not (path / "cur").is_dir():
            for sub in ("cur", "new", "tmp"):
                (path / sub).mkdir(parents=True, exist_ok=True)
            self._chown(path)
        return path

    def deliver(self, user: str, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """Write messages straight into the Maildir (as a delivery agent would)."""
        path = self.maildir(user, folder)
        uid, gid = self.nobody.pw_uid, self.nobody.pw_gid
        count = 0
        stamp = int(time.time())
        for raw in messages:
            count += 1
            name = f"{stamp}.M{count}P{os.getpid()}R{random.getrandbits(32):08x}.test,S={len(raw)}:2,S"
            target = path / "cur" / name
            target.write_bytes(raw)
            os.chown(target, uid, gid)
        return count

    def client(self, user: str, password: str = PASSWORD):
        """A logged-in IMAPClient (plain, loopback)."""
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
        client.login(user, password)
        return client

    def append(self, user: str, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """APPEND messages over IMAP (creates the folder when missing)."""
        count = 0
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw, flags=(b"\\Seen",))
                count += 1
        return count

    def reset_uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Give a folder a new UIDVALIDITY (as a server migration does); returns it."""
        with self.client(user) as client:
            old = client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]
        new = old + 1000
        subprocess.run(
            [DOVEADM, "-c", str(self.root / "dovecot.conf"), "mailbox", "update",
             "-u", user, "--uid-validity", str(new), folder],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return new

    def mailbox_toml(self, user: str, *, security: str = "none", extra: str = "") -> str:
        """A [mailbox] section for tracker.toml pointing at this server."""
        port = self.tls_port if security == "ssl" else self.port
        return (
            f'[mailbox]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n'
            f'username = "{user}"\npassword_env = "TRACKER_TEST_IMAP_PASSWORD"\n{extra}\n'
        )


class PausableProxy:
    """A TCP relay in front of a server: ``pause()`` freezes a client mid-command
    (bytes stop flowing, the connection stays open), ``cut()`` drops every connection."""

    def __init__(self, port: int) -> None:
        import threading

        self.upstream = port
        self.flowing = threading.Event()
        self.flowing.set()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                target.sendall(data)
            except OSError:
                break
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pause(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def cut(self) -> None:
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.resume()

    def close(self) -> None:
        self.listener.close()
        self.cut()
        for sock in self.sockets:
            sock.close()


# -- realistic messages ----------------------------------------------------------------

MINISTRIES = [
    ("Ministère de l'Intérieur", "secretariat.cabinet@interieur.gouv.fr"),
    ("Ministère de la Justice", "cabinet@justice.gouv.fr"),
    ("Ministère des Solidarités", "courrier@solidarites.gouv.fr"),
    ("Préfecture de police", "cabinet@prefecture-police-paris.interieur.gouv.fr"),
    ("Défenseur des droits", "courrier@defenseurdesdroits.fr"),
]
COALITION = "Collectif <coordination@collectif.example.org>"
TOPICS = [
    "la situation des personnes hébergées au centre de rétention",
    "l'accès aux soins des mineurs non accompagnés",
    "les délais de traitement des demandes de titre de séjour",
    "les conditions d'accueil en préfecture",
    "la domiciliation des personnes sans abri",
]


def french_letters(
    count: int, *, seed: int = 0, start: datetime | None = None, prefix: str = "lettre"
) -> Iterator[bytes]:
    """Letters from the coalition and answers from ministries, in French, as raw bytes.

    Every message has a distinct Message-ID (``<prefix-N@...>``); every third one
    answers the one before it.
    """
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    for n in range(count):
        name, address = MINISTRIES[rng.randrange(len(MINISTRIES))]
        topic = TOPICS[rng.randrange(len(TOPICS))]
        when = start + timedelta(hours=7 * n + rng.randrange(5))
        mid = f"<{prefix}-{seed}-{n}@collectif.example.org>"
        if n % 3 == 2:
            sender, to = formataddr((name, address), "utf-8"), COALITION
            subject = f"RE: Courrier n°{n - 1} concernant {topic}"
            extra = (f"In-Reply-To: <{prefix}-{seed}-{n - 1}@collectif.example.org>\r\n"
                     f"References: <{prefix}-{seed}-{n - 1}@collectif.example.org>\r\n")
            body = (f"Madame, Monsieur,\r\n\r\nNous accusons réception de votre courrier relatif à "
                    f"{topic}. Vos observations ont été transmises au service compétent.\r\n\r\n"
                    f"Le chef de cabinet\r\n{name}\r\n")
        else:
            sender, to = COALITION, formataddr((name, address), "utf-8")
            subject = f"Courrier n°{n} concernant {topic}"
            extra = ""
            body = (f"Madame la Ministre, Monsieur le Ministre,\r\n\r\nNous souhaitons appeler votre "
                    f"attention sur {topic}. Plusieurs associations de notre collectif ont constaté "
                    f"des difficultés répétées depuis le début de l'année ; nous vous serions "
                    f"reconnaissants de bien vouloir nous indiquer les mesures envisagées.\r\n\r\n"
                    + "Nous restons à votre disposition pour tout échange. " * rng.randrange(1, 8)
                    + "\r\n\r\nVeuillez agréer l'expression de notre haute considération.\r\n"
                    f"La coordination du collectif\r\n")
        from email.header import Header

        head = (
            f"From: {sender}\r\nTo: {to}\r\nSubject: {Header(subject, 'utf-8').encode()}\r\n"
            f"Date: {format_datetime(when)}\r\nMessage-ID: {mid}\r\n{extra}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        )
        yield head.encode("ascii") + body.encode("utf-8")


def big_message(size: int, mid: str = "<gros-fichier@collectif.example.org>") -> bytes:
    """A letter with a base64 attachment making it about ``size`` bytes."""
    import base64

    payload = base64.encodebytes(os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (
        "From: Collectif <coordination@collectif.example.org>\r\n"
        "To: cabinet@justice.gouv.fr\r\nSubject: Dossier complet (pièces jointes)\r\n"
        f"Date: Mon, 12 Jan 2026 10:00:00 +0100\r\nMessage-ID: {mid}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        "Content-Type: text/plain; charset=utf-8\r\n\r\nVeuillez trouver le dossier.\r\n--b1\r\n"
        'Content-Type: application/pdf; name="dossier.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    ).encode() + payload + b"--b1--\r\n"


# -- fixtures ---------------------------------------------------------------------------

def _server(tmp_path_factory, **kwargs) -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.fail("dovecot is not installed: apt-get install -y dovecot-imapd")
    # not under pytest's tmp dir: it is owner-only, and Dovecot runs as nobody
    root = Path(tempfile.mkdtemp(prefix="tracker-dovecot-"))
    server = Dovecot(root, **kwargs).start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def dovecot_module(tmp_path_factory) -> Iterator[Dovecot]:
    """One plain-text loopback Dovecot for a whole test module."""
    yield from _server(tmp_path_factory)


@pytest.fixture(scope="module")
def dovecot_tls(tmp_path_factory) -> Iterator[Dovecot]:
    """One Dovecot with a trustme certificate (imaps on ``tls_port``, STARTTLS on ``port``)."""
    yield from _server(tmp_path_factory, tls=True)
