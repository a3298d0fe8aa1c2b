"""Cadence counted over elapsed time, stance and flight (hipcam.gait.timing), and the evaluator's
matching (hipcam.commands.evaluate) on made-up events."""

from __future__ import annotations

import pytest

from hipcam.commands.evaluate import evaluate
from hipcam.gait.timing import count_steps, step_timing
from hipcam.records.truth import Truth, TruthEvent


def _running(n: int, step: float = 0.35, stance: float = 0.25, skew: float = 0.0) -> list[tuple[float, str, str]]:
    """Alternating strikes a step apart (the right foot `skew` s late), each with its toe-off."""
    out = []
    for i in range(n):
        leg = "left" if i % 2 == 0 else "right"
        t = i * step + (skew if leg == "right" else 0.0)
        out += [(t, leg, "foot_strike"), (t + stance, leg, "toe_off")]
    return out


def test_cadence_counts_steps_and_ignores_left_right_asymmetry() -> None:
    # Steps alternate 0.30 / 0.40 s (the right strike 0.05 s late): a median of step times would say
    # 0.30 or 0.40 s (200 or 150 steps/min); counted, it is 2 steps per 0.70 s stride.
    timing = step_timing(_running(21, skew=0.05), max_stride_s=2.0)
    assert timing.cadence_spm == pytest.approx(60 / 0.35)
    assert timing.stance_s == pytest.approx(0.25)
    assert timing.flight_s is not None and timing.flight_s == pytest.approx(0.10, abs=0.051)


def test_missed_and_spurious_strikes() -> None:
    strikes = [(t, leg) for t, leg, kind in _running(21) if kind == "foot_strike"]
    full = count_steps(strikes, 2.0)
    missed = count_steps([s for s in strikes if s[0] != pytest.approx(7 * 0.35)], 2.0)
    spurious = count_steps([*strikes, (4 * 0.35 + 0.1, "left")], 2.0)
    for steps, seconds in (full, missed, spurious):
        assert 60 * steps / seconds == pytest.approx(60 / 0.35)
    assert count_steps([(0.0, "left"), (5.0, "left")], 2.0) == (0, 0.0)  # a break counts nothing


def test_walking_has_no_flight() -> None:
    events = []
    for i in range(12):  # double support: each foot lands before the other leaves
        leg = "left" if i % 2 == 0 else "right"
        events += [(i * 0.55, leg, "foot_strike"), (i * 0.55 + 0.68, leg, "toe_off")]
    timing = step_timing(events, max_stride_s=2.0)
    assert timing.flight_s == 0.0 and timing.stance_s == pytest.approx(0.68)


def _truth(events: list[TruthEvent]) -> Truth:
    return Truth(name="clip", video="clip.mp4", fps=30.0, frame_count=300, frames_analyzed=(0, 299),
                 running_direction="right", near_leg="right", events=events, roll_deg=0.0,
                 toe_off_angles=[], cadence_spm=None)  # fmt: skip


def test_evaluate_matches_each_event_once_within_tolerance() -> None:
    truth = _truth([TruthEvent(f, "left", "foot_strike") for f in (10, 31, 52, 73)])
    found = [{"frame": f, "leg": "left", "type": "foot_strike"} for f in (11, 12, 52, 90, 200)]
    result = evaluate(truth, {"fps": 30.0, "events": found, "strides": []})
    strikes = result.events[0]
    # 11 pairs with 10 (12 is then unpaired); 52 with 52; 31 and 73 are missed; 12, 90 and 200 are false.
    assert (strikes.labelled, strikes.found, strikes.false) == (4, 2, 3)
    assert strikes.median_abs_frames == pytest.approx(0.5) and strikes.recall == 0.5
