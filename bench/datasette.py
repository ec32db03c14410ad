"""How fast tracker's Datasette pages answer with a large database.

Fills a tracker database (``store.open_db`` schema, FTS triggers on) with N messages grouped in
threads, rows inserted directly as the import and threading stages write them (parsing is
measured by bench/import.py, not here), then times in-process requests through Datasette
(``datasette.client``: routing, permission checks, SQL, templates; no TCP):

- a thread page (HTML, several different threads),
- the ``unanswered`` canned query as of today and as of a past date (JSON, up to 1,000 rows),
- a search (canned ``search`` query, a common word and a rarer accent-folded phrase; HTML),
- the home page (overdue per correspondent and the chart),
- tracker's own pages (threads list, filters and CSV, unanswered, responsiveness, search), a
  ministry page, the desk's triage and letter pages, Datasette's threads and messages tables,
  a query page, the database page and a 404.

Goal: p95 under 150 ms on every page with 100,000 messages.

    python bench/datasette.py                      # 100,000 messages in a temporary folder
    python bench/datasette.py --messages 20000 --keep /tmp/bench-ds   # keep (and reuse) the db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# this file's own folder comes first on sys.path and its name would hide the datasette package
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import common  # noqa: E402
from tracker import config as config_module  # noqa: E402
from tracker import store  # noqa: E402
from tracker import web as publish
from tracker.config import slugify  # noqa: E402
from tracker.store.db import refresh_first_replies  # noqa: E402

# (id, name, short name, domain), from the benchmarks' shared list
CORRESPONDENTS = [
    (slugify(short), name, short, domain) for name, short, domain, _ in common.CORRESPONDENTS
]
WORDS = (
    "le la les des une un dans pour avec sur par aux du au nous vous votre notre madame monsieur "
    "ministre cabinet courrier lettre réponse demande situation victimes traite êtres humains "
    "associations collectif accompagnement hébergement mineurs protection rétention administrative "
    "préfecture titre séjour procédure pénale enquête accès soins santé travail exploitation "
    "formation inspecteurs dispositif financement rapport recommandations rendez-vous réunion "
    "considération distinguée agréer expression haute état avancement travaux services "
    "délai semaines mois année plan national lutte coordination subvention convention "
    "département région outre-mer frontière asile réfugiés identification orientation juridique"
).split()
SUBJECTS = [
    "Conditions de rétention administrative", "Accès aux soins des personnes retenues",
    "Plan national de lutte contre la traite", "Financement du dispositif d'hébergement",
    "Formation des inspecteurs du travail", "Protection des mineurs non accompagnés",
    "Demande de rendez-vous", "Identification des victimes", "Titre de séjour des victimes",
]


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


UNPLACED = 40  # replies waiting at the desk's triage


def fill(db_path: Path, messages: int, seed: int = 1) -> None:
    """Write ``messages`` messages in threads of 1-5 (a letter, reminders, acknowledgements,
    auto-replies, replies), with recipients and a PDF's text on one reply in four."""
    rng = random.Random(seed)
    db = store.open_db(db_path)
    conn = db.conn
    conn.execute("begin")
    conn.executemany(
        "insert into correspondents (id, name, short_name, addresses, domains, deadline) values (?, ?, ?, '[]', ?, '2 months')",
        [(cid, name, short, json.dumps([domain])) for cid, name, short, domain in CORRESPONDENTS],
    )
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=3 * 365)
    written, number = 0, 0
    message_rows, recipient_rows, attachment_rows, thread_rows, link_rows = [], [], [], [], []

    def flush():
        conn.executemany(
            "insert into messages (message_id, sha256, date, date_original, date_source, from_address, "
            "from_name, subject, subject_normalized, direction, kind, body_text, attachment_count, size, "
            "folders, headers, delivery_reports, is_delivery_report, message_id_synthetic, defects, imported_at) "
            "values (?, ?, ?, ?, 'header', ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '{}', '[]', 0, 0, '[]', ?)",
            message_rows,
        )
        conn.executemany("insert into recipients (message_id, role, address, name, position) values (?, 'to', ?, ?, 0)", recipient_rows)
        conn.executemany(
            "insert into attachments (id, message_id, position, filename, content_type, size, sha256, text) "
            "values (?, ?, 0, ?, 'application/pdf', ?, 'x', ?)", attachment_rows)
        conn.executemany(
            "insert into threads (id, correspondent_id, correspondent, subject, conversation_id, letter_message_id, "
            "status, opened_at, last_letter_at, last_reply_at, due_at, overdue) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            thread_rows)
        conn.executemany("insert into thread_messages (thread_id, message_id, matched_by) values (?, ?, 'headers')", link_rows)
        for rows in (message_rows, recipient_rows, attachment_rows, thread_rows, link_rows):
            rows.clear()

    while written < messages:
        number += 1
        cid, name, short, domain = rng.choice(CORRESPONDENTS)
        opened = start + timedelta(seconds=rng.randrange(int((now - start).total_seconds())))
        subject = f"{rng.choice(SUBJECTS)} (N/Réf. CET-{number:06d})"
        thread_id = f"t-{number:08x}"
        events = [("outgoing", "letter", opened)]
        when = opened
        if rng.random() < 0.5:
            events.append(("incoming", "acknowledgement", when + timedelta(hours=rng.randrange(1, 48))))
        if rng.random() < 0.1:
            events.append(("incoming", "auto_reply", when + timedelta(minutes=5)))
        answered = rng.random() < 0.6
        reply_at = when + timedelta(days=rng.randrange(3, 150), hours=rng.randrange(0, 10))
        if answered and reply_at < now:
            events.append(("incoming", "reply", reply_at))
        else:
            answered = False
        if rng.random() < 0.3:
            events.append(("outgoing", "letter", when + timedelta(days=rng.randrange(30, 70))))
        events = [e for e in events if e[2] < now][: max(1, messages - written)]
        events.sort(key=lambda e: e[2])
        for index, (direction, kind, moment) in enumerate(events):
            message_id = f"<{number}.{index}@{'collectif.example.org' if direction == 'outgoing' else domain}>"
            sender = "coordination@collectif.example.org" if direction == "outgoing" else f"cabinet@{domain}"
            body = words(rng, rng.randrange(60, 220))
            iso = moment.isoformat(timespec="seconds")
            has_pdf = kind == "reply" and rng.random() < 0.25
            message_rows.append((message_id, "sha" + message_id, iso, iso, sender,
                                 "Coordination" if direction == "outgoing" else f"Cabinet — {short}",
                                 subject if index == 0 else f"RE: {subject}", subject, direction, kind, body,
                                 int(has_pdf), len(body), iso))
            recipient_rows.append((message_id, f"cabinet@{domain}" if direction == "outgoing" else "coordination@collectif.example.org", None))
            if has_pdf:
                attachment_rows.append((f"{message_id}/0", message_id, f"reponse-{number}.pdf",
                                        rng.randrange(50_000, 900_000), words(rng, 400)))
            link_rows.append((thread_id, message_id))
        written += len(events)
        due = opened + timedelta(days=61)
        status = "answered" if answered else ("acknowledged" if any(k == "acknowledgement" for _, k, _ in events) else "awaiting_reply")
        last_reply = next((m for d, k, m in reversed(events) if k == "reply"), None)
        thread_rows.append((thread_id, cid, name, subject, thread_id, events[0][2] and f"<{number}.0@collectif.example.org>",
                            status, opened.isoformat(timespec="seconds"),
                            max(m for d, k, m in events if d == "outgoing").isoformat(timespec="seconds"),
                            last_reply.isoformat(timespec="seconds") if last_reply else None,
                            due.isoformat(timespec="seconds"), int(not answered and due < now)))
        if len(message_rows) > 5000:
            flush()
    flush()
    # a backlog for the desk's triage: replies no rule could place, each with two candidates
    replies = conn.execute(
        "select tm.message_id, tm.thread_id, t.correspondent_id from thread_messages tm join messages m "
        "on m.message_id = tm.message_id join threads t on t.id = tm.thread_id where m.kind = 'reply' "
        "order by tm.message_id").fetchall()
    for message_id, thread_id, cid in rng.sample(replies, min(UNPLACED, len(replies))):
        other = conn.execute("select id from threads where correspondent_id = ? and id != ? limit 1",
                             [cid, thread_id]).fetchone()[0]
        conn.execute("delete from thread_messages where message_id = ?", [message_id])
        conn.execute(
            "insert into unmatched (message_id, correspondent_id, candidates, reason, date) "
            "values (?, ?, ?, 'no reply headers', (select date from messages where message_id = ?))",
            [message_id, cid, json.dumps([{"thread_id": thread_id, "evidence": ["s"]},
                                          {"thread_id": other, "evidence": ["s"]}]), message_id])
    refresh_first_replies(conn)  # as the threaders keep it
    conn.execute("commit")
    conn.execute("analyze")
    conn.close()


def timed(ds, path: str, repeat: int) -> list[float]:
    async def go():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = await ds.client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != (404 if "nonexistent" in path else 200):
                raise SystemExit(f"{path}: HTTP {response.status_code}")
        return times

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="folder for the database (reused when it exists)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tracker-bench-ds-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "tracker.db"
    if not db_path.exists():
        started = time.perf_counter()
        fill(db_path, args.messages)
        print(f"filled {args.messages:,} messages in {time.perf_counter() - started:.1f} s ({db_path})")
    (folder / "tracker.toml").write_text(
        f'database = "{db_path}"\n[coalition]\nname = "Collectif"\naddresses = ["coordination@collectif.example.org"]\n',
        encoding="utf-8",
    )
    config = config_module.load(folder / "tracker.toml")
    ds = publish.make_datasette(config)
    asyncio.run(ds.invoke_startup())
    import sqlite3

    conn = sqlite3.connect(db_path)
    counts = conn.execute("select (select count(*) from messages), (select count(*) from threads), "
                          "(select count(*) from attachments)").fetchone()
    rng = random.Random(7)
    thread_ids = [r[0] for r in conn.execute(
        "select thread_id from thread_messages group by thread_id having count(*) >= 3 limit 2000")]
    correspondents = [r[0] for r in conn.execute("select id from correspondents order by id")]
    conn.close()
    print(f"database: {counts[0]:,} messages, {counts[1]:,} threads, {counts[2]:,} PDF texts")
    from datasette.utils import tilde_encode

    # (label, paths, counts toward the goal): the goal names the thread page, the unanswered
    # query and a search; the other lines are for information
    cases = [
        ("thread page (HTML)", [f"/tracker/threads/{tilde_encode(t)}" for t in rng.sample(thread_ids, 5)], True),
        ("unanswered, today (JSON, <=200 rows)", ["/tracker/unanswered.json?_shape=array"], True),
        ("unanswered, today (HTML page, <=200 rows)", ["/tracker/unanswered"], False),
        ("unanswered, as of 2025-01-01 (JSON)", ["/tracker/unanswered.json?_shape=array&as_of=2025-01-01"], True),
        ("search 'reponse' (HTML, 75 rows)", ["/tracker/search?q=reponse"], True),
        ("search 'hebergement mineurs' (HTML)", ["/tracker/search?q=hebergement+mineurs"], True),
        ("search 'CET-000123' (HTML)", ["/tracker/search?q=CET-000123"], True),
        ("home page (HTML)", ["/"], True),
        # tracker's own pages (web/pages.py), the ministry page, the desk, the generic pages
        ("/-/threads (first page of 50)", ["/-/threads"], True),
        ("/-/threads?q=hebergement (accent-folded)", ["/-/threads?q=hebergement"], True),
        ("/-/threads overdue, awaiting reply", ["/-/threads?status=awaiting_reply&overdue=1"], True),
        # a download of every thread (40,000 rows, 10 MB at 100,000 messages), not a page
        ("/-/threads?format=csv (every thread)", ["/-/threads?format=csv"], False),
        ("/-/unanswered", ["/-/unanswered"], True),
        ("/-/unanswered?group=1", ["/-/unanswered?group=1"], True),
        ("/-/responsiveness", ["/-/responsiveness"], True),
        ("/-/search?q=reponse", ["/-/search?q=reponse"], True),
        ("ministry page", [f"/tracker/correspondents/{tilde_encode(c)}" for c in correspondents[:3]], True),
        ("/-/desk/triage", ["/-/desk/triage"], True),
        ("/-/desk/letter", ["/-/desk/letter"], True),
        ("threads table (Datasette, facets)", ["/tracker/threads"], True),
        ("messages table (Datasette)", ["/tracker/messages"], True),
        ("responsiveness query (HTML)", ["/tracker/responsiveness"], True),
        ("database page", ["/tracker"], True),
        ("page not found (404)", ["/-/nonexistent"], True),
    ]
    print(f"{'request':42} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    worst = 0.0
    for label, paths, counts in cases:
        times = []
        for path in paths:
            first = timed(ds, path, 1)[0]  # also warms the page cache (and the home page's)
            if label.startswith("home"):
                print(f"{'home page, first view after a change':42} {first:10.1f}")
            times += timed(ds, path, args.repeat)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{label:42} {statistics.median(times):10.1f} {p95:8.1f} {times[-1]:8.1f}")
        if counts:
            worst = max(worst, p95)
    print(f"goal, p95 under 150 ms on every page counted: "
          f"{'met' if worst < 150 else 'NOT met'} (slowest p95 {worst:.0f} ms)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
