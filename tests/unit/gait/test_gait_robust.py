"""Robustness of the gait events: leg swaps, misplaced feet, walking overground, person switches,
frontal views, live detection lag (in frames) and the live time base."""

from __future__ import annotations

import math

import numpy as np
import pytest
from synth_runner import LEG_PARTS, RunnerSpec, Synth, generate, snap_foot, swap_legs

from hipcam.config.gait import GaitParams
from hipcam.gait.events import settle_s
from hipcam.gait.kinematics import CHANNELS, THIGH, TRUNK
from hipcam.gait.live import LiveGait
from hipcam.gait.offline import analyze
from hipcam.gait.strides import Stride, StrideWindow, counted_times, measure_stride
from hipcam.records.landmarks_file import LandmarkSeries
from hipcam.vision import mask_features as mf

P = GaitParams()


def _strikes(report, leg: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.frame for e in report.events if e.leg == leg and e.type == "foot_strike"]


def _glitchy_runner(fps: float) -> Synth:
    """A runner whose near foot BlazePose-style snaps forward and up for ~60 ms early in every stance
    (with a half-way first frame), and whose legs swap labels for a few frames in every other stride."""
    sy = generate(RunnerSpec(seed=8, cadence_spm=170.0, fps=fps))
    period = 120.0 / 170.0 * fps
    length = max(3, round(0.06 * fps))
    for t in sy.event_frames("right", "foot_strike"):
        f = round(t + 0.06 * period)
        snap_foot(sy.series, "right", np.arange(f + 1, f + length), 0.12, -0.25)
        snap_foot(sy.series, "right", np.array([f]), 0.8 * 0.12, 0.1 * -0.25)  # half-way transition frame
    for t in sy.event_frames("left", "foot_strike")[1::2]:
        f = round(t + 0.28 * period)
        swap_legs(sy.series, np.arange(f, f + max(2, round(0.04 * fps))))
    return sy


@pytest.mark.parametrize("fps", [60.0, 240.0])
def test_glitches_and_swaps_do_not_lose_strides(fps: float) -> None:
    # Before the fix, the right leg lost most strikes here (the glitch's edge frame, copied over the
    # rejected frames, made a taller false peak that suppressed the true one, as on the lab clip).
    sy = _glitchy_runner(fps)
    r = analyze(sy.series, P)
    for leg in ("left", "right"):
        truth = np.round(sy.event_frames(leg, "foot_strike"))
        truth = truth[truth >= 2]  # a strike on the clip's first frames cannot be seen
        got = np.array(_strikes(r, leg))
        assert len(got) == len(truth), leg
        tol = 4 if fps <= 60 else 12  # the glitch starts ~2-3 frames (60 fps) after the strike and hides them
        assert np.max(np.abs(got - truth)) <= tol, leg
        durations = np.array([s.duration_s for s in r.strides if s.leg == leg])
        # None split or merged: each within the two strikes' tolerance of the true 120/170 s.
        assert np.all(np.abs(durations - 120.0 / 170.0) <= 2 * tol / fps), leg
        assert r.timing.cadence_spm is not None and abs(r.timing.cadence_spm - 170.0) < 1.0


@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_walking_across_the_frame(fps: float) -> None:
    spec = RunnerSpec(overground=True, cadence_spm=110.0, duty=0.62, fps=fps, width=1920, height=540,
                      duration_s=7.0, peak_thigh_deg=15.0, trunk_lean_deg=2.0, seed=4)  # fmt: skip
    sy = generate(spec)
    assert np.ptp(sy.px[:, 24, 0]) > 1000  # the pelvis crosses the frame
    r = analyze(sy.series, P)
    assert r.direction == "right"
    for leg in ("left", "right"):
        assert r.timing.cadence_spm is not None and abs(r.timing.cadence_spm - 110.0) < 1.0, leg
        for kind in ("foot_strike", "toe_off"):
            truth = np.round(sy.event_frames(leg, kind))
            errs = [np.min(np.abs(truth - e.frame)) for e in r.events if e.leg == leg and e.type == kind]
            assert len(errs) >= 5 and np.median(errs) <= 1.0 and max(errs) <= 2.0, (leg, kind)
    live = LiveGait(P, fps_hint=fps, frame_size=(spec.width, spec.height))
    strides = []
    for i, lm in enumerate(sy.series.image_landmarks):
        strides += live.update(i / fps, lm if sy.series.found[i] else None).strides
    for leg in ("left", "right"):
        d = [s.duration_s for s in strides if s.leg == leg]
        assert len(d) >= 4 and abs(120.0 / np.median(d) - 110.0) < 2.0, leg


