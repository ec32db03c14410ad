"""The SQLite store: schema, migrations and idempotent writes (sqlite-utils).

Every message's original bytes go to ``raw_messages`` before anything else, so
nothing is ever lost; ``messages`` holds one row per distinct Message-ID, and
``message_locations`` remembers every place (folder, file, IMAP UID) it was
found in. Writing the same message twice changes nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from ..config import private_path
from . import ocr as ocr_queue
from . import private as private_store

FTS_TOKENIZE = "unicode61 remove_diacritics 2"

migrations = Migrations("tracker")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["raw_messages"].create(
        {"sha256": str, "message_id": str, "size": int, "stored_at": str, "raw": bytes},
        pk="sha256",
    )
    db["raw_messages"].create_index(["message_id"])
    db["message_locations"].create(
        {
            "source": str,  # imap | maildir | mbox | eml
            "folder": str,  # IMAP folder, Maildir folder, mbox path
            "key": str,  # UIDVALIDITY:UID, file name, mbox offset
            "sha256": str,
            "message_id": str,
            "arrived_at": str,
            "seen_at": str,
        },
        pk=("source", "folder", "key"),
    )
    db["message_locations"].create_index(["sha256"])
    db["message_locations"].create_index(["message_id"])
    db["messages"].create(
        {
            "message_id": str,
            "sha256": str,
            "conversation_id": str,
            "date": str,  # ISO 8601, UTC
            "date_original": str,  # ISO 8601 with the sender's offset
            "date_source": str,  # header | arrival
            "from_address": str,
            "from_name": str,
            "subject": str,
            "subject_normalized": str,
            "direction": str,  # outgoing | incoming
            "kind": str,  # letter | reply | auto_reply | acknowledgement | bounce | other
            "in_reply_to": str,
            "refs": str,  # JSON list of Message-IDs (References)
            "body_text": str,
            "body_html": str,
            "attachment_count": int,
            "size": int,
            "folders": str,  # JSON list
            "headers": str,  # JSON: headers classification reads
            "delivery_reports": str,  # JSON list (bounces)
            "original_message_id": str,
            "is_delivery_report": int,
            "message_id_synthetic": int,
            "defects": str,  # JSON list
            "imported_at": str,
        },
        pk="message_id",
        not_null={"sha256"},
    )
    for column in ("date", "conversation_id", "from_address", "in_reply_to", "kind"):
        db["messages"].create_index([column])
    db["recipients"].create(
        {"message_id": str, "role": str, "address": str, "name": str, "position": int},
        pk=("message_id", "role", "address"),
        foreign_keys=[("message_id", "messages", "message_id")],
    )
    db["recipients"].create_index(["address"])
    db["attachments"].create(
        {
            "id": str,  # message_id/position
            "message_id": str,
            "position": int,
            "filename": str,
            "content_type": str,
            "size": int,
            "sha256": str,
            "text": str,
        },
        pk="id",
        foreign_keys=[("message_id", "messages", "message_id")],
    )
    db["attachments"].create_index(["message_id"])
    db["quarantine"].create(
        {
            "id": int,
            "source": str,
            "folder": str,
            "key": str,
            "sha256": str,  # raw bytes in raw_messages; NULL when never fetched (too large)
            "size": int,
            "reason": str,
            "quarantined_at": str,
        },
        pk="id",
    )
    db["quarantine"].create_index(["source", "folder", "key"], unique=True)
    db["sync_state"].create(
        {
            "folder": str,
            "uidvalidity": int,
            "last_uid": int,
            "highestmodseq": int,
            "last_attempt_at": str,
            "last_success_at": str,
            "last_new": int,
            "last_error": str,
        },
        pk="folder",
    )
    db["correspondents"].create(
        {
            "id": str,
            "name": str,
            "short_name": str,
            "addresses": str,
            "domains": str,
            "deadline": str,
        },
        pk="id",
    )
    db["threads"].create(
        {
            "id": str,
            "correspondent_id": str,
            "correspondent": str,
            "subject": str,
            "conversation_id": str,
            "letter_message_id": str,
            "status": str,
            "opened_at": str,
            "last_letter_at": str,
            "last_reply_at": str,
            "due_at": str,
            "overdue": int,
        },
        pk="id",
        foreign_keys=[("correspondent_id", "correspondents", "id")],
    )
    db["threads"].create_index(["correspondent_id"])
    db["threads"].create_index(["status"])
    db["thread_messages"].create(
        {"thread_id": str, "message_id": str, "matched_by": str},
        pk=("thread_id", "message_id"),
        foreign_keys=[("thread_id", "threads", "id"), ("message_id", "messages", "message_id")],
    )
    db["thread_messages"].create_index(["message_id"])
    db["unmatched"].create(
        {"message_id": str, "correspondent_id": str, "candidates": str, "reason": str},
        pk="message_id",
    )
    db["marks"].create(
        {
            "id": int,
            "thread_id": str,
            "action": str,  # answered | closed | reopened | attach
            "on_date": str,
            "message_id": str,
            "note": str,
            "created_at": str,
        },
        pk="id",
    )
    db["marks"].create_index(["thread_id"])
    db["digests"].create(
        {"iso_week": str, "sent_at": str, "message_id": str, "recipients": str, "subject": str},
        pk="iso_week",
    )
    db["messages"].enable_fts(
        ["subject", "body_text"], create_triggers=True, tokenize=FTS_TOKENIZE
    )
    db["attachments"].enable_fts(["filename", "text"], create_triggers=True, tokenize=FTS_TOKENIZE)


@migrations()
def m002_threading_indexes(db: sqlite_utils.Database) -> None:
    """Derived lookups that let threading re-derive only what a sync touched (rebuildable)."""
    # every Message-ID a message points at: in_reply_to / reference (conversations), original (bounces)
    db["message_links"].create(
        {"message_id": str, "target_id": str, "rel": str}, pk=("message_id", "target_id", "rel")
    )
    db["message_links"].create_index(["target_id"])
    # matching evidence: a letter's subject, date and references; what an incoming message cites
    db["message_keys"].create({"message_id": str, "key": str, "role": str}, pk=("message_id", "key", "role"))
    db["message_keys"].create_index(["key", "role"])
    db["threads"].add_column("subject_key", str)
    db["unmatched"].add_column("date", str)
    # what the last full rethread was derived from (a config change re-derives everything)
    db["threading_state"].create({"key": str, "value": str}, pk="key")


@migrations()
def m003_report_views(db: sqlite_utils.Database) -> None:
    """The ``unanswered`` view Datasette shows (tracker/report.py computes the same for any
    --as-of day; this is as of now, days counted in UTC). Its ``responsiveness`` view, made
    here by databases of before m012, is now made by m012 from the stored first replies."""
    db.execute(VIEW_UNANSWERED)


# overdue now, the longest-waiting first; waiting_since = the first letter after the last reply
VIEW_UNANSWERED = """
create view if not exists unanswered as
with waiting as (
  select t.*, (
    select min(m.date) from thread_messages tm join messages m on m.message_id = tm.message_id
    where tm.thread_id = t.id and m.kind = 'letter'
      and (t.last_reply_at is null or julianday(m.date) > julianday(t.last_reply_at))
  ) as waiting_since
  from threads t
  where t.status in ('awaiting_reply', 'acknowledged') and t.due_at is not null
    and julianday(t.due_at) < julianday('now')
)
select id, correspondent_id, correspondent, subject, status, opened_at, last_letter_at,
  last_reply_at, due_at, waiting_since,
  -- calendar days, as the report counts them (not 24-hour periods)
  cast(julianday(date('now')) - julianday(date(coalesce(waiting_since, opened_at))) as integer)
    as days_waiting
