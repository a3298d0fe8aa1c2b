"""End to end: live feedback on `hipcam serve` with a real clip, in headless Chromium.

The clinician unlocks, starts a session and a faded feedback plan with short blocks (a retention
block, two with feedback, one faded out, a retention block); the runner view, opened before any
plan on another device, flashes a hit or miss and schedules its tone for the strides of the
feedback blocks (after a tap enabled the sound), says only "Keep going" in the blocks without
feedback, and the session stores each block's results. Screenshots go to test-output/.

The clip is the home treadmill one (real time, ~2.7 strides/s): the lab clip's slow motion gives a
stride every ~3 s of playback, too few for 5 s blocks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from paths import REPO, SHARED_DATA
from serve_process import get_json, serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.needs_models]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
CLIP = SHARED_DATA / "treadmill_home_side.mp4"
PIN = "4321"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
BLOCK_S = 5
# probes on, 3 blocks faded [1, 0]: retention (pre), on, on, off, retention (post)
FEEDBACK_BLOCKS, OFF_BLOCKS = {1, 2}, {0, 3, 4}


def _start_plan(page: Any, base: str) -> int:
    """Unlock, start a session and the plan on the live page; the session id."""
    from playwright.sync_api import expect

    page.goto(base + "/login?next=/")
    page.fill("#pin", PIN)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/")
    page.fill("#runner", "Feedback Runner")
    page.click("#start-btn")
    expect(page.locator("#session-active")).to_be_visible(timeout=15_000)
    page.click("#fb-card summary")
    page.click("#fb-target-pattern_b + span")  # radios are visually hidden behind their labels
    page.fill("#fb-min-ext", "5")
    page.fill("#fb-max-lean", "10")
    page.click("#fb-schedule-faded + span")
    page.fill("#fb-fade", "100, 0")
    page.fill("#fb-blocks", "3")
    page.fill("#fb-block-s", str(BLOCK_S))
    page.check("#fb-probes")
    page.click("#fb-audio-all + span")
    expect(page.locator("#fb-start")).to_be_enabled(timeout=10_000)
    page.click("#fb-start")
    expect(page.locator("#fb-status")).to_contain_text("Block 1 of 5", timeout=10_000)
    expect(page.locator("#fb-error")).to_be_hidden()
    return int(get_json(base + "/api/sessions")["active_session_id"])


class RunnerWatch:
    """What the runner view showed, sampled every 100 ms, with a screenshot of each look."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.shots: dict[str, Path] = {}
        self.flash_in_keep_going = 0

    def sample(self) -> str:
        look = self.page.evaluate(
            """() => ({mode: document.body.dataset.mode, big: document.getElementById("r-big").textContent,
                      flash: document.getElementById("r-flash").hidden ? "" : document.getElementById("r-flash").dataset.kind,
                      bottom: !document.getElementById("r-bottom").hidden})"""
        )
        if look["mode"] == "keep-going":
            assert look["big"] == "Keep going" and not look["bottom"], look  # no numbers, no bar
            if look["flash"]:
                self.flash_in_keep_going += 1  # a cue of the block just starting, before its status
        name = look["flash"] or ("keep-going" if look["mode"] == "keep-going" else "")
        if name and name not in self.shots:
            self.shots[name] = OUT / f"feedback-runner-{name}.png"
            self.page.screenshot(path=str(self.shots[name]))
        return str(look["mode"])

    def log(self) -> list[dict[str, Any]]:
        return list(self.page.evaluate("window.hipcamRunnerLog"))


def test_live_feedback_on_the_runner_view(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} not present (clone the shared test data beside the repo)")
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(exist_ok=True)
    with serve_process(CLIP, tmp_path / "data", tmp_path / "serve.log", PIN) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        errors: list[str] = []
        # The runner's screen: another device, not logged in, opened before any plan.
        runner = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        clinician = browser.new_context(viewport={"width": 1180, "height": 820}).new_page()
        for page in (runner, clinician):
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        runner.goto(base + "/runner")
        expect(runner.locator("#r-big")).to_have_text("No feedback running", timeout=10_000)
        runner.screenshot(path=str(OUT / "feedback-runner-none.png"))

        sid = _start_plan(clinician, base)
        expect(runner.locator("#r-sound")).to_be_visible(timeout=5_000)
        runner.click("#r-sound")  # the tap browsers need before a page may play sound
        expect(runner.locator("#r-sound")).to_be_hidden()
        clinician.locator("#fb-card").screenshot(path=str(OUT / "feedback-live-card.png"))

        watch = RunnerWatch(runner)
        deadline = time.monotonic() + 5 * BLOCK_S + 10
        while time.monotonic() < deadline and watch.sample() != "finished":
            runner.wait_for_timeout(100)
        assert watch.sample() == "finished", "the plan's blocks did not end"
        expect(runner.locator("#r-big")).to_have_text("Finished")
        log = watch.log()
        clinician.locator("#fb-card").screenshot(path=str(OUT / "feedback-live-card-finished.png"))

        cues = [e for e in log if e["type"] == "cue"]
        shown = [c for c in cues if c["shown"]]
        tones = [e for e in log if e["type"] == "tone"]
        assert cues and shown, f"no cue shown on the runner view: {cues}"
        assert {c["block"] for c in shown} <= FEEDBACK_BLOCKS, shown  # never in a block without feedback
        assert all(not c["shown"] for c in cues if c["block"] in OFF_BLOCKS)
        # One tone per shown cue (audio "all"), of its kind.
        assert [t["kind"] for t in tones] == ["hit" if c["hit"] else "miss" for c in shown], (tones, shown)
        assert "keep-going" in watch.shots and ("hit" in watch.shots or "miss" in watch.shots), watch.shots
        assert watch.flash_in_keep_going <= 3, watch.flash_in_keep_going
        delays = sorted(c["delay_ms"] for c in cues)
        print(f"capture->runner view: {len(delays)} cues, median {delays[len(delays) // 2]} ms")

        # The session keeps each block's results.
        runs = get_json(f"{base}/api/sessions/{sid}")["feedback"]
        assert len(runs) == 1 and runs[0]["ended_at"] is not None
        blocks = runs[0]["blocks"]
        assert [b["probe"] for b in blocks] == ["pre", None, None, None, "post"]
        assert [b["feedback"] for b in blocks] == [False, True, True, False, False]
        assert sum(b["strides"] for b in blocks) > 0 and any(blocks[i]["strides"] > 0 for i in FEEDBACK_BLOCKS)
        clinician.goto(f"{base}/sessions/{sid}")
        expect(clinician.locator("#feedback-runs .feedback-table tbody tr")).to_have_count(5 + 2, timeout=10_000)
        clinician.locator("#feedback-runs").screenshot(path=str(OUT / "feedback-session-card.png"))
        browser.close()
    assert not errors, errors