def _concat(*parts: LandmarkSeries) -> LandmarkSeries:
    lm = np.concatenate([p.image_landmarks for p in parts])
    found = np.concatenate([p.found for p in parts])
    return LandmarkSeries(image_landmarks=lm, found=found, fps=parts[0].fps, width=parts[0].width,
                          height=parts[0].height)  # fmt: skip


def _facing_camera(series: LandmarkSeries) -> LandmarkSeries:
    """The same poses turned to face the camera: left and right joints spread across the image."""
    lm = series.image_landmarks.copy()
    for j in range(11, 33):
        lm[:, j, 0] += 0.06 if j % 2 else -0.06  # ~0.6 trunk lengths between the shoulders
    return LandmarkSeries(image_landmarks=lm, found=series.found.copy(), fps=series.fps, width=series.width,
                          height=series.height)  # fmt: skip


def test_person_switch_and_frontal_view_break_strides() -> None:
    a = generate(RunnerSpec(seed=1, duration_s=3.0, cadence_spm=170.0)).series
    front = _facing_camera(generate(RunnerSpec(seed=2, duration_s=1.5, cadence_spm=170.0)).series)
    b = generate(RunnerSpec(seed=3, duration_s=3.0, cadence_spm=150.0, scale=0.6, start_x=150.0,
                            direction="left")).series  # fmt: skip
    n_a, n_f = len(a), len(front)
    r = analyze(_concat(a, front, b), P)
    assert not [e for e in r.events if n_a + 2 <= e.frame < n_a + n_f - 2]  # no events facing the camera
    assert all(s.end_frame < n_a or s.foot_strike_frame >= n_a + n_f for s in r.strides)  # none spans
    first = [s for s in r.strides if s.end_frame < n_a and s.reason == ""]
    second = [s for s in r.strides if s.foot_strike_frame >= n_a + n_f and s.reason == ""]
    assert len(first) >= 4 and len(second) >= 3
    assert abs(120.0 / np.mean([s.duration_s for s in first]) - 170.0) < 3.0
    assert abs(120.0 / np.mean([s.duration_s for s in second]) - 150.0) < 3.0  # the other runner's cadence


def _run_live(sy: Synth, fps_hint: float, keep: np.ndarray | None = None) -> tuple[LiveGait, list[tuple[Stride, int]]]:
    """Feed the clip to LiveGait; returns it and each emitted stride with the frame it was emitted at."""
    live = LiveGait(P, fps_hint=fps_hint, frame_size=(sy.spec.width, sy.spec.height))
    emitted: list[tuple[Stride, int]] = []
    lm = sy.series.image_landmarks
    for i in range(len(lm)):
        if keep is not None and not keep[i]:
            continue  # a dropped frame: never delivered
        u = live.update(i / sy.spec.fps, lm[i] if sy.series.found[i] else None)
        emitted += [(s, u.frame) for s in u.strides]
    return live, emitted


@pytest.mark.parametrize("fps", [30.0, 60.0, 240.0])
def test_live_stride_emitted_within_frames_of_strike(fps: float) -> None:
    # Live reports an event once two searches 0.1 s apart found it and it is settle_s old (and a few
    # frames more where the zero-lag filter's edge first hides the contact's start).
    max_lag = math.ceil((settle_s(P) + 0.23) * fps) + 1
    sy = generate(RunnerSpec(seed=21, fps=fps, duration_s=5.0, trunk_lean_deg=16.0, peak_thigh_deg=21.0))
    live, emitted = _run_live(sy, fps)
    assert len(emitted) >= 10
    for stride, at in emitted:
        truth = sy.event_frames(stride.leg, "foot_strike")
        strike = truth[np.argmin(np.abs(truth - stride.end_frame))]
        assert at - strike <= max_lag  # emitted in the update this many frames after the true strike
        assert abs(stride.end_frame - strike) <= (2 if fps <= 60 else 4)
    # From the detected (not the true) strike; the first strikes wait for the second of data the
    # ground level needs.
    assert max(live.latencies_frames[1:]) <= max_lag
    classified = [s.cls for s, _ in emitted if s.cls != "unknown"]
    assert len(classified) >= 8 and all(c == "C" for c in classified)  # 11 of 11 classified at each rate


def test_live_rate_from_timestamps_and_dropped_frames() -> None:
    sy = generate(RunnerSpec(seed=5, fps=60.0, duration_s=6.0, cadence_spm=170.0, drop_frame_prob=0.0))
    keep = np.random.default_rng(0).random(len(sy.series)) >= 0.05  # 5 % of frames never arrive
    live, emitted = _run_live(sy, fps_hint=30.0, keep=keep)  # a wrong hint: the timestamps win
    assert abs(live.fps - 60.0) < 0.6
    good = [s.duration_s for s, _ in emitted if s.toe_off_frame is not None]
    assert len(good) >= 8 and abs(120.0 / np.median(good) - 170.0) < 2.0


