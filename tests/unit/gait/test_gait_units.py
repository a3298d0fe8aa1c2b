"""Unit tests: mask features on a synthetic silhouette, levelling, bad inputs, reference clips."""

from __future__ import annotations

import numpy as np
import pytest
from synth_runner import RunnerSpec, add_loose_shorts, generate, render_mask

from hipcam.config import LevelConfig
from hipcam.config.gait import GaitParams
from hipcam.domain import LevelInfo
from hipcam.errors import HipcamError, LandmarksFileError
from hipcam.gait.offline import analyze
from hipcam.records.landmarks_file import LandmarkSeries, load
from hipcam.vision import mask_features as mf
from hipcam.vision import roll as level_roll

P = GaitParams()
from paths import SHARED_DATA as SHARED  # noqa: E402


def _lm_px(px: np.ndarray) -> np.ndarray:
    out = np.zeros((33, 5))
    out[:, :2] = px
    out[:, 3:] = 1.0
    return out


@pytest.mark.parametrize("depth", [0.02, 0.06, 0.10])
def test_mask_lumbar_depth(depth: float) -> None:
    sy = generate(RunnerSpec(noise_px=0.0, drop_frame_prob=0, drop_landmark_prob=0, seed=1))
    px = sy.px[30]
    mask = render_mask(px, 640, 480, "right", depth)
    feats = mf.measure(mask, _lm_px(px), 1)
    assert feats.shape == (len(mf.FEATURE_NAMES),) and feats.dtype == np.float32
    assert abs(feats[mf.LUMBAR_DEPTH] - depth) < 0.025  # ~+0.02 bias: sampling step and the shoulder curve


def test_mask_thigh_axis_recovers_high_hip() -> None:
    sy = generate(RunnerSpec(noise_px=0.0, drop_frame_prob=0, drop_landmark_prob=0, seed=1, peak_thigh_deg=20.0))
    toe_off = round(sy.event_frames("right", "toe_off")[1])
    px = sy.px[toe_off].copy()
    mask = render_mask(px, 640, 480, "right", 0.03)
    true_thigh = np.degrees(np.arctan2(-(px[26, 0] - px[24, 0]), px[26, 1] - px[24, 1]))
    high = px.copy()
    high[[23, 24], 1] -= 40.0  # hip landmark high, at the waistband
    lm_thigh = np.degrees(np.arctan2(-(high[26, 0] - high[24, 0]), high[26, 1] - high[24, 1]))
    feats = mf.measure(mask, _lm_px(high), 1)
    assert true_thigh - lm_thigh > 4.0  # the landmark thigh under-reads extension
    assert abs(feats[mf.THIGH_MASK_RIGHT] - true_thigh) < 2.5


@pytest.mark.parametrize("flare", [0.0, 0.08, 0.15, 0.25])
def test_mask_thigh_axis_with_loose_shorts(flare: float) -> None:
    # Loose shorts flare behind the extending thigh; the centres of their rows lean with them (the
    # plain fit read 9-20 deg too extended with a flare >= 0.08). Clothed rows are dropped: the axis is
    # right, or unmeasurable when too little bare thigh is left, never wrong by that much.
    sy = generate(RunnerSpec(noise_px=0.0, drop_frame_prob=0, drop_landmark_prob=0, seed=1, peak_thigh_deg=20.0))
    for k in (1, 2, 3):
        px = sy.px[round(sy.event_frames("right", "toe_off")[k])].copy()
        mask = add_loose_shorts(render_mask(px, 640, 480, "right", 0.03), px, "right", flare)
        true_thigh = np.degrees(np.arctan2(-(px[26, 0] - px[24, 0]), px[26, 1] - px[24, 1]))
        high = px.copy()
        high[[23, 24], 1] -= 40.0  # the hip landmark at the waistband
        got = float(mf.measure(mask, _lm_px(high), 1)[mf.THIGH_MASK_RIGHT])
        assert np.isnan(got) or abs(got - true_thigh) < 2.5, (k, got, true_thigh)
        if flare == 0.0:
            assert abs(got - true_thigh) < 2.5


def test_mask_unmeasurable_is_nan() -> None:
    feats = mf.measure(np.zeros((480, 640), np.float32), np.full((33, 5), np.nan), 1)
    assert np.isnan(feats).all()


