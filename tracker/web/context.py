"""The data of tracker's pages (home, thread, correspondent), read for their templates."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from .format import days_to_reply_svg, split_quoted
from ..store.db import responsiveness_sql
from .queries import OVERDUE_NOW, RESPONSIVENESS
from .settings import DATABASE_NAME, plugin_settings



# --- page data ------------------------------------------------------------------------------


async def _rows(db, sql: str, params=None, time_limit_ms: int | None = None) -> list[dict]:
    result = await db.execute(sql, params or [], custom_time_limit=time_limit_ms)
    return [dict(row) for row in result.rows]


_home_cache: dict[str, tuple[tuple, dict]] = {}
CORRESPONDENT_SHOWN = 50  # threads in each list of a correspondent's page (overdue, waiting, latest)


def _database_stamp(datasette) -> tuple:
    """Changes whenever the database does: a commit grows or rewrites the WAL file, a
    checkpoint rewrites the database file."""
    path = Path(datasette.get_database(DATABASE_NAME).path)
    stamp = []
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            info = file.stat()
            stamp += [info.st_mtime_ns, info.st_size]
        except OSError:
            stamp += [None, None]
    return tuple(stamp)


async def home_data(datasette, language: str) -> dict:
    """The home page's figures, kept until the database changes or the hour turns (the
    responsiveness figures take about 100 ms with 100,000 messages; a letter falls overdue at
    its due moment, with no write to the database)."""
    stamp = _database_stamp(datasette) + (datetime.now(timezone.utc).strftime("%Y-%m-%d %H"),)
    key = f"{id(datasette)}:{language}"
    cached = _home_cache.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    db = datasette.get_database(DATABASE_NAME)
    correspondents = await _rows(
        db,
        f"""
        select c.id, c.name, c.short_name, count(t.id) as threads,
          coalesce(sum(t.status in ('awaiting_reply', 'acknowledged')), 0) as waiting,
          coalesce(sum({OVERDUE_NOW}), 0) as overdue
        from correspondents c left join threads t on t.correspondent_id = c.id
        group by c.id order by overdue desc, waiting desc, c.name
        """,
    )
    # computed once per database change (cached below), so it may take longer than a page query
    responsiveness = await _rows(db, RESPONSIVENESS, time_limit_ms=60_000)
    short = {c["id"]: c["short_name"] for c in correspondents}
    for row in responsiveness:
        row["short_name"] = short.get(row["correspondent_id"]) or row["correspondent"]
    responsiveness.sort(key=lambda r: (r["median_days"] is None, -(r["median_days"] or 0)))
    counts = (await _rows(
        db,
        "select (select count(*) from messages) as messages, (select count(*) from threads) as threads, "
        f"(select count(*) from unmatched) as unmatched, (select count(*) from threads t where {OVERDUE_NOW}) as overdue, "
        "(select count(*) from threads where status = 'bounced') as bounced",
    ))[0]
    oldest = await _rows(
        db,
        f"select id, correspondent, subject, opened_at, due_at, status from threads t "
        f"where {OVERDUE_NOW} order by due_at limit 10",
    )
    data = {
        "oldest_overdue": oldest,
        "correspondents": correspondents,
        "responsiveness": responsiveness,
        "chart": days_to_reply_svg(responsiveness, language, plugin_settings(datasette).get("deadline_days", 61)),
        "counts": counts,
    }
    _home_cache[key] = (stamp, data)
    return data


async def thread_data(datasette, thread_id: str) -> dict | None:
    db = datasette.get_database(DATABASE_NAME)
    threads = await _rows(
        db, f"select *, {OVERDUE_NOW} as overdue_now from threads t where id = ?", [thread_id]
    )
    if not threads:
        return None
    messages = await _rows(
        db,
        """
        select m.message_id, m.date, m.date_original, m.from_name, m.from_address, m.subject,
          m.direction, m.kind, m.body_text, m.body_html, m.attachment_count, tm.matched_by, m.delivery_reports
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
            f"select id, message_id, filename, content_type, size, text from attachments "
            f"where message_id in ({marks}) order by position",
            ids,
        ):
            files[a["message_id"]].append(a)
    for message in messages:
        message["recipients"] = people[message["message_id"]]
        message["attachments"] = files[message["message_id"]]
        message["text"], message["quoted"] = split_quoted(message["body_text"])
    marks_rows = await _rows(db, "select * from marks where thread_id = ? order by id", [thread_id])
    return {"thread": threads[0], "messages": messages, "marks": marks_rows, "failed": failed_addresses(messages)}


def failed_addresses(messages: list[dict]) -> list[dict]:
    """The addresses a thread's bounces say were not delivered: [{recipient, status, diagnostic, date}]."""
    failed, seen = [], set()
    for message in messages:
        if message.get("kind") != "bounce":
            continue
        try:
            reports = json.loads(message.get("delivery_reports") or "[]")
        except ValueError:
            continue
        for report in reports if isinstance(reports, list) else []:
            recipient = (report or {}).get("recipient")
            if recipient and report.get("action") in ("failed", "failure") and recipient not in seen:
                seen.add(recipient)
                failed.append({"recipient": recipient, "status": report.get("status"),
                               "diagnostic": report.get("diagnostic"), "date": message["date"]})
    return failed


async def correspondent_data(datasette, correspondent_id: str) -> dict:
    db = datasette.get_database(DATABASE_NAME)
    columns = (f"select id, subject, status, opened_at, last_letter_at, last_reply_at, due_at, "
               f"{OVERDUE_NOW} as overdue from threads t where correspondent_id = ? ")
    # the oldest due of the overdue letters and of those still waiting, and the latest of all:
    # the rest is one link away, in the threads list filtered on this correspondent (paged)
    shown = f"order by due_at limit {CORRESPONDENT_SHOWN}"
    late = await _rows(db, columns + f"and {OVERDUE_NOW} {shown}", [correspondent_id])
    waiting = await _rows(db, columns + f"and status in ('awaiting_reply', 'acknowledged') and not {OVERDUE_NOW} {shown}",
                          [correspondent_id])
    latest = await _rows(db, columns + f"order by opened_at desc limit {CORRESPONDENT_SHOWN}", [correspondent_id])
    counts = (await _rows(
        db, f"select count(*) as total, coalesce(sum({OVERDUE_NOW}), 0) as late, "
        f"coalesce(sum(t.status in ('awaiting_reply', 'acknowledged') and not {OVERDUE_NOW}), 0) as waiting "
        f"from threads t where correspondent_id = ?", [correspondent_id]))[0]
    figures = await _rows(db, responsiveness_sql("t.correspondent_id = :id", now="tracker_now()"), {"id": correspondent_id})
    return {"late": late, "waiting": waiting, "threads": latest, "counts": counts,
            "figures": figures[0] if figures else None}