from waiting
order by coalesce(waiting_since, opened_at), id
"""

# a thread's first reply or "answered" mark, at any date: what the responsiveness delays count
# from (kept in threads.first_reply_at by the threaders since m012: ``refresh_first_replies``)
FIRST_REPLY_SQL = """(select min(x) from (
  select m.date as x from thread_messages tm join messages m on m.message_id = tm.message_id
  where tm.thread_id = threads.id and m.kind = 'reply' and m.direction = 'incoming'
  union all
  select coalesce(k.on_date, k.created_at) from marks k
  where k.thread_id = threads.id and k.action = 'answered'
))"""

# the figures of the responsiveness view (m012): one letter per thread, bounced-and-never-answered
# threads left out; delays from the first letter to the first reply (or "answered" mark),
# nearest-rank 90th percentile, 95% Wilson interval; from the stored first replies; one sort per
# correspondent for the median and the 90th percentile. ``responsiveness_sql`` fills {where}
# (a filter on threads ``t``) and {now} (the moment "overdue now" is judged at)
RESPONSIVENESS_SQL = """
with counted as (
  select t.correspondent_id, t.correspondent, t.status, t.due_at, t.first_reply_at,
    case when t.first_reply_at is not null
      then julianday(date(t.first_reply_at)) - julianday(date(t.opened_at)) end as days
  from threads t
  where not (t.status = 'bounced' and t.first_reply_at is null){where}
),
ranked as (
  select correspondent_id, days, row_number() over w as rn,
    count(*) over (w rows between unbounded preceding and unbounded following) as n
  from counted where days is not null
  window w as (partition by correspondent_id order by days)
),
delays as (
  select correspondent_id,
    avg(case when rn in ((n + 1) / 2, (n + 2) / 2) then days end) as median_days,
    max(case when rn = (9 * n + 9) / 10 then days end) as p90_days
  from ranked group by correspondent_id
),
totals as (
  select correspondent_id, max(correspondent) as correspondent, count(*) as letters,
    count(first_reply_at) as replied,
    1.0 * count(first_reply_at) / count(*) as p,
    sum(status in ('awaiting_reply', 'acknowledged') and due_at is not null
        and julianday(due_at) < (select julianday({now}))) as overdue_now
  from counted group by correspondent_id
)
select totals.correspondent_id, correspondent, letters, replied,
  round(p, 4) as reply_rate,
  round(max(0.0, (p + 1.920729 / letters
    - 1.959964 * sqrt(p * (1 - p) / letters + 0.960365 / (letters * letters)))
    / (1 + 3.841459 / letters)), 4) as reply_rate_low,
  round(min(1.0, (p + 1.920729 / letters
    + 1.959964 * sqrt(p * (1 - p) / letters + 0.960365 / (letters * letters)))
    / (1 + 3.841459 / letters)), 4) as reply_rate_high,
  median_days, p90_days, overdue_now, letters < 5 as too_few
