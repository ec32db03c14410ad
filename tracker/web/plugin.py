"""The Datasette plugin of tracker (registered by :func:`tracker.publish.make_datasette`).

Hooks, each doing one thing:

- ``prepare_connection``: a SQLite authorizer that refuses to read ``raw_messages`` on every
  Datasette connection, and the SQL helpers the canned queries use (``tracker_fts``,
  ``tracker_row_url``).
- ``asgi_wrapper``: a Content-Security-Policy on every response. Scripts may only come from
  Datasette's own static files and the few inline scripts Datasette's templates ship, allowed by
  their sha256 (computed from the installed templates at import); nothing that message content
  could inject matches, so an injected ``<script>`` or ``onerror=`` never runs. Images only from
  the server itself: remote images (tracking pixels) never load.
- ``extra_template_vars``: labels in the configured language, the sanitizer, and the data of the
  tracker pages (home, thread, correspondent), fetched only after Datasette's permission checks.
- ``render_cell``: French/English badges for statuses and kinds, links from ``thread_id`` cells.
- ``forbidden``: with logins configured, an anonymous visitor is sent to the login page.

The hooks do nothing for a Datasette instance that is not tracker's (no ``tracker`` plugin
settings), so registering the module globally is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import nh3
from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import Response
from markupsafe import Markup, escape
from zoneinfo import ZoneInfo

from . import publish

# shown as local dates in canned query results (tables keep the ISO text, which sorts and filters)
DATE_COLUMNS = {"date", "opened_at", "due_at", "last_letter_at", "last_reply_at", "waiting_since",
                "created_at", "quarantined_at"}


def _settings(datasette) -> dict | None:
    # plugin_config() re-reads the metadata and resolves secrets on every call, and render_cell
    # runs once per cell: read it once per Datasette instance
    try:
        return datasette._tracker_settings
    except AttributeError:
        datasette._tracker_settings = datasette.plugin_config("tracker")
        return datasette._tracker_settings


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


def _authorizer(never_served: frozenset[str]):
    def authorize(action, arg1, arg2, database, source):
        # column "" is a read of no column (count(*)): it tells how many rows, not what they hold
        if action == sqlite3.SQLITE_READ and arg1 in never_served and arg2 != "":
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_ATTACH:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


def thread_path(datasette, thread_id: str) -> str:
    """The path of a thread's page, with Datasette's base_url prefix."""
    return datasette.urls.row(publish.DATABASE_NAME, "threads", tilde_encode(str(thread_id)))


@hookimpl
def prepare_connection(conn, database, datasette):
    settings = _settings(datasette)
    if settings is None or database != publish.DATABASE_NAME:
        return
    conn.set_authorizer(_authorizer(frozenset(settings.get("never_served", publish.NEVER_SERVED))))
    conn.create_function("tracker_fts", 1, fts_query, deterministic=True)
    root = (settings.get("feed_root") or "").rstrip("/")

    def row_url(table, pk):
        if pk is None:
            return None
        path = datasette.urls.row(publish.DATABASE_NAME, table, tilde_encode(str(pk)))
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
    if _settings(datasette) is None:
        return lambda app: app

    allowed = _settings(datasette).get("allowed_hosts")

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

            async def send_with_headers(event):
                if event["type"] == "http.response.start":
                    headers = [h for h in event.get("headers", []) if h[0].lower() not in _OURS]
                    event = dict(event, headers=headers + SECURITY_HEADERS)
                await send(event)

            await app(scope, receive, send_with_headers)

        return with_security_headers

    return wrap


@hookimpl
def extra_css_urls(datasette):
    if _settings(datasette) is None:
        return []
    return [datasette.urls.path(f"/{publish.STATIC_MOUNT}/tracker.css")]


@hookimpl
def forbidden(datasette, request, message):
    settings = _settings(datasette)
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


# --- sanitizing and formatting --------------------------------------------------------------

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}


def sanitize_html(html: str | None) -> Markup:
    """Message HTML reduced to an allow-list: no scripts, styles, event handlers, images (remote
    images track readers), forms or frames; links only to http(s) and mailto, opened without a
    referrer."""
    if not html:
        return Markup("")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(cleaned)


def human_size(size: int | None, language: str = "fr") -> str:
    """1536 -> "1,5 Ko" (fr) or "1.5 KB" (en)."""
    if size is None:
        return ""
    units = ["o", "Ko", "Mo", "Go"] if language == "fr" else ["B", "KB", "MB", "GB"]
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            text = f"{value:.0f}" if unit == units[0] else f"{value:.1f}"
            return (text.replace(".", ",") if language == "fr" else text) + "\u00a0" + unit
        value /= 1024
    return str(size)


def number(value, language: str = "fr") -> str:
    """41.0 -> "41", 27.5 -> "27,5" (fr); None -> "—"."""
    if value is None:
        return "—"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace(".", ",") if language == "fr" else text


def highlight(excerpt: str | None) -> Markup:
    """An FTS snippet (matches between \\x02 and \\x03) as escaped HTML with <mark>."""
    text = str(escape(excerpt or ""))
    return Markup(text.replace("\x02", "<mark>").replace("\x03", "</mark>"))


_QUOTE_START = re.compile(
    r"^(>|Le .+ a écrit\s*:$|On .+ wrote\s*:$|-+ ?(Original Message|Message d'origine))"
)


def split_quoted(body: str | None) -> tuple[str, str]:
    """A message text split into what its author wrote and the quoted part that follows
    ("> ..." lines, "Le ... a écrit :", "On ... wrote:", "----- Original Message")."""
    lines = (body or "").replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if index > 0 and _QUOTE_START.match(line.strip()):
            return "\n".join(lines[:index]).rstrip(), "\n".join(lines[index:]).strip()
    return (body or "").rstrip(), ""


def _word(key: str, language: str) -> str:
    pair = publish.WORDS.get(key)
    return (pair[0] if language == "fr" else pair[1]) if pair else key


def _value(value: Any, language: str) -> str:
    return publish.value_label(value, language)


def json_list(value: str | None) -> str:
    """'["a.fr", "b.fr"]' -> "a.fr, b.fr" (the text itself when it is not a JSON list)."""
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return str(value)
    return ", ".join(str(i) for i in items) if isinstance(items, list) else str(value)


def deadline_label(value: str | None, language: str) -> str:
    """"2 months" -> "2 mois", "15 working days" -> "15 jours ouvrés" in French."""
    if not value:
        return "—"
    if language != "fr":
        return value
    return (value.replace("working days", "jours ouvrés").replace("working day", "jour ouvré")
            .replace("months", "mois").replace("month", "mois").replace("days", "jours")
            .replace("day", "jour"))


def local_date(value: str | None, language: str, with_time: bool = True, tz: str | None = None) -> str:
    """"2024-03-01T09:30:00+00:00" -> "01/03/2024 10:30" (fr, in ``tz``, the coalition's time
    zone) or "2024-03-01 10:30" (en). Text that is not an ISO date is shown as it is."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if tz and moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(tz))
    shown = moment.strftime("%d/%m/%Y" if language == "fr" else "%Y-%m-%d")
    if with_time and "T" in str(value):
        shown += moment.strftime(" %H:%M")
    return shown


