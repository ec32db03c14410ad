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


# Datasette's filter operators (its Filters.lookups() display words) -> label keys
LOOKUPS = {"exact": "ds.op.exact", "not": "ds.op.not", "contains": "ds.op.contains", "notcontains": "ds.op.notcontains",
           "endswith": "ds.op.endswith", "startswith": "ds.op.startswith", "gt": "ds.op.gt", "gte": "ds.op.gte",
           "lt": "ds.op.lt", "lte": "ds.op.lte", "like": "ds.op.like", "notlike": "ds.op.notlike", "glob": "ds.op.glob",
           "in": "ds.op.in", "notin": "ds.op.notin", "arraycontains": "ds.op.arraycontains",
           "arraynotcontains": "ds.op.arraynotcontains", "date": "ds.op.date", "isnull": "ds.op.isnull",
           "notnull": "ds.op.notnull", "isblank": "ds.op.isblank", "notblank": "ds.op.notblank"}
_HUMAN = re.compile(r'"?(?P<column>[A-Za-z_][\w]*)"? (?P<op>is on date|is not blank|is blank|is not null|is null|'
                    r'does not contain|contains|ends with|starts with|not like|like|glob|not in|in|'
                    r'array does not contain|array contains|>=|<=|!=|=|>|<)(?: "?(?P<value>[^"]*)"?)?')
_HUMAN_OPS = {"is on date": "date", "=": "exact", "!=": "not", "contains": "contains", "does not contain": "notcontains",
              "ends with": "endswith", "starts with": "startswith", ">": "gt", ">=": "gte", "<": "lt",
              "<=": "lte", "like": "like", "not like": "notlike", "glob": "glob", "in": "in", "not in": "notin",
              "array contains": "arraycontains", "array does not contain": "arraynotcontains",
              "is null": "isnull", "is not null": "notnull", "is blank": "isblank", "is not blank": "notblank"}


def lookup_label(key: str, display: str, language: str) -> str:
    """A filter operator's words ("contains") in ``language``; symbols (=, >) stay."""
    return i18n.t(LOOKUPS[key], language) if key in LOOKUPS else display


def describe_filters(text: str, language: str) -> str:
    """Datasette's English description of a table's filters and sort ('where status =
    "awaiting_reply" and overdue = 1 sorted by due_at descending') in ``language``, with
    column labels and value labels."""
    from .labels import column_label

    sort = ""
    match = re.search(r"sorted by (\w+)( descending)?$", text)
    if match:
        key = "ds.sorted_by_desc" if match.group(2) else "ds.sorted_by"
        sort = i18n.t(key, language, column=column_label(match.group(1), language))
        text = text[: match.start()].strip()
    parts = []
    for clause in re.sub(r"^where ", "", text).split(" and ") if text else []:
        found = _HUMAN.fullmatch(clause.strip())
        if not found:
            parts.append(clause)
            continue
        op = _HUMAN_OPS[found.group("op")]
        words = column_label(found.group("column"), language) + " " + lookup_label(op, found.group("op"), language)
        if found.group("value") is not None:
            opening, closing = ("« ", " »") if language == "fr" else ("“", "”")
            words += " " + opening + facet_label(found.group("column"), found.group("value"), language) + closing
        parts.append(words)
    where = (i18n.t("ds.where", language) + " " + (" " + i18n.t("ds.and", language) + " ").join(parts)) if parts else ""
    return " ".join(w for w in (where, sort) if w)


def facet_label(column: str, value: object, language: str) -> str:
    """A facet value as the table shows it: a status's label, yes or no for a 0/1 column."""
    from .labels import value_label

    if value is None or value == "":
        return "-"
    if column in BOOLEAN_COLUMNS and str(value) in ("0", "1"):
        return i18n.t("yes" if str(value) == "1" else "no", language)
    return str(value_label(value, language))


BOOLEAN_COLUMNS = {"overdue", "overdue_now", "too_few", "is_delivery_report", "acknowledgement_overdue",
                   "carried_over", "hidden"}