from totals left join delays on delays.correspondent_id = totals.correspondent_id
order by correspondent
"""


def responsiveness_sql(where: str = "", now: str = "'now'") -> str:
    """The responsiveness view's query: ``where`` (SQL on threads ``t``, e.g.
    ``t.correspondent_id = :id``) keeps some threads only, ``now`` is the SQL of the moment
    "overdue now" is judged at (the view: ``'now'``; the web: ``tracker_now()``, the config's
    ``as_of``)."""
    return RESPONSIVENESS_SQL.replace("{where}", f" and ({where})" if where else "").replace("{now}", now)


VIEW_RESPONSIVENESS = "create view if not exists responsiveness as" + responsiveness_sql()


@migrations()
def m004_fts_update_trigger_on_text_only(db: sqlite_utils.Database) -> None:
    """Re-index a message's text only when its text changes: threading updates
    conversation_id, direction and kind of many rows, which must not rewrite the index."""
    db.execute("drop trigger if exists messages_au")
    db.execute(
        'CREATE TRIGGER "messages_au" AFTER UPDATE OF "subject", "body_text" ON "messages" BEGIN\n'
        '  INSERT INTO "messages_fts" ("messages_fts", rowid, "subject", "body_text") '
        "VALUES('delete', old.rowid, old.\"subject\", old.\"body_text\");\n"
        '  INSERT INTO "messages_fts" (rowid, "subject", "body_text") '
        'VALUES (new.rowid, new."subject", new."body_text");\n'
        "END"
    )


@migrations()
def m005_threads_coming_due(db: sqlite_utils.Database) -> None:
    """Threads still waiting and not yet overdue, by due date: refreshing the overdue flags
    then reads only those that come due, not every thread."""
    db.execute(
        "create index if not exists threads_coming_due on threads (due_at) "
        "where overdue = 0 and status in ('awaiting_reply', 'acknowledged')"
    )


# SQLite 3.40's FTS5 writes its pending index to disk at every statement savepoint, and a
# trigger opens one per row: indexing each message from its insert trigger costs about three
# times indexing the batch with one statement. store_state's "index_later" is set to 1 only
# inside write_batch's own transaction (no reader ever sees it): the triggers then stand
# aside and write_batch indexes its new rows at the end of the batch. Any other writer
# (a test, a benchmark, a script) still gets its rows indexed by the triggers.
FTS_TABLES = (("messages", "subject, body_text"), ("attachments", "filename, text"))


@migrations()
def m006_batch_fts_indexing(db: sqlite_utils.Database) -> None:
    """Let write_batch index a batch's text in one statement per table instead of per row."""
    db.execute("create table if not exists store_state (key text primary key, value integer not null)")
    db.execute("insert or ignore into store_state (key, value) values ('index_later', 0)")
    for table, columns in FTS_TABLES:
        names = [c.strip() for c in columns.split(",")]
        db.execute(f"drop trigger if exists {table}_ai")
        db.execute(
            f'CREATE TRIGGER "{table}_ai" AFTER INSERT ON "{table}" '
            "WHEN (select value from store_state where key = 'index_later') = 0 BEGIN\n"
            f'  INSERT INTO "{table}_fts" (rowid, {", ".join(chr(34) + n + chr(34) for n in names)}) '
            f'VALUES (new.rowid, {", ".join("new." + chr(34) + n + chr(34) for n in names)});\n'
            "END"
        )


