"""End to end: a runner's record on `hipcam serve` with a real clip, in headless Chromium.

The clinician unlocks, creates a runner through the API and records a session of them, then starts a
second one on the live page by picking the runner from the session-start control; each runs until
the strides of a leg are enough for a mean (>= 7 classified). The runner page then shows both
sessions in its progress table with a change mark (the same clip twice: the change is expected
within measurement error), hipcam's SDD and the literature values, and a screenshot goes to test-output/.
On the second session's page a stride is replayed and stepped frame by frame, and the PDF report is
downloaded through the page's link: pdftotext finds the runner's name and each leg's hip extension,
pdftoppm renders its pages to test-output/runner-report-*.png.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from paths import REPO, SHARED_DATA
from serve_process import serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.needs_models]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
CLIP = SHARED_DATA / "treadmill_home_side.mp4"  # real time, 30 fps: a stride per leg every ~0.75 s
PIN = "8642"
NAME = "Record Runner"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
MIN_PER_LEG, LIMIT_S = 7, 120.0


def _record_until_enough(page: Any, base: str, headers: dict[str, str], session_id: int) -> dict[str, int]:
    """Wait for >= MIN_PER_LEG classified strides of each leg (of one at least, if the far leg lags),
    then stop the session; the classified strides per leg."""
    deadline, counts = time.monotonic() + LIMIT_S, {"left": 0, "right": 0}
    while time.monotonic() < deadline:
        strides = page.request.get(f"{base}/api/sessions/{session_id}/strides").json()["strides"]
        counts = {leg: sum(1 for s in strides if s["leg"] == leg and s["class"] != "unknown") for leg in counts}
        if min(counts.values()) >= MIN_PER_LEG + 2:
            break
        time.sleep(1.0)
    stopped = page.request.post(f"{base}/api/sessions/{session_id}/stop", headers=headers)
    assert stopped.status == 200, stopped.text()
    assert max(counts.values()) >= MIN_PER_LEG, f"too few classified strides in {LIMIT_S:.0f} s: {counts}"
    return counts


def test_two_sessions_of_a_runner_on_the_runner_page(tmp_path: Path) -> None:
    if not CLIP.is_file():
        pytest.skip(f"the shared clip {CLIP} is not there (clone ../shared beside the repo)")
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(exist_ok=True)
    with serve_process(CLIP, tmp_path / "data", tmp_path / "serve.log", PIN) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(base + "/login?next=/")
        page.fill("#pin", PIN)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(base + "/")
        headers = {"X-CSRF-Token": page.request.get(base + "/api/auth").json()["csrf_token"]}
        created = page.request.post(base + "/api/runners", data={"name": NAME, "height_cm": 172}, headers=headers)
        assert created.status == 201, created.text()
        runner_id = created.json()["id"]
        assert page.request.post(base + "/api/runners", data={"name": NAME.upper()}, headers=headers).status == 409

        first = page.request.post(
            base + "/api/sessions", data={"runner_id": runner_id, "treadmill_speed": 10}, headers=headers
        )
        assert first.status == 201, first.text()
        first_counts = _record_until_enough(page, base, headers, first.json()["id"])

        page.reload()  # the session-start control lists the runner now: picking it starts a session of theirs
        expect(page.locator(f'#runner-options option[value="{NAME}"]')).to_have_count(1, timeout=10_000)
        page.fill("#runner", NAME.lower())
        page.click("#start-btn")
        expect(page.locator("#session-active")).to_be_visible(timeout=15_000)
        second = page.request.get(base + "/api/sessions").json()
        second_id = second["active_session_id"]
        assert second["sessions"][0]["runner_id"] == runner_id and second["sessions"][0]["runner"] == NAME
        second_counts = _record_until_enough(page, base, headers, second_id)

        page.goto(base + "/runners")
        expect(page.locator("#runners-table")).to_contain_text(NAME)
        page.screenshot(path=str(OUT / "runners.png"), full_page=True)
        page.fill("#new-name", NAME.lower())  # the form says why a taken name is refused
        page.click("#create-btn")
        expect(page.locator("#runners-error")).to_contain_text("already a runner called")
        page.fill("#new-name", "Other Runner")
        page.fill("#new-height", "181")
        page.click("#create-btn")
        expect(page.locator("#runner-record h1")).to_have_text("Other Runner")
        expect(page.locator("#edit-height")).to_have_value("181")
        page.goto(base + "/runners")
        page.click(f"#runners-table a:text-is('{NAME}')")
        page.wait_for_url(f"{base}/runners/{runner_id}")
        expect(page.locator("h1")).to_have_text(NAME)
        page.fill("#edit-notes", "Returning after a calf strain")
        with page.expect_navigation():  # saved, then the page reloads with the record as stored
            page.click("#save-runner")
        expect(page.locator("#edit-notes")).to_have_value("Returning after a calf strain")
        expect(page.locator("#runner-error")).to_be_hidden()
        for sid in (first.json()["id"], second_id):
            expect(page.locator(f"#runner-sessions a[href='/sessions/{sid}']")).to_have_count(1)
            expect(page.locator("#progress-left thead")).to_contain_text(f"#{sid}")
        marks = page.locator(".progress-table .chg .mark")
        expect(marks.first).to_be_visible()
        assert set(marks.all_text_contents()) <= {"changed", "within measurement error"}
        # a leg with a mean in both sessions: its hip extension row carries the change mark
        leg = "left" if min(first_counts["left"], second_counts["left"]) >= MIN_PER_LEG else "right"
        hip = page.locator(f"#progress-{leg} tbody tr").filter(has_text="Hip extension at toe-off")
        expect(hip.locator(".chg .mark")).to_have_count(1)
        expect(hip).to_contain_text("±")
        expect(page.locator("#sdd")).to_contain_text("Dingenen et al. 2018")
        expect(page.locator("#sdd")).to_contain_text("Damsted et al. 2015")
        expect(page.locator("#trend")).to_be_visible()
        page.screenshot(path=str(OUT / "runner-record.png"), full_page=True)
        record = page.request.get(f"{base}/api/runners/{runner_id}").json()
        assert record["runner"]["notes"] == "Returning after a calf strain"
        progress = record["progress"]
        change = progress["sessions"][-1]["change_previous"]
        entry = change[leg]["hip_extension_at_toe_off_deg"]
        assert entry["mark"] in ("changed", "within measurement error") and entry["sdd"] > 0, entry
        page.goto(f"{base}/sessions/{second_id}")
        expect(page.locator("#session-runner a")).to_have_attribute("href", f"/runners/{runner_id}")
        _replay_and_report(page, base, second_id)
        browser.close()


def _replay_and_report(page: Any, base: str, session_id: int) -> None:
    """Replay a stride of the session (step two frames), then download its PDF and read it."""
    from playwright.sync_api import expect

    page.locator("#strides-table .replay-btn").first.click()
    canvas = page.locator("#replay-a canvas")
    expect(canvas).to_have_attribute("data-drawn", "1", timeout=10_000)
    expect(page.locator("#replay-counter")).to_contain_text("frame 1 /")
    page.click("#replay-next")
    page.keyboard.press("ArrowRight")
    expect(canvas).to_have_attribute("data-frame", "3")
    page.wait_for_timeout(300)  # the frame image loads
    page.locator("#replay").screenshot(path=str(OUT / "runner-replay.png"))
    page.click("#replay-close")
    with page.expect_download() as download:
        page.click("#pdf-link")
    assert f"session-{session_id}" in download.value.suggested_filename
    pdf = OUT / "runner-report.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext/pdftoppm (Debian's poppler-utils) are not installed")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert NAME in text
    hip_row = next(line for line in text.splitlines() if "Hip extension at toe-off" in line)
    assert len(re.findall(r"-?\d+\.\d ± \d+\.\d", hip_row)) == 2, hip_row  # a mean ± SD for each leg
    for old in OUT.glob("runner-report-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(OUT / "runner-report")], check=True)
    assert 1 <= len(list(OUT.glob("runner-report-*.png"))) <= 2
