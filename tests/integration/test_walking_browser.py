"""The demo clip's walker on the live page: "Walking", never a class, and no running stride recorded.

`hipcam serve` on the demo clip (a person walking across a garden), driven in headless Chromium: the
class card says "Walking" while the walker is in view, the class letter never shows A-D, and the
service's snapshot holds no stride. The page is screenshotted under test-output/.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from paths import MODELS_DIR, REPO
from serve_process import get_json, serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.needs_models]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def test_demo_walker_shows_walking_and_no_class(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    clip = MODELS_DIR / "demo.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not fetched: run scripts/setup")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    with serve_process(clip, tmp_path / "data", tmp_path / "serve.log", "4321") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1180, "height": 820})
        page.goto(base + "/")
        letters: set[str] = set()
        walking_seen = 0
        deadline = time.monotonic() + 40  # the clip is 7.7 s long and loops: several passes of the walker
        while time.monotonic() < deadline:
            letters.add(page.inner_text("#class-letter").strip())
            if page.inner_text("#class-name").strip() == "Walking":
                walking_seen += 1
                if walking_seen == 3:
                    page.screenshot(path=str(OUT / "live-demo-walking.png"))
            page.wait_for_timeout(250)
        state = get_json(base + "/api/state")
        browser.close()
    assert walking_seen >= 3, "the live page never said Walking for the demo walker"
    assert not letters & {"A", "B", "C", "D"}, f"a walker was classified: {letters}"
    assert state["strides"] == [] and state["current_class"] is None, state["strides"][:3]
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