# --- charts ---------------------------------------------------------------------------------


def days_to_reply_svg(rows: list[dict], language: str, deadline_days: float = 61) -> Markup:
    """A horizontal bar chart, one bar per correspondent: the median days to the first reply,
    with a whisker to the 90th percentile and a dashed line at the legal delay. Server-side
    SVG: no script, so it works under the strict CSP, prints, and needs no network."""
    rows = [r for r in rows if r.get("median_days") is not None]
    if not rows:
        return Markup("")
    label_w, bar_w, row_h, top = 210, 380, 26, 28
    largest = max([deadline_days] + [r.get("p90_days") or r["median_days"] for r in rows])
    scale = bar_w / (largest * 1.08)
    height = top + row_h * len(rows) + 8
    width = label_w + bar_w + 70
    out = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(_word("days_to_reply_chart", language))}</title>',
    ]
    step = 30 if largest <= 240 else 90
    for tick in range(0, int(largest * 1.08) + 1, step):
        x = label_w + tick * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{x:.1f}" y="{top - 10}" font-size="11" text-anchor="middle" fill="#666">{tick}</text>')
    for index, row in enumerate(rows):
        y = top + index * row_h
        name = row.get("short_name") or row.get("correspondent") or "?"
        median, p90 = row["median_days"], row.get("p90_days")
        colour = "#c0392b" if median > deadline_days else "#2e6da4"
        out.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" font-size="13" text-anchor="end" '
            f'fill="#222">{escape(name)}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 5}" width="{max(median * scale, 1):.1f}" height="{row_h - 10}" '
            f'fill="{colour}"><title>{escape(name)}: {number(median, language)}</title></rect>'
        )
        if p90 is not None and p90 > median:
            x1, x2 = label_w + median * scale, label_w + p90 * scale
            mid = y + row_h / 2
            out.append(f'<line x1="{x1:.1f}" y1="{mid:.1f}" x2="{x2:.1f}" y2="{mid:.1f}" stroke="#555"/>')
            out.append(f'<line x1="{x2:.1f}" y1="{mid - 5:.1f}" x2="{x2:.1f}" y2="{mid + 5:.1f}" stroke="#555"/>')
        label_x = label_w + max(median, p90 or 0) * scale + 6
        out.append(
            f'<text x="{label_x:.1f}" y="{y + row_h / 2 + 4:.1f}" font-size="12" fill="#333">{number(median, language)}</text>'
        )
    x = label_w + deadline_days * scale
    out.append(
        f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" stroke="#c0392b" '
        f'stroke-dasharray="4 3"/>'
    )
    out.append("</svg>")
    return Markup("".join(out))


