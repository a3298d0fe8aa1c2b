"""Walking is not running: the pelvis-phase test, its timing fallback, and the stride paths using it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from synth_runner import RunnerSpec, generate, walker

from hipcam.config.gait import GaitParams
from hipcam.domain import CLASSIFIED, RUNNING, WALKING
from hipcam.gait.kinematics import ANKLE_GAP, CHANNELS, PELVIS_UP
from hipcam.gait.live import LiveGait, replay
from hipcam.gait.locomotion import from_correlation, pelvis_gait_correlation, stride_locomotion
from hipcam.gait.offline import analyze

PARAMS = GaitParams()


def _signals(fps: float, seconds: float, vault: bool) -> np.ndarray:
    """Pelvis height and ankle gap of a 1.8 Hz step cycle: the pelvis highest where the legs pass
    (vault, walking) or where they are apart (bounce, running)."""
    t = np.arange(int(fps * seconds)) / fps
    gap = 80 * np.sin(2 * np.pi * 0.9 * t)  # the legs scissor once per stride: |gap| peaks each step
    bounce = np.abs(gap) - 50
    out = np.full((len(t), len(CHANNELS)), np.nan)
    out[:, ANKLE_GAP] = gap
    out[:, PELVIS_UP] = (-bounce if vault else bounce) * 0.1 + 0.5 * t  # plus a drift, removed
    return out


@pytest.mark.parametrize(("vault", "expected"), [(True, WALKING), (False, RUNNING)])
def test_correlation_sign_tells_vaulting_from_bouncing(vault: bool, expected: str) -> None:
    sig = _signals(30.0, 3.0, vault)
    r = pelvis_gait_correlation(sig, len(sig), 30.0)
    assert abs(r) > 0.9 and from_correlation(r) == expected


def test_correlation_is_nan_without_enough_measured_frames() -> None:
    sig = _signals(30.0, 3.0, vault=False)
    sig[-30:, PELVIS_UP] = np.nan  # 30 of the last 36 frames
    assert math.isnan(pelvis_gait_correlation(sig, len(sig), 30.0))
    flat = _signals(30.0, 3.0, vault=False)
    flat[:, PELVIS_UP] = 1.0
    assert math.isnan(pelvis_gait_correlation(flat, len(flat), 30.0))


@pytest.mark.parametrize(
    ("r", "duration", "stance", "expected"),
    [
        (0.9, 1.2, 0.8, RUNNING),  # a decisive correlation wins over the timing
        (-0.5, 0.7, 0.25, WALKING),
        (math.nan, 0.7, 0.25, RUNNING),  # a clearly running timing
        (0.1, 0.7, 0.25, RUNNING),
        (math.nan, 1.1, 0.4, WALKING),  # under 120 steps/min
        (math.nan, 0.9, 0.5, WALKING),  # stance over 45 % of the stride
        (math.nan, 0.3, 0.1, WALKING),  # too short to be a stride
        (math.nan, 0.7, None, WALKING),  # no stance known: not claimed as a run
    ],
)
def test_stride_locomotion(r: float, duration: float, stance: float | None, expected: str) -> None:
    assert stride_locomotion(r, duration, stance) == expected


@pytest.mark.parametrize("spec", [RunnerSpec(), RunnerSpec(cadence_spm=150, duty=0.45, seed=3, direction="left")])
def test_synthetic_runner_strides_all_count_as_running(spec: RunnerSpec) -> None:
    sy = generate(spec)
    offline = analyze(sy.series, PARAMS).strides
    live = replay(sy.series, PARAMS, spec.fps)
    assert offline and live
    assert all(s.locomotion == RUNNING for s in offline + live)
    assert sum(s.cls in CLASSIFIED for s in offline) >= 0.8 * len(offline)


@pytest.mark.parametrize("spec", [walker(), walker(cadence_spm=130, seed=2, direction="left", roll_deg=3.0)])
def test_synthetic_walker_is_never_classified(spec: RunnerSpec) -> None:
    sy = generate(spec)
    offline = analyze(sy.series, PARAMS).strides
    live = replay(sy.series, PARAMS, spec.fps)
    assert offline and live, "the walker's strides are found (then not classified)"
    for s in offline + live:
        assert s.locomotion == WALKING and s.cls not in CLASSIFIED and s.reason == "walking, not running"


def test_live_locomotion_follows_a_walk_then_a_run() -> None:
    walk, run = generate(walker(duration_s=6.0)), generate(RunnerSpec(duration_s=6.0))
    live = LiveGait(PARAMS, fps_hint=60.0, frame_size=(640, 480))
    seen: list[str | None] = []
    for i, lm in enumerate(np.concatenate([walk.series.image_landmarks, run.series.image_landmarks])):
        pose = lm if np.isfinite(lm[:, :2]).any() else None
        seen.append(live.update(i / 60.0, pose).locomotion)
    n = len(walk.series)
    assert seen[n - 1] == WALKING and seen[-1] == RUNNING
    assert set(seen[n - 60 : n]) == {WALKING}  # steady during the walk's last second
