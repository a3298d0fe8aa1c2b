"""End to end: `hipcam label` on a small synthetic clip, driven in headless Chromium.

Steps frames with the keys, marks a foot strike and a toe-off, clicks shoulder, hip and knee, zooms,
saves with Ctrl+S, checks the file written, and writes test-output/label.png.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from paths import REPO

from hipcam.records.truth import load_truth, segment_angles

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
W, H, N = 320, 240, 40


def _clip(path: Path) -> None:
    """40 frames of a rectangle moving right, a frame number drawn in each."""
    import cv2
    import numpy as np

    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (W, H))
    assert out.isOpened()
    for i in range(N):
        img = np.full((H, W, 3), 40, np.uint8)
        cv2.rectangle(img, (10 + i * 6, 80), (50 + i * 6, 200), (60, 180, 240), -1)
        cv2.putText(img, str(i), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
        out.write(img)
    out.release()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _label(video: Path, truth: Path, tmp: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp / "label.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hipcam.commands.cli", "label", str(video), "--truth", str(truth), "--fps", "120",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp, env=os.environ.copy(),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp / "label.log").read_text()
            with contextlib.suppress(OSError), urllib.request.urlopen(base + "/api/meta", timeout=2) as r:
                if json.loads(r.read())["frame_count"] == N:
                    break
            time.sleep(0.3)
        else:
            pytest.fail("hipcam label did not start: " + (tmp / "label.log").read_text()[-2000:])
        yield base
    finally:
        proc.send_signal(2)  # Ctrl+C
        try:
            assert proc.wait(timeout=15) == 0, "hipcam label did not exit cleanly on Ctrl+C"
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


def test_label_a_clip_in_the_browser(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    video, truth = tmp_path / "runner.mp4", tmp_path / "runner.truth.json"
    _clip(video)
    OUT.mkdir(exist_ok=True)
    with _label(video, truth, tmp_path) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/")
        expect(page.locator("#save-status")).to_contain_text("not saved yet")
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        expect(page.locator("#frame-input")).to_have_value("12")
        page.keyboard.press("r")
        page.keyboard.press("s")  # right foot strike at 12
        expect(page.locator("#here")).to_contain_text("right foot strike")
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("t")  # right toe-off at 21
        expect(page.locator("#events li")).to_have_count(2)

        box = page.locator("#view").bounding_box()
        assert box is not None
        scale = min(box["width"] / W, box["height"] / H)  # the frame is fitted and centred
        x0, y0 = box["x"] + (box["width"] - W * scale) / 2, box["y"] + (box["height"] - H * scale) / 2
        points = {"shoulder": (170, 40), "hip": (160, 120), "knee": (140, 170)}
        page.keyboard.press("1")
        for px, py in points.values():  # shoulder, hip, knee: each click moves on to the next point
            page.mouse.click(x0 + px * scale, y0 + py * scale)
        expect(page.locator("#angles li")).to_have_count(1)
        expect(page.locator("#angles li")).to_contain_text("thigh")
        page.keyboard.press("f")  # analysed range starts here (21)
        page.keyboard.press("End")
        expect(page.locator("#frame-input")).to_have_value(str(N - 1))
        page.keyboard.press("e")
        page.keyboard.press("[")  # back to the last mark
        expect(page.locator("#frame-input")).to_have_value("21")
        page.keyboard.press("Control+s")
        expect(page.locator("#save-status")).to_contain_text("saved", timeout=10_000)

        t = load_truth(truth)
        assert [(e.frame, e.leg, e.type) for e in t.events] == [(12, "right", "foot_strike"), (21, "right", "toe_off")]
        assert t.frames_analyzed == (21, N - 1) and t.true_fps == 120.0 and t.slow_motion
        assert t.frame_count == N and t.frame_size_px == (W, H)
        (a,) = t.toe_off_angles
        assert a.frame == 21
        for name, (px, py) in points.items():
            got = getattr(a, f"{name}_px")
            assert abs(got[0] - px) <= 1.0 and abs(got[1] - py) <= 1.0, (name, got)
        assert (a.thigh_deg, a.trunk_deg, a.hip_ext_deg) == segment_angles(a.shoulder_px, a.hip_px, a.knee_px, "right")
        assert a.thigh_deg > 0 and a.trunk_deg > 0
        page.mouse.move(x0 + 160 * scale, y0 + 120 * scale)
        page.mouse.wheel(0, -300)  # zoom in about the hip
        expect(page.locator("#zoom-read")).not_to_have_text("zoom 1.0×")
        page.keyboard.press("0")
        expect(page.locator("#zoom-read")).to_have_text("zoom 1.0×")
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / "label.png"))
        browser.close()
        assert not errors, errors