@pytest.mark.parametrize("roll", [-7.0, -2.5, 0.0, 3.3, 12.0])
def test_estimate_roll(roll: float) -> None:
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    deck = (yy - 170) * np.cos(np.radians(roll)) - (xx - 160) * np.sin(np.radians(roll)) > 0
    img = np.where(deck, 60.0, 180.0) + rng.normal(0, 8, (h, w))
    est = level_roll.estimate_roll(img)
    assert est is not None and abs(est - roll) < 0.3
    assert level_roll.resolve_level(LevelConfig(mode="manual", roll_deg=2.0), img).roll_deg == 2.0
    assert level_roll.resolve_level(LevelConfig(mode="off", roll_deg=2.0), img).roll_deg == 0.0
    assert level_roll.resolve_level(LevelConfig(mode="auto", roll_deg=2.0), None) == LevelInfo("auto", 2.0, "no_edge")


def test_estimate_roll_none_without_edge() -> None:
    assert level_roll.estimate_roll(np.random.default_rng(1).normal(100, 5, (120, 160))) is None


def _series(lm: np.ndarray, fps: float = 30.0) -> LandmarkSeries:
    return LandmarkSeries(image_landmarks=lm, found=np.ones(lm.shape[0], bool), fps=fps, width=640, height=480)


def test_bad_inputs() -> None:
    good = generate(RunnerSpec(duration_s=2.0)).series
    with pytest.raises(LandmarksFileError, match="shape"):
        analyze(_series(np.zeros((10, 17, 5), np.float32)), P)
    with pytest.raises(LandmarksFileError, match="no pose"):
        analyze(_series(np.full((10, 33, 5), np.nan, np.float32)), P)
    with pytest.raises(LandmarksFileError, match="single frame"):
        analyze(_series(good.image_landmarks[:1]), P)
    for fps in (0.0, -5.0, float("nan"), float("inf")):
        with pytest.raises(HipcamError, match="fps"):
            analyze(good, P, fps=fps)


def _reference(name: str) -> LandmarkSeries:
    path = SHARED / "reference" / f"{name}.mediapipe.npz"
    if not path.is_file():
        pytest.skip(f"shared reference landmarks not found at {path}")
    return load(path)


def test_reference_treadmill() -> None:
    r = analyze(_reference("treadmill_lab_side"), P, fps=240.0)
    assert r.direction == "right" and r.near_leg == "right"
    # The hand truth (shared/data/truth): right (near) strike 128, toe-offs 17 and 216, left toe-off 114,
    # ±3 frames; the far (left) leg's landings at 30 and 231 are hidden behind the near leg, where
    # MediaPipe's far foot wanders (its strikes come late: the accuracy test reports them).
    events = {(e.leg, e.type): [e.frame for e in r.events if e.leg == e.leg] for e in r.events}
    assert min(abs(f - 128) for f in events[("right", "foot_strike")]) <= 6
    assert min(abs(f - 216) for f in events[("right", "toe_off")]) <= 4
    assert min(abs(f - 114) for f in events[("left", "toe_off")]) <= 4
    for leg in ("left", "right"):
        strides = [s for s in r.strides if s.leg == leg]
        measured = [s.toe_off_frame is not None and s.reason == "" for s in strides]
        assert np.mean(measured) >= 0.75, leg  # MediaPipe's far foot makes one false strike per clip
        durations = np.array([s.duration_s for s in strides if s.reason == ""])
        # No split or merged stride: every stride within 15 % of the leg's median (~205 frames).
        assert np.all(np.abs(durations / np.median(durations) - 1) < 0.15)
        good = [s for s in strides if s.cls != "unknown"]
        assert good and all(5.0 <= s.hip_extension_deg <= 35.0 for s in good)
    assert r.timing.cadence_spm is not None and 130 < r.timing.cadence_spm < 150  # ~140 steps/min at 240 fps


def test_reference_walk_runs() -> None:
    # The reference landmarks follow a man doing jumping jacks facing the camera (frames ~5-100), then
    # stepping about on a box (~100-168), the walking woman for one second (~171-201) and the man
    # running off (~202-229). No stride may come from the frontal part or span a change of person.
    r = analyze(_reference("outdoor_walk_side"), P)
    assert r.frames == 230 and r.direction in ("left", "right")
    assert not [e for e in r.events if e.frame < 95]
    for s in r.strides:
        assert not (s.foot_strike_frame < 170 < s.end_frame or s.foot_strike_frame < 202 < s.end_frame)
