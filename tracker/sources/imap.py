"""IMAP with imapclient: connecting, choosing folders, fetching; read-only.

``tracker.store.sync`` drives a run: for each folder it asks for the UIDs above the last
one stored, and this module fetches them in batches: sizes first (a message over
``max_message_size`` goes to quarantine with its size, unfetched), then ``BODY.PEEK[]``
(never sets \\Seen), INTERNALDATE and FLAGS. A folder with more than two batches to fetch
is fetched by a forked process over a second connection, a few batches ahead of the
writer (``fetch_elsewhere``). Server errors become ``SyncError`` lines (``explain``).
"""

from __future__ import annotations

import gc
import imaplib
import logging
import multiprocessing
import os
import pickle
import queue
import socket
import ssl
import subprocess
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ..config import Mailbox
from .item import RawItem

log = logging.getLogger(__name__)

SOURCE = "imap"
SENT = b"\\Sent"
ALL = b"\\All"
# names tried when the server flags no folder \Sent (older servers without SPECIAL-USE)
SENT_NAMES = (
    "Sent", "Sent Items", "Sent Messages", "INBOX/Sent", "INBOX.Sent",
    "Éléments envoyés", "Messages envoyés", "Envoyés",
)
FETCH_BODY = ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"]


class SyncError(Exception):
    """A sync failure a user can act on: one line saying what happened and what to check."""


# -- connecting ----------------------------------------------------------------------------

