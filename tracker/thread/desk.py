"""The desk: what only a person knows, recorded the same way from the web and the command line.

Each function checks what it is given, writes in one transaction (nothing half-written) and
re-derives the threads it touches, so a thread's status follows at once. The caller holds
the run lock (``waiting_lock``). Errors are ``DeskError``, whose text says why and what to do,
in the language asked for.

- Marks (``marks``) are the marks in force: threading reads them. ``undo`` moves a mark to
  ``marks_undone`` with who undid it and when; the thread's ``history`` shows both.
- A postal answer is an ``answered`` mark; its scan's text goes to ``scans`` (published,
  as attachments' text is) and its bytes to the private store's ``scan_files``: a scan needs a
  database opened with the private store attached (``store.open_db``).
- A letter sent outside the mailbox (post, hand, a web form) is stored as a message of the
  coalition's, built here, through the same ingest as mail: it opens threads as an email
  letter does, and later email answers match it by evidence. Its bytes (and its PDF) go to
  ``raw_messages`` in the private store.
- "Not an answer" is a mark on a waiting message: it stays stored and leaves the queue
  (``waiting``), which is ``unmatched`` without the messages so marked.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time as day_time, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator

import sqlite_utils

from ..config import Config, Correspondent
from ..i18n import format_date, parse_day
from ..parse.evidence import moment
from ..store import lock as run_lock_module
from ..store.db import iso, now_iso
from .lookup import REPLY_KINDS
from .marks import find_thread, mark
from .status import END_OF_DAY
from .threader import Threader, ThreadingError

MAX_UPLOAD = 15 * 1024 * 1024  # a scanned letter of a few pages; more is a mistake
LOCK_WAIT = 10.0  # seconds an action waits for a sync to finish
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
EXTENSIONS = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
SCAN_TYPES = ("application/pdf", "image/jpeg", "image/png")
VIA = ("post", "hand", "web_form")

SAY = {
    "future": (
        "le {day} est dans le futur : on ne peut noter que ce qui est déjà arrivé",
        "{day} is in the future: only what has already happened can be recorded",
    ),
    "before_letter": (
        "le {day} est avant le premier courrier de ce fil ({letter}) : une réponse vient après la lettre",
        "{day} is before this thread's first letter ({letter}): an answer comes after the letter",
    ),
    "not_closed": (
        "ce fil n'est pas clos (il est « {status} ») : rouvrir ne s'applique qu'à un fil clos ; pour "
        "retirer une réponse notée à la main, annulez cette annotation",
        "this thread is not closed (it is {status}): reopen applies to a closed thread only; to withdraw "
        "an answer recorded by hand, undo that mark (tracker mark THREAD --undo)",
    ),
    "not_in_thread": (
        "le message {message} n'est pas parmi les réponses de ce fil",
        "message {message} is not among this thread's answers",
    ),
    "already_closed": ("ce fil est déjà clos", "this thread is already closed"),
    "nothing_to_undo": ("ce fil n'a aucune annotation à annuler", "this thread has no mark to undo"),
    "no_message": (
        "aucun message {message}", "no message {message}; copy its Message-ID from the triage page"),
    "not_reply": (
        "ce message n'est pas une réponse reçue (il est {what}) : seules les réponses, accusés de "
        "réception et réponses automatiques se rattachent à un fil",
        "{message} is {what}: only incoming replies, acknowledgements and auto-replies can be "
        "attached to a thread",
    ),
    "other_body": (
        "ce message vient de {sender}, pas de {body} : il ne peut répondre qu'à un fil de son expéditeur",
        "this message comes from {sender}, not {body}: it can answer only a thread of its sender",
    ),
    "elsewhere": (
        "ce message est déjà dans le fil {other} : choisissez « Déplacer » pour l'en retirer",
        "this message is already in thread {other}: move it (--move) to take it out of there",
    ),
    "no_correspondent": (
        "« {name} » n'est pas un correspondant configuré ({known})",
        '"{name}" is no configured correspondent ({known})',
    ),
    "no_recipient": ("indiquez au moins un destinataire", "name at least one recipient (--to)"),
    "no_subject": ("indiquez l'objet du courrier", "give the letter's subject (--subject)"),
    "too_big": (
        "le fichier fait {size} Mo : au plus {limit} Mo", "the file is {size} MB: at most {limit} MB"),
    "empty_file": ("le fichier est vide", "the file is empty"),
    "bad_type": (
        "« {name} » n'est ni un PDF, ni une image JPEG ou PNG", '"{name}" is not a PDF, JPEG or PNG file'),
    "not_pdf_letter": ("la copie d'un courrier doit être un PDF", "the copy of a letter must be a PDF"),
    "mismatch": (
        "« {name} » n'est pas un vrai {declared} : son contenu ne commence pas comme un tel fichier",
        '"{name}" is not a real {declared}: its content does not start as such a file does',
    ),
    "locked": (
        "Une synchronisation du courrier est en cours : rien n'a été enregistré. Réessayez dans une minute.",
        "A mail sync is running: nothing was recorded. Try again in a minute.",
    ),
}


class DeskError(ThreadingError):
    """A desk action refused; the text says why (in the language asked for)."""


class DeskBusy(DeskError):
    """The run lock stayed taken: a sync is running; nothing was written."""


def say(key: str, language: str, **params: object) -> str:
    fr, en = SAY[key]
    return (en if language == "en" else fr).format(**params)


@contextmanager
def waiting_lock(database: str | Path, command: str, language: str = "fr",
                 seconds: float | None = None) -> Iterator[None]:
    """Hold the database's run lock, waiting up to ``seconds`` (default ``LOCK_WAIT``) for a
    running sync to end; raise ``DeskBusy`` (nothing done) when it does not."""
    deadline = time.monotonic() + (LOCK_WAIT if seconds is None else seconds)
    while True:
        try:
            with run_lock_module.run_lock(database, command):
                yield
            return
        except run_lock_module.Locked:
            if time.monotonic() >= deadline:
                raise DeskBusy(say("locked", language)) from None
            time.sleep(0.1)


# --- dates ----------------------------------------------------------------------------------


def person_day(text: str | date, language: str) -> date:
    """A day typed by a person (see ``i18n.parse_day``), refused when in the future."""
    try:
        day = text if isinstance(text, date) else parse_day(text, language)
    except ValueError as exc:
        raise DeskError(str(exc)) from None
    return day


def _today(config: Config) -> date:
    """The day desk actions are judged on: today, or ``as_of`` when the config sets one."""
    return config.now().astimezone(config.tz).date()


def _not_future(day: date, config: Config, language: str) -> None:
    if day > _today(config):
        raise DeskError(say("future", language, day=format_date(day, language)))


def _moment_of(day: date, config: Config, end: bool) -> datetime:
    """The end (answers) or start (letters) of a local day, never later than now (or the end
    of ``as_of``): a mark dated in the future would count only from then."""
    at = datetime.combine(day, END_OF_DAY if end else day_time(0, 0), tzinfo=config.tz)
    return min(at, config.now().astimezone(config.tz))


# --- uploads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file a person gave: its name as they had it, and its bytes."""

    filename: str
    data: bytes


