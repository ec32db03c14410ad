"""The HTML digest as a mail reader shows it: rendered by headless Chromium (Debian's
/usr/bin/chromium through Playwright) to a PNG, with the overdue table visible."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support import correspondence
from tracker import store
from tracker.report import digest
from tracker.config import load

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_html_digest_renders_in_chromium_with_the_overdue_table_visible(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    config = load(correspondence.build(tmp_path))
    db = store.open_db(config.database)
    db.execute("insert into sync_state (folder, last_uid, last_success_at) values ('INBOX', 1, ?)",
               ["2026-11-20T06:00:00+00:00"])  # stale: the warning is part of the picture
    message = digest.run(db, config, now=MONDAY, dry_run=True).message
    html = message.get_body(("html",)).get_content()
    page_file = tmp_path / "digest.html"
    page_file.write_text(html, encoding="utf-8")
    shot = tmp_path / "digest.png"  # look at it: pytest --basetemp=DIR keeps it there

    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 760, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri())
            table = page.locator("#overdue")
            assert table.is_visible()
            box = table.bounding_box()
            assert box and box["width"] > 400 and box["height"] > 60
            rows = table.locator("tr")
            assert rows.count() == 3  # header + the two overdue letters
            assert "Protection des témoins" in rows.nth(2).inner_text()
            assert "Attention" in page.inner_text("body")
            # nothing spills sideways out of a 760 px window
            assert page.evaluate("document.documentElement.scrollWidth") <= 760
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    width, height = png_size(shot)
    assert shot.stat().st_size > 10_000 and width == 760 and height > 600
    assert requests == [page_file.as_uri()]  # no external resources fetched
