"""The Datasette plugin of tracker (registered by :func:`tracker.make_datasette`).

Hooks, each doing one thing:

- ``prepare_connection``: the SQLite authorizer of :mod:`tracker.web.guard` (private tables,
  leaking virtual tables and functions) on every Datasette connection, and the SQL helpers the canned queries use (``tracker_fts``,
  ``tracker_row_url``, ``tracker_now``: the config's ``as_of`` or the clock).
- ``asgi_wrapper``: formula cells of every CSV export neutralized and the login cookie made
  HttpOnly, SameSite=Lax, expiring and (https) Secure (:mod:`tracker.web.responses`); and
  a Content-Security-Policy on every response. Scripts may only come from
  Datasette's own static files and the few inline scripts Datasette's templates ship, allowed by
  their sha256 (computed from the installed templates at import); nothing that message content
  could inject matches, so an injected ``<script>`` or ``onerror=`` never runs. Images only from
  the server itself: remote images (tracking pixels) never load.
- ``extra_template_vars``: labels in the configured language, the sanitizer, and the data of the
  tracker pages (home, thread, correspondent), fetched only after Datasette's permission checks.
- ``render_cell``: French/English badges for statuses and kinds, links from ``thread_id`` cells.
- ``register_routes``: the desk's pages and actions (:mod:`tracker.web.desk`).
- ``forbidden``: with logins configured, an anonymous visitor is sent to the login page.

The hooks do nothing for a Datasette instance that is not tracker's (no ``tracker`` plugin
settings), so registering the module globally is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import Response
from markupsafe import Markup, escape
from . import attachments, calendar, chrome, coalition, console, desk, pages
from .context import correspondent_data, home_data, thread_data
from ..i18n import format_date, plural, t
from .guard import authorizer
from .responses import CsvCells, is_csv, login_cookie
from .format import deadline_label, highlight, human_size, json_list, local_date, number, percent, sanitize_html, _value, _word
from .labels import column_label, VALUES
from .settings import DATABASE_NAME, NEVER_SERVED, plugin_settings, STATIC_MOUNT

# shown as local dates in canned query results (tables keep the ISO text, which sorts and filters)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?$")
DATE_COLUMNS = {"date", "opened_at", "due_at", "last_letter_at", "last_reply_at", "waiting_since",
                "created_at", "quarantined_at"}


# --- SQL helpers ----------------------------------------------------------------------------

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def fts_query(text: str | None) -> str:
    """Turn what a person typed into a safe FTS5 query: every word (or "quoted phrase") must
    appear; a trailing ``*`` keeps prefix search. FTS syntax characters lose their meaning."""
    parts = []
    for phrase, word in _TOKEN.findall(text or ""):
        if phrase:
            cleaned = phrase.strip()
            if cleaned:
                parts.append('"' + cleaned + '"')
            continue
        prefix = word.endswith("*")
        word = word.replace('"', "").rstrip("*")
        if word:
            parts.append('"' + word + '"' + ("*" if prefix else ""))
    # an empty query matches nothing instead of failing
    return " ".join(parts) or '"\u2063"'


def thread_path(datasette, thread_id: str) -> str:
    """The path of a thread's page, with Datasette's base_url prefix."""
    return datasette.urls.row(DATABASE_NAME, "threads", tilde_encode(str(thread_id)))


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@hookimpl
def prepare_connection(conn, database, datasette):
    settings = plugin_settings(datasette)
    if settings is None or database != DATABASE_NAME:
        return
    conn.set_authorizer(authorizer(settings.get("never_served", NEVER_SERVED)))
    conn.create_function("tracker_fts", 1, fts_query, deterministic=True)
    conn.create_function("tracker_fold", 1, pages.fold, deterministic=True)
    # what the pages' SQL calls now: the config's as_of (the demo's last day), or the clock
    fixed = settings.get("now")
    conn.create_function("tracker_now", 0, (lambda: fixed) if fixed else _utc_now)
    root = (settings.get("feed_root") or "").rstrip("/")

    def row_url(table, pk):
        if pk is None:
            return None
        path = datasette.urls.row(DATABASE_NAME, table, tilde_encode(str(pk)))
        base = datasette.urls.path("/")
        # feed_root is the public address of Datasette's root (it includes any prefix)
        return root + "/" + path[len(base):] if root else path

    conn.create_function("tracker_row_url", 2, row_url)


# --- Content-Security-Policy ----------------------------------------------------------------


def _datasette_inline_script_hashes() -> list[str]:
    """sha256 sources for the inline scripts Datasette's own templates emit."""
    import datasette

    folder = Path(datasette.__file__).parent / "templates"
    bodies = []
    for template in folder.glob("*.html"):
        for body in re.findall(r"<script>(.*?)</script>", template.read_text("utf-8"), re.S):
            if "{{" not in body and "{%" not in body:
                bodies.append(body)
    bodies += ["DATASETTE_ALLOW_FACET = true;", "DATASETTE_ALLOW_FACET = false;"]
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode("utf-8")).digest()).decode() + "'"
        for b in bodies
    ]


CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' " + " ".join(_datasette_inline_script_hashes()),
        "script-src-attr 'none'",
        # Datasette's pages use style attributes and <style> blocks; CSS cannot run scripts
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_OURS = {name for name, _ in SECURITY_HEADERS}


def request_host(scope) -> str:
    """The host name a request was sent to (Host header, port and brackets removed)."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host[1:].split("]", 1)[0]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return "127.0.0.1" if scope.get("client") is None else ""


@hookimpl
def asgi_wrapper(datasette):
    if plugin_settings(datasette) is None:
        return lambda app: app

    allowed = plugin_settings(datasette).get("allowed_hosts")
    secure = bool(plugin_settings(datasette).get("secure_cookies"))

    members = console.members_guard(datasette, plugin_settings(datasette), SECURITY_HEADERS)

    def wrap(app):
        async def with_security_headers(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            if allowed is not None and request_host(scope) not in allowed:
                # DNS rebinding: a page on another site reaching 127.0.0.1 under its own name
                await send({"type": "http.response.start", "status": 421,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        *SECURITY_HEADERS]})
                await send({"type": "http.response.body",
                            "body": b"Misdirected request: unknown host name.\n"})
                return

            if members is not None and await members(scope, receive, send):
                return  # a member asked for the admins' console
            csv_cells = None

            async def send_with_headers(event):
                nonlocal csv_cells
                if event["type"] == "http.response.start":
                    headers = [
                        (name, login_cookie(value, datasette, secure) if name.lower() == b"set-cookie" else value)
                        for name, value in event.get("headers", []) if name.lower() not in _OURS
                    ]
                    if is_csv(scope.get("path", ""), headers):
                        csv_cells = CsvCells()
                        headers = [h for h in headers if h[0].lower() != b"content-length"]
                    event = dict(event, headers=headers + SECURITY_HEADERS)
                elif event["type"] == "http.response.body" and csv_cells is not None:
                    event = dict(event, body=csv_cells.feed(event.get("body", b"")))
                await send(event)

            await app(scope, receive, send_with_headers)

        return with_security_headers

    return wrap


@hookimpl
def extra_css_urls(datasette):
    if plugin_settings(datasette) is None:
        return []
    return [datasette.urls.path(f"/{STATIC_MOUNT}/tracker.css")]


@hookimpl
def extra_js_urls(datasette):
    if plugin_settings(datasette) is None:
        return []
    # deferred: it runs after Datasette's inline script has made the SQL editor
    return [{"url": datasette.urls.path(f"/{STATIC_MOUNT}/tracker.js"), "module": True}]


@hookimpl
def handle_exception(datasette, request, exception):
    if plugin_settings(datasette) is not None:
        return chrome.error_page(datasette, request, exception)


@hookimpl
def forbidden(datasette, request, message):
    settings = plugin_settings(datasette)
    if settings and settings.get("auth") and not request.actor:
        return Response.redirect(datasette.urls.path("/-/login"))


# --- a month facet ----------------------------------------------------------------------------


def _month_facet_class():
    from datasette.database import QueryInterrupted
    from datasette.facets import Facet
    from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

    class MonthFacet(Facet):
        """Counts per calendar month ("2024-03") of an ISO date column; choosing a month filters
        with Datasette's own ``column__startswith=2024-03``."""

        type = "month"

        async def suggest(self):
            return []

        async def facet_results(self):
            results, timed_out = [], []
            args = dict(self.get_querystring_pairs())
            size = self.get_facet_size()
            columns = None
            if self.table:
                columns = await self.ds.get_database(self.database).table_columns(self.table)
            for source_and_config in self.get_configs():
                config, source = source_and_config["config"], source_and_config["source"]
                column = config.get("column") or config["simple"]
                if columns is not None and column not in columns:
                    continue  # ?_facet_month=nosuchcolumn: no facet, not an error page
                sql = (
                    f"select substr({escape_sqlite(column)}, 1, 7) as value, count(*) as count "
                    f"from ({self.sql}) where {escape_sqlite(column)} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' "
                    f"group by value order by value desc limit {size + 1}"
                )
                try:
                    rows = await self.ds.execute(
                        self.database, sql, self.params, truncate=False,
                        custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                    )
                except QueryInterrupted:
                    timed_out.append(column)
                    continue
                values = []
                key = f"{column}__startswith"
                for row in rows.rows[:size]:
                    selected = args.get(key) == row["value"]
                    path = (path_with_removed_args(self.request, {key: row["value"]}) if selected
                            else path_with_added_args(self.request, {key: row["value"]}))
                    values.append({"value": row["value"], "label": row["value"], "count": row["count"],
                                   "toggle_url": self.ds.absolute_url(self.request, path),
                                   "selected": selected})
                results.append({
                    "name": column, "type": self.type, "results": values,
                    "hideable": source != "metadata",
                    "toggle_url": path_with_removed_args(self.request, {"_facet_month": column}),
                    "truncated": len(rows.rows) > size,
                })
            return results, timed_out

    return MonthFacet


