"""End to end: the guided set-up check on `hipcam serve` with the home treadmill clip, in headless
Chromium. The installer unlocks, opens /setup, runs the check (~20 s of live frames, gathered and
measured by the service) and sees the frame with its lines and the table of checks with their
fixes. Screenshot: test-output/setup-check.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import REPO, SHARED_DATA
from serve_process import serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.needs_models]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
CLIP = SHARED_DATA / "treadmill_home_side.mp4"
PIN = "4321"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
NAMES = ["side view", "whole body in frame", "runner size", "camera height", "camera roll", "frame rate",
         "exposure", "other people", "detector confidence"]  # fmt: skip


def test_setup_check_page_runs_the_live_check(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} not present (clone the shared test data beside the repo)")
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(exist_ok=True)
    with serve_process(CLIP, tmp_path / "data", tmp_path / "serve.log", PIN) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport={"width": 1180, "height": 1400}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/settings")
        page.click("#setup-link")
        page.wait_for_url(base + "/setup")
        expect(page.locator("#setup-unlock")).to_be_visible()  # locked: no run button
        expect(page.locator("#setup-run")).to_have_count(0)
        page.goto(base + "/login?next=/setup")
        page.fill("#pin", PIN)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(base + "/setup")
        page.click("#setup-run")
        expect(page.locator("#setup-status")).to_contain_text("Watching", timeout=10_000)
        expect(page.locator("#setup-table")).to_be_visible(timeout=90_000)
        page.wait_for_timeout(500)  # the picture loads after the table
        page.screenshot(path=str(OUT / "setup-check.png"), full_page=True)
        rows = page.locator("#setup-rows tr")
        expect(rows).to_have_count(len(NAMES))
        assert [rows.nth(i).get_attribute("data-check") for i in range(len(NAMES))] == NAMES
        statuses = {
            rows.nth(i).get_attribute("data-check"): rows.nth(i).get_attribute("data-status") for i in range(len(NAMES))
        }
        assert statuses["frame rate"] == "warn", statuses  # the clip is 30 fps
        assert "fail" not in statuses.values(), statuses
        image = page.locator("#setup-image")
        expect(image).to_be_visible(timeout=10_000)
        assert page.evaluate("document.getElementById('setup-image').naturalWidth") > 0
        assert not errors, errors
        browser.close()