@migrations(transactional=False)
def m007_private_store(db: sqlite_utils.Database) -> None:
    """Move the raw bytes and the bookkeeping out of the published file (``private``)."""
    private_store.move_out_of_main(db)


@migrations()
def m008_desk(db: sqlite_utils.Database) -> None:
    """The desk: who made each mark; marks undone (kept as history, out of ``marks``, which
    holds the marks in force that threading reads); scans of postal answers (their text here,
    their bytes in the private store's ``scan_files``)."""
    # ids never reused (AUTOINCREMENT): an undone mark keeps its id in marks_undone, and scans
    # name their mark by id
    db.execute("PRAGMA legacy_alter_table = ON")  # the views that read marks stay as they are
    db.execute(
        "create table marks_desk (id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT, action TEXT, "
        "on_date TEXT, message_id TEXT, note TEXT, created_at TEXT, made_by TEXT)"
    )
    db.execute(
        "insert into marks_desk (id, thread_id, action, on_date, message_id, note, created_at) "
        "select id, thread_id, action, on_date, message_id, note, created_at from marks"
    )
    db.execute("drop table marks")
    db.execute("alter table marks_desk rename to marks")
    db.execute("PRAGMA legacy_alter_table = OFF")
    db["marks"].create_index(["thread_id"])
    db["marks"].create_index(["message_id"])
    db["marks_undone"].create(
        {
            "id": int,  # the mark's own id
            "thread_id": str,
            "action": str,
            "on_date": str,
            "message_id": str,
            "note": str,
            "created_at": str,
            "made_by": str,
            "undone_at": str,
            "undone_by": str,
        },
        pk="id",
    )
    db["marks_undone"].create_index(["thread_id"])
    db["scans"].create(
        {
            "id": int,
            "thread_id": str,
            "mark_id": int,  # the "answered" mark it came with
            "filename": str,
            "content_type": str,
            "size": int,
            "sha256": str,
            "text": str,
            "stored_at": str,
        },
        pk="id",
    )
    db["scans"].create_index(["thread_id"])


@migrations()
def m009_ocr_queue(db: sqlite_utils.Database) -> None:
    """The OCR queue in the private store (``store.ocr``): scanned attachments waiting for
    Tesseract; the attachments already stored are queued by the first ``enqueue``."""
    ocr_queue.ensure(db)