def check_upload(upload: Upload, allowed: tuple[str, ...], language: str) -> str:
    """The content type of ``upload`` when it is one of ``allowed`` and its bytes agree with
    its name; else ``DeskError`` saying why."""
    name = Path(upload.filename or "").name or "fichier"
    if len(upload.data) > MAX_UPLOAD:
        raise DeskError(say("too_big", language, size=round(len(upload.data) / 1e6, 1), limit=MAX_UPLOAD // 10**6))
    if not upload.data:
        raise DeskError(say("empty_file", language))
    declared = EXTENSIONS.get(Path(name).suffix.lower())
    actual = next((kind for kind, starts in SIGNATURES.items() if upload.data.startswith(starts)), None)
    if declared is None and actual is None:
        raise DeskError(say("bad_type", language, name=name))
    if declared is not None and actual != declared:
        raise DeskError(say("mismatch", language, name=name, declared=declared.split("/")[1].upper()))
    kind = declared or actual
    if kind not in allowed:
        raise DeskError(say("not_pdf_letter" if allowed == ("application/pdf",) else "bad_type", language, name=name))
    return kind


def extracted_text(upload: Upload, content_type: str) -> str | None:
    """The text of a scan, read as the parser reads a mail attachment's."""
    from ..parse import ParseFailure, parse_message

    carrier = EmailMessage()
    carrier["Message-ID"] = "<scan@tracker.invalid>"
    carrier.set_content("")
    maintype, subtype = content_type.split("/")
    carrier.add_attachment(upload.data, maintype=maintype, subtype=subtype, filename=Path(upload.filename).name)
    try:
        parsed = parse_message(bytes(carrier))
    except ParseFailure:
        return None
    return next((a.text for a in parsed.attachments if a.text), None)


# --- marks ----------------------------------------------------------------------------------


def _thread(db: sqlite_utils.Database, thread: str) -> dict:
    tid = find_thread(db, thread)
    return dict(zip(("id", "correspondent_id", "status", "opened_at"), db.execute(
        "select id, correspondent_id, status, opened_at from threads where id = ?", [tid]).fetchone()))


def answered_by_post(db: sqlite_utils.Database, config: Config, thread: str, on: str | date, *,
                     note: str | None = None, made_by: str | None = None, scan: Upload | None = None,
                     language: str = "fr") -> int:
    """An answer received by post or by hand on ``on`` (with its scan, optional); returns the
    mark's id. Refused when ``on`` is in the future or before the thread's first letter."""
    row = _thread(db, thread)
    day = person_day(on, language)
    _not_future(day, config, language)
    if row["opened_at"]:
        first = moment(row["opened_at"]).astimezone(config.tz).date()
        if day < first:
            raise DeskError(say("before_letter", language, day=format_date(day, language),
                                letter=format_date(first, language)))
    content_type = check_upload(scan, SCAN_TYPES, language) if scan is not None else None
    text = extracted_text(scan, content_type) if scan is not None else None
    with db.atomic():
        mark(db, config, row["id"], "answered", on_date=_moment_of(day, config, end=True), note=note,
             made_by=made_by)
        mark_id = db.execute("select max(id) from marks where thread_id = ?", [row["id"]]).fetchone()[0]
        if scan is not None:
            digest = hashlib.sha256(scan.data).hexdigest()
            db.execute(
                "insert or ignore into private.scan_files (sha256, content_type, size, stored_at, raw) "
                "values (?, ?, ?, ?, ?)", [digest, content_type, len(scan.data), now_iso(), scan.data])
            db["scans"].insert({
                "thread_id": row["id"], "mark_id": mark_id, "filename": Path(scan.filename).name,
                "content_type": content_type, "size": len(scan.data), "sha256": digest, "text": text,
                "stored_at": now_iso(),
            })
    return mark_id


def close(db: sqlite_utils.Database, config: Config, thread: str, *, note: str | None = None,
          made_by: str | None = None, language: str = "fr") -> str:
    """Expect no answer any more on ``thread``."""
    row = _thread(db, thread)
    if row["status"] == "closed":
        raise DeskError(say("already_closed", language))
    return mark(db, config, row["id"], "closed", note=note, made_by=made_by)


def reopen(db: sqlite_utils.Database, config: Config, thread: str, *, note: str | None = None,
           made_by: str | None = None, language: str = "fr") -> str:
    """Reopen a thread closed by hand. Any other thread is refused: a reopen mark would
    change nothing there (an answer is withdrawn by undoing its mark)."""
    from ..i18n import t

    row = _thread(db, thread)
    if row["status"] != "closed":
        raise DeskError(say("not_closed", language, status=t(f"status.{row['status']}", language)))
    return mark(db, config, row["id"], "reopened", note=note, made_by=made_by)


def attach(db: sqlite_utils.Database, config: Config, thread: str, message_id: str, *, move: bool = False,
           note: str | None = None, made_by: str | None = None, language: str = "fr") -> str:
    """``message_id`` answers ``thread`` (a thread of its sender). A message already in another
    thread moves only when ``move`` says so."""
    row = _thread(db, thread)
    message_id = (message_id or "").strip().strip("<>")
    found = db.execute("select direction, kind, from_address from messages where message_id = ?",
                       [message_id]).fetchone()
    if found is None:
        raise DeskError(say("no_message", language, message=message_id))
    if found[0] != "incoming" or found[1] not in REPLY_KINDS:
        raise DeskError(say("not_reply", language, message=message_id, what=f"{found[0]} {found[1]}"))
    sender = _sender(db, message_id)
    if sender is not None and sender != row["correspondent_id"]:
        raise DeskError(say("other_body", language, sender=_name(config, sender),
                            body=_name(config, row["correspondent_id"])))
    other = db.execute(
        "select thread_id from thread_messages where message_id = ? and thread_id != ? and matched_by != 'bounce'",
        [message_id, row["id"]]).fetchone()
    if other and not move:
        raise DeskError(say("elsewhere", language, other=other[0]))
    return mark(db, config, row["id"], "attach", message_id=message_id, note=note, made_by=made_by)


def detach(db: sqlite_utils.Database, config: Config, thread: str, message_id: str, *,
           note: str | None = None, made_by: str | None = None, language: str = "fr") -> str:
    """``message_id`` does not belong to ``thread``: it leaves it (back to the queue when no
    other thread claims it) and no rethread puts it back there; undo, or attaching it again,
    takes that back."""
    row = _thread(db, thread)
    message_id = (message_id or "").strip().strip("<>")
    if db.execute(
        "select 1 from thread_messages where thread_id = ? and message_id = ? and matched_by != 'letter'",
        [row["id"], message_id],
    ).fetchone() is None:
        raise DeskError(say("not_in_thread", language, message=message_id))
    return mark(db, config, row["id"], "detach", message_id=message_id, note=note, made_by=made_by)


def not_an_answer(db: sqlite_utils.Database, message_id: str, *, note: str | None = None,
                  made_by: str | None = None, language: str = "fr") -> None:
    """A waiting message answers no thread: it stays stored and leaves the queue."""
    message_id = (message_id or "").strip().strip("<>")
    if db.execute("select 1 from messages where message_id = ?", [message_id]).fetchone() is None:
        raise DeskError(say("no_message", language, message=message_id))
    db["marks"].insert({"thread_id": None, "action": "not_answer", "message_id": message_id, "note": note,
                        "created_at": now_iso(), "made_by": made_by})


def undo(db: sqlite_utils.Database, config: Config, thread: str, *, made_by: str | None = None,
         language: str = "fr") -> dict:
    """Undo ``thread``'s latest mark in force and re-derive the thread; returns the mark."""
    tid = find_thread(db, thread)
    cursor = db.execute("select * from marks where thread_id = ? order by id desc limit 1", [tid])
    values = cursor.fetchone()
    if values is None:
        raise DeskError(say("nothing_to_undo", language))
    undone = dict(zip([d[0] for d in cursor.description], values))
    with db.atomic():
        db["marks_undone"].insert({**undone, "undone_at": now_iso(), "undone_by": made_by})
        db.execute("delete from marks where id = ?", [undone["id"]])
        threader = Threader(db, config)
        if undone["action"] == "attach" and undone["message_id"]:
            sender = _sender(db, undone["message_id"])
            cid = sender or db.execute("select correspondent_id from threads where id = ?", [tid]).fetchone()[0]
            threader.place_answer(cid, undone["message_id"])
        threader.touched.add(tid)
        threader.update_statuses(sorted(threader.touched))
    return undone


def history(db: sqlite_utils.Database, thread_id: str) -> list[dict]:
    """Every mark of a thread, in force or undone, oldest first: who, when, what, why."""
    cursor = db.execute(
        "select id, action, on_date, message_id, note, created_at, made_by, null as undone_at, "
        "null as undone_by from marks where thread_id = ? union all select id, action, on_date, "
        "message_id, note, created_at, made_by, undone_at, undone_by from marks_undone "
        "where thread_id = ? order by id", [thread_id, thread_id])
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor]


def waiting_count(db: sqlite_utils.Database) -> int:
    """How many messages wait for a person (the triage queue)."""
    return db.execute(WAITING_COUNT).fetchone()[0]


# the queue, as a table expression: ``select ... from {WAITING} join ...``
WAITING = (
    "(select * from unmatched w where not exists (select 1 from marks k where k.action = 'not_answer' "
    "and k.message_id = w.message_id)) u"
)
WAITING_COUNT = f"select count(*) from {WAITING}"


def _sender(db: sqlite_utils.Database, message_id: str) -> str | None:
    row = db.execute(
        "select substr(key, 6) from message_keys where message_id = ? and key like 'from:%' limit 1",
        [message_id]).fetchone()
    return row[0] if row else None


def _name(config: Config, cid: str) -> str:
    return next((c.name for c in config.correspondents if c.slug == cid), cid)


# --- letters sent outside the mailbox ---------------------------------------------------------


def correspondent(config: Config, name: str, language: str = "fr") -> Correspondent:
    """The configured correspondent ``name`` designates: its id, short name or name (any case)."""
    wanted = (name or "").strip().casefold()
    for body in config.correspondents:
        if wanted in (body.slug.casefold(), (body.short_name or "").casefold(), body.name.casefold()):
            return body
    known = ", ".join(c.slug for c in config.correspondents)
    raise DeskError(say("no_correspondent", language, name=name, known=known))


def letter_bytes(config: Config, to: list[Correspondent], cc: list[Correspondent], when: datetime,
                 subject: str, note: str | None, via: str, made_by: str | None,
                 pdf: Upload | None) -> tuple[str, bytes]:
    """The letter as the message a mailbox would hold: (Message-ID, bytes)."""
    domain = (config.coalition_domains or ["tracker.invalid"])[0]
    sender = (config.coalition_addresses or [f"coordination@{domain}"])[0]
    message_id = f"desk.{uuid.uuid4().hex}@{domain}"

    def address(body: Correspondent) -> str:
        return body.addresses[0] if body.addresses else f"courrier@{body.domains[0]}"

    letter = EmailMessage()
    letter["Message-ID"] = f"<{message_id}>"
    letter["Date"] = format_datetime(when)
    letter["From"] = sender
    letter["To"] = ", ".join(address(b) for b in to)
    if cc:
        letter["Cc"] = ", ".join(address(b) for b in cc)
    letter["Subject"] = subject
    letter["X-Tracker-Sent-Via"] = via
    if made_by:
        letter["X-Tracker-Recorded-By"] = made_by
    letter.set_content(note or "")
    if pdf is not None:
        letter.add_attachment(pdf.data, maintype="application", subtype="pdf", filename=Path(pdf.filename).name)
    return message_id, bytes(letter)


def record_letter(db: sqlite_utils.Database, config: Config, *, to: list[str], on: str | date, subject: str,
                  cc: list[str] = (), note: str | None = None, via: str = "post", pdf: Upload | None = None,
                  made_by: str | None = None, language: str = "fr") -> tuple[str, list[str]]:
    """A letter sent by post, by hand or through a web form: stored as the coalition's message
    (its bytes in the private store) and threaded as an email letter is. Returns its
    Message-ID and the threads it opened or continued."""
    from ..sources.item import RawItem
    from ..store.ingest import Ingester
    from .rethread import rethread

    if not [n for n in to if n and n.strip()]:
        raise DeskError(say("no_recipient", language))
    if not (subject or "").strip():
        raise DeskError(say("no_subject", language))
    to_bodies = [correspondent(config, n, language) for n in to if n and n.strip()]
    cc_bodies = [correspondent(config, n, language) for n in cc if n and n.strip()]
    day = person_day(on, language)
    _not_future(day, config, language)
    if pdf is not None:
        check_upload(pdf, ("application/pdf",), language)
    message_id, raw = letter_bytes(config, to_bodies, cc_bodies, _moment_of(day, config, end=False),
                                   subject.strip(), note, via if via in VIA else "post", made_by, pdf)
    item = RawItem("desk", "letters", message_id, raw, datetime.now(timezone.utc))
    with Ingester(db, config, workers=1) as ingester:
        summary = ingester.write([item])
    rethread(db, config, summary.to_rethread)
    threads = [r[0] for r in db.execute(
        "select thread_id from thread_messages where message_id = ? order by thread_id", [message_id])]
    return message_id, threads


def apply_request(db: sqlite_utils.Database, config: Config, request: dict) -> dict:
    """One action asked for as data (``tracker desk-write``, the web's writer for files): an
    ``answered`` mark with its scan, or a ``letter``; the file's bytes come base64-encoded."""
    import base64

    language = request.get("language", "fr")
    given = request.get("file")
    upload = Upload(given["filename"], base64.b64decode(given["data"])) if given else None
    if request["action"] == "answered":
        mark_id = answered_by_post(db, config, request["thread"], request["on"], note=request.get("note"),
                                   made_by=request.get("made_by"), scan=upload, language=language)
        return {"thread": find_thread(db, request["thread"]), "mark": mark_id}
    if request["action"] == "letter":
        message_id, threads = record_letter(
            db, config, to=request.get("to") or [], cc=request.get("cc") or [], on=request["on"],
            subject=request.get("subject") or "", note=request.get("note"), via=request.get("via", "post"),
            pdf=upload, made_by=request.get("made_by"), language=language)
        return {"message_id": message_id, "threads": threads}
    raise DeskError(f"unknown desk action {request['action']!r}")
