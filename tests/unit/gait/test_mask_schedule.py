"""hipcam.gait.mask_schedule: the mask where the gait reads it, on a runner's thigh swing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hipcam.domain import Landmark
from hipcam.gait.mask_schedule import BACKGROUND_GAP_S, MaskSchedule, most_extended_thigh_deg

STEP_S = 0.36  # 167 steps a minute
WINDOW_S = 0.06  # gait.lumbar_window_s's default


def _most_extended(t: float) -> float:
    """The more extended thigh of a runner: each thigh swings -25..+15 deg, half a stride apart."""
    phase = 2 * math.pi * t / (2 * STEP_S)
    left, right = -5 + 20 * math.sin(phase), -5 + 20 * math.sin(phase + math.pi)
    return max(left, right)


def _run(fps: float, seconds: float = 12.0) -> tuple[MaskSchedule, np.ndarray, np.ndarray]:
    schedule = MaskSchedule(WINDOW_S)
    times = np.arange(int(seconds * fps)) / fps
    asked = []
    for t in times:
        asked.append(schedule.want(float(t)))
        schedule.observe(float(t), _most_extended(float(t)))
    return schedule, times, np.array(asked)


@pytest.mark.parametrize("fps", [30.0, 60.0, 120.0])
def test_each_peak_and_each_neutral_phase_gets_two_masks_on_a_fraction_of_frames(fps: float) -> None:
    schedule, times, asked = _run(fps)
    settled = times > 2.0  # after the first strides, once the phase is known
    signal = np.array([_most_extended(t) for t in times])
    peaks = [i for i in range(1, len(times) - 1) if settled[i] and signal[i - 1] < signal[i] >= signal[i + 1]]
    assert len(peaks) > 20
    for i in peaks[:-1]:
        near = np.abs(times - times[i]) <= WINDOW_S + 0.5 / fps
        assert asked[near].sum() >= 2, f"peak at {times[i]:.2f} s"
    for start in np.arange(2.0, 11.0, 2 * STEP_S):  # each stride's least-extended quarter
        stride = settled & (times >= start) & (times < start + 2 * STEP_S)
        neutral = stride & (signal <= np.percentile(signal[stride], 25))
        assert asked[neutral].sum() >= 2, f"stride at {start:.2f} s"
    share = asked[settled].mean()
    assert share < {30.0: 0.40, 60.0: 0.25, 120.0: 0.15}[fps]  # falls with the frame rate
    assert schedule.share == pytest.approx(asked.mean())


def test_without_a_known_phase_the_mask_runs_at_the_background_rate() -> None:
    schedule = MaskSchedule(WINDOW_S)
    fps = 30.0
    asked = [schedule.want(i / fps) for i in range(int(4 * fps))]  # nobody found: never observed
    for i in range(len(asked)):
        schedule.observe(i / fps, math.nan)
    assert sum(asked) == pytest.approx(4 / BACKGROUND_GAP_S, abs=1)
    assert asked[0]  # the first frame always: the gait has something from the start


def test_a_lost_runner_starts_the_phase_over() -> None:
    schedule, _, _ = _run(30.0, seconds=4.0)
    schedule.observe(4.0, math.nan)
    assert schedule._gap(4.1) == BACKGROUND_GAP_S


def test_most_extended_thigh_is_the_one_behind_the_hip_in_the_running_direction() -> None:
    px = np.full((33, 2), np.nan)
    px[Landmark.LEFT_HIP], px[Landmark.LEFT_KNEE] = (100, 100), (80, 180)  # knee behind when running +x
    px[Landmark.RIGHT_HIP], px[Landmark.RIGHT_KNEE] = (100, 100), (130, 180)  # knee in front
    assert most_extended_thigh_deg(px, 1) == pytest.approx(math.degrees(math.atan2(20, 80)))
    assert most_extended_thigh_deg(px, -1) == pytest.approx(math.degrees(math.atan2(30, 80)))
    px[Landmark.LEFT_KNEE] = px[Landmark.RIGHT_KNEE] = np.nan
    assert math.isnan(most_extended_thigh_deg(px, 1))
