"""Issue 16's "Done when": starting from the home page of the demo, a headless Chromium follows
every kind of page reachable (tables, queries, threads, ministries, search, errors, tracker's
own pages, the desk) in French and in English, at 390 px, and fails on Datasette's chrome in the
other language, a raw status code or column name, an ISO timestamp or a column of 0/1 values in
the visible text, and on horizontal overflow.

A kind is the URL's path with ids replaced (``/tracker/threads/t-1a2b`` and
``/tracker/threads/t-3c4d`` are one kind), and the names of its query parameters; at most
``PER_KIND`` pages of a kind are visited. A missing id is the error page, a kind of its own (a
missing thread does not stand for the thread pages).

The demo is built once and served once in each language for the session (the accessibility test
uses the same servers). Each kind is screenshotted at 390 px: its first screen, or the whole page
when ``TRACKER_SCREENSHOTS`` names a folder to keep them in (a whole 390-px page of a long table is
over 100,000 px tall: seconds per shot).
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter, deque
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse

import pytest

from tests.test_publish_server import running_server

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.support.browser import browser, shots  # noqa: E402,F401

PER_KIND = 1
MAX_PAGES = 160
NARROW = {"width": 390, "height": 844}

# pages reachable only by typing them, which the crawl starts from as well
SEEDS = ["/", "/-/nonexistent", "/tracker/threads/t-nonexistent", "/tracker/nonexistent-table",
         "/-/search?q=hebergement", "/-/threads?q=victimes", "/-/desk/triage", "/-/desk/letter"]

# Datasette 0.65's English chrome (templates and messages), and the French tracker puts instead
ENGLISH_CHROME = [
    "rows sorted by", "Suggested facets", "View and edit SQL", "Custom SQL query", "Run SQL",
    "Edit SQL", "Powered by", "Next page", "Log in", "Log out", "Record not found", "Advanced export",
    "CSV options", "expand labels", "Query took", "Show all columns", "This data as", "Download file",
    "Sort ascending", "Sort descending", "Facet by this", "Hide this column", "Data license",
    "Queries", "hidden table", "Table not found", "Database not found", "Page not found",
    "Save this query", "Format SQL", "returned no results", "Apply", "rows where", "Return to",
]
FRENCH_CHROME = [
    "Accueil", "Connexion", "Se déconnecter", "Page suivante", "Propulsé par", "Page introuvable",
    "Fil introuvable", "Rechercher", "Lettres sans réponse", "Réactivité", "Voir les fils",
    "Statut", "En attente de réponse", "Répondu",
]
CHROME = {language: re.compile(r"(?<!\w)(" + "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
                                 + r")(?!\w)") for language, words in (("fr", ENGLISH_CHROME), ("en", FRENCH_CHROME))}
RAW_CODES = re.compile(r"(?<![\w@.])(awaiting_reply|auto_reply|[a-z]+_(?:at|id|by|address|text|to|of|"
                       r"reply|reports|sha256|type|name|count|days))(?![\w@])")
ISO_TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d")

# One snapshot of a page: its visible text, the columns of its tables, its width and its links.
SNAPSHOT = """() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const tables = [...document.querySelectorAll('table')].filter(visible).map(t => {
    // counts (attachment_count...) may well be all 0 and 1; yes/no columns may not
    const heads = [...t.querySelectorAll('thead th')].map(
      th => /count|letters|answered|messages/.test(th.dataset.column || '') ? '#count' : th.innerText.trim());
    const rows = [...t.querySelectorAll('tbody tr')].map(
      tr => [...tr.children].map(td => td.innerText.trim()));
    return {heads, rows};
  });
  // SQL shown as code (an admin's query, a view's definition) is code, not words
  const code = [...document.querySelectorAll('pre, code, textarea, .CodeMirror')];
  const shown = code.map(e => e.style.display);
  code.forEach(e => { e.style.display = 'none'; });
  const text = document.body.innerText;
  code.forEach((e, i) => { e.style.display = shown[i]; });
  const width = document.documentElement.scrollWidth;
  return {
    text,
    title: document.title,
    lang: document.documentElement.lang,
    width,
    viewport: window.innerWidth,
    // what sticks out, looked for only when something does
    wide: width <= window.innerWidth ? [] : [...document.querySelectorAll('body *')].filter(e => {
        const r = e.getBoundingClientRect(); return visible(e) && r.right > window.innerWidth + 1;
      }).slice(0, 3).map(e => e.tagName + '.' + e.className + ' ' + (e.innerText || '').slice(0, 40)),
    tables,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  };
}"""


def kind(url: str) -> str:
    """The kind of page a URL shows: its path with ids, numbers and names replaced, and the
    names of its query parameters (their values dropped)."""
    parts = urlparse(url)
    segments = []
    for index, segment in enumerate(parts.path.split("/")):
        if "nonexistent" in segment:
            pass  # a missing row, table or page is the error page: a kind of its own
        elif re.fullmatch(r"t-[0-9a-f~A-Z-]+|\d+|[0-9a-f]{16,}", segment) or index >= 3 and segment and not parts.path.startswith("/-/"):
            segment = "*"
        segments.append(segment)
    query = parse_qsl(parts.query, keep_blank_values=True)
    # a table's column filters are one kind; tracker's pages' parameters each change the page
    keys = {("filter" if parts.path.startswith("/tracker/") else k) for k, _ in query if not k.startswith("_")}
    keys |= {{"_sort_desc": "_sort"}.get(k, k) for k, _ in query if k in ("_sort", "_sort_desc", "_facet", "_show_sql")}
    return "/".join(segments) + ("?" + "&".join(sorted(keys)) if keys else "")


def followed(url: str, root: str) -> bool:
    """Whether the crawl follows a link: same site, an HTML page, nothing that acts or logs out."""
    parts = urlparse(url)
    if not url.startswith(root) or parts.path.endswith((".json", ".csv", ".css", ".js", ".png", ".db", ".atom")):
        return False
    query = dict(parse_qsl(parts.query))
    return not ({"_format", "_shape", "_json", "_dl", "format"} & set(query)) and "/-/logout" not in parts.path \
        and not parts.path.startswith(("/-/static", "/-/attachments/", "/-/actor", "/-/permissions", "/-/messages",
                                       "/-/allow-debug", "/-/config", "/-/settings", "/-/threads.csv"))


def problems_of(snapshot: dict, language: str) -> list[str]:
    """What is wrong with one page in ``language``: the other language's chrome, raw codes, ISO
    times, 0/1 columns, horizontal overflow."""
    text = snapshot["text"] + "\n" + snapshot["title"]
    found = []
    if snapshot["lang"] != language:
        found.append(f"<html lang={snapshot['lang']!r}>")
    for word in sorted(set(CHROME[language].findall(text))):
        found.append(f"chrome word {word!r}")
    for pattern, what in ((RAW_CODES, "raw code"), (ISO_TIME, "ISO time")):
        for match in sorted(set(pattern.findall(text)))[:3]:
            found.append(f"{what} {match!r}")
    for table in snapshot["tables"]:
        columns = max((len(r) for r in table["rows"]), default=0)
        for index in range(columns):
            cells = [r[index] for r in table["rows"] if index < len(r) and r[index]]
            head = table["heads"][index] if index < len(table["heads"]) else index
            if len(cells) >= 3 and set(cells) <= {"0", "1"} and "1" in cells and head != "#count":
                found.append(f"0/1 column {head!r}")
    if snapshot["width"] > snapshot["viewport"]:
        found.append(f"{snapshot['width']} px wide at {snapshot['viewport']} px: {snapshot['wide']}")
    return found


def crawl(browser, root: str, language: str, shots: Path | None = None) -> tuple[dict, Counter]:
    """Visit every kind of page reachable from ``SEEDS`` at 390 px; return {url: problems} for
    the pages with any, and how many pages of each kind were seen."""
    context = browser.new_context(viewport=NARROW)
    page = context.new_page()
    seen_kinds: Counter = Counter()
    queued = set()
    todo = deque()
    for seed in SEEDS:
        todo.append(root + seed)
        queued.add(root + seed)
    problems, visited = {}, 0
    try:
        while todo and visited < MAX_PAGES:
            url = todo.popleft()
            if seen_kinds[kind(url)] >= PER_KIND:
                continue
            seen_kinds[kind(url)] += 1
            visited += 1
            page.goto(url)
            snapshot = page.evaluate(SNAPSHOT)
            found = problems_of(snapshot, language)
            if found:
                problems[url[len(root):]] = found
            if shots is not None and seen_kinds[kind(url)] == 1:
                # one file a kind: /tracker/messages/* (a row) is not /tracker/messages (the table)
                name = re.sub(r"[^\w]+", "_", kind(url).replace("*", "id")).strip("_") or "home"
                page.screenshot(path=str(shots / f"crawl-{language}-390-{name}.png"),
                                full_page=bool(os.environ.get("TRACKER_SCREENSHOTS")))
            for link in snapshot["links"]:
                link = link.split("#")[0]
                if link not in queued and followed(link, root) and seen_kinds[kind(link)] < PER_KIND:
                    queued.add(link)
                    todo.append(link)
    finally:
        context.close()
    return problems, seen_kinds


_SITES: dict = {}


@pytest.fixture(scope="session")
def demo_sites(request, tmp_path_factory):
    """{language: (config path, root URL)}: the demo built once, its databases copied for English
    with the config's language changed, each served by one ``tracker serve`` for the session.
    Every module importing this fixture gets the same two servers (pytest would otherwise build and
    start them again for each module); the first to ask stops them at the session's end."""
    if not _SITES:
        from tracker import demo

        french = demo.build(tmp_path_factory.mktemp("crawl-fr"))
        folder = tmp_path_factory.mktemp("crawl-en")
        for name in ("tracker.db", "tracker-private.db"):
            shutil.copyfile(french.parent / name, folder / name)
        english = folder / "tracker.toml"
        english.write_text(french.read_text().replace('language = "fr"', 'language = "en"', 1))
        assert 'language = "en"' in english.read_text()
        stack = ExitStack()
        request.addfinalizer(lambda: (_SITES.clear(), stack.close()))
        sites = {language: (config, stack.enter_context(running_server(config)))
                 for language, config in (("fr", french), ("en", english))}
        _SITES.update(sites)
    return _SITES