@hookimpl
def register_facet_classes():
    return [_month_facet_class()]


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    settings = plugin_settings(datasette)
    if settings is None:
        return {}
    language = settings.get("language", "fr")

    async def inner() -> dict:
        values: dict[str, Any] = {
            "tracker_language": language,
            "tr": lambda key, **params: t(key, language, **params),
            "plural": lambda key, count: plural(key, count, language),
            "page_url": lambda name, **args: pages.page_url(datasette, name, **args),
            "tracker_deadline": settings.get("deadline"),
            # a label's colon as each language writes it: "Échéance : …", "Due: …"
            "colon": Markup("\u00a0: ") if language == "fr" else ": ",
            # the day the config judges as of (``as_of``): every page says so under its header
            "tracker_as_of": format_date(date.fromisoformat(settings["as_of"]), language)
            if settings.get("as_of") else None,
            "label": lambda key: _word(key, language),
            "value_label": lambda value: _value(value, language),
            "column_label": lambda column: column_label(column, language),
            "human_size": lambda size: human_size(size, language),
            "number": lambda value: number(value, language),
            "percent": lambda value: percent(value, language),
            "has_word": chrome.has_word,
            "chrome_word": lambda label: chrome.menu_word(label, language),
            "error_text": lambda error: chrome.error_text(error, language),
            "table_title": lambda table: chrome.table_title(table, language),
            "describe_filters": lambda text: chrome.describe_filters(text, language),
            "lookup_label": lambda key, display: chrome.lookup_label(key, display, language),
            "facet_label": lambda column, value: chrome.facet_label(column, value, language),
            "sanitize_html": sanitize_html,
            "highlight": highlight,
            "json_list": json_list,
            "deadline_label": lambda value: deadline_label(value, language),
            "local_date": lambda value, with_time=True: local_date(
                value, language, with_time, settings.get("timezone")
            ),
            "thread_url": lambda thread_id: thread_path(datasette, thread_id),
            "attachment_url": lambda attachment_id: attachments.attachment_url(datasette, attachment_id),
            "scan_url": lambda scan_id: attachments.scan_url(datasette, scan_id),
            "message_url": lambda message_id: datasette.urls.row(
                DATABASE_NAME, "messages", tilde_encode(str(message_id))
            ),
            "triage_url": desk.triage_url(datasette),
            "letter_url": datasette.urls.path(f"{desk.DESK}/letter"),
            "may_act": desk.may_act(datasette, request) if request is not None else False,
            "correspondent_url": lambda cid: datasette.urls.row(
                DATABASE_NAME, "correspondents", tilde_encode(str(cid))
            ),
        }
        if view_name == "index":
            values["home"] = await home_data(datasette, language)
        elif view_name == "row" and database == DATABASE_NAME and request is not None:
            pks = urlsafe_components(request.url_vars.get("pks", ""))
            if table == "threads" and len(pks) == 1:
                values["thread_page"] = await thread_data(datasette, pks[0])
                if values["thread_page"]:
                    values["desk"] = await desk.thread_desk(datasette, request, pks[0])
            elif table == "correspondents" and len(pks) == 1:
                values["correspondent_page"] = await correspondent_data(datasette, pks[0])
        return values

    return inner


@hookimpl
def skip_csrf(datasette, scope):
    # the desk checks Datasette's CSRF token itself (tracker.web.desk.act): asgi-csrf cannot
    # read a multipart form with the installed python-multipart, and lets a POST without
    # cookies through
    return plugin_settings(datasette) is not None and scope.get("path", "").endswith(f"{desk.DESK}/act")


@hookimpl
def register_routes(datasette):
    if plugin_settings(datasette) is None:
        return []
    return desk.routes() + pages.routes() + coalition.routes() + calendar.routes() + attachments.routes()


@hookimpl
def render_cell(value, column, table, database, datasette):
    settings = plugin_settings(datasette)
    if settings is None or database != DATABASE_NAME or value is None:
        return None
    language = settings.get("language", "fr")
    if column in ("status", "kind", "direction") and str(value) in VALUES:
        # the CSS class uses the raw value; the text is the label
        return Markup(
            f'<span class="badge badge-{escape(value)}">{escape(_value(value, language))}</span>'
        )
    if isinstance(value, str) and (column in DATE_COLUMNS or ISO_TIME.match(value)) and "T" in value:
        shown = local_date(value, language, tz=settings.get("timezone"))
        return Markup(f'<time datetime="{escape(value)}">{escape(shown)}</time>')
    if isinstance(value, str) and value[:1] in "[{" and value[-1:] in "]}":
        # JSON kept as data (headers, candidates, reports) reads as code, not as words
        return Markup(f'<code class="json">{escape(value)}</code>')
    if column in chrome.BOOLEAN_COLUMNS and str(value) in ("0", "1"):
        return t("yes" if str(value) == "1" else "no", language)
    if column == "thread_id" and table is None:
        return Markup(f'<a href="{escape(thread_path(datasette, value))}">{escape(value)}</a>')
    return None
