"""axe-core (tests/support/axe.min.js, see axe.README.md there) in Debian's Chromium, injected
through Playwright's ``add_script_tag``, on each kind of page of the demo in French and in
English, at 1280 and 390 px: no serious or critical violation (labels, contrast, names,
keyboard focus, the page's language)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_publish_server import running_server

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.test_crawl import browser, demo_configs  # noqa: E402,F401  (fixtures)

AXE = Path(__file__).parent / "support" / "axe.min.js"


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


def violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page now shown."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "where": [n["target"] for n in v["nodes"][:3]]}
        for v in results["violations"] if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_serious_accessibility_violation_on_any_kind_of_page(demo_configs, browser, language):  # noqa: F811
    found = {}
    with running_server(demo_configs[language]) as root:
        for width in (1280, 390):
            # the CSP (rightly) refuses axe's injected script: the test's context sets it aside
            context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
            page = context.new_page()
            for name, path in kinds_of_page(demo_configs[language]).items():
                page.goto(root + path)
                problems = violations(page)
                if problems:
                    found[f"{width}px {name} {path}"] = problems
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