EXPECTED_KINDS = ["/", "/tracker", "/tracker/threads", "/tracker/threads/*", "/tracker/correspondents/*",
                  "/-/threads", "/-/unanswered", "/-/responsiveness", "/-/search?q", "/-/desk/triage",
                  "/-/desk/letter", "/-/nonexistent", "/tracker/threads/t-nonexistent", "/tracker/nonexistent-table",
                  "/tracker/threads?_sort", "/tracker/threads?filter", "/tracker/messages/*", "/tracker/unanswered",
                  "/tracker?sql", "/tracker/threads?_sort&filter", "/tracker/unanswered?_show_sql"]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_kind_of_page_reads_in_its_language_and_fits_390_px(demo_sites, browser, language, tmp_path):
    shots = Path(os.environ.get("TRACKER_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    problems, kinds = crawl(browser, demo_sites[language][1], language, shots)
    missing = [k for k in EXPECTED_KINDS if k not in kinds]
    assert not missing, (missing, sorted(kinds))
    assert problems == {}, "\n".join(f"{url}: {found}" for url, found in sorted(problems.items()))


def test_the_checks_catch_what_they_are_for():
    clean = {"text": "Lettres sans réponse", "title": "Suivi", "lang": "fr", "width": 390, "viewport": 390,
             "wide": [], "tables": []}
    assert problems_of(clean, "fr") == []
    dirty = {**clean, "text": "250 rows sorted by opened_at · awaiting_reply · 2026-08-27T09:16:47+00:00",
             "width": 571, "tables": [{"heads": ["overdue"], "rows": [["0"], ["1"], ["0"]]}]}
    found = " ".join(problems_of(dirty, "fr"))
    for expected in ("rows sorted by", "opened_at", "awaiting_reply", "ISO time", "0/1 column", "571 px"):
        assert expected in found
    assert "Accueil" in " ".join(problems_of({**clean, "text": "Accueil", "lang": "en"}, "en"))
    assert kind("http://h/tracker/threads/t-0a1b2c3d4e") == kind("http://h/tracker/threads/t-ffee001122")
    assert kind("http://h/tracker/threads/t-nonexistent") != kind("http://h/tracker/threads/t-ffee001122")
