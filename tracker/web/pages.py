"""tracker's own pages for reading (``register_routes``), in place of Datasette's table and SQL pages:

- ``/-/threads``: every thread, filtered by status, correspondent, overdue, period (first letter
  between two days) and text (subject or correspondent, accents and case folded by the
  ``tracker_fold`` SQL function), sorted by due date, 50 a page;
- ``/-/unanswered``: the letters whose due date has passed without a reply, oldest due date
  first, optionally grouped by correspondent (``?group=1``);
- ``/-/responsiveness``: per correspondent, the reply rate as a percentage with its interval in
  words, the median and 90th-percentile delays in days, "too few letters to say";
- ``/-/search``: full-text search whose results are threads, with their status and the passage
  that matched.

Each reads the published database only, through Datasette's read connections, after
Datasette's ``view-instance`` and ``view-database`` checks: with logins configured an anonymous
visitor gets the login page (the ``forbidden`` hook). Context of every template: ``page`` (what
the handler below builds, documented on each) plus Datasette's usual variables.
"""

from __future__ import annotations

import functools
import unicodedata
from urllib.parse import urlencode

from datasette.utils.asgi import Forbidden, Response

from .. import i18n
from .queries import OVERDUE_NOW, RESPONSIVENESS
from .settings import DATABASE_NAME, plugin_settings

PAGE_SIZE = 50
STATUSES = ("awaiting_reply", "acknowledged", "answered", "bounced", "closed")
ROUTES = {"threads": "/-/threads", "unanswered": "/-/unanswered",
          "responsiveness": "/-/responsiveness", "search": "/-/search"}


def fold(text: str | None) -> str:
    """Lower case without accents: "Hébergement" -> "hebergement" (the threads filter)."""
    if not text:
        return ""
    return _fold(str(text))


@functools.lru_cache(maxsize=100_000)
def _fold(text: str) -> str:
    # the threads filter folds every subject of the table: kept for the next search (about
    # 10 MB for 100,000 subjects), and ASCII needs no decomposition
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def routes() -> list[tuple[str, object]]:
    return [(rf"^{ROUTES['threads']}$", threads_page), (rf"^{ROUTES['unanswered']}$", unanswered_page),
            (rf"^{ROUTES['responsiveness']}$", responsiveness_page), (rf"^{ROUTES['search']}$", search_page)]


def page_url(datasette, name: str, **args) -> str:
    """The path of one of these pages with its query string (empty values left out)."""
    query = urlencode({k: v for k, v in args.items() if v not in (None, "", 0, False)})
    return datasette.urls.path(ROUTES[name]) + ("?" + query if query else "")


async def _allowed(datasette, request) -> None:
    for action, resource in (("view-instance", None), ("view-database", DATABASE_NAME)):
        if not await datasette.permission_allowed(request.actor, action, resource, default=True):
            raise Forbidden(action)


def _language(datasette) -> str:
    return (plugin_settings(datasette) or {}).get("language", "fr")


async def _rows(datasette, sql: str, params: dict | None = None) -> list[dict]:
    result = await datasette.get_database(DATABASE_NAME).execute(sql, params or {})
    return [dict(row) for row in result.rows]


async def _render(datasette, request, template: str, page: dict) -> Response:
    html = await datasette.render_template(template, {"page": page}, request=request)
    return Response.html(html)


def _number(value: str | None, default: int = 1) -> int:
    try:
        return max(int(value or default), 1)
    except ValueError:
        return default


def _day(text: str | None, language: str) -> str | None:
    """A day typed in a filter ("01/03/2026", "2026-03-01") as ISO text, None when unreadable."""
    if not (text or "").strip():
        return None
    try:
        return i18n.parse_day(text, language).isoformat()
    except ValueError:
        return None


# --- the threads list -------------------------------------------------------------------------