# --- page data ------------------------------------------------------------------------------


async def _rows(db, sql: str, params=None, time_limit_ms: int | None = None) -> list[dict]:
    result = await db.execute(sql, params or [], custom_time_limit=time_limit_ms)
    return [dict(row) for row in result.rows]


_home_cache: dict[str, tuple[tuple, dict]] = {}


def _database_stamp(datasette) -> tuple:
    """Changes whenever the database does: a commit grows or rewrites the WAL file, a
    checkpoint rewrites the database file."""
    path = Path(datasette.get_database(publish.DATABASE_NAME).path)
    stamp = []
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            info = file.stat()
            stamp += [info.st_mtime_ns, info.st_size]
        except OSError:
            stamp += [None, None]
    return tuple(stamp)


async def home_data(datasette, language: str) -> dict:
    """The home page's figures. The responsiveness view reads every reply (about a second with
    100,000 messages), so the result is kept until the database changes."""
    stamp = _database_stamp(datasette)
    key = f"{id(datasette)}:{language}"
    cached = _home_cache.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    db = datasette.get_database(publish.DATABASE_NAME)
    correspondents = await _rows(
        db,
        f"""
        select c.id, c.name, c.short_name, count(t.id) as threads,
          coalesce(sum(t.status in ('awaiting_reply', 'acknowledged')), 0) as waiting,
          coalesce(sum({publish.OVERDUE_NOW}), 0) as overdue
        from correspondents c left join threads t on t.correspondent_id = c.id
        group by c.id order by overdue desc, waiting desc, c.name
        """,
    )
    # computed once per database change (cached below), so it may take longer than a page query
    responsiveness = await _rows(db, "select * from responsiveness", time_limit_ms=60_000)
    short = {c["id"]: c["short_name"] for c in correspondents}
    for row in responsiveness:
        row["short_name"] = short.get(row["correspondent_id"]) or row["correspondent"]
    responsiveness.sort(key=lambda r: (r["median_days"] is None, -(r["median_days"] or 0)))
    counts = (await _rows(
        db,
        "select (select count(*) from messages) as messages, (select count(*) from threads) as threads, "
        f"(select count(*) from unmatched) as unmatched, (select count(*) from threads t where {publish.OVERDUE_NOW}) as overdue",
    ))[0]
    oldest = await _rows(
        db,
        f"select id, correspondent, subject, opened_at, due_at, status from threads t "
        f"where {publish.OVERDUE_NOW} order by due_at limit 10",
    )
    data = {
        "oldest_overdue": oldest,
        "correspondents": correspondents,
        "responsiveness": responsiveness,
        "chart": days_to_reply_svg(responsiveness, language, _settings(datasette).get("deadline_days", 61)),
        "counts": counts,
    }
    _home_cache[key] = (stamp, data)
    return data


