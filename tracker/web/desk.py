"""The desk in the browser: the triage page, a thread's actions and history, letters sent by post.

Routes (``register_routes``):

- ``GET /-/desk/triage``: the messages waiting for a person, each with its candidate threads;
  members read it, coordinators act from it.
- ``GET /-/desk/letter``: the form for a letter sent outside the mailbox (coordinators).
- ``POST /-/desk/act``: every action. Datasette's CSRF token (``csrftoken()``, signed, in the
  ``ds_csrftoken`` cookie) is required in the form and checked here: asgi-csrf is told to stand
  aside for this path (``skip_csrf``) because it cannot read a multipart form with the installed
  python-multipart and lets any POST without cookies through, which a cross-site form is;
  members and visitors get 403; the run lock is waited for ``desk.LOCK_WAIT`` seconds.

Who writes what: marks are written here, through a short-lived connection to the published
database only, closed after the action. What carries bytes (a scan, a letter and its PDF) is
written by a child process, ``tracker desk-write``, which opens the private store: the web
process never opens that file, as DESIGN.md requires, and no file descriptor of it can stay
open in the server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess
import sys
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, quote

import sqlite_utils
from datasette.utils import tilde_encode
from datasette.utils.asgi import Response

from ..config import Config
from ..i18n import format_date
from ..parse.evidence import moment
from ..thread import desk
from . import coalition
from .settings import DATABASE_NAME

DESK = "/-/desk"
BODY_LIMIT = desk.MAX_UPLOAD + 256 * 1024  # the file and the form's other fields
MARK_ACTIONS = ("answered", "close", "reopen", "attach", "move", "detach", "undo", "not_answer")
OTHER_THREADS = 200  # threads offered to attach or move a message to: the latest of its correspondent
REASONS = {
    "several threads match equally well": (
        "plusieurs fils correspondent aussi bien : dites lequel", "several threads match equally well"),
    "no letter to this correspondent shares a subject, date or reference with it": (
        "aucun courrier à ce correspondant n'a le même objet, la même date ou la même référence",
        "no letter to this correspondent shares a subject, date or reference with it"),
    "from a body that was only copied (Cc) on the letter; attach it only if it answers": (
        "l'expéditeur n'était qu'en copie du courrier : rattachez-le seulement s'il y répond",
        "from a body that was only copied (Cc) on the letter; attach it only if it answers"),
}
EVIDENCE = {"s": ("même objet", "same subject"), "d": ("cite la date du courrier", "cites the letter's date"),
            "r": ("même référence", "same reference"), "w": ("nomme l'objet", "names the subject")}


def routes() -> list[tuple[str, object]]:
    return [(rf"^{DESK}/triage$", triage_page), (rf"^{DESK}/letter$", letter_page), (rf"^{DESK}/act$", act)]


def _config(datasette) -> Config:
    return datasette._tracker_config


def _language(datasette) -> str:
    return _config(datasette).language


def user_of(request) -> str | None:
    return (request.actor or {}).get("id") if request.actor else None


def may_act(datasette, request) -> bool:
    """A coordinator or an admin; anyone on loopback when no logins are configured."""
    return _config(datasette).auth.may_act(user_of(request))


def _who(request) -> str:
    return user_of(request) or "local"


def _fr(pair: tuple[str, str], language: str) -> str:
    return pair[1] if language == "en" else pair[0]


async def _page(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    html = await datasette.render_template(template, {**context, "desk_language": _language(datasette)}, request=request)
    return Response.html(html, status=status)


async def _refused(datasette, request, text: str, status: int) -> Response:
    return await _page(datasette, request, "desk_message.html", {"message": text, "back": _back_url(datasette, request)},
                       status)


def _back_url(datasette, request) -> str:
    return datasette.urls.path(f"{DESK}/triage")


# --- reading ------------------------------------------------------------------------------------


async def waiting(datasette, language: str) -> list[dict]:
    """The messages waiting for a person, each with its candidates and its sender's threads."""
    db = datasette.get_database(DATABASE_NAME)
    rows = _dicts(await db.execute(
        "select u.message_id, u.correspondent_id, u.candidates, u.reason, m.date, m.from_name, m.from_address, "
        "m.subject, substr(m.body_text, 1, 600) as opening, (select group_concat(substr(a.text, 1, 300), ' … ') "
        f"from attachments a where a.message_id = u.message_id) as attachment_text from {desk.WAITING} "
        # the few waiting messages first, then their rows (not every message probed by date)
        "cross join messages m on m.message_id = u.message_id order by m.date desc, u.message_id"))
    threads: dict[str, dict] = {}
    columns = "select id, correspondent_id, correspondent, subject, opened_at, status from threads "
    wanted = sorted({c["thread_id"] for r in rows for c in json.loads(r["candidates"] or "[]")})
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for t in _dicts(await db.execute(columns + f"where id in ({','.join('?' * len(chunk))})", chunk)):
            threads[t["id"]] = t
    latest: dict[str, list[dict]] = {}
    for cid in sorted({r["correspondent_id"] for r in rows}):
        latest[cid] = _dicts(await db.execute(
            columns + f"where correspondent_id = ? order by opened_at desc limit {OTHER_THREADS}", [cid]))
    cards = []
    for row in rows:
        candidates = []
        for c in json.loads(row["candidates"] or "[]"):
            if c["thread_id"] in threads:
                candidates.append({**threads[c["thread_id"]], "evidence": [_evidence(e, language) for e in c["evidence"]]})
        cards.append({**row, "candidates": candidates,
                      "why": _fr(REASONS.get(row["reason"], (row["reason"], row["reason"])), language),
                      "others": latest.get(row["correspondent_id"], [])})
    return cards