async def threads_page(datasette, request) -> Response:
    """``page`` = {filters: {status, correspondent, overdue, since, until, q}, rows: [thread +
    overdue_now], total, number (of the page), pages, previous, next (urls), correspondents,
    statuses, problems: [words]}."""
    await _allowed(datasette, request)
    language = _language(datasette)
    args = request.args
    filters = {name: (args.get(name) or "").strip() for name in ("status", "correspondent", "overdue", "since", "until", "q")}
    where, params, problems = [], {}, []
    if filters["status"] in STATUSES:
        where.append("t.status = :status")
        params["status"] = filters["status"]
    if filters["correspondent"]:
        where.append("t.correspondent_id = :correspondent")
        params["correspondent"] = filters["correspondent"]
    if filters["overdue"] == "1":
        where.append(OVERDUE_NOW)
    for name, test in (("since", "date(t.opened_at) >= :since"), ("until", "date(t.opened_at) <= :until")):
        if filters[name]:
            day = _day(filters[name], language)
            if day is None:
                problems.append(i18n.t("date.unreadable", language, text=filters[name]))
            else:
                where.append(test)
                params[name] = day
    correspondents = await _rows(datasette, "select id, name from correspondents order by name")
    if filters["q"]:
        # the subject folded in SQL, row by row; the few correspondents' names here
        words = fold(filters["q"])
        named = [c["id"] for c in correspondents if words in fold(c["name"])]
        params.update({f"named{i}": cid for i, cid in enumerate(named)})
        by_name = f" or t.correspondent_id in ({', '.join(f':named{i}' for i in range(len(named)))})" if named else ""
        where.append(f"(tracker_fold(t.subject) like :q escape '\\'{by_name})")
        params["q"] = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    condition = " and ".join(where) or "1"
    if (args.get("format") or "") in ("csv", "csv-comma"):
        return await _threads_csv(datasette, condition, params, args.get("format"), language)
    number = _number(args.get("page"))
    # with words to find, one pass over the threads gives the page and the count (the folding
    # costs a Python call a row); without, a count by index and a top-50 sort are cheaper
    counted = ", count(*) over () as total" if filters["q"] else ""
    select = (
        f"select t.id, t.correspondent_id, t.correspondent, t.subject, t.status, t.opened_at, t.last_reply_at, "
        f"t.due_at, {OVERDUE_NOW} as overdue_now{counted} from threads t where {condition} "
        f"order by t.due_at is null, t.due_at, t.opened_at limit {PAGE_SIZE} offset "
    )
    rows = await _rows(datasette, select + str((number - 1) * PAGE_SIZE), params) if counted else []
    if rows:
        total = rows[0]["total"]
    else:
        total = (await _rows(datasette, f"select count(*) as n from threads t where {condition}", params))[0]["n"]
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    if not rows and total:  # no words to find, or past the last page (then the last page)
        number = min(number, pages)
        rows = await _rows(datasette, select + str((number - 1) * PAGE_SIZE), params)
    shown = {k: v for k, v in filters.items() if v}
    return await _render(datasette, request, "page_threads.html", {
        "filters": filters, "rows": rows, "total": total, "number": number, "pages": pages,
        "previous": page_url(datasette, "threads", **shown, page=number - 1) if number > 1 else None,
        "next": page_url(datasette, "threads", **shown, page=number + 1) if number < pages else None,
        "correspondents": correspondents, "statuses": STATUSES, "problems": problems,
        "csv": page_url(datasette, "threads", **shown, format="csv"),
        "csv_comma": page_url(datasette, "threads", **shown, format="csv-comma"),
        "first": (number - 1) * PAGE_SIZE + 1 if total else 0, "last": (number - 1) * PAGE_SIZE + len(rows),
    })


CSV_COLUMNS = ("id", "correspondent", "subject", "status", "opened_at", "due_at", "last_reply_at", "overdue")


async def _threads_csv(datasette, condition: str, params: dict, fmt: str, language: str) -> Response:
    """The filtered threads, every page, as the CSV of ``tracker report --format csv`` (French
    spreadsheets: semicolons, BOM, dd/mm/yyyy, headers and values in the page's language) or
    ``csv-comma`` (ISO dates, raw values): days in the coalition's time zone."""
    import io

    from ..report.reports import csv_writer
    from .format import local_day
    from .labels import column_label, value_label

    rows = await _rows(datasette, f"select t.id, t.correspondent, t.subject, t.status, t.opened_at, t.due_at, "
                                  f"t.last_reply_at, {OVERDUE_NOW} as overdue from threads t where {condition} "
                                  f"order by t.due_at is null, t.due_at, t.opened_at", params)
    tz = datasette._tracker_config.timezone
    out = io.StringIO()
    write = csv_writer(out, fmt, language)
    write([column_label(c, language) if fmt == "csv" else c for c in CSV_COLUMNS])
    for r in rows:
        if fmt == "csv":
            write([r["id"], r["correspondent"], r["subject"], value_label(r["status"], language),
                   local_day(r["opened_at"], tz), local_day(r["due_at"], tz), local_day(r["last_reply_at"], tz),
                   i18n.t("yes" if r["overdue"] else "no", language)])
        else:
            write([r[c] for c in CSV_COLUMNS[:-1]] + [int(bool(r["overdue"]))])
    name = ("fils" if language == "fr" else "threads") + ".csv"
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