def ssl_context(mailbox: Mailbox) -> ssl.SSLContext:
    """Certificate and host name verified; ``ca_file`` replaces the system CAs when set."""
    try:
        context = ssl.create_default_context(cafile=mailbox.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise SyncError(
            f"mailbox.ca_file: cannot load {mailbox.ca_file} ({getattr(exc, 'strerror', None) or exc}); "
            f"it must be a readable PEM file holding the CA certificate"
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def oauth2_token(mailbox: Mailbox) -> str:
    """Run ``oauth2_token_command`` and return the access token it prints."""
    command = mailbox.oauth2_token_command or ""
    try:
        # the command comes from the user's own config file, like mbsync's PassCmd
        done = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=mailbox.timeout
        )
    except subprocess.TimeoutExpired:
        raise SyncError(
            f"mailbox.oauth2_token_command did not finish within {mailbox.timeout:g} s; "
            f"run it by hand to check it"
        ) from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise SyncError(
            f"mailbox.oauth2_token_command failed (exit {done.returncode}: {reason}); "
            f"run it by hand: it must print a fresh access token"
        )
    return token.splitlines()[0].strip()


def login(client: IMAPClient, mailbox: Mailbox) -> None:
    """Log in with XOAUTH2 when a token command is configured, else with the password."""
    if mailbox.oauth2_token_command:
        client.oauth2_login(mailbox.username, oauth2_token(mailbox))
    else:
        client.login(mailbox.username, mailbox.password())


def connect(mailbox: Mailbox, client_class: type[IMAPClient] = IMAPClient) -> IMAPClient:
    """An authenticated connection; raises SyncError with what to check."""
    try:
        if mailbox.security == "ssl":
            client = client_class(
                mailbox.host, mailbox.port, ssl=True, ssl_context=ssl_context(mailbox),
                timeout=mailbox.timeout,
            )
        else:
            client = client_class(mailbox.host, mailbox.port, ssl=False, timeout=mailbox.timeout)
            if mailbox.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    client.shutdown()
                    raise SyncError(
                        f"{mailbox.host}:{mailbox.port} does not offer STARTTLS; "
                        f'check mailbox.port or use security = "ssl" (usually port 993)'
                    )
                client.starttls(ssl_context(mailbox))
        client.normalise_times = False  # keep INTERNALDATE's offset
    except SyncError:
        raise
    except Exception as exc:
        raise explain(exc, mailbox, "connecting") from None
    try:
        login(client, mailbox)
    except SyncError:
        close(client)
        raise
    except Exception as exc:
        close(client)
        raise explain(exc, mailbox, "logging in") from None
    return client


def close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be dead; nothing to save
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def explain(exc: BaseException, mailbox: Mailbox, doing: str) -> SyncError:
    """Turn a network, TLS or IMAP exception into one line saying what to check."""
    where = f"{mailbox.host}:{mailbox.port}"
    resume = "the next run resumes from the last checkpoint"
    if isinstance(exc, SyncError):
        return exc
    if isinstance(exc, LoginError):
        secret = (
            "the token printed by mailbox.oauth2_token_command"
            if mailbox.oauth2_token_command
            else f"the password in ${mailbox.password_env}" if mailbox.password_env
            else f"the password in {mailbox.password_file}"
        )
        return SyncError(
            f"{where} refused the login of {mailbox.username!r}: check mailbox.username and "
            f"{secret}"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = (
            f"check that mailbox.ca_file ({mailbox.ca_file}) is the CA that signed the "
            f"server's certificate"
            if mailbox.ca_file
            else "if the server uses a private CA or a self-signed certificate, set mailbox.ca_file "
            "to its CA certificate (PEM)"
        )
        return SyncError(
            f"the TLS certificate of {where} could not be verified "
            f"({exc.verify_message or exc.reason}); {hint}"
        )
    if isinstance(exc, ssl.SSLError):
        return SyncError(
            f"TLS with {where} failed ({exc.reason or exc}); check mailbox.security "
            f'("ssl" for port 993, "starttls" for port 143) and mailbox.port'
        )
    if isinstance(exc, ConnectionRefusedError):
        return SyncError(
            f"cannot connect to {where}: connection refused; check mailbox.host and mailbox.port "
            f"and that the IMAP server is running"
        )
    if isinstance(exc, socket.gaierror):
        return SyncError(f"cannot find the IMAP server {mailbox.host!r} ({exc.strerror}); "
                         f"check mailbox.host and the network")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return SyncError(
            f"{where} did not answer within {mailbox.timeout:g} s while {doing}; check the network "
            f"and the server, or raise mailbox.timeout; {resume}"
        )
    if isinstance(exc, (IMAPClient.AbortError, imaplib.IMAP4.abort, ConnectionError, EOFError)):
        return SyncError(
            f"the connection to {where} was lost while {doing} ({exc}); check the server; {resume}"
        )
    if isinstance(exc, OSError):
        return SyncError(
            f"network error with {where} while {doing} ({exc.strerror or exc}); check the network; "
            f"{resume}"
        )
    if isinstance(exc, (IMAPClientError, imaplib.IMAP4.error)):
        return SyncError(f"{where} answered with an error while {doing}: {exc}; {resume}")
    raise exc


# -- folders -------------------------------------------------------------------------------

def choose_folders(client: IMAPClient, mailbox: Mailbox) -> list[str]:
    """The configured folders, or INBOX plus the folder the server flags \\Sent (RFC 6154).

    Gmail's "All Mail" (flagged \\All) is never chosen by default: it holds every
    message a second time.
    """
    use_xlist = client.has_capability("XLIST") and not client.has_capability("SPECIAL-USE")
    listing = client.xlist_folders() if use_xlist else client.list_folders()
    names = {name for _flags, _sep, name in listing}
    if mailbox.folders:
        # INBOX is case-insensitive (RFC 3501); every other name is exact
        missing = [n for n in mailbox.folders if n not in names and n.upper() != "INBOX"]
        if missing:
            raise SyncError(
                f"mailbox.folders: {', '.join(repr(m) for m in missing)} not found on "
                f"{mailbox.host}; it has: {', '.join(sorted(names))}"
            )
        return list(mailbox.folders)
    folders = ["INBOX"]
    sent = [name for flags, _sep, name in listing if SENT in flags and ALL not in flags]
    if not sent:
        by_lower = {name.lower(): name for name in names}
        sent = [by_lower[n.lower()] for n in SENT_NAMES if n.lower() in by_lower]
    if sent:
        folders.append(sent[0])
    else:
        log.warning("no Sent folder found on %s: set mailbox.folders", mailbox.host)
    return folders


# -- fetching ------------------------------------------------------------------------------

def uid_of(item: RawItem) -> int:
    """The UID in an IMAP location key ``"UIDVALIDITY:UID"``."""
    return int(item.key.rsplit(":", 1)[1])


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fetch_items(
    client: IMAPClient,
    folder: str,
    uidvalidity: int,
    uids: list[int],
    mailbox: Mailbox,
    batch_bytes: int,
) -> Iterator[RawItem]:
    """RawItems for ``uids`` (ascending), in UID order, a batch of sizes then bodies at a time.

    UID order matters: a checkpoint is the highest UID of a stored batch.
    Explicit UID lists only: imapclient 4.1 cannot fetch "N:*".
    """
    for chunk in _chunks(uids, max(1, mailbox.batch_size)):
        sizes = client.fetch(chunk, ["RFC822.SIZE"])
        items: dict[int, RawItem] = {}
        wanted: list[list[int]] = [[]]
        wanted_bytes = 0
        for uid in chunk:
            data = sizes.get(uid)
            if data is None:  # expunged since the search: nothing to keep
                continue
            size = data.get(b"RFC822.SIZE", 0)
            key = f"{uidvalidity}:{uid}"
            if size > mailbox.max_message_size:
                items[uid] = RawItem(
                    SOURCE, folder, key, None, size=size,
                    problem=f"too large: {size} bytes, over mailbox.max_message_size "
                    f"({mailbox.max_message_size}); not fetched",
                )
                continue
            items[uid] = RawItem(SOURCE, folder, key, None, size=size)
            # several fetches when the bodies together would exceed the batch's memory budget
            if wanted[-1] and wanted_bytes + size > batch_bytes:
                wanted.append([])
                wanted_bytes = 0
            wanted[-1].append(uid)
            wanted_bytes += size
        for group in wanted:
            if not group:
                continue
            bodies = client.fetch(group, FETCH_BODY)
            for uid in group:
                data = bodies.get(uid)
                if data is None or b"BODY[]" not in data:
                    items.pop(uid, None)  # expunged between the two fetches
                    continue
                items[uid].raw = data[b"BODY[]"]
                items[uid].arrived_at = data.get(b"INTERNALDATE")
        for uid in chunk:
            if uid in items:
                yield items[uid]


# -- fetching in a process of its own -------------------------------------------------------
#
# A first sync of a large folder spent over a quarter of the writer's time reading IMAP
# responses (imaplib, imapclient), and the writer is the longest chain of the pipeline. Above
# two batches, a forked process with a connection of its own fetches the bodies and hands them
# over, a few batches ahead, through a bounded queue. A thread would not do: it holds the same
# interpreter lock (measured slower). The first connection waits meanwhile, kept alive by a
# NOOP a minute (servers drop idle connections).

FETCH_AHEAD = 2  # handed-over batches the fetching process may hold before the writer takes them
KEEP_ALIVE = 60  # seconds between NOOPs on the waiting connection


def fetch_elsewhere(
    connect_again: Callable[[], IMAPClient],
    folder: str,
    uidvalidity: int,
    uids: list[int],
    mailbox: Mailbox,
    batch_bytes: int,
    keep_alive: Callable[[], object] | None = None,
) -> Iterator[RawItem]:
    """``fetch_items`` run by a forked process over its own connection; the same items in the
    same order. Its failures are raised here, as the same exceptions (``explain`` reads
    them); it ends with the generator, and on its own if this process dies. ``keep_alive()``
    is called every ``KEEP_ALIVE`` seconds meanwhile."""
    # what both processes hold is left out of the cyclic collector's passes while they share it:
    # its passes would write to every object, making each page a copy (the fetching process
    # added 60 MB to a first 10k sync without this, 35 MB with it)
    gc.freeze()
    context = multiprocessing.get_context("fork")
    handed = context.Queue(maxsize=FETCH_AHEAD)
    child = context.Process(
        target=_fetcher,
        args=(handed, connect_again, folder, uidvalidity, uids, mailbox, batch_bytes, os.getpid()),
        name=f"tracker fetch {folder}",
        daemon=True,
    )
    child.start()
    alive = time.monotonic()
    try:
        while True:
            if keep_alive is not None and time.monotonic() - alive > KEEP_ALIVE:
                keep_alive()
                alive = time.monotonic()
            try:
                kind, payload = handed.get(timeout=1)
            except queue.Empty:
                if not child.is_alive():
                    raise EOFError(f"the fetching process stopped (exit code {child.exitcode})") from None
                continue
            if kind == "items":
                yield from payload
            elif kind == "done":
                return
            else:
                raise payload
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=10)
        handed.close()
        handed.cancel_join_thread()
        gc.unfreeze()


def _fetcher(handed, connect_again, folder, uidvalidity, uids, mailbox, batch_bytes, parent) -> None:
    """The fetching process: ``fetch_items`` into ``handed``, in batches of at most
    ``mailbox.batch_size`` messages and a quarter of ``batch_bytes``."""

    def hand(message) -> None:
        while True:
            try:
                handed.put(message, timeout=1)
                return
            except queue.Full:
                if os.getppid() != parent:  # the writer is gone (killed): so are we
                    os._exit(1)

    try:
        client = connect_again()
        try:
            info = client.select_folder(folder, readonly=True)
            if int(info[b"UIDVALIDITY"]) != uidvalidity:
                raise SyncError(f"{folder}: UIDVALIDITY changed during the sync; the next run fetches it again")
            batch: list[RawItem] = []
            size = 0
            for item in fetch_items(client, folder, uidvalidity, uids, mailbox, batch_bytes):
                item.arrived_at = _portable_time(item.arrived_at)
                batch.append(item)
                size += len(item.raw or b"")
                if len(batch) >= mailbox.batch_size or size >= batch_bytes // 4:
                    hand(("items", batch))
                    batch, size = [], 0
            if batch:
                hand(("items", batch))
        finally:
            close(client)
        hand(("done", None))
    except BaseException as exc:  # noqa: BLE001 - every failure is the writer's to explain
        hand(("error", _portable_error(exc)))


def _portable_time(moment: datetime | None) -> datetime | None:
    """INTERNALDATE with the same offset, in a time zone that pickles (imapclient's does not)."""
    if moment is None or moment.tzinfo is None:
        return moment
    offset = moment.utcoffset() or timedelta(0)
    return moment.replace(tzinfo=timezone(offset))


def _portable_error(exc: BaseException) -> BaseException:
    """``exc`` if it crosses a process boundary intact, else a lost connection saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - whatever its type, the writer must hear of it
        return ConnectionError(f"{type(exc).__name__}: {exc}")
