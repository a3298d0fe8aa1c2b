"""The set-up checks (hipcam.gait.setup_check) on synthetic runners with one thing wrong each."""

from __future__ import annotations

import numpy as np
import pytest
from synth_runner import RunnerSpec, generate

from hipcam.gait import setup_check as sc


def _input(spec: RunnerSpec | None = None, **frames: object) -> sc.SetupInput:
    spec = spec or RunnerSpec(fps=60.0, duration_s=6.0, drop_frame_prob=0.0)
    series = generate(spec).series
    n = len(series.found)
    series.image_landmarks[..., 1] += 0.06  # the synthetic head touches the top edge: centre the runner
    measures = sc.FrameMeasures(
        roll_deg=0.5, person_luma=110.0, background_luma=120.0, foot_sharpness=200.0, others_share=0.0
    )
    for key, value in frames.items():
        setattr(measures, key, value)
    return sc.SetupInput(
        landmarks=series.image_landmarks,
        width=series.width,
        height=series.height,
        timestamps_s=np.arange(n) / spec.fps,
        scores=np.where(series.found, 0.99, np.nan),
        frames=measures,
        nominal_fps=spec.fps,
    )


def _status(inp: sc.SetupInput) -> dict[str, str]:
    return {c.name: c.status for c in sc.run_checks(inp)}


def test_good_synthetic_setup_has_no_fail() -> None:
    checks = sc.run_checks(_input())
    assert sc.overall(checks) != sc.FAIL, sc.format_table(checks)
    assert all(c.fix.endswith(".") for c in checks)


def test_feet_below_the_frame_fail() -> None:
    inp = _input()
    inp.landmarks[..., 1] += 0.2  # the runner slides down: the feet leave the bottom edge
    check = sc.check_in_frame(inp)
    assert check.status == sc.FAIL
    assert "feet" in check.fix


def test_front_view_fails_side_view() -> None:
    inp = _input()
    lm = inp.landmarks
    for left, right in ((11, 12), (23, 24)):  # spread the pairs apart across the image
        mid = (lm[:, left, 0] + lm[:, right, 0]) / 2
        lm[:, left, 0], lm[:, right, 0] = mid - 0.12, mid + 0.12
    assert sc.check_side_view(inp).status == sc.FAIL


def test_small_runner_fails_size() -> None:
    inp = _input(RunnerSpec(fps=60.0, duration_s=4.0, scale=0.4, drop_frame_prob=0.0))
    check = sc.check_size(inp)
    assert check.status == sc.FAIL
    assert check.number is not None and check.number < sc.SIZE_FAIL_PX


# Hips high in the picture: the camera looks below them and must go up (or tilt up), and vice versa.
@pytest.mark.parametrize(("shift", "word"), [(-0.4, "Raise"), (0.35, "Lower")])
def test_hips_far_from_the_middle_row(shift: float, word: str) -> None:
    inp = _input()
    inp.landmarks[..., 1] += shift
    check = sc.check_height(inp)
    assert check.status in (sc.WARN, sc.FAIL)
    assert check.fix.startswith(word)


@pytest.mark.parametrize(("roll", "status"), [(1.0, sc.PASS), (4.0, sc.WARN), (-8.0, sc.FAIL), (None, sc.WARN)])
def test_roll_bands(roll: float | None, status: str) -> None:
    assert sc.check_roll(_input(roll_deg=roll)).status == status


@pytest.mark.parametrize(("fps", "status"), [(120.0, sc.PASS), (60.0, sc.PASS), (30.0, sc.WARN), (15.0, sc.FAIL)])
def test_frame_rate_bands(fps: float, status: str) -> None:
    inp = _input()
    inp.timestamps_s = np.arange(len(inp.timestamps_s)) / fps
    assert sc.check_fps(inp).status == status


def test_dropped_frames_fail() -> None:
    inp = _input()
    dt = np.full(len(inp.timestamps_s), 1 / 60.0)
    dt[::5] *= 2  # every fifth camera frame lost: a doubled interval each time
    inp.timestamps_s = np.cumsum(dt)
    check = sc.check_fps(inp)
    assert check.status == sc.FAIL
    assert "drops" in check.fix


def test_frames_the_analysis_skipped_only_warn() -> None:
    inp = _input()
    n = len(inp.timestamps_s)
    inp.frame_indices = np.arange(n) * 2  # the live loop analysed every other camera frame
    inp.timestamps_s = inp.frame_indices / 60.0
    check = sc.check_fps(inp)
    assert check.status == sc.WARN, check
    assert check.number is not None and round(check.number) == 60
    assert "skips" in check.fix


@pytest.mark.parametrize(
    ("frames", "status"),
    [
        ({"person_luma": 20.0, "background_luma": 30.0}, sc.FAIL),
        ({"person_luma": 80.0, "background_luma": 220.0}, sc.WARN),
        ({"foot_sharpness": 5.0}, sc.WARN),
        ({}, sc.PASS),
    ],
)
def test_exposure(frames: dict[str, float], status: str) -> None:
    assert sc.check_exposure(_input(**frames)).status == status


@pytest.mark.parametrize(("share", "status"), [(0.0, sc.PASS), (0.2, sc.WARN), (0.8, sc.FAIL)])
def test_other_people(share: float, status: str) -> None:
    assert sc.check_others(_input(others_share=share)).status == status


def test_lost_runner_fails_confidence() -> None:
    inp = _input()
    inp.landmarks[::2] = np.nan
    assert sc.check_confidence(inp).status == sc.FAIL


def test_nobody_at_all_fails_without_errors() -> None:
    inp = _input()
    inp.landmarks[:] = np.nan
    inp.scores[:] = np.nan
    inp.frames = sc.FrameMeasures()
    checks = sc.run_checks(inp)
    assert sc.overall(checks) == sc.FAIL
    assert sc.to_dict(checks)["status"] == sc.FAIL
    assert "overall: fail" in sc.format_table(checks)
