"""Clear limits on the live page: a set-up that makes the timed figures unreliable is said beside them.

`hipcam serve` on the home treadmill clip made worse with OpenCV (one frame in two: 15 frames/s; the
bottom cut off: the feet leave the frame), in headless Chromium: the hip extension, trunk lean and
cadence carry the reason and the fix, and on the unchanged clip they carry none. Screenshots go to
test-output/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from paths import REPO, SHARED_DATA
from serve_process import serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.needs_models]

CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SOURCE = SHARED_DATA / "treadmill_home_side.mp4"
FIGURES = ("hip_extension", "trunk_lean", "cadence")


def _rewrite(path: Path, every: int, edit: Callable[[np.ndarray], np.ndarray], speed: float = 1.0) -> Path:
    """The home clip's first 8 s, one frame in `every`, each passed through `edit`, played `speed` times
    faster (its true rate then given by capture.true_fps)."""
    cap = cv2.VideoCapture(str(SOURCE))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    for i in range(int(8 * fps)):
        ok, frame = cap.read()
        if not ok:
            break
        if i % every:
            continue
        out = edit(frame)
        if writer is None:
            rate = fps / every * speed
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), rate, out.shape[1::-1])
        writer.write(out)
    cap.release()
    assert writer is not None
    writer.release()
    return path


def _texts(page: Any) -> dict[str, str]:
    return {f: page.inner_text(f"#limit-{f}").strip() for f in FIGURES}


def _limit_texts(page: Any, base: str, seconds: float, expected: str | None) -> dict[str, str]:
    """The limit notes once `expected` shows in one (or what they are after `seconds`)."""
    page.goto(base + "/")
    deadline = time.monotonic() + seconds
    texts: dict[str, str] = {}
    while time.monotonic() < deadline:
        texts = _texts(page)
        if expected is not None and any(expected in text for text in texts.values()):
            page.wait_for_timeout(600)  # the next snapshot has reached every figure
            return _texts(page)
        page.wait_for_timeout(400)
    return texts


@pytest.mark.parametrize(
    ("name", "every", "edit", "expected"),
    [
        ("good", 1, lambda f: f, None),
        ("15fps", 2, lambda f: f, "frames/s, too few"),
        ("feet-cut", 1, lambda f: np.ascontiguousarray(f[: int(f.shape[0] * 0.8)]), "feet out of frame"),
    ],
)
def test_live_page_says_which_figures_a_bad_set_up_makes_unreliable(
    name: str, every: int, edit: Callable[[np.ndarray], np.ndarray], expected: str | None, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    if not SOURCE.is_file():
        pytest.skip(f"{SOURCE} is missing (the shared test data beside the repository)")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    clip = _rewrite(tmp_path / f"{name}.mp4", every, edit)
    with serve_process(clip, tmp_path / "data", tmp_path / "serve.log", "4321") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1180, "height": 820})
        texts = _limit_texts(page, base, 12.0 if expected is None else 30.0, expected)
        banner = page.inner_text("#banner").strip() if expected else ""
        page.screenshot(path=str(OUT / f"live-limits-{name}.png"))
        browser.close()
    if expected is None:  # (a loaded machine may drop frames: the rate's note is then true, not checked)
        assert not any("feet" in text for text in texts.values()), texts
    else:
        for figure, text in texts.items():
            assert text.startswith("Unreliable: ") and expected in text, (figure, texts)
        assert banner.startswith("Set-up: ") and ("move the camera" in banner or "frame rate" in banner), banner


def test_live_page_says_when_frames_are_skipped_evenly(tmp_path: Path) -> None:
    """A camera faster than the analysis (the clip played at 4x, 120 frames/s, its true rate 30): the
    stats say frames are skipped evenly, and the too-few-frames note blames the analysis, not the camera."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    if not SOURCE.is_file():
        pytest.skip(f"{SOURCE} is missing (the shared test data beside the repository)")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    clip = _rewrite(tmp_path / "fast.mp4", 1, lambda f: f, speed=4.0)
    env = {"HIPCAM_CAPTURE__TRUE_FPS": "30"}
    with serve_process(clip, tmp_path / "data", tmp_path / "serve.log", "4321", env) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1180, "height": 820})
        page.goto(base + "/")
        # Polled from here: the page's CSP (script-src 'self') refuses wait_for_function's string eval.
        deadline, stats, banner = time.monotonic() + 30.0, "", ""
        while time.monotonic() < deadline:
            stats, banner = page.inner_text("#stats"), page.inner_text("#banner")
            if "skipped evenly" in stats and "keeps up with only" in banner:
                break
            page.wait_for_timeout(400)
        page.screenshot(path=str(OUT / "live-skipped-evenly.png"), full_page=True)
        browser.close()
    assert "of the camera's" in stats and "analysis cannot keep up" in stats, stats
    assert "of the camera's frames" in banner and "raise the camera" not in banner, banner