def _dicts(results) -> list[dict]:
    return [dict(row) for row in results.rows]


def _evidence(key: str, language: str) -> str:
    kind, _, value = key.partition(":")
    words = _fr(EVIDENCE.get(kind, (kind, kind)), language)
    if kind == "d":
        try:
            value = format_date(moment(value + "T12:00:00+00:00"), language)
        except ValueError:
            pass
    return f"{words} ({value})" if value and kind in ("d", "r") else words


async def thread_desk(datasette, request, thread_id: str) -> dict:
    """What the thread page shows of the desk: history, scans, the sender's other threads."""
    db = datasette.get_database(DATABASE_NAME)
    history = _dicts(await db.execute(
        "select id, action, on_date, message_id, note, created_at, made_by, null as undone_at, null as undone_by "
        "from marks where thread_id = ? union all select id, action, on_date, message_id, note, created_at, "
        "made_by, undone_at, undone_by from marks_undone where thread_id = ? order by id", [thread_id, thread_id]))
    scans = _dicts(await db.execute(
        "select s.id, s.mark_id, s.filename, s.content_type, s.size, substr(s.text, 1, 2000) as text, "
        "exists(select 1 from marks k where k.id = s.mark_id) as in_force from scans s where s.thread_id = ? "
        "order by s.id", [thread_id]))
    others = _dicts(await db.execute(
        "select id, subject, opened_at from threads where correspondent_id = (select correspondent_id from threads "
        f"where id = ?) and id != ? order by opened_at desc limit {OTHER_THREADS}", [thread_id, thread_id]))
    incoming = _dicts(await db.execute(
        "select m.message_id, m.date, m.subject from thread_messages tm join messages m on m.message_id = "
        "tm.message_id where tm.thread_id = ? and m.direction = 'incoming' order by m.date", [thread_id]))
    in_force = [h for h in history if not h["undone_at"]]
    return {"may_act": may_act(datasette, request), "history": history, "latest": in_force[-1] if in_force else None, "scans": scans, "others": others,
            "incoming": incoming, "act_url": datasette.urls.path(f"{DESK}/act"), "thread_id": thread_id,
            "max_upload_mb": desk.MAX_UPLOAD // 10**6}


# --- pages --------------------------------------------------------------------------------------


async def triage_page(datasette, request):
    if not await datasette.permission_allowed(request.actor, "view-instance", default=True):
        if not request.actor:
            return Response.redirect(datasette.urls.path("/-/login"))
        return await _refused(datasette, request, _fr(("Connectez-vous pour voir cette page.", "Log in to see this page."),
                                                      _language(datasette)), 403)
    language = _language(datasette)
    return await _page(datasette, request, "desk_triage.html", {
        "cards": await waiting(datasette, language), "may_act": may_act(datasette, request),
        "act_url": datasette.urls.path(f"{DESK}/act"),
    })


async def letter_page(datasette, request):
    if not may_act(datasette, request):
        return await _refused(datasette, request, _fr(NOT_ALLOWED, _language(datasette)), 403)
    config = _config(datasette)
    return await _page(datasette, request, "desk_letter.html", {
        "correspondents": [{"id": c.slug, "name": c.name} for c in config.correspondents],
        "act_url": datasette.urls.path(f"{DESK}/act"), "max_upload_mb": desk.MAX_UPLOAD // 10**6,
    })


NOT_ALLOWED = ("Seuls les coordinateurs peuvent agir ici : votre compte peut lire, pas modifier.",
               "Only coordinators may act here: your account may read, not change anything.")
BAD_TOKEN = ("Ce formulaire a expiré ou ne vient pas de cette page : rechargez la page et recommencez.",
             "This form has expired or did not come from this site: reload the page and try again.")
TOO_LARGE = ("Le fichier est trop gros : au plus {limit} Mo.", "The file is too large: at most {limit} MB.")


# --- acting -------------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


async def _body(request) -> bytes:
    body = b""
    while True:
        message = await request.receive()
        body += message.get("body", b"")
        if len(body) > BODY_LIMIT:
            raise _TooLarge
        if not message.get("more_body"):
            return body


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], desk.Upload | None]:
    """Form fields (the first value of each) and the uploaded file, if any."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        fields: dict[str, str] = {}
        upload = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            data = part.get_payload(decode=True) or b""
            if filename is not None:
                if filename or data:
                    upload = desk.Upload(filename, data)
            elif name:
                fields.setdefault(name, data.decode("utf-8", "replace"))
        return fields, upload
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}, None


async def act(datasette, request):
    language = _language(datasette)
    if request.method != "POST":
        return Response.text("POST only", status=405)
    if not may_act(datasette, request):
        return await _refused(datasette, request, _fr(NOT_ALLOWED, language), 403)
    try:
        fields, upload = parse_form(request.headers.get("content-type", ""), await _body(request))
    except _TooLarge:
        return await _refused(datasette, request, _fr(TOO_LARGE, language).format(limit=desk.MAX_UPLOAD // 10**6), 413)
    token = request.scope.get("csrftoken")
    if not ("ds_csrftoken" in request.cookies and token and fields.get("csrftoken") == token()):
        return await _refused(datasette, request, _fr(BAD_TOKEN, language), 403)
    action = fields.get("action", "")
    config = _config(datasette)
    try:
        if action == "letter" or (action == "answered" and upload is not None):
            answer = await asyncio.to_thread(_elsewhere, config, _request(action, fields, upload, _who(request), language))
        elif action in MARK_ACTIONS:
            answer = await asyncio.to_thread(_mark_here, config, action, fields, _who(request), language)
        elif action in coalition.ACTIONS:  # commitments and co-signers
            answer = await asyncio.to_thread(coalition.act_here, config, action, fields, _who(request), language)
        else:
            return await _refused(datasette, request, f"unknown action {action!r}", 400)
    except desk.DeskBusy as exc:
        return await _refused(datasette, request, str(exc), 503)
    except desk.DeskError as exc:
        return await _refused(datasette, request, str(exc), 400)
    datasette.add_message(request, _fr(("C'est enregistré.", "Recorded."), language), datasette.INFO)
    if answer.get("path"):
        where = datasette.urls.path(answer["path"])
    elif answer.get("threads"):
        where = datasette.urls.row(DATABASE_NAME, "threads", tilde_encode(answer["threads"][0]))
    elif fields.get("back") == "triage" or not answer.get("thread"):
        where = datasette.urls.path(f"{DESK}/triage")
    else:
        where = datasette.urls.row(DATABASE_NAME, "threads", tilde_encode(answer["thread"]))
    return Response.redirect(where)


def _request(action: str, fields: dict, upload: desk.Upload | None, who: str, language: str) -> dict:
    request = {"action": action, "language": language, "made_by": who, "on": fields.get("on", ""),
               "note": fields.get("note") or None}
    if action == "answered":
        request["thread"] = fields.get("thread", "")
    else:
        request.update(to=[v for k, v in fields.items() if k.startswith("to") and v],
                       cc=[v for k, v in fields.items() if k.startswith("cc") and v],
                       subject=fields.get("subject", ""), via=fields.get("via", "post"))
    if upload is not None:
        request["file"] = {"filename": upload.filename, "data": base64.b64encode(upload.data).decode()}
    return request


def _elsewhere(config: Config, request: dict) -> dict:
    """Run an action that stores bytes in the private store in ``tracker desk-write``."""
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config.path), "desk-write"],
        input=json.dumps(request).encode(), capture_output=True, timeout=120,
    )
    try:
        answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise desk.DeskError(_fr(("L'enregistrement a échoué ; rien n'a été modifié.",
                                  "Recording failed; nothing was changed."), request["language"])) from None
    if "error" in answer:
        raise (desk.DeskBusy if answer.get("busy") else desk.DeskError)(answer["error"])
    return answer


def _mark_here(config: Config, action: str, fields: dict, who: str, language: str) -> dict:
    """A mark, written through a connection to the published database only."""
    with desk.waiting_lock(config.database, "desk", language):
        conn = sqlite3.connect(str(config.database), timeout=desk.LOCK_WAIT, isolation_level=None)
        try:
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA foreign_keys=OFF")
            thread, note = fields.get("thread", ""), fields.get("note") or None
            if action == "answered":
                desk.answered_by_post(db, config, thread, fields.get("on", ""), note=note, made_by=who, language=language)
            elif action == "close":
                desk.close(db, config, thread, note=note, made_by=who, language=language)
            elif action == "reopen":
                desk.reopen(db, config, thread, note=note, made_by=who, language=language)
            elif action in ("attach", "move"):
                thread = fields.get("target") or thread
                desk.attach(db, config, thread, fields.get("message", ""), move=action == "move", note=note,
                            made_by=who, language=language)
            elif action == "detach":
                desk.detach(db, config, thread, fields.get("message", ""), note=note, made_by=who, language=language)
            elif action == "undo":
                desk.undo(db, config, thread, made_by=who, language=language)
            elif action == "not_answer":
                desk.not_an_answer(db, fields.get("message", ""), note=note, made_by=who, language=language)
                return {}
            return {"thread": desk.find_thread(db, thread)}
        finally:
            conn.close()


def triage_url(datasette) -> str:
    return datasette.urls.path(f"{DESK}/triage")


def quoted(value: str) -> str:
    return quote(value, safe="")