async def thread_data(datasette, thread_id: str) -> dict | None:
    db = datasette.get_database(publish.DATABASE_NAME)
    threads = await _rows(
        db, f"select *, {publish.OVERDUE_NOW} as overdue_now from threads t where id = ?", [thread_id]
    )
    if not threads:
        return None
    messages = await _rows(
        db,
        """
        select m.message_id, m.date, m.date_original, m.from_name, m.from_address, m.subject,
          m.direction, m.kind, m.body_text, m.body_html, m.attachment_count, tm.matched_by
        from thread_messages tm join messages m on m.message_id = tm.message_id
        where tm.thread_id = ? order by m.date, m.message_id
        """,
        [thread_id],
    )
    ids = [m["message_id"] for m in messages]
    people: dict[str, dict[str, list]] = {i: {"to": [], "cc": [], "bcc": []} for i in ids}
    files: dict[str, list] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for r in await _rows(
            db, f"select * from recipients where message_id in ({marks}) order by role, position", ids
        ):
            people[r["message_id"]].setdefault(r["role"], []).append(r)
        for a in await _rows(
            db,
            f"select id, message_id, filename, content_type, size from attachments "
            f"where message_id in ({marks}) order by position",
            ids,
        ):
            files[a["message_id"]].append(a)
    for message in messages:
        message["recipients"] = people[message["message_id"]]
        message["attachments"] = files[message["message_id"]]
        message["text"], message["quoted"] = split_quoted(message["body_text"])
    marks_rows = await _rows(db, "select * from marks where thread_id = ? order by id", [thread_id])
    return {"thread": threads[0], "messages": messages, "marks": marks_rows}


async def correspondent_data(datasette, correspondent_id: str) -> dict:
    db = datasette.get_database(publish.DATABASE_NAME)
    threads = await _rows(
        db,
        f"select id, subject, status, opened_at, last_letter_at, last_reply_at, due_at, "
        f"{publish.OVERDUE_NOW} as overdue from threads t where correspondent_id = ? "
        f"order by opened_at desc limit 1000",
        [correspondent_id],
    )
    figures = await _rows(db, "select * from responsiveness where correspondent_id = ?", [correspondent_id])
    return {"threads": threads, "figures": figures[0] if figures else None}


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    settings = _settings(datasette)
    if settings is None:
        return {}
    language = settings.get("language", "fr")

    async def inner() -> dict:
        values: dict[str, Any] = {
            "tracker_language": language,
            "tracker_deadline": settings.get("deadline"),
            "label": lambda key: _word(key, language),
            "value_label": lambda value: _value(value, language),
            "column_label": lambda column: publish.column_label(column, language),
            "human_size": lambda size: human_size(size, language),
            "number": lambda value: number(value, language),
            "sanitize_html": sanitize_html,
            "highlight": highlight,
            "json_list": json_list,
            "deadline_label": lambda value: deadline_label(value, language),
            "local_date": lambda value, with_time=True: local_date(
                value, language, with_time, settings.get("timezone")
            ),
            "thread_url": lambda thread_id: thread_path(datasette, thread_id),
            "message_url": lambda message_id: datasette.urls.row(
                publish.DATABASE_NAME, "messages", tilde_encode(str(message_id))
            ),
            "correspondent_url": lambda cid: datasette.urls.row(
                publish.DATABASE_NAME, "correspondents", tilde_encode(str(cid))
            ),
        }
        if view_name == "index":
            values["home"] = await home_data(datasette, language)
        elif view_name == "row" and database == publish.DATABASE_NAME and request is not None:
            pks = urlsafe_components(request.url_vars.get("pks", ""))
            if table == "threads" and len(pks) == 1:
                values["thread_page"] = await thread_data(datasette, pks[0])
            elif table == "correspondents" and len(pks) == 1:
                values["correspondent_page"] = await correspondent_data(datasette, pks[0])
        return values

    return inner


@hookimpl
def render_cell(value, column, table, database, datasette):
    settings = _settings(datasette)
    if settings is None or database != publish.DATABASE_NAME or value is None:
        return None
    language = settings.get("language", "fr")
    if column in ("status", "kind", "direction") and str(value) in publish.VALUES:
        # the CSS class uses the raw value; the text is the label
        return Markup(
            f'<span class="badge badge-{escape(value)}">{escape(_value(value, language))}</span>'
        )
    if table is None and column in DATE_COLUMNS and isinstance(value, str) and "T" in value:
        shown = local_date(value, language, tz=settings.get("timezone"))
        return Markup(f'<time datetime="{escape(value)}">{escape(shown)}</time>')
    if column == "thread_id" and table is None:
        return Markup(f'<a href="{escape(thread_path(datasette, value))}">{escape(value)}</a>')
    return None