@pytest.mark.parametrize("share", [2 / 3, 0.55, 0.8])
def test_live_strides_when_frames_are_skipped_in_a_pattern(share: float) -> None:
    """The frame loop's even skips (hipcam.service.decimation) at shares that mix two intervals: the
    strides and their cadence are still found (2 of 3 once found none: the rate estimate flipped)."""
    sy = generate(RunnerSpec(seed=5, fps=60.0, duration_s=8.0, cadence_spm=170.0, drop_frame_prob=0.0))
    credit = np.cumsum(np.full(len(sy.series), share))
    keep = np.diff(np.floor(credit + 1e-9), prepend=0.0) > 0  # Bresenham, as the decimator keeps them
    live, emitted = _run_live(sy, fps_hint=60.0, keep=keep)
    assert abs(live.fps - 60.0 * share) < 0.05 * 60.0 * share
    good = [s.duration_s for s, _ in emitted if s.toe_off_frame is not None]
    assert len(good) >= 9 and abs(120.0 / np.median(good) - 170.0) < 3.0


def test_live_ground_level_follows_a_shift_after_the_buffer_is_full() -> None:
    # From 4 s on (ramped over 1 s) both feet read 0.6 trunk lengths higher relative to the pelvis (twice
    # the ground band), long after the 98-frame buffer (3.3 s at 30 fps) filled. The live ground level
    # must follow: it used to be refreshed only while the buffer grew, so no foot was near the ground
    # again and no stride was found after the shift.
    fps, shift_s = 30.0, 4.0
    sy = generate(RunnerSpec(seed=11, fps=fps, duration_s=14.0, cadence_spm=170.0))
    lm = sy.series.image_landmarks
    ramp = np.clip(np.arange(len(lm)) / fps - shift_s, 0.0, 1.0)
    for leg in ("left", "right"):
        for j in LEG_PARTS[leg][2:]:  # ankle, heel, foot tip
            lm[:, j, 1] -= (0.6 * 150.0 / sy.spec.height * ramp).astype(lm.dtype)
    capacity = int((P.max_stride_s + 1.0) * fps) + 8
    assert len(lm) > 2 * capacity and shift_s * fps > capacity  # the shift comes after the buffer is full
    _, emitted = _run_live(sy, fps)
    settled = (shift_s + 1.0) * fps + capacity  # the whole buffer holds the new level
    for leg in ("left", "right"):
        after = [s.duration_s for s, _ in emitted if s.leg == leg and s.foot_strike_frame >= settled and not s.reason]
        assert len(after) >= 4, leg
        assert abs(120.0 / np.median(after) - 170.0) < 3.0, leg


def _stride_with_mask(mask_thigh: np.ndarray) -> str:
    n = 60
    filtered = np.zeros((n, len(CHANNELS)))
    filtered[:, THIGH["right"]] = 20.0 - 0.05 * (np.arange(n) - 25.0) ** 2  # peak 20 deg at frame 25
    filtered[:, THIGH["left"]] = -30.0  # the other thigh forward: the thighs are apart
    filtered[:, TRUNK] = 2.0
    mask = np.full((n, len(mf.FEATURE_NAMES)), np.nan)
    mask[:, mf.THIGH_MASK_RIGHT] = mask_thigh
    duration, stance, swing = counted_times(0, 25, 50, 60.0)
    window = StrideWindow(
        leg="right",
        start=0,
        toe_off=25,
        end=50,
        filtered=filtered,
        quality=np.ones(n),
        mask=mask,
        d=1,
        roll_deg=0.0,
        fps=60.0,
        duration_s=duration,
        stance_s=stance,
        swing_s=swing,
    )
    s = measure_stride(window, P)
    return s.thigh_source


def test_mask_thigh_used_only_when_consistent() -> None:
    steady = np.full(60, 27.0)  # 7 deg more extension, measured consistently: the hip landmark is off
    assert _stride_with_mask(steady) == "mask"
    noisy = 27.0 + np.tile([-8.0, 6.0, -5.0, 7.0], 15)  # same median, but jittering by ~13 deg
    assert _stride_with_mask(noisy) == "landmarks"
    implausible = np.full(60, 40.0)  # 20 deg off: merged thighs or an arm in the outline, not the hip landmark
    assert _stride_with_mask(implausible) == "landmarks"