@migrations()
def m010_commitments(db: sqlite_utils.Database) -> None:
    """What bodies promised (``thread.commitments``), meetings and calls as dated events of a
    thread, and each letter's co-signers (member associations of ``[[members]]``)."""
    db.execute(
        "create table commitments (id INTEGER PRIMARY KEY AUTOINCREMENT, correspondent_id TEXT, "
        "words TEXT, due_on TEXT, said_on TEXT, said_in TEXT, thread_id TEXT, message_id TEXT, "
        "meeting_id INTEGER, status TEXT, note TEXT, created_at TEXT, made_by TEXT, "
        "updated_at TEXT, updated_by TEXT)"
    )
    db["commitments"].create_index(["correspondent_id"])
    db["commitments"].create_index(["thread_id"])
    db.execute(
        "create table meetings (id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT, "
        "correspondent_id TEXT, kind TEXT, on_date TEXT, note TEXT, created_at TEXT, made_by TEXT)"
    )
    db["meetings"].create_index(["thread_id"])
    db.execute(
        "create table cosigners (message_id TEXT, member TEXT, set_at TEXT, set_by TEXT, "
        "PRIMARY KEY (message_id, member))"
    )
    db["cosigners"].create_index(["member"])


@migrations()
def m011_ocr_attempts(db: sqlite_utils.Database) -> None:
    """How many times each queued scan was read (``ocr_queue.attempts``): a failed one is read
    again by a later run, up to ``store.ocr.MAX_ATTEMPTS``. ``ensure`` adds the column only
    where it is missing (a queue made by m009 from today's ``QUEUE_DDL`` has it already)."""
    ocr_queue.ensure(db)


@migrations()
def m012_first_replies(db: sqlite_utils.Database) -> None:
    """Pages over 150 ms at 100,000 messages: each thread's first reply is stored
    (``threads.first_reply_at``, kept by the threaders) and the responsiveness view reads it
    instead of every reply of every thread (about 450 ms); the messages table's direction facet
    gets an index, and a correspondent's latest threads (its page, the desk's lists) one too."""
    if "first_reply_at" not in db["threads"].columns_dict:
        db.execute("alter table threads add column first_reply_at TEXT")
    db.execute(f"update threads set first_reply_at = {FIRST_REPLY_SQL}")
    db.execute("drop view if exists responsiveness")
    db.execute(VIEW_RESPONSIVENESS)
    db.execute("create index if not exists idx_messages_direction on messages (direction)")
    db.execute("create index if not exists idx_threads_correspondent_opened on threads (correspondent_id, opened_at)")


def refresh_first_replies(db: sqlite_utils.Database, thread_ids: list[str] | None = None) -> None:
    """Bring ``threads.first_reply_at`` up to date for ``thread_ids`` (all when None); only
    the rows whose first reply changed are written."""
    sql = f"update threads set first_reply_at = {FIRST_REPLY_SQL} where first_reply_at is not {FIRST_REPLY_SQL}"
    if thread_ids is None:
        db.execute(sql)
        return
    ids = list(thread_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.execute(sql + f" and id in ({', '.join('?' * len(chunk))})", chunk)


def _index_later(db: sqlite_utils.Database) -> dict[str, int]:
    """Start a batch whose rows are indexed by ``_index_now``: the highest rowid of each table."""
    db.execute("update store_state set value = 1 where key = 'index_later'")
    return {
        table: db.execute(f"select coalesce(max(rowid), 0) from {table}").fetchone()[0]
        for table, _ in FTS_TABLES
    }


def _index_now(db: sqlite_utils.Database, after: dict[str, int]) -> None:
    """Index the rows inserted since ``_index_later``, and give the triggers their work back."""
    for table, columns in FTS_TABLES:
        db.execute(
            f"insert into {table}_fts (rowid, {columns}) select rowid, {columns} from {table} "
            "where rowid > ?",
            [after[table]],
        )
    db.execute("update store_state set value = 0 where key = 'index_later'")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, seconds precision; naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def open_db(
    path: str | Path, *, create: bool = True, private: str | Path | None = None
) -> sqlite_utils.Database:
    """Open (and create, owner-only, migrated) the tracker database, with its private store
    (``private``, default ``tracker-private.db`` beside it) attached as ``private``."""
    path = Path(path)
    memory = path == Path(":memory:")
    if not memory:
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"{path}: no database yet; run `tracker import` or `tracker sync` first")
            # create it owner-only before SQLite opens it: the letters concern victims
            private_store.owner_only(path)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=OFF")
    secret = ":memory:" if memory else Path(private) if private else private_path(path)
    private_store.attach(db, secret)
    migrations.apply(db)
    if private_store.left_in_main(db.conn):  # a private table back in the published file
        private_store.move_out_of_main(db)
    private_store.pair(db, path, secret)
    return db
