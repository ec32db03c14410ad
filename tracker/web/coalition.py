"""The coalition's pages (``register_routes``): who signed what, and what bodies promised.

- ``/-/associations``: the member associations of the config, each with the number of letters
  it co-signed;
- ``/-/associations/SLUG``: the letters that association co-signed, newest first, each with
  its threads (one per addressee) and their status;
- ``/-/commitments``: per body, its pending commitments, past due and due within 30 days;
- ``/-/commitments/ID``: one body's commitments (its former names' included): past due, due
  within 30 days, pending later or undated, then settled (kept, not kept, dropped);
- ``/-/cosigners?letter=MESSAGE_ID``: a letter's co-signers, and the members its text names.

The desk's actions for them (``ACTIONS``: a commitment added, marked kept, not kept, dropped or
pending again; a letter's co-signers set) are posted to ``/-/desk/act``, which checks the CSRF
token and the role and hands them to :func:`act_here`: written through a short-lived
connection to the published database only, after waiting for the run lock like the marks.

Each reads the published database only, through Datasette's read connections, after
Datasette's ``view-instance`` and ``view-database`` checks (with logins an anonymous visitor
gets the login page). Context of every template: ``page`` (documented on each handler).
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from urllib.parse import quote

import sqlite_utils
from datasette.utils.asgi import NotFound

from ..config import Config
from ..thread import commitments, desk
from .pages import _allowed, _language, _render, _rows
from .settings import DATABASE_NAME

ASSOCIATIONS = "/-/associations"
COMMITMENTS = "/-/commitments"
COSIGNERS = "/-/cosigners"
STATUS_ACTIONS = {f"commitment_{status}": status for status in commitments.STATUSES}
ACTIONS = ("commitment_add", *STATUS_ACTIONS, "cosigners")


def routes() -> list[tuple[str, object]]:
    return [(rf"^{ASSOCIATIONS}$", associations_page), (rf"^{ASSOCIATIONS}/(?P<slug>[^/]+)$", association_page),
            (rf"^{COMMITMENTS}$", commitments_page), (rf"^{COMMITMENTS}/(?P<cid>[^/]+)$", body_page),
            (rf"^{COSIGNERS}$", cosigners_page)]


def _config(datasette) -> Config:
    return datasette._tracker_config


def may_act(datasette, request) -> bool:
    """A coordinator or an admin; anyone on loopback when no logins are configured."""
    actor = request.actor or {}
    return _config(datasette).auth.may_act(actor.get("id") if request.actor else None)


def _today(config: Config) -> date:
    return config.now().astimezone(config.tz).date()


# --- associations -----------------------------------------------------------------------------


async def associations_page(datasette, request):
    """``page`` = {members: [{slug, name, short_name, letters}]}."""
    await _allowed(datasette, request)
    config = _config(datasette)
    counts = {r["member"]: r["letters"] for r in await _rows(
        datasette, "select member, count(*) as letters from cosigners group by member")}
    return await _render(datasette, request, "coalition_associations.html", {"members": [
        {"slug": m.slug, "name": m.name, "short_name": m.short_name, "letters": counts.get(m.slug, 0)}
        for m in config.members]})


async def association_page(datasette, request):
    """``page`` = {member: {slug, name, short_name, aliases}, letters: [{message_id, date,
    subject, threads: [{id, correspondent_id, correspondent, status, due_at, overdue_now}]}]}."""
    await _allowed(datasette, request)
    config = _config(datasette)
    slug = request.url_vars["slug"]
    member = next((m for m in config.members if m.slug == slug), None)
    if member is None:
        raise NotFound(slug)
    rows = await _rows(datasette, (
        "select m.message_id, m.date, m.subject, t.id as thread_id, t.correspondent_id, t.correspondent, "
        "t.status, t.due_at, (t.status in ('awaiting_reply', 'acknowledged') and "
        "julianday(t.due_at) < (select julianday(tracker_now()))) as overdue_now from cosigners c "
        "join messages m on m.message_id = c.message_id "
        "left join thread_messages tm on tm.message_id = m.message_id "
        "left join threads t on t.id = tm.thread_id where c.member = :slug "
        "order by m.date desc, m.message_id, t.correspondent"), {"slug": slug})
    letters: dict[str, dict] = {}
    for row in rows:
        letter = letters.setdefault(row["message_id"], {"message_id": row["message_id"], "date": row["date"],
                                                         "subject": row["subject"], "threads": []})
        if row["thread_id"]:
            letter["threads"].append({"id": row["thread_id"], "correspondent_id": row["correspondent_id"],
                                      "correspondent": row["correspondent"], "status": row["status"],
                                      "due_at": row["due_at"], "overdue_now": bool(row["overdue_now"])})
    return await _render(datasette, request, "coalition_association.html", {
        "member": {"slug": member.slug, "name": member.name, "short_name": member.short_name,
                   "aliases": member.aliases}, "letters": list(letters.values())})


# --- commitments ------------------------------------------------------------------------------


async def _commitments(datasette, config: Config, correspondent: str | None = None) -> list[dict]:
    rows = await datasette.get_database(DATABASE_NAME).execute(
        f"select {commitments.COLUMNS} from commitments {commitments.ORDER}")
    return commitments.shaped([tuple(r) for r in rows.rows], config, _today(config), correspondent)


def _sections(items: list[dict], today: date) -> dict[str, list[dict]]:
    soon = (today + timedelta(days=commitments.DUE_SOON_DAYS)).isoformat()
    pending = [c for c in items if c["status"] == "pending"]
    return {
        "overdue": [c for c in pending if c["overdue"]],
        "due_soon": [c for c in pending if not c["overdue"] and c["due_on"] and c["due_on"] <= soon],
        "later": [c for c in pending if not c["overdue"] and not (c["due_on"] and c["due_on"] <= soon)],
        "settled": [c for c in items if c["status"] != "pending"],
    }


async def commitments_page(datasette, request):
    """``page`` = {bodies: [{id, name, any, overdue, due_soon, later, settled (counts)}], total}:
    every configured body, those with commitments first (the template shows those)."""
    await _allowed(datasette, request)
    config = _config(datasette)
    items = await _commitments(datasette, config)
    today = _today(config)
    bodies = []
    for correspondent in config.correspondents:
        sections = _sections([c for c in items if c["correspondent_id"] == correspondent.slug], today)
        counts = {name: len(found) for name, found in sections.items()}
        bodies.append({"id": correspondent.slug, "name": correspondent.name, "any": any(counts.values()), **counts})
    bodies.sort(key=lambda b: (-b["overdue"], -(b["due_soon"] + b["later"] + b["settled"]), b["name"]))
    return await _render(datasette, request, "coalition_commitments.html", {"bodies": bodies, "total": len(items)})


async def body_page(datasette, request):
    """``page`` = {body: {id, name, formerly: [names]}, overdue, due_soon, later, settled:
    [commitment as in ``tracker commitment list --format json``, with ``subject`` of its thread]},
    threads: [{id, subject, opened_at}] (the body's, for the desk's form), may_act}."""
    await _allowed(datasette, request)
    config = _config(datasette)
    cid = request.url_vars["cid"]
    correspondent = next((c for c in config.correspondents if c.slug == cid), None)
    if correspondent is None:
        raise NotFound(cid)
    items = await _commitments(datasette, config, cid)
    threads = await _rows(datasette, "select id, subject, opened_at from threads where correspondent_id = :cid "
                                     "order by opened_at desc", {"cid": cid})
    subjects = {t["id"]: t["subject"] for t in await _rows(
        datasette, "select id, subject from threads where id in (select thread_id from commitments)")}
    for item in items:
        item["subject"] = subjects.get(item["thread_id"])
    return await _render(datasette, request, "coalition_body.html", {
        "body": {"id": correspondent.slug, "name": correspondent.name,
                 "formerly": [f.name for f in correspondent.formerly]},
        **_sections(items, _today(config)), "threads": threads, "may_act": may_act(datasette, request)})


async def cosigners_page(datasette, request):
    """``page`` = {letter: {message_id, date, subject}, threads: [{id, correspondent}],
    members: [{slug, name, signed, named}], may_act}."""
    await _allowed(datasette, request)
    config = _config(datasette)
    mid = (request.args.get("letter") or "").strip().strip("<>")
    found = await _rows(datasette, "select message_id, date, subject, body_text from messages where message_id = :mid "
                                   "and direction = 'outgoing'", {"mid": mid})
    if not found:
        raise NotFound(mid)
    letter = found[0]
    texts = [letter["subject"], letter["body_text"], *(r["text"] for r in await _rows(
        datasette, "select text from attachments where message_id = :mid", {"mid": mid}))]
    named = set(commitments.named_members(config, texts))
    signed = {r["member"] for r in await _rows(datasette, "select member from cosigners where message_id = :mid",
                                               {"mid": mid})}
    threads = await _rows(datasette, "select t.id, t.correspondent from thread_messages tm join threads t on "
                                     "t.id = tm.thread_id where tm.message_id = :mid order by t.correspondent",
                          {"mid": mid})
    return await _render(datasette, request, "coalition_cosigners.html", {
        "letter": {k: letter[k] for k in ("message_id", "date", "subject")}, "threads": threads,
        "members": [{"slug": m.slug, "name": m.name, "signed": m.slug in signed, "named": m.slug in named}
                    for m in config.members], "may_act": may_act(datasette, request)})


# --- the desk's actions -----------------------------------------------------------------------


def act_here(config: Config, action: str, fields: dict[str, str], who: str, language: str) -> dict:
    """One of ``ACTIONS`` from the desk's form ``fields``; returns {"path": where to go next}.
    Refusals are ``desk.DeskError`` (400), a sync holding the lock ``desk.DeskBusy`` (503)."""
    with desk.waiting_lock(config.database, "desk", language):
        conn = sqlite3.connect(str(config.database), timeout=desk.LOCK_WAIT, isolation_level=None)
        try:
            db = sqlite_utils.Database(conn)
            return _act(db, config, action, fields, who)
        except commitments.CommitmentError as exc:
            raise desk.DeskError(str(exc)) from None
        finally:
            conn.close()


def _act(db: sqlite_utils.Database, config: Config, action: str, fields: dict[str, str], who: str) -> dict:
    note = (fields.get("note") or "").strip() or None
    if action == "cosigners":
        letter = (fields.get("letter") or "").strip().strip("<>")
        commitments.set_cosigners(db, config, letter, [v for k, v in fields.items() if k.startswith("member") and v],
                                  made_by=who)
        return {"path": f"{COSIGNERS}?letter={quote(letter, safe='@')}"}
    if action == "commitment_add":
        found = commitments.add(db, config, words=fields.get("words", ""), due_on=fields.get("due_on") or None,
                                correspondent=fields.get("correspondent") or None,
                                thread=fields.get("thread") or None, said_in=fields.get("said_in") or "meeting",
                                said_on=fields.get("said_on") or None, note=note, made_by=who)
    else:
        try:
            found = int(fields.get("commitment", ""))
        except ValueError:
            raise commitments.CommitmentError("no commitment was named") from None
        commitments.set_status(db, config, found, STATUS_ACTIONS[action], note=note, made_by=who)
    body = db.execute("select correspondent_id from commitments where id = ?", [found]).fetchone()[0]
    current = commitments.body(config, body).slug
    return {"path": f"{COMMITMENTS}/{current}#c{found}"}


def association_url(datasette, slug: str | None = None) -> str:
    return datasette.urls.path(ASSOCIATIONS + (f"/{slug}" if slug else ""))


def commitments_url(datasette, cid: str | None = None) -> str:
    return datasette.urls.path(COMMITMENTS + (f"/{cid}" if cid else ""))
