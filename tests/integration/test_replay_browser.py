"""End to end: `hipcam serve` on a real runner's clip records a session (strides, landmarks, clips,
overlaid key frames), then headless Chromium opens the session page, replays a stride with a kept
clip, steps frames (the counter and the canvas change), plays at 1/4x, compares best vs worst and
stars the stride. Screenshots go to test-output/ (replay-*.png)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from paths import REPO
from serve_process import get_json, serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.needs_models]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
PIN = "1357"
CLIP = REPO.parent / "shared" / "data" / "treadmill_home_side.mp4"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def test_replay_a_stride_step_play_and_star(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} not present")
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(exist_ok=True)
    with serve_process(CLIP, tmp_path / "data", tmp_path / "serve.log", PIN) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        ctx = browser.new_context(viewport={"width": 1180, "height": 900})
        api = ctx.request  # shares the page's cookies: the login holds for both
        csrf = api.get(base + "/api/auth").json()["csrf_token"]
        csrf = api.post(base + "/api/login", data={"pin": PIN}, headers={"X-CSRF-Token": csrf}).json()["csrf_token"]
        sid = api.post(base + "/api/sessions", data={"runner": "Replay Runner"}, headers={"X-CSRF-Token": csrf}).json()[
            "id"
        ]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(get_json(f"{base}/api/sessions/{sid}/replay")["clips"]) < 4:
            time.sleep(1)
        assert api.post(f"{base}/api/sessions/{sid}/stop", headers={"X-CSRF-Token": csrf}).ok
        overview = get_json(f"{base}/api/sessions/{sid}/replay")
        assert overview["clips"], "no replay clip was kept"
        stride = overview["clips"][-1]

        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/sessions/{sid}")
        page.click(f"#strides-table .replay-btn[data-stride-id='{stride}']")
        canvas = page.locator("#replay-a canvas")
        expect(canvas).to_have_attribute("data-drawn", "1", timeout=10_000)
        expect(canvas).to_have_attribute("data-clip", "1")
        expect(page.locator("#replay-counter")).to_contain_text("frame 1 /")
        page.wait_for_timeout(500)  # the frame images load
        page.locator("#replay").screenshot(path=str(OUT / "replay-frame-1.png"))
        page.click("#replay-next")
        expect(page.locator("#replay-counter")).to_contain_text("frame 2 /")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        expect(canvas).to_have_attribute("data-frame", "4")
        page.locator("#replay").screenshot(path=str(OUT / "replay-frame-4.png"))
        page.click("#replay-slow")
        expect(page.locator("#replay-slow")).to_have_attribute("aria-pressed", "true")
        expect(canvas).not_to_have_attribute("data-frame", "4", timeout=5_000)  # it plays on
        page.click("#replay-slow")  # the same button pauses
        expect(page.locator("#replay-slow")).to_have_attribute("aria-pressed", "false")
        page.click("#replay-star")
        expect(page.locator("#replay-star")).to_have_attribute("aria-pressed", "true", timeout=5_000)
        assert get_json(f"{base}/api/sessions/{sid}/replay")["starred"] == [stride]
        expect(page.locator(f"#strides-table .star-btn[data-stride-id='{stride}']")).to_have_text("★")

        compare = page.locator("#replay-compare button", has_text="Best vs worst")
        if compare.count():
            compare.first.click()
            expect(page.locator("#replay-b canvas")).to_have_attribute("data-drawn", "1", timeout=10_000)
            page.wait_for_timeout(500)
            page.locator("#replay").screenshot(path=str(OUT / "replay-best-vs-worst.png"))
        page.screenshot(path=str(OUT / "replay-session.png"), full_page=True)
        browser.close()
        assert not errors, errors
