"""Datasette's own words (menu links, error messages, the login plugin's errors) in the page's
language, for the templates overridden by name (base.html, _crumbs.html, _footer.html,
error.html, password_login.html)."""

from __future__ import annotations

import re

from .. import i18n
from .labels import TABLES

# Datasette's and datasette-auth-passwords' English sentences -> label keys
MENU = {"Log in": "chrome.login", "Log out": "chrome.logout", "Debug permissions": "chrome.debug_permissions"}
ERRORS = [
    (re.compile(r"^Record not found"), "chrome.message.record_not_found"),
    (re.compile(r"^Table not found"), "chrome.message.table_not_found"),
    (re.compile(r"^Database not found"), "chrome.message.database_not_found"),
    (re.compile(r"^(Not found|Page not found)"), "chrome.message.not_found"),
    (re.compile(r"^(Permission denied|Forbidden|You do not have permission)"), "chrome.message.forbidden"),
    (re.compile(r"^Invalid username or password"), "chrome.message.bad_password"),
    (re.compile(r"^This instance does not have any configured accounts"), "chrome.message.no_accounts"),
    (re.compile(r"(interrupted|time limit)", re.I), "chrome.message.too_slow"),
]


def has_word(key: str) -> bool:
    return key in i18n.LABELS


def menu_word(label: str, language: str) -> str:
    """A menu link's label ("Log in") in ``language``; unknown labels stay as they are."""
    key = MENU.get(str(label))
    return i18n.t(key, language) if key else str(label)


def error_text(error: object, language: str) -> str:
    """An error message Datasette or a plugin wrote in English, said in ``language``; an
    unknown one gets a general sentence rather than English in a French page."""
    text = str(error or "")
    for pattern, key in ERRORS:
        if pattern.search(text):
            return i18n.t(key, language)
    return i18n.t("chrome.message.other", language)


def table_title(table: str, language: str) -> str:
    entry = TABLES.get(table)
    return entry[language][0] if entry and language in entry else table


def error_page(datasette, request, exception):
    """Datasette's error pages rendered like every other page (``handle_exception``): the
    template gets tracker's words, so a 404 reads "Page introuvable" in a French instance. JSON
    requests are left to Datasette's own handler."""
    from datasette.utils.asgi import Base400, Response
    from datasette.views.base import DatasetteError

    if request is None or request.path.split("?")[0].endswith(".json"):
        return None

    async def inner():
        if isinstance(exception, Base400):
            status, message = exception.status, exception.args[0] if exception.args else ""
        elif isinstance(exception, DatasetteError):
            status, message = exception.status, exception.message
        else:
            return None  # Datasette's handler prints the traceback and shows the 500
        html = await datasette.render_template("error.html", {"status": status, "error": message}, request=request)
        return Response.html(html, status=status)

    return inner
