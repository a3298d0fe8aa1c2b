"""Walking or running, from how the pelvis rises and falls against the legs' scissoring.

Walking vaults over a stiff stance leg (an inverted pendulum): the pelvis is highest at mid-stance,
when the legs pass each other, and lowest in double support, when they are furthest apart. Running
bounces on a flexing leg (a spring): the pelvis is lowest at mid-stance and highest in the flight
phase, legs apart (Cavagna, Heglund & Taylor 1977, Am J Physiol 233:R243; Farley & Ferris 1998,
Exerc Sport Sci Rev 26:253). So the correlation of the pelvis height with the horizontal gap between
the ankles is strongly positive in running (+0.8 to +0.96 on the shared treadmill clips) and negative
in walking (-0.3 to -0.75 on the demo walker). Unlike the foot-contact events (a walker's double
support is where contact detection is weakest) it needs no event at all, and no scale.

Where the correlation is weak or not measurable (a partial view, a transition) the stride's timing
decides, and only a clearly running timing counts as running: stance under 45 % of the stride (walking
is over 50 %, with double support) and a stride of 0.5-1.0 s (120-240 steps/min).
"""

from __future__ import annotations

import math

import numpy as np

from hipcam.domain import RUNNING, WALKING, Locomotion
from hipcam.gait.kinematics import ANKLE_GAP, PELVIS_UP

MIN_WINDOW_S = 1.2  # at least two steps of a slow walk (a step lasts ~0.55 s)
RUNNING_R = 0.3  # correlation at or above: running
WALKING_R = -0.1  # at or below: walking
_MIN_FINITE = 0.7  # share of the window's frames with both signals measured
_RUN_STRIDE_S = (0.5, 1.0)  # 240-120 steps/min (treadmill running is rarely under 140)
_RUN_DUTY = 0.45  # walking: over 0.5


def pelvis_gait_correlation(filtered: np.ndarray, end: int, fps: float, duration_s: float = 0.0) -> float:
    """Correlation of the (detrended) pelvis height with the ankle gap's size over the frames
    [end - max(duration_s, MIN_WINDOW_S), end) of `filtered` (signals [n, CHANNELS]); NaN when fewer
    than 70 % of them have both or either signal does not move."""
    n = max(round(max(duration_s, MIN_WINDOW_S) * fps), 4)
    lo = max(end - n, 0)
    up, gap = filtered[lo:end, PELVIS_UP], np.abs(filtered[lo:end, ANKLE_GAP])
    ok = np.isfinite(up) & np.isfinite(gap)
    if ok.sum() < max(4, _MIN_FINITE * n):
        return math.nan
    t = np.flatnonzero(ok).astype(np.float64)
    up = up[ok] - np.polyval(np.polyfit(t, up[ok], 1), t)  # a runner drifting on the belt: not a bounce
    gap = gap[ok]
    if np.std(up) < 1e-9 or np.std(gap) < 1e-9:
        return math.nan
    return float(np.corrcoef(up, gap)[0, 1])


def from_correlation(r: float) -> Locomotion | None:
    """Running / walking when the correlation is decisive, else None."""
    if math.isfinite(r) and r >= RUNNING_R:
        return RUNNING
    if math.isfinite(r) and r <= WALKING_R:
        return WALKING
    return None


def stride_locomotion(r: float, duration_s: float, stance_s: float | None) -> Locomotion:
    """A stride's locomotion: the correlation when decisive, else running only on a clearly running
    timing (an undecided stride is not classified as a run)."""
    decided = from_correlation(r)
    if decided is not None:
        return decided
    lo, hi = _RUN_STRIDE_S
    running = stance_s is not None and lo <= duration_s <= hi and stance_s <= _RUN_DUTY * duration_s
    return RUNNING if running else WALKING
