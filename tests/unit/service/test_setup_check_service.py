"""The live set-up check (hipcam.service.setup_check): fed by the frame loop only while a check runs,
then a report and its picture; the collector the command shares."""

from __future__ import annotations

import time

import cv2
import numpy as np
from synth_runner import RunnerSpec, generate

from hipcam.service.setup_check import SetupCheckRunner, SetupCollector, _others_in

W, H = 640, 480


def _frames(seconds: float) -> tuple[np.ndarray, np.ndarray, float]:
    spec = RunnerSpec(fps=30.0, duration_s=seconds, drop_frame_prob=0.0, width=W, height=H)
    series = generate(spec).series
    series.image_landmarks[..., 1] += 0.06
    rng = np.random.default_rng(0)
    image = rng.integers(90, 130, (H, W, 3), dtype=np.uint8)
    cv2.line(image, (0, 400), (W - 1, 400), (250, 250, 250), 3)  # a level edge for the roll
    return series.image_landmarks, image, spec.fps


def _wait_done(runner: SetupCheckRunner) -> dict[str, object]:
    for _ in range(200):
        status = runner.status()
        if status["state"] == "done":
            return status
        time.sleep(0.02)
    raise AssertionError(f"the check did not finish: {runner.status()}")


def test_idle_runner_ignores_frames() -> None:
    runner = SetupCheckRunner(seconds=1.0)
    landmarks, image, _ = _frames(1.0)
    runner.on_frame(image, 0.0, landmarks[0], 0.99)
    assert runner.status()["state"] == "idle" and runner.image() is None


def test_a_requested_check_reports_after_its_seconds() -> None:
    runner = SetupCheckRunner(seconds=2.0)
    landmarks, image, fps = _frames(3.0)
    assert runner.request()["state"] == "running"
    for i, lm in enumerate(landmarks):
        runner.on_frame(image, 100.0 + i / fps, None if np.isnan(lm[0, 0]) else lm, 0.99, lambda img: np.zeros((1, 2)))
    status = _wait_done(runner)
    report = status["report"]
    assert isinstance(report, dict), status
    names = [c["name"] for c in report["checks"]]
    assert names[0] == "side view" and "frame rate" in names and len(names) == 9
    rate = next(c for c in report["checks"] if c["name"] == "frame rate")
    assert rate["status"] == "warn"  # 30 fps
    jpeg = runner.image()
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    assert runner.request()["report"] is None  # a new check starts afresh


def test_other_people_are_those_outside_the_runners_box() -> None:
    lm = np.zeros((33, 5))
    lm[:, 0], lm[:, 1] = np.linspace(0.4, 0.5, 33), np.linspace(0.2, 0.9, 33)
    inside = np.array([[0.45 * W, 0.5 * H]])
    outside = np.array([[0.9 * W, 0.5 * H]])
    assert not _others_in(inside, lm, W, H)
    assert _others_in(np.vstack([inside, outside]), lm, W, H)
    assert _others_in(np.vstack([inside, outside]), None, W, H)


def test_collector_without_frames_has_no_input() -> None:
    assert SetupCollector().to_input(30.0) is None