# --- unanswered letters -----------------------------------------------------------------------


UNANSWERED_SHOWN = 500


async def unanswered_page(datasette, request) -> Response:
    """``page`` = {rows: [thread + days_waiting, days_overdue], grouped: bool, groups:
    [{correspondent_id, correspondent, rows}], bounced: [threads]}."""
    await _allowed(datasette, request)
    grouped = request.args.get("group") == "1"
    rows = await _rows(
        datasette,
        f"select t.id, t.correspondent_id, t.correspondent, t.subject, t.status, t.opened_at, t.due_at, "
        f"cast((select julianday(tracker_now())) - julianday(t.opened_at) as integer) as days_waiting, "
        f"cast((select julianday(tracker_now())) - julianday(t.due_at) as integer) as days_overdue "
        f"from threads t where {OVERDUE_NOW} order by t.due_at, t.correspondent limit {UNANSWERED_SHOWN}",
    )
    # a page of thousands of rows takes seconds to render: the oldest first, the rest in /-/threads
    total = (await _rows(datasette, f"select count(*) as n from threads t where {OVERDUE_NOW}"))[0]["n"]
    groups: dict[str, dict] = {}
    for row in rows:
        groups.setdefault(row["correspondent_id"], {"correspondent_id": row["correspondent_id"],
                                                     "correspondent": row["correspondent"], "rows": []})["rows"].append(row)
    bounced = await _rows(
        datasette,
        "select id, correspondent_id, correspondent, subject, opened_at from threads where status = 'bounced' "
        "order by opened_at desc",
    )
    return await _render(datasette, request, "page_unanswered.html", {
        "rows": rows, "grouped": grouped, "total": total,
        "more": page_url(datasette, "threads", overdue=1) if total > len(rows) else None,
        "groups": sorted(groups.values(), key=lambda g: (-len(g["rows"]), g["correspondent"] or "")),
        "bounced": bounced,
    })


# --- responsiveness ---------------------------------------------------------------------------


async def responsiveness_page(datasette, request) -> Response:
    """``page`` = {rows: [the responsiveness view's row]}; the template words the figures."""
    await _allowed(datasette, request)
    rows = await _rows(datasette, f"select * from ({RESPONSIVENESS}) order by too_few, reply_rate desc, correspondent")
    return await _render(datasette, request, "page_responsiveness.html", {"rows": rows})


# --- search -----------------------------------------------------------------------------------

SEARCH_THREADS = """
with hits as (
  select tm.thread_id, f.excerpt, m.date, 'message' as found_in, null as filename
  from (select rowid, snippet(messages_fts, -1, char(2), char(3), '…', 16) as excerpt
        from messages_fts where messages_fts match tracker_fts(:q) order by rowid desc limit 300) f
  join messages m on m.rowid = f.rowid join thread_messages tm on tm.message_id = m.message_id
  union all
  select tm.thread_id, f.excerpt, m.date, 'attachment', a.filename
  from (select rowid, snippet(attachments_fts, -1, char(2), char(3), '…', 16) as excerpt
        from attachments_fts where attachments_fts match tracker_fts(:q) order by rowid desc limit 100) f
  join attachments a on a.rowid = f.rowid join messages m on m.message_id = a.message_id
  join thread_messages tm on tm.message_id = a.message_id
)
select t.id, t.correspondent_id, t.correspondent, t.subject, t.status, t.opened_at, t.due_at,
  {overdue} as overdue_now, count(*) as hits, max(h.date) as latest,
  (select h2.excerpt from hits h2 where h2.thread_id = t.id order by h2.date desc limit 1) as excerpt,
  (select h2.filename from hits h2 where h2.thread_id = t.id order by h2.date desc limit 1) as filename
from hits h join threads t on t.id = h.thread_id
group by t.id order by latest desc limit 100
"""


async def search_page(datasette, request) -> Response:
    """``page`` = {q, rows: [thread + overdue_now, hits, excerpt (\\x02/\\x03 around matches),
    filename (when the passage is an attachment's)]}."""
    await _allowed(datasette, request)
    q = (request.args.get("q") or "").strip()
    rows = []
    if q:
        rows = await _rows(datasette, SEARCH_THREADS.format(overdue=OVERDUE_NOW), {"q": q})
    return await _render(datasette, request, "page_search.html", {"q": q, "rows": rows})
