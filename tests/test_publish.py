"""Publishing through Datasette, in-process (``datasette.client``): every page, canned query and
template, French and English labels, hidden and denied tables, search, CSP, a path prefix.

The database is a real SQLite file made with ``store.open_db`` and filled with rows as the
import and threading stages write them (``build_database``), so these tests do not depend on
the threading engine's choices."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import write_config
from tracker import config as config_module
from tracker import store
from tracker import web as publish
from tracker.web.metadata import _TABLE_COLUMNS
from tracker.web.format import human_size, sanitize_html
from tracker.web.plugin import fts_query

CORRESPONDENTS = """
[[correspondents]]
name = "Ministère de l'Intérieur"
short_name = "Intérieur"
domains = ["interieur.gouv.fr"]

[[correspondents]]
name = "Ministère de la Santé"
short_name = "Santé"
domains = ["sante.gouv.fr"]

[[correspondents]]
name = "Ministère de la Justice"
short_name = "Justice"
domains = ["justice.gouv.fr"]
deadline = "30 days"
"""

HOSTILE_SUBJECT = "<script>alert('subject')</script> Demande d'accès <b>urgente</b>"
HOSTILE_NAME = '<img src=x onerror="alert(5)">Mallory'
HOSTILE_HTML = (
    "<p>Madame, Monsieur,</p><script>alert(1)</script>"
    '<img src="http://203.0.113.9/pixel.png" onerror="alert(2)">'
    '<a href="javascript:alert(3)">cliquez ici</a>'
    '<p onmouseover="alert(4)" style="background:url(http://203.0.113.9/bg.png)">Texte de la réponse</p>'
    '<iframe src="http://203.0.113.9/frame"></iframe>'
    '<form action="http://203.0.113.9/steal"><input name="p"></form>'
    '<a href="https://www.justice.gouv.fr/">site officiel</a>'
    '<link rel="stylesheet" href="http://203.0.113.9/x.css"><style>body{background:url(http://203.0.113.9/s.png)}</style>'
)
THREAD_WITH_SLASH = "justice/2024 03"  # ids are opaque: they must survive URL encoding
RAW_SECRET = b"RAW-BYTES-NEVER-SERVED"


def _message(db, message_id, date, direction, kind, from_address, subject, body, to,
             from_name=None, body_html=None, attachments=()):
    db["messages"].insert(
        {
            "message_id": message_id, "sha256": "sha-" + message_id, "date": date,
            "date_original": date, "date_source": "header", "from_address": from_address,
            "from_name": from_name, "subject": subject, "subject_normalized": subject,
            "direction": direction, "kind": kind, "body_text": body, "body_html": body_html,
            "attachment_count": len(attachments), "size": len(body or ""), "folders": "[]",
            "headers": "{}", "delivery_reports": "[]", "is_delivery_report": 0,
            "message_id_synthetic": 0, "defects": "[]", "imported_at": date,
        }
    )
    for position, (address, name) in enumerate(to):
        db["recipients"].insert(
            {"message_id": message_id, "role": "to", "address": address, "name": name, "position": position}
        )
    for position, (filename, size, text) in enumerate(attachments):
        db["attachments"].insert(
            {"id": f"{message_id}/{position}", "message_id": message_id, "position": position,
             "filename": filename, "content_type": "application/pdf", "size": size,
             "sha256": "x", "text": text}
        )
    db["raw_messages"].insert(
        {"sha256": "sha-" + message_id, "message_id": message_id, "size": 10,
         "stored_at": date, "raw": RAW_SECRET + message_id.encode()}
    )


def _thread(db, thread_id, correspondent_id, correspondent, subject, status, opened, due,
            overdue, message_ids, last_reply=None):
    db["threads"].insert(
        {"id": thread_id, "correspondent_id": correspondent_id, "correspondent": correspondent,
         "subject": subject, "conversation_id": "c-" + thread_id, "letter_message_id": message_ids[0],
         "status": status, "opened_at": opened, "last_letter_at": opened,
         "last_reply_at": last_reply, "due_at": due, "overdue": overdue}
    )
    for message_id in message_ids:
        db["thread_messages"].insert({"thread_id": thread_id, "message_id": message_id, "matched_by": "headers"})


def build_database(folder: Path, language: str = "fr", extra: str = "") -> config_module.Config:
    """A tracker database with four threads (answered, overdue, hostile HTML, bounced), an
    unmatched message and raw bytes; returns its config."""
    path = write_config(folder, f'language = "{language}"\n{extra}\n{CORRESPONDENTS}')
    config = config_module.load(path)
    db = store.open_db(config.database)
    for c in config.correspondents:
        db["correspondents"].insert(
            {"id": c.slug, "name": c.name, "short_name": c.short_name, "addresses": "[]",
             "domains": json.dumps(c.domains), "deadline": str(config.deadline_for(c))}
        )
    us = "coordination@collectif.example.org"
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _message(db, "<l1@collectif>", "2024-01-10T09:00:00+00:00", "outgoing", "letter", us,
             "Conditions de rétention administrative", "Madame la Ministre,\n\nNous vous écrivons.",
             [("cabinet@interieur.gouv.fr", "Cabinet du ministre")], from_name="Coordination")
    _message(db, "<a1@interieur>", "2024-01-11T08:00:00+00:00", "incoming", "acknowledgement",
             "noreply@interieur.gouv.fr", "Accusé de réception", "Votre courrier a bien été reçu.", [(us, None)])
    _message(db, "<r1@interieur>", "2024-02-20T15:30:00+00:00", "incoming", "reply",
             "cabinet@interieur.gouv.fr", "RE: Conditions de rétention administrative",
             "Madame,\n\nVeuillez trouver notre réponse ci-jointe.\n\nLe 10 janv. 2024, Coordination a écrit :\n> Nous vous écrivons.",
             [(us, "Coordination")], from_name="Cabinet du ministre",
             attachments=[("reponse-ministere.pdf", 48213, "Le ministre vous adresse sa réponse officielle sur la rétention.")])
    _message(db, "<r9@interieur>", now, "incoming", "reply", "cabinet@interieur.gouv.fr",
             "Suite de notre échange", "Une nouvelle réponse arrivée cette semaine.", [(us, None)])
    _thread(db, "t-interieur-1", "interieur", "Ministère de l'Intérieur",
            "Conditions de rétention administrative", "answered", "2024-01-10T09:00:00+00:00",
            "2024-02-10T23:59:59+01:00", 0, ["<l1@collectif>", "<a1@interieur>", "<r1@interieur>", "<r9@interieur>"],
            last_reply="2024-02-20T15:30:00+00:00")
    _message(db, "<l2@collectif>", "2024-03-01T10:00:00+00:00", "outgoing", "letter", us,
             "Accès aux soins des personnes retenues", "Monsieur le Ministre,\n\nQuelle est votre position ?",
             [("secretariat@sante.gouv.fr", None)])
    _message(db, "<o2@sante>", "2024-03-01T10:05:00+00:00", "incoming", "auto_reply",
             "secretariat@sante.gouv.fr", "Absence du bureau", "Je suis absent.", [(us, None)])
    _thread(db, "t-sante-1", "sante", "Ministère de la Santé", "Accès aux soins des personnes retenues",
            "awaiting_reply", "2024-03-01T10:00:00+00:00", "2024-05-01T23:59:59+02:00", 1,
            ["<l2@collectif>", "<o2@sante>"])
    _message(db, "<l3@collectif>", "2024-03-05T10:00:00+00:00", "outgoing", "letter", us,
             HOSTILE_SUBJECT, "Lettre au garde des Sceaux.", [("cabinet@justice.gouv.fr", HOSTILE_NAME)])
    _message(db, "<r3@justice>", "2024-03-20T10:00:00+00:00", "incoming", "reply",
             "cabinet@justice.gouv.fr", HOSTILE_SUBJECT, "Texte de la réponse du ministère.",
             [(us, None)], from_name=HOSTILE_NAME, body_html=HOSTILE_HTML)
    _thread(db, THREAD_WITH_SLASH, "justice", "Ministère de la Justice", HOSTILE_SUBJECT,
            "answered", "2024-03-05T10:00:00+00:00", None, 0, ["<l3@collectif>", "<r3@justice>"],
            last_reply="2024-03-20T10:00:00+00:00")
    _message(db, "<u1@interieur>", "2024-04-02T10:00:00+00:00", "incoming", "reply",
             "bureau@interieur.gouv.fr", "Votre courrier", "Réponse sans référence.", [(us, None)])
    db["unmatched"].insert({"message_id": "<u1@interieur>", "correspondent_id": "interieur",
                            "candidates": '["t-interieur-1"]', "reason": "no reply headers"})
    store.db.refresh_first_replies(db)  # as the threaders keep it
    db.conn.commit()
    db.conn.close()
    return config


@pytest.fixture(scope="module")
def french(tmp_path_factory) -> config_module.Config:
    return build_database(tmp_path_factory.mktemp("fr"))


_instances: dict = {}


def datasette_for(config, base_url: str | None = None):
    """One in-process Datasette per (database, prefix), made as `tracker serve` makes it."""
    key = (str(config.database), base_url)
    if key not in _instances:
        ds = publish.make_datasette(config, base_url=base_url)
        asyncio.run(ds.invoke_startup())
        _instances[key] = ds
    return _instances[key]


def fetch(config, path: str, base_url: str | None = None, **kwargs):
    """GET ``path`` through ``datasette.client``."""
    ds = datasette_for(config, base_url)
    return asyncio.run(ds.client.get(path, **kwargs))


def fetch_many(config, paths, base_url=None, cookies=None):
    ds = datasette_for(config, base_url)

    async def go():
        return [await ds.client.get(p, cookies=cookies) for p in paths]

    return asyncio.run(go())


class Text(HTMLParser):
    """The visible text, links and tags of an HTML page (scripts' bodies excluded)."""

    def __init__(self, html: str):
        super().__init__()
        self.parts, self.links, self.tags, self._skip = [], [], [], 0
        self.feed(html)
        self.text = re.sub(r"\s+", " ", " ".join(self.parts))

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "a" and dict(attrs).get("href"):
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


# --- pages ------------------------------------------------------------------------------------


def test_home_shows_overdue_per_correspondent_and_chart(french):
    response = fetch(french, "/")
    assert response.status_code == 200
    page = Text(response.text)
    assert "Lettres en retard de réponse, par destinataire" in page.text
    row = re.search(r"Ministère de la Santé (\d+) (\d+) (\d+)", page.text)
    assert row and row.groups() == ("1", "1", "1"), page.text
    assert re.search(r"Ministère de l'Intérieur 0 0 1", page.text)
    # the chart: one bar per correspondent with replies, median days computed from the rows
    svg = re.search(r"<svg class=\"chart\".*?</svg>", response.text, re.S).group(0)
    assert "Intérieur" in svg and "Justice" in svg and "Santé" not in svg
    assert ">41<" in svg  # 10 Jan -> 20 Feb: the first real reply (the acknowledgement does not count)
    assert ">15<" in svg  # 5 -> 20 March
    assert "<script" not in svg
    assert "ligne pointillée : délai de réponse par défaut (2 mois)" in page.text
    for query in ("letters_to", "replies_this_week", "unmatched"):
        assert f"/tracker/{query}" in response.text
    for own in ("unanswered", "responsiveness", "search"):  # tracker's own pages (web/pages.py)
        assert f'href="/-/{own}"' in response.text


def test_thread_page_reads_like_a_conversation(french):
    response = fetch(french, "/tracker/threads/t-interieur-1")
    assert response.status_code == 200
    page = Text(response.text)
    text = page.text
    # time order, who wrote, badges
    order = [text.index(s) for s in ("Nous vous écrivons", "Votre courrier a bien été reçu",
                                     "Veuillez trouver notre réponse", "Une nouvelle réponse")]
    assert order == sorted(order)
    for badge in ("courrier", "accusé de réception", "réponse"):
        assert f"{badge}" in text
    assert 'class="badge badge-acknowledgement"' in response.text
    assert "Cabinet du ministre <cabinet@interieur.gouv.fr>" in text
    assert "À : Cabinet du ministre" in text
    assert "répondu" in text  # the status
    assert "reponse-ministere.pdf (47,1 Ko, application/pdf)" in text
    assert "20/02/2024 16:30" in text  # 15:30 UTC, shown in the coalition's time zone (Paris)
    # the quoted part is folded away, not lost
    assert re.search(r"<details><summary>Texte cité</summary><pre>Le 10 janv", response.text)
    assert "/tracker/correspondents/interieur" in page.links


def test_thread_page_with_an_opaque_id_and_due_date(french):
    from datasette.utils import tilde_encode

    response = fetch(french, "/tracker/threads/" + tilde_encode("t-sante-1"))
    text = Text(response.text).text
    assert "en attente de réponse" in text and "en retard" in text
    assert "Échéance : 01/05/2024" in text
    assert "réponse automatique" in text
    response = fetch(french, "/tracker/threads/" + tilde_encode(THREAD_WITH_SLASH))
    assert response.status_code == 200
    assert "Lettre au garde des Sceaux" in response.text


def test_hostile_html_is_sanitized_and_escaped(french):
    from datasette.utils import tilde_encode

    response = fetch(french, "/tracker/threads/" + tilde_encode(THREAD_WITH_SLASH))
    html = response.text
    page = Text(html)
    body = html[html.index('<ol class="conversation">'):]
    assert "<script>alert" not in body
    assert "onerror" not in body.replace("onerror=&#34;", "").replace("onerror=&quot;", "") or "onerror=\"" not in body
    assert not [t for t, a in page.tags if any(k.startswith("on") for k in a)]
    assert not [a for t, a in page.tags if t in ("img", "iframe", "form", "input", "link") and "203.0.113.9" in str(a)]
    assert not [h for h in page.links if h.lower().startswith("javascript")]
    assert "203.0.113.9" not in body.replace("&lt;", "<") or "http://203.0.113.9" not in [
        a.get("src") for t, a in page.tags]
    # escaped, still readable
    assert "<script>alert('subject')</script> Demande d'accès <b>urgente</b>" in page.text
    assert "Texte de la réponse" in page.text
    assert "https://www.justice.gouv.fr/" in page.links
    assert 'rel="noopener noreferrer nofollow"' in html


def test_correspondent_page_shows_threads_and_figures(french):
    response = fetch(french, "/tracker/correspondents/interieur")
    assert response.status_code == 200
    page = Text(response.text)
    assert "Ministère de l'Intérieur" in page.text
    assert "1 Lettres 1 Avec réponse 41 Délai médian" in page.text
    assert "Délai de réponse : 2 mois · interieur.gouv.fr" in page.text
    assert "/tracker/threads/t-interieur-1" in page.links
    justice = Text(fetch(french, "/tracker/correspondents/justice").text).text
    assert "Délai de réponse : 30 jours" in justice and "15 Délai médian" in justice


def test_tables_have_french_titles_labels_facets_and_sorts(french):
    response = fetch(french, "/tracker/threads")
    assert response.status_code == 200
    page = Text(response.text)
    assert "Fils de correspondance" in page.text
    for label in ("Destinataire", "Statut", "Échéance", "Premier envoi"):
        assert label in page.text
    assert 'data-facet="status"' in response.text or "facet-status" in response.text
    data = fetch(french, "/tracker/threads.json?_shape=objects").json()
    assert [r["opened_at"] for r in data["rows"]] == sorted((r["opened_at"] for r in data["rows"]), reverse=True)
    messages = fetch(french, "/tracker/messages.json?_shape=objects&_size=100").json()
    dates = [r["date"] for r in messages["rows"]]
    assert dates == sorted(dates, reverse=True)
    facets = fetch(french, "/tracker/messages.json").json()["facet_results"]
    assert {r["value"]: r["count"] for r in facets["kind"]["results"]} == {
        "reply": 4, "letter": 3, "acknowledgement": 1, "auto_reply": 1}
    months = {r["value"]: r["count"] for r in facets["date"]["results"]}
    assert months["2024-03"] == 4 and months["2024-01"] == 2
    march = fetch(french, "/tracker/threads.json?_shape=objects&opened_at__startswith=2024-03").json()
    assert sorted(r["id"] for r in march["rows"]) == sorted(["t-sante-1", THREAD_WITH_SLASH])
    thread_facets = fetch(french, "/tracker/threads.json").json()["facet_results"]
    assert {"correspondent", "status", "opened_at"} <= set(thread_facets)
    meta = publish.metadata(french)["databases"]["tracker"]["tables"]
    for table, entry in meta.items():
        if not entry.get("hidden"):
            assert entry["title"] and entry["description"], table
            for column in _TABLE_COLUMNS[table]:
                assert column in entry["columns"], (table, column)


def test_english_labels(tmp_path):
    config = build_database(tmp_path, language="en")
    home = Text(fetch(config, "/").text).text
    assert "Letters overdue for a reply, per correspondent" in home
    assert "Letters unanswered on a date" in home
    thread = Text(fetch(config, "/tracker/threads/t-sante-1").text).text
    assert "awaiting reply" in thread and "Due: " in thread
    table = Text(fetch(config, "/tracker/threads").text).text
    assert "Threads" in table and "First sent" in table


def test_internal_tables_are_hidden(french):
    data = fetch(french, "/tracker.json").json()
    visible = {t["name"] for t in data["tables"] if not t["hidden"]}
    for name in publish.HIDDEN:
        assert name not in visible
    assert {"threads", "messages", "correspondents", "attachments"} <= visible
    # a new table is internal until someone labels it for users (_TABLE_COLUMNS)
    assert visible <= set(_TABLE_COLUMNS), visible - set(_TABLE_COLUMNS)
    views = {v["name"] for v in data["views"]}
    assert {"unanswered", "responsiveness"} <= views
    assert not any(name.startswith(("messages_fts", "attachments_fts")) for name in visible)


RAW_PATHS = [
    "/tracker/raw_messages",
    "/tracker/raw_messages.json",
    "/tracker/raw_messages/sha-~3Cl1~40collectif~3E",
    "/tracker/raw_messages/sha-~3Cl1~40collectif~3E.json",
    "/tracker/raw_messages/sha-~3Cl1~40collectif~3E.blob?_blob_column=raw",
]
RAW_SQL = [
    "select raw from raw_messages",
    "select * from raw_messages",
    "select rowid, sha256 from raw_messages",
    "with x as (select * from raw_messages) select cast(raw as text) from x",
    "select (select raw from raw_messages limit 1)",
    "select sha256 from messages where sha256 in (select sha256 from raw_messages)",
    "attach database 'x' as y",
]


def test_raw_messages_are_never_served(french):
    from urllib.parse import quote

    responses = fetch_many(
        french,
        RAW_PATHS + [f"/tracker.json?sql={quote(sql)}" for sql in RAW_SQL]
        + ["/tracker.db", "/-/metadata.json"],
    )
    for path, response in zip(RAW_PATHS + RAW_SQL + ["/tracker.db", "/-/metadata.json"], responses):
        assert RAW_SECRET.decode() not in response.text, path
        if path != "/-/metadata.json":
            assert response.status_code in (400, 403, 404), (path, response.status_code)
    # SQL as such still works: the denial is about that table only
    ok = fetch(french, "/tracker.json?sql=select+count(*)+as+n+from+messages&_shape=array").json()
    assert ok == [{"n": 9}]


def test_source_and_digest_bookkeeping_is_not_served_either(french):
    from urllib.parse import quote

    tables = ["sync_state", "message_locations", "digests", "store_state"]
    paths = [f"/tracker/{t}.json" for t in tables] + [f"/tracker.json?sql={quote(f'select * from {t}')}" for t in tables]
    for path, response in zip(paths, fetch_many(french, paths)):
        assert response.status_code in (400, 403, 404), (path, response.status_code)
    status = fetch(french, "/tracker.json?sql=select+count(*)+as+n+from+threads&_shape=array").status_code
    assert status == 200


def test_message_html_is_never_in_table_pages_unescaped(french):
    response = fetch(french, "/tracker/messages?_search=garde")
    assert response.status_code == 200
    assert "<script>alert" not in response.text


# --- canned queries ---------------------------------------------------------------------------


def query(config, name, **params):
    from urllib.parse import urlencode

    response = fetch(config, f"/tracker/{name}.json?_shape=objects&" + urlencode(params))
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def test_unanswered_as_of_a_date(french):
    rows = query(french, "unanswered", as_of="2024-06-01")
    assert [r["thread_id"] for r in rows] == ["t-sante-1"]
    assert rows[0]["days_waiting"] == 92
    assert query(french, "unanswered", as_of="2024-04-01") == []  # not yet due
    assert [r["thread_id"] for r in query(french, "unanswered")] == ["t-sante-1"]  # today
    # answered on 20 February, due on the 10th: overdue in between, not after
    assert [r["thread_id"] for r in query(french, "unanswered", as_of="2024-02-15")] == ["t-interieur-1"]
    assert query(french, "unanswered", as_of="2024-02-20") == []


def test_responsiveness_query(french):
    rows = {r["correspondent"]: r for r in query(french, "responsiveness")}
    assert rows["Ministère de l'Intérieur"]["median_days"] == 41
    assert rows["Ministère de la Justice"]["median_days"] == 15
    assert rows["Ministère de la Santé"]["replied"] == 0
    assert rows["Ministère de la Santé"]["overdue_now"] == 1
    assert rows["Ministère de la Santé"]["median_days"] is None


def test_letters_to_one_correspondent(french):
    rows = query(french, "letters_to", correspondent="Santé")
    assert [r["thread_id"] for r in rows] == ["t-sante-1"]
    assert query(french, "letters_to", correspondent="") == []
    assert len(query(french, "letters_to", correspondent="Ministère")) == 3


def test_replies_this_week_and_unmatched(french):
    rows = query(french, "replies_this_week")
    assert [r["message_id"] for r in rows] == ["<r9@interieur>"]
    assert rows[0]["thread_id"] == "t-interieur-1"
    rows = query(french, "unmatched")
    assert [r["message_id"] for r in rows] == ["<u1@interieur>"]
    assert rows[0]["correspondent"] == "Ministère de l'Intérieur"


def test_canned_query_pages_have_titles_and_descriptions(french):
    queries = publish.canned_queries("fr")
    responses = fetch_many(french, [f"/tracker/{name}" for name in queries])
    for (name, entry), response in zip(queries.items(), responses):
        assert response.status_code == 200, name
        text = Text(response.text).text
        assert entry["title"] in text, name
        assert entry["description"][:40] in text, name


def test_thread_ids_link_to_thread_pages_in_query_results(french):
    response = fetch(french, "/tracker/unanswered?as_of=2024-06-01")
    assert "/tracker/threads/t-sante-1" in Text(response.text).links
    assert 'class="badge badge-awaiting_reply"' in response.text
    text = Text(response.text).text
    assert "Fil Destinataire Objet Statut Premier envoi Échéance Jours d'attente" in text
    assert "À la date du (AAAA-MM-JJ)" in text


# --- search -----------------------------------------------------------------------------------


def test_search_folds_accents_and_finds_pdf_text(french):
    rows = query(french, "search", q="reponse officielle")
    assert [(r["found_in"], r["message_id"]) for r in rows] == [("attachment", "<r1@interieur>")]
    assert rows[0]["thread_id"] == "t-interieur-1"
    subjects = {r["message_id"] for r in query(french, "search", q="retention")}
    assert "<l1@collectif>" in subjects  # "rétention" in a subject
    bodies = {r["message_id"] for r in query(french, "search", q="reponse")}
    assert {"<r1@interieur>", "<r9@interieur>", "<r3@justice>", "<u1@interieur>"} <= bodies
    assert query(french, "search", q='"nouvelle reponse"')[0]["message_id"] == "<r9@interieur>"
    # FTS syntax typed by a person does not break the query
    for nasty in ['"', "AND OR NOT", "a:b", "(", "*", "NEAR(", "^x", ""]:
        query(french, "search", q=nasty)


def test_search_page_highlights_escaped(french):
    response = fetch(french, "/tracker/search?q=garde")
    assert response.status_code == 200
    page = Text(response.text)
    assert "<mark>garde</mark>" in response.text
    from datasette.utils import tilde_encode

    assert "/tracker/threads/" + tilde_encode(THREAD_WITH_SLASH) in page.links
    assert "<script>alert" not in response.text
    response = fetch(french, "/tracker/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in response.text


def test_table_search_is_accent_folded(french):
    data = fetch(french, "/tracker/messages.json?_search=reponse&_shape=objects").json()
    assert any("réponse" in (r["body_text"] or "") for r in data["rows"])
    data = fetch(french, "/tracker/attachments.json?_search=reponse&_shape=objects").json()
    assert [r["filename"] for r in data["rows"]] == ["reponse-ministere.pdf"]


# --- security headers, feed, helpers ------------------------------------------------------------


def test_csp_header_on_every_page(french):
    paths = ["/", "/tracker", "/tracker/threads", "/tracker/threads/t-sante-1", "/tracker/search?q=x",
             "/tracker/threads.json", "/-/static/app.css", "/tracker-static/tracker.css"]
    for path, response in zip(paths, fetch_many(french, paths)):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
        assert "img-src 'self' data:" in csp
        assert response.headers["x-content-type-options"] == "nosniff"


def test_atom_feed_of_new_replies(french):
    response = fetch(french, "/tracker/new_replies.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    xml = response.text
    assert xml.count("<entry>") == 4
    assert "http://127.0.0.1:8001/tracker/messages/~3Cu1~40interieur~3E" in xml  # not in a thread
    assert "Ministère de l'Intérieur : Suite de notre échange" in xml
    assert "http://127.0.0.1:8001/tracker/threads/t-interieur-1" in xml
    assert "<script>" not in xml


def test_under_a_path_prefix(french):
    """As behind a reverse proxy that forwards /suivi/...: datasette.client adds the prefix to
    each path, as the proxy would; every link and asset on the pages keeps it."""
    prefix = "/suivi/"
    paths = ["/", "/tracker/threads/t-interieur-1", "/tracker/correspondents/sante",
             "/tracker/search?q=reponse", "/tracker/unanswered?as_of=2024-06-01",
             "/tracker/threads", "/tracker/new_replies.atom"]
    responses = fetch_many(french, paths, base_url=prefix)
    for path, response in zip(paths, responses):
        assert response.status_code == 200, path
        assert response.url.path.startswith(prefix), response.url
    for response in responses[:-1]:
        page = Text(response.text)
        internal = [h for h in page.links if h.startswith("/")]
        assert internal and all(h.startswith(prefix) for h in internal), internal
        assets = [a.get("href") or a.get("src") for t, a in page.tags if t in ("link", "script")]
        assert all(a.startswith(prefix) for a in assets if a and a.startswith("/")), assets
        assert [a.get("action") for t, a in page.tags if t == "form" and a.get("action", "").startswith("/")] == [
            a.get("action") for t, a in page.tags if t == "form" and a.get("action", "").startswith(prefix)]
    assert "/suivi/tracker/threads/t-sante-1" in Text(responses[0].text).links  # via correspondent
    assert "/suivi/tracker/correspondents/sante" in Text(responses[0].text).links
    assert "/suivi/tracker/threads/t-interieur-1" in Text(responses[3].text).links
    assert "/suivi/tracker/threads/t-sante-1" in Text(responses[4].text).links
    assert "http://127.0.0.1:8001/tracker/threads/" in responses[6].text  # feed_root: the public root
    # without the prefix, nothing is served
    assert fetch(french, "/tracker/threads", base_url=prefix).status_code == 200
    unprefixed = fetch(french, "http://localhost/tracker/threads", base_url=prefix)
    assert unprefixed.status_code == 404


def test_login_required_everywhere_when_accounts_are_configured(tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    config = build_database(
        tmp_path,
        extra=f'[auth]\npassword_hashes = {{ alice = "{hash_password("s3cret-pass")}" }}\nadmins = ["alice"]\n',
    )
    paths = ["/", "/tracker", "/tracker/threads", "/tracker/threads/t-sante-1", "/tracker/search?q=x",
             "/tracker/unanswered.json", "/tracker.json?sql=select+1", "/-/metadata.json", "/-/databases.json",
             "/-/plugins.json", "/-/versions.json", "/-/settings.json", "/tracker/new_replies.atom",
             "/tracker/messages/~3Cr1~40interieur~3E", "/tracker/attachments.json?_search=reponse"]

    async def go():
        ds = publish.make_datasette(config)
        await ds.invoke_startup()
        anonymous = [await ds.client.get(p) for p in paths]
        bad = await ds.client.post("/-/login", data={"username": "alice", "password": "wrong"})
        good = await ds.client.post("/-/login", data={"username": "alice", "password": "s3cret-pass"})
        cookies = {"ds_actor": good.cookies["ds_actor"]}
        logged = [await ds.client.get(p, cookies=cookies) for p in paths]
        raw = await ds.client.get("/tracker/raw_messages", cookies=cookies)
        meta = await ds.client.get("/-/metadata.json", cookies=cookies)
        return anonymous, bad, logged, raw, meta

    anonymous, bad, logged, raw, meta = asyncio.run(go())
    for path, response in zip(paths, anonymous):
        assert response.status_code in (302, 403), path
        assert "Santé" not in response.text and "sante" not in response.text, path
    assert anonymous[0].headers["location"] == "/-/login"
    assert "Identifiant ou mot de passe incorrect" in bad.text  # the login page in French (chrome.py)
    for path, response in zip(paths, logged):
        assert response.status_code == 200, path
    assert raw.status_code == 403
    assert "pbkdf2" not in meta.text  # hashes reach the plugin through the environment


def test_a_missing_database_says_what_to_do(tmp_path):
    config = config_module.load(write_config(tmp_path))
    with pytest.raises(publish.PublishError, match="tracker import"):
        publish.make_datasette(config)


def test_serve_refuses_a_public_host_without_logins(french):
    assert publish.is_loopback("127.0.0.1") and publish.is_loopback("::1") and publish.is_loopback("localhost")
    assert not publish.is_loopback("0.0.0.0") and not publish.is_loopback("192.0.2.10")
    with pytest.raises(publish.PublishError, match=r"\[auth\] password_hashes"):
        publish.check_host(french, "0.0.0.0")
    publish.check_host(french, "127.0.0.1")


def test_helpers():
    assert human_size(48213) == "47,1\u00a0Ko" and human_size(48213, "en") == "47.1\u00a0KB"
    assert fts_query('réponse "au ministère" préf*') == '"réponse" "au ministère" "préf"*'
    assert fts_query("  ") == '"\u2063"'
    cleaned = str(sanitize_html(HOSTILE_HTML))
    for bad in ("<script", "onerror", "onmouseover", "javascript:", "<img", "<iframe", "<form", "style=", "<link", "<style"):
        assert bad not in cleaned, bad
    assert "Texte de la réponse" in cleaned and 'href="https://www.justice.gouv.fr/"' in cleaned
