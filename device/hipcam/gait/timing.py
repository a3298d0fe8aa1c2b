"""Cadence, stance and flight times from the foot strikes and toe-offs (offline: frame / fps; live: the
frames' timestamps).

Cadence counts steps over elapsed time rather than taking the median of step times: the median of
alternating step times is biased when the left and right steps differ (a limp, or one leg's strike
found a frame later than the other's).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TimedEvent = tuple[float, str, str]  # (time s, leg, "foot_strike" | "toe_off")


@dataclass(frozen=True)
class StepTiming:
    cadence_spm: float | None  # steps per minute
    steps: int  # steps counted
    stance_s: float | None  # median foot strike -> toe-off of the same leg
    flight_s: float | None  # median toe-off -> the other foot's strike (0 walking: double support)


def count_steps(strikes: Sequence[tuple[float, str]], max_stride_s: float) -> tuple[int, float]:
    """(steps, seconds) from the foot strikes ((t, leg), any order), counted leg by leg.

    Each leg's strike-to-strike intervals are whole strides (two steps each) whatever the other leg
    does, so a left/right asymmetry cannot bias the count. An interval of about k median strides is k
    strides (k - 1 strikes were missed); a strike less than half a median stride after the previous
    one is a spurious one and is skipped; an interval longer than `max_stride_s` x 3 is a break and
    counts neither steps nor time. Both legs' steps and times are added: they cover the same time.
    """
    steps, seconds = 0, 0.0
    for leg in sorted({leg for _, leg in strikes}):
        times = sorted(t for t, lg in strikes if lg == leg)
        intervals = [b - a for a, b in itertools.pairwise(times) if 0.0 < b - a <= max_stride_s]
        if not intervals:
            continue
        median = float(np.median(intervals))
        last = times[0]
        for t in times[1:]:
            dt = t - last
            if dt < 0.5 * median:
                continue  # spurious strike: measure from the previous one
            last = t
            k = round(dt / median)
            if 1 <= k <= 3 and dt <= 3 * max_stride_s:
                steps += 2 * k
                seconds += dt
    return steps, seconds


def step_timing(events: Sequence[TimedEvent], max_stride_s: float) -> StepTiming:
    """Cadence (steps counted / elapsed time), median stance and flight times."""
    ordered = sorted(events)
    strikes = [(t, leg) for t, leg, kind in ordered if kind == "foot_strike"]
    steps, seconds = count_steps(strikes, max_stride_s)
    stance: list[float] = []
    flight: list[float] = []
    for i, (t, leg, kind) in enumerate(ordered):
        if kind != "toe_off":
            continue
        before = [tb for tb, lb, kb in ordered[:i] if lb == leg and kb == "foot_strike" and t - tb <= max_stride_s]
        later_own = [ta for ta, la, ka in ordered[i + 1 :] if la == leg and ka == "foot_strike"]
        if before:
            stance.append(t - before[-1])
        other = [ta for ta, la, ka in ordered[i + 1 :] if la != leg and ka == "foot_strike"]
        own_next = later_own[0] if later_own else np.inf
        if other and other[0] < own_next and other[0] - t <= max_stride_s / 2:
            flight.append(max(0.0, other[0] - t))
        elif before and any(before[-1] < ta < t for ta, la, ka in ordered if la != leg and ka == "foot_strike"):
            flight.append(0.0)  # the other foot landed before this one left: double support (walking)
    return StepTiming(
        cadence_spm=60.0 * steps / seconds if steps and seconds > 0 else None,
        steps=steps,
        stance_s=float(np.median(stance)) if stance else None,
        flight_s=float(np.median(flight)) if flight else None,
    )
