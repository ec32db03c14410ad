"""``tracker sync``: each IMAP folder brought up to date, every batch stored with its checkpoint.

For each folder ``sync_state`` keeps the UIDVALIDITY and the last UID stored. A run
selects the folder read-only, asks for the UIDs above that one, has ``sources.imap``
fetch them in batches, and stores each batch in one transaction whose last statement
moves the folder's checkpoint, so a run killed at any point resumes where the last
committed batch ended: nothing lost, nothing twice. A new UIDVALIDITY means the server
renumbered the folder: it is fetched again and the store's de-duplication keeps one copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import sqlite_utils
from imapclient import IMAPClient

from ..config import Config, Mailbox
from ..sources import imap
from ..sources.imap import SyncError
from ..sources.item import RawItem
from . import syncstate
from .writes import WriteSummary, known_locations

if TYPE_CHECKING:
    from .ingest import Ingester

log = logging.getLogger(__name__)


@dataclass
class FolderResult:
    """What one folder's sync did."""

    folder: str
    uidvalidity: int
    last_uid: int
    new: int = 0
    known: int = 0
    quarantined: int = 0
    rescanned: bool = False
    highestmodseq: int | None = None


@dataclass
class SyncSummary(WriteSummary):
    """A whole run: the store's counters plus one result per folder."""

    folders: list[FolderResult] = field(default_factory=list)


def sync_folder(
    client: IMAPClient,
    db: sqlite_utils.Database,
    ingester: Callable[[], "Ingester"],
    folder: str,
    mailbox: Mailbox,
    progress: Callable[[WriteSummary], None] | None = None,
    connect_again: Callable[[], IMAPClient] | None = None,
) -> tuple[FolderResult, WriteSummary]:
    """Bring one folder up to date; every batch commits with its checkpoint.

    ``ingester()`` gives the run's Ingester, made on first use: a nothing-new run
    never loads the parser. ``connect_again()``, when given, opens another connection: a
    folder with more than two batches to fetch is fetched over it by another process.
    """
    state = syncstate.get(db, folder)
    info = client.select_folder(folder, readonly=True)
    uidvalidity = int(info[b"UIDVALIDITY"])
    uidnext = info.get(b"UIDNEXT")
    modseq = info.get(b"HIGHESTMODSEQ")
    rescan = state.uidvalidity is not None and state.uidvalidity != uidvalidity
    last_uid = 0 if rescan or state.uidvalidity is None else state.last_uid
    result = FolderResult(folder, uidvalidity, last_uid, rescanned=rescan, highestmodseq=modseq)
    if rescan:
        log.warning("%s: UIDVALIDITY changed (%s -> %s): fetching it again",
                    folder, state.uidvalidity, uidvalidity)

    nothing_new = not rescan and (
        (uidnext is not None and int(uidnext) <= last_uid + 1)
        # without UIDNEXT, an unchanged HIGHESTMODSEQ (CONDSTORE) says the same
        or (uidnext is None and modseq is not None and modseq == state.highestmodseq)
    )
    summary = WriteSummary()
    if not nothing_new:
        # "N:*" always matches the highest UID, even below N: filter
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        if uids:
            known = known_locations(db, imap.SOURCE, folder)
            todo = [u for u in uids if f"{uidvalidity}:{u}" not in known]

            def checkpoint(batch: list[RawItem]) -> None:
                syncstate.checkpoint(db, folder, uidvalidity, max(imap.uid_of(i) for i in batch))

            store_batches = ingester()
            if connect_again is not None and len(todo) > 2 * mailbox.batch_size:
                items = imap.fetch_elsewhere(
                    connect_again, folder, uidvalidity, todo, mailbox, store_batches.batch_bytes, client.noop
                )
            else:
                items = imap.fetch_items(client, folder, uidvalidity, todo, mailbox, store_batches.batch_bytes)
            summary = store_batches.run(items, checkpoint=checkpoint, progress=progress)
            result.last_uid = max(result.last_uid, uids[-1])
    if uidnext is not None:
        # UIDs below the SELECT's UIDNEXT that the search did not return were expunged
        result.last_uid = max(result.last_uid, int(uidnext) - 1)
    result.new, result.known, result.quarantined = summary.new, summary.known, summary.quarantined
    syncstate.succeeded(db, folder, uidvalidity, result.last_uid, modseq, summary.new)
    return result, summary


def sync(
    db: sqlite_utils.Database,
    config: Config,
    *,
    progress: Callable[[WriteSummary], None] | None = None,
    client_class: type[IMAPClient] = IMAPClient,
    workers: int | None = None,
) -> SyncSummary:
    """Pull what is new in every folder; raises SyncError (recorded in sync_state) on failure.

    The caller re-threads ``summary.to_rethread`` afterwards.
    """
    mailbox = config.mailbox
    if mailbox is None:
        raise SyncError(f"{config.path}: no [mailbox] section; add one to use tracker sync")
    total = SyncSummary()
    made: list[Ingester] = []

    def ingester() -> "Ingester":
        if not made:
            from .ingest import Ingester

            made.append(Ingester(db, config, workers=workers, batch_size=mailbox.batch_size))
        return made[0]

    pending: list[str] = list(mailbox.folders or [s.folder for s in syncstate.folder_states(db)])
    doing = "connecting"

    def report(folder_total: WriteSummary) -> None:
        if progress:
            progress(WriteSummary(
                total.new + folder_total.new, total.known + folder_total.known,
                total.quarantined + folder_total.quarantined,
            ))

    if db.execute("select 1 from private.pending limit 1").fetchone():
        ingester().complete()  # a killed run's raw bytes whose rows were not written yet
    try:
        client = imap.connect(mailbox, client_class)
        try:
            doing = "listing folders"
            if client.has_capability("CONDSTORE") and client.has_capability("ENABLE"):
                client.enable("CONDSTORE")
            pending = imap.choose_folders(client, mailbox)
            for folder in list(pending):
                doing = f"fetching {folder}"
                result, summary = sync_folder(
                    client, db, ingester, folder, mailbox, report, lambda: imap.connect(mailbox, client_class)
                )
                total.add(summary)
                total.folders.append(result)
                pending.remove(folder)
        finally:
            if made:
                made[0].close()
            imap.close(client)
    except Exception as exc:
        error = imap.explain(exc, mailbox, doing)  # re-raises what it cannot explain
        if pending:
            syncstate.failed(db, pending, str(error))
        raise error from None
    return total
