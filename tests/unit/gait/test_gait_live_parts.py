"""Unit tests of the live analysis' parts: the frame history, the frame-rate estimate, the identity
guard and the direction vote (LiveGait as a whole is tested on synthetic and real clips elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest
from synth_runner import RunnerSpec, generate

from hipcam.config.gait import GaitParams
from hipcam.domain import LEGS, NUM_LANDMARKS
from hipcam.gait.direction_vote import DirectionVote
from hipcam.gait.frame_rate import FrameRateEstimator
from hipcam.gait.history import FrameHistory
from hipcam.gait.identity import IdentityGuard

P = GaitParams()


def _append(hist: FrameHistory, i: int) -> None:
    hist.append(
        t_s=float(i),
        xy=np.full((NUM_LANDMARKS, 2), float(i)),
        ok=np.full(NUM_LANDMARKS, i % 2 == 0),
        raw=np.full(3, float(i)),
        filt=np.full(3, -float(i)),
        vis={"left": float(i), "right": 10.0 * i},
        mask_row=np.full(2, 0.5 * i),
    )


@pytest.mark.parametrize("frames", [3, 5, 9, 10, 11, 23, 40])
def test_history_holds_the_last_frames_in_order(frames: int) -> None:
    hist = FrameHistory(capacity=5, channels=3, mask_columns=2, first_frame=100)
    for i in range(100, 100 + frames):
        _append(hist, i)
    held = np.arange(100 + max(0, frames - 5), 100 + frames, dtype=np.float64)
    assert len(hist) == len(held) and hist.base == held[0]
    assert np.array_equal(hist.t, held)
    assert np.array_equal(hist.xy[:, 7, 1], held) and hist.xy.shape == (len(held), NUM_LANDMARKS, 2)
    assert np.array_equal(hist.ok[:, 0], held % 2 == 0)
    assert np.array_equal(hist.raw[:, 2], held) and np.array_equal(hist.filt[:, 0], -held)
    assert np.array_equal(hist.vis("left"), held) and np.array_equal(hist.vis("right"), 10.0 * held)
    assert np.array_equal(hist.mask[:, 1], 0.5 * held)


def test_history_clear_restarts_at_the_given_frame() -> None:
    hist = FrameHistory(capacity=4, channels=3, mask_columns=2)
    for i in range(7):
        _append(hist, i)
    hist.clear(50)
    assert len(hist) == 0 and hist.base == 50 and hist.t.shape == (0,)
    _append(hist, 50)
    assert np.array_equal(hist.t, [50.0]) and all(hist.vis(leg).shape == (1,) for leg in LEGS)
    with pytest.raises(ValueError, match="capacity"):
        FrameHistory(capacity=0, channels=3, mask_columns=2)


def test_frame_rate_adopted_from_timestamps_after_ten_intervals() -> None:
    rate = FrameRateEstimator()
    got = [rate.update(i / 240.0, 30.0) for i in range(11)]
    assert got[:10] == [None] * 10  # fewer than ten intervals: keep the hint
    assert got[10] == pytest.approx(240.0)


def test_frame_rate_kept_through_dropped_frames_and_bad_timestamps() -> None:
    rate = FrameRateEstimator()
    times = [i / 60.0 for i in range(200) if i % 7 != 3]  # a dropped frame every 7
    times[50:50] = [float("nan"), times[49]]  # a missing and a repeated timestamp
    assert all(rate.update(t, 60.0) is None for t in times)
    later = [times[-1] + k / 60.0 for k in range(1, 11)]
    got = [rate.update(t, 50.0) for t in later]  # a 20 % wrong rate is replaced once it persists
    assert got[:-1] == [None] * 9 and got[-1] == pytest.approx(60.0)


def test_frame_rate_of_frames_skipped_in_a_pattern_is_their_mean_rate() -> None:
    """2 of 3 frames of a 30 fps camera: intervals half 1 and half 2 frames. The median would jump
    between 30 and 15 (each jump restarts the live buffer); the rate is the mean, 20, and stays."""
    rate, fps = FrameRateEstimator(), 30.0
    times = [i / 30.0 for i in range(600) if i % 3 != 2]
    adopted = []
    for t in times:
        if (new := rate.update(t, fps)) is not None:
            adopted.append(new)
            fps = new
    assert adopted == [pytest.approx(20.0, rel=0.03)]


def _pose(spec: RunnerSpec, frame: int = 0) -> tuple[np.ndarray, np.ndarray]:
    sy = generate(spec)
    return sy.px[frame].copy(), np.ones(NUM_LANDMARKS, dtype=bool)


def test_identity_guard_tells_another_person() -> None:
    xy, ok = _pose(RunnerSpec(noise_px=0.0, seed=1))
    guard = IdentityGuard()
    assert not guard.changed(0, xy, ok, max_gap=100)
    assert not guard.changed(1, xy + 2.0, ok, max_gap=100)  # the same person, moved a little
    far = xy.copy()
    far[:, 0] += 400.0  # several trunk lengths away in one frame: someone else
    assert guard.changed(2, far, ok, max_gap=100)
    assert not guard.changed(3, far, ok, max_gap=100)
    assert guard.changed(200, far, ok, max_gap=100)  # too long without a pose to compare


def test_direction_vote_flips_once_then_locks() -> None:
    vote = DirectionVote(P)
    assert vote.d == 1  # undecided: running right
    xy, ok = _pose(RunnerSpec(noise_px=0.0, direction="left", seed=2))
    flips = [vote.update(xy, ok) for _ in range(20)]
    assert flips[0] and not any(flips[1:]) and vote.d == -1
    mirrored = xy.copy()
    mirrored[:, 0] = 640.0 - mirrored[:, 0]  # facing right now, but the vote is locked after 15 frames
    assert not vote.update(mirrored, ok) and vote.d == -1
    vote.reset()  # another person: vote afresh
    assert vote.update(mirrored, ok) and vote.d == 1
