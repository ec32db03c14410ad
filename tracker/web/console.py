"""Datasette's generic pages as an admins' console once logins exist (DESIGN.md, "Who sees
what"): a table's or view's rows (HTML, JSON, CSV) and SQL of one's own are for ``[auth] admins``
(and coordinators, whose desk work is checked in the tables; SQL stays the admins' through
``allow_sql``); a member asking for a table is sent to tracker's own page for it (the threads
list) or told, in the page's language, that the page is for admins. Ready-made queries stay for
members in JSON and CSV (scripts read them); their HTML is tracker's page where one exists
(unanswered, responsiveness, search). The database page lists only the ready-made queries for
them (database.html). Row pages (a thread, a body, a message) stay for every
member: tracker's thread and ministry pages are row pages. Anonymous visitors are left to
Datasette's ``allow`` block (the login page); without accounts the one local person is admin.
"""

from __future__ import annotations

import re
from html import escape

from datasette.actor_auth_cookie import actor_from_request
from datasette.utils.asgi import Request

from .. import i18n
from .settings import DATABASE_NAME

# the generic page -> tracker's own page for the same thing
OWN_PAGES = {"threads": "/-/threads", "unanswered": "/-/unanswered", "responsiveness": "/-/responsiveness",
             "search": "/-/search"}
_CONSOLE = re.compile(rf"^/{DATABASE_NAME}(?:\.\w+)?$|^/{DATABASE_NAME}/(?P<name>[^/]+?)(?:\.\w+)?$")


def console_name(path: str) -> str | None:
    """For a path without the base_url prefix: "" for the database page, the table or query name
    for a table's or a query's page (any format), None for anything else (rows, tracker's pages)."""
    match = _CONSOLE.match(path)
    if not match:
        return None
    return match.group("name") or ""


def members_guard(datasette, settings: dict, headers: list):
    """An ASGI step, or None when there are no accounts: non-admin visitors with an actor get
    tracker's page or a 403 for the console's pages; ``headers`` go on its answers."""
    if not settings.get("auth"):
        return None
    # coordinators keep the tables too: the desk's work (scans, marks) is checked there
    console_people = set(settings.get("admins") or []) | set(settings.get("coordinators") or [])
    queries = set(((datasette.metadata() or {}).get("databases", {}).get(DATABASE_NAME, {}).get("queries") or {}))
    prefix = datasette.urls.path("/").rstrip("/")
    language = settings.get("language", "fr")

    async def guard(scope, receive, send) -> bool:
        """True when it answered the request itself."""
        path = scope.get("path", "")
        if prefix and path.startswith(prefix):
            path = path[len(prefix):]
        name = console_name(path)
        if name is None:
            return False
        actor = actor_from_request(datasette, Request(scope, receive))
        if not actor or actor.get("id") in console_people:
            return False
        html = not re.search(r"\.\w+$", path)
        if name == "" and html:
            return False  # the database page lists a member's ready-made queries (database.html)
        if name in queries and not (html and name in OWN_PAGES):
            return False  # ready-made queries stay for members (scripts read their JSON and CSV)
        if name in OWN_PAGES and html:
            await _respond(send, 302, [(b"location", (prefix + OWN_PAGES[name]).encode()), *headers], b"")
            return True
        text = i18n.t("chrome.admins_only", language)
        home = escape(prefix + "/")
        body = (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"><title>{escape(text)}</title>'
                f'<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
                f'<h1>{escape(text)}</h1><p><a href="{home}">{escape(i18n.t("chrome.back_home", language))}</a></p>'
                f'</main></body></html>')
        await _respond(send, 403, [(b"content-type", b"text/html; charset=utf-8"), *headers], body.encode())
        return True

    return guard


async def _respond(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
