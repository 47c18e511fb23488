"""The pages in a real browser: `monitor web` as a subprocess on a loopback port, driven by
Playwright with the Debian chromium (Playwright cannot download its own browsers here). Every
page at a desktop and a phone width: no console errors, nothing wider than the screen.

``MONITOR_SCREENSHOTS=docs/screenshots`` keeps the screenshots the README shows."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.smtpserver import free_port
from web.conftest import fill, item_ids

CHROMIUM = Path("/usr/bin/chromium")
WIDTHS = {"desktop": 1280, "phone": 390}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the Debian chromium: apt-get install chromium")


@pytest.fixture
def served(sqlite_config, feed_server):
    config, db, path = fill(sqlite_config, feed_server, locale="zh-CN")  # as readers see it
    ids = item_ids(db)
    db.dispose()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "web", "--http",
                             f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # up to 10 s to start
            try:
                urllib.request.urlopen(base + "/static/style.css", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"monitor web exited: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.1)
        yield base, ids
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0  # SIGTERM is a clean stop


def test_pages_render_without_console_errors_at_both_widths(served, tmp_path):
    from playwright.sync_api import sync_playwright

    base, ids = served
    shots = Path(os.environ.get("MONITOR_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    pages = {"stories": "/", "story": f"/stories/{ids['a1']}", "search": "/search?q=消費金融",
             "feeds": "/feeds", "watches": "/watches", "emails": "/emails"}
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        try:
            for label, width in WIDTHS.items():
                page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
                page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                for name, path in pages.items():
                    response = page.goto(base + path)
                    assert response is not None and response.status == 200, (name, response and response.status)
                    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, f"{name} is {overflow}px wider than {width}px"
                    if name in ("stories", "story"):
                        page.screenshot(path=str(shots / f"{name}-{label}.png"), full_page=True)
                page.close()
            _click_through(browser.new_page(viewport={"width": 390, "height": 900}), base)
        finally:
            browser.close()
    assert problems == []
    assert (shots / "story-phone.png").stat().st_size > 5000


def _click_through(page, base: str) -> None:
    """Search, open the story, take it out of its watch, put it back: forms work in the browser."""
    page.goto(base + "/search?q=城商行")
    # Each click loads a page (a link, a form's POST and its redirect): read it once it has loaded,
    # not mid-navigation (content() was '' there once, on a busy machine).
    with page.expect_navigation():
        page.click(".story .actions a")
    assert page.url.startswith(base + "/stories/") and "为何收录" in page.content()
    with page.expect_navigation():
        page.click("button:has-text('与「新市民」无关')")
    assert "移出「新市民」" in page.content()
    with page.expect_navigation():
        page.click("button:has-text('恢复到「新市民」')")
    content = page.content()
    assert "为何收录" in content and "移出「新市民」" not in content
    page.close()
