"""Headless Chromium (Debian's, driven by Playwright) against a real ``tracker serve``: the home
page, a thread page, a search, a thread full of hostile HTML, and Datasette's own pages under
the Content-Security-Policy. Screenshots go to $TRACKER_SCREENSHOTS (default: the test's tmp
folder) for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.test_publish import HOSTILE_SUBJECT, THREAD_WITH_SLASH, build_database
from tests.test_publish_server import running_server

playwright_api = pytest.importorskip("playwright.sync_api")

from tests.support.browser import ARGS, CHROMIUM, browser, shots  # noqa: E402,F401



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    config = build_database(tmp_path_factory.mktemp("browser"))
    with running_server(config.path) as url:
        yield url


class Watched:
    """A page whose dialogs, console errors and outgoing requests are recorded; any request
    that does not go to loopback is aborted."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.dialogs, self.errors, self.requests, self.escaped = [], [], [], []
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.context.route("**/*", self._route)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route):
        url = urlparse(route.request.url)
        if url.scheme in ("data", "about") or url.hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.escaped.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser):
    page = Watched(browser)
    yield page
    page.close()


def test_home_page(site, watched, shots):
    page = watched.page
    page.goto(site + "/")
    assert page.title().startswith("Suivi des correspondances")
    assert page.locator("table.overdue-table tbody tr").count() == 3
    chart = page.locator("svg.chart")
    assert chart.is_visible() and chart.bounding_box()["width"] > 300
    page.screenshot(path=str(shots / "home.png"), full_page=True)
    assert not watched.dialogs and not watched.errors and not watched.escaped


def test_search_from_the_home_page(site, watched, shots):
    page = watched.page
    page.goto(site + "/")
    page.fill("input#q", "reponse officielle")
    page.click("form.search-form input[type=submit]")
    # the home page's search is tracker's /-/search: threads, each with its status and passage
    page.wait_for_selector("ol.search-results")
    assert page.locator("ol.search-results > li").count() == 1
    assert page.locator("ol.search-results mark").first.inner_text().lower() in ("réponse", "reponse")
    assert page.locator("ol.search-results .badge").count() >= 1
    page.screenshot(path=str(shots / "search.png"), full_page=True)
    page.click("ol.search-results h2 a")
    assert "Conditions de rétention administrative" in page.locator("h1").inner_text()
    page.screenshot(path=str(shots / "thread.png"), full_page=True)
    assert not watched.dialogs and not watched.errors and not watched.escaped


def test_hostile_thread_runs_nothing_and_loads_nothing_remote(site, watched, shots):
    from datasette.utils import tilde_encode

    page = watched.page
    page.goto(site + "/tracker/threads/" + tilde_encode(THREAD_WITH_SLASH))
    page.wait_for_load_state("networkidle")
    # the hostile subject is shown as text, not run
    assert page.locator("h1").inner_text() == HOSTILE_SUBJECT
    for summary in page.locator("details summary").all():
        summary.click()  # open the sanitized HTML and any quoted text
    page.locator(".html-body").hover()
    page.locator(".html-body a").first.hover()
    page.wait_for_timeout(300)
    html_body = page.locator(".html-body")
    assert "Texte de la réponse" in html_body.inner_text()
    assert html_body.locator("script, img, iframe, form, style, link").count() == 0
    hrefs = [a.get_attribute("href") for a in html_body.locator("a").all()]
    assert all(h is None or h.startswith("https://") for h in hrefs), hrefs
    page.screenshot(path=str(shots / "hostile-thread.png"), full_page=True)
    assert watched.dialogs == []
    assert watched.escaped == []
    assert all(urlparse(u).hostname == "127.0.0.1" for u in watched.requests if u.startswith("http"))
    assert page.evaluate("() => window.__pwned === undefined")


def test_datasette_pages_still_work_under_the_csp(site, watched, shots):
    """Datasette's own inline scripts are allowed by hash: its table and SQL pages run."""
    page = watched.page
    page.goto(site + "/tracker/threads")
    assert page.evaluate("() => window.DATASETTE_ALLOW_FACET") is True
    page.wait_for_selector("table.rows-and-columns")
    assert page.locator("th", has_text="Statut").count() >= 1
    page.screenshot(path=str(shots / "threads-table.png"))
    page.goto(site + "/tracker?sql=select+count(*)+from+threads")
    page.wait_for_selector(".CodeMirror")  # set up by Datasette's inline script
    page.click("details.nav-menu summary")  # menus (the inline _close_open_menus script)
    csp_errors = [e for e in watched.errors if "Content Security Policy" in e]
    assert csp_errors == [] and watched.errors == []
