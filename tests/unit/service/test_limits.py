"""service.limits: what the live page says beside a figure the set-up makes unreliable."""

from __future__ import annotations

import numpy as np

from hipcam.domain import LEG_JOINTS
from hipcam.service.limits import MIN_FRAMES, TIMED_FIGURES, LiveLimits, feet_in_frame


def _pose(foot_y: float = 0.9) -> np.ndarray:
    lm = np.full((33, 5), 0.5)
    for leg in ("left", "right"):
        for p in ("ankle", "heel", "foot_index"):
            lm[LEG_JOINTS[leg][p], 1] = foot_y
    return lm


def test_feet_in_frame() -> None:
    assert feet_in_frame(_pose(0.9))
    assert not feet_in_frame(_pose(1.02))  # BlazePose places a cut-off foot beyond the border
    lm = _pose(0.9)
    lm[LEG_JOINTS["left"]["heel"], 0] = np.nan
    assert not feet_in_frame(lm)


def test_no_limit_on_a_good_set_up() -> None:
    limits = LiveLimits()
    for _ in range(200):
        out = limits.update(_pose(), 60.0)
    assert out == ()


def test_too_few_frames_per_second_marks_the_timed_figures() -> None:
    (limit,) = LiveLimits().update(_pose(), 15.0)
    assert (
        limit.figures == TIMED_FIGURES
        and limit.short == "15 frames/s, too few"
        and "15 frames/s" in limit.reason
        and "60 recommended" in limit.reason
    )
    assert LiveLimits().update(None, float("nan")) == ()  # no rate known yet: nothing claimed


def test_the_reason_says_when_the_analysis_skips_frames() -> None:
    (limit,) = LiveLimits().update(_pose(), 15.0, analysed_share=0.5)
    assert "only 50% of the camera's frames" in limit.reason and "raise the camera" not in limit.reason
    (plain,) = LiveLimits().update(_pose(), 15.0)
    assert "raise the camera's frame rate" in plain.reason


def test_feet_out_of_frame_after_enough_frames() -> None:
    limits = LiveLimits()
    for i in range(MIN_FRAMES - 1):
        assert limits.update(_pose(1.05 if i % 2 else 0.9), 30.0) == ()  # too few frames to judge
    out = limits.update(_pose(1.05), 30.0)
    assert len(out) == 1 and "feet are out of frame in 50%" in out[0].reason
    for _ in range(300):  # the camera was moved: the window forgets
        out = limits.update(_pose(0.9), 30.0)
    assert out == ()
    assert limits.update(None, 30.0) == ()  # frames without a person do not count
