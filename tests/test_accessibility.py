"""axe-core (tests/support/axe.min.js, see axe.README.md there) in Debian's Chromium on each kind
of page of the demo in French and in English, at 1280 and 390 px: no serious or critical violation
(labels, contrast, names, keyboard focus, the page's language).

Each page is loaded once, at 1280 px, checked, narrowed to 390 px and checked again (no script of
the pages depends on the width: CSS alone changes). axe comes in as an init script of the browser
context, which runs in every page before the page's own scripts and which the page's
Content-Security-Policy does not apply to: the pages are checked under their real CSP. axe does not
preload the stylesheets (the "cssom" asset: only css-orientation-lock uses it, an experimental rule
axe leaves off); it still preloads media. The servers are the crawl's (tests/test_crawl.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.test_crawl import browser, demo_sites  # noqa: E402,F401  (fixtures)

AXE = Path(__file__).parent / "support" / "axe.min.js"
WIDTHS = (1280, 390)
HEIGHT = 900


def kinds_of_page(config_path: Path) -> dict[str, str]:
    """One path of each kind of page, with ids taken from the demo's database."""
    import sqlite3

    from datasette.utils import tilde_encode

    db = sqlite3.connect(config_path.parent / "tracker.db")
    thread = db.execute("select id from threads where status = 'answered' order by id limit 1").fetchone()[0]
    bounced = db.execute("select id from threads order by status = 'bounced' desc, id limit 1").fetchone()[0]
    body = db.execute("select id from correspondents order by id limit 1").fetchone()[0]
    message = db.execute("select message_id from messages order by date limit 1").fetchone()[0]
    db.close()
    return {
        "home": "/", "threads": "/-/threads?q=victimes", "unanswered": "/-/unanswered?group=1",
        "responsiveness": "/-/responsiveness", "search": "/-/search?q=hebergement",
        "thread": "/tracker/threads/" + tilde_encode(thread), "bounced": "/tracker/threads/" + tilde_encode(bounced),
        "ministry": "/tracker/correspondents/" + tilde_encode(body), "table": "/tracker/threads?_facet=status",
        "query": "/tracker/unanswered", "database": "/tracker", "message": "/tracker/messages/" + tilde_encode(message),
        "sql": "/tracker?sql=select+id%2C+subject+from+threads+limit+5", "error": "/-/nonexistent",
        "triage": "/-/desk/triage", "letter": "/-/desk/letter", "commitments": "/-/commitments",
    }


# axe's violations as (id, impact, help, first nodes)
RUN = """async () => (await axe.run(document, {resultTypes: ['violations'], preload: {assets: ['media']}}))
  .violations.map(v => ({id: v.id, impact: v.impact, help: v.help, where: v.nodes.slice(0, 3).map(n => n.target)}))"""


def violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page now shown (axe added to the page
    unless an init script already did)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return [v for v in page.evaluate(RUN) if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_serious_accessibility_violation_on_any_kind_of_page(demo_sites, browser, language):  # noqa: F811
    config, root = demo_sites[language]
    found = {}
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        for name, path in kinds_of_page(config).items():
            for index, width in enumerate(WIDTHS):
                page.set_viewport_size({"width": width, "height": HEIGHT})
                if index == 0:
                    page.goto(root + path)
                assert page.evaluate("[window.innerWidth, typeof axe]") == [width, "object"]
                problems = violations(page)
                if problems:
                    found[f"{width}px {name} {path}"] = problems
    finally:
        context.close()
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_axe_finds_what_it_is_for(browser):  # noqa: F811
    """The harness itself: an unlabelled input and grey-on-white text are reported."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_content('<html lang="fr"><head><title>t</title></head><body><main><h1>t</h1>'
                     '<input type="text"><p style="color:#ddd;background:#fff">pâle</p></main></body></html>')
    ids = {v["id"] for v in violations(page)}
    context.close()
    assert {"label", "color-contrast"} <= ids, ids
