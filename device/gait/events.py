"""Gait events from foot kinematics (Zeni et al. 2008, the "forward coordinates" method of Pose2Sim).

On a treadmill the foot travels backward at belt speed during stance, so relative to the pelvis the
heel is furthest forward at foot strike and the foot tip furthest back at toe-off:
    foot strike = max(heel_forward - hip_forward),  toe-off = min(toe_forward - hip_forward).
The same function serves the offline path (on zero-lag filtered signals of the whole clip) and the live
path (on the causally filtered recent buffer, where a peak is only reported once the signal has
fallen back by the prominence: that is the confirmation delay).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from hipcam.gait.params import GaitParams


def _peaks(x: np.ndarray, distance: int, prominence: float) -> np.ndarray:
    finite = np.isfinite(x)
    if finite.sum() < 3:
        return np.zeros(0, dtype=np.intp)
    # A NaN gap becomes a deep valley: no peak is invented inside it.
    filled = np.where(finite, x, np.nanmin(x[finite]) - 1.0)
    median = float(np.median(x[finite]))
    idx, _ = find_peaks(filled, distance=distance, prominence=prominence, height=median)
    # The peak and its neighbours must be measured, not interpolated across a gap.
    keep = [i for i in idx if finite[max(i - 1, 0) : i + 2].all()]
    return np.asarray(keep, dtype=np.intp)


def near_ground(height: np.ndarray, band: float) -> np.ndarray:
    """Samples within `band` trunk lengths of the ground (the foot's lowest level, 95th percentile of y)."""
    h = np.asarray(height, dtype=np.float64)
    finite = np.isfinite(h)
    if finite.sum() < 3:
        return np.zeros(h.shape, dtype=bool)
    ground = float(np.percentile(h[finite], 95))
    with np.errstate(invalid="ignore"):
        return h >= ground - band


def find_foot_events(
    heel_fwd: np.ndarray,
    toe_fwd: np.ndarray,
    heel_y: np.ndarray,
    toe_y: np.ndarray,
    fps: float,
    params: GaitParams,
    measured: tuple[np.ndarray, np.ndarray] | None = None,
    raw: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices of foot strikes and toe-offs of one leg (sorted).

    Only samples with the foot near the ground count: strike and toe-off happen there, and it rejects
    the frames where BlazePose snaps an airborne foot onto something far forward (a handrail).
    measured: (heel, toe) bool masks of the frames actually measured (not interpolated over a gap);
    an extreme must fall on measured frames. raw: unfiltered (heel_fwd, toe_fwd) to refine the timing.
    """
    distance = max(1, int(0.8 * params.min_stride_s * fps))
    heel_ok, toe_ok = measured if measured is not None else (np.isfinite(heel_fwd), np.isfinite(toe_fwd))
    heel = np.where(near_ground(heel_y, params.ground_band) & heel_ok, heel_fwd, np.nan)
    toe = np.where(near_ground(toe_y, params.ground_band) & toe_ok, toe_fwd, np.nan)
    strikes = _peaks(heel, distance, params.event_prominence)
    toe_offs = _peaks(-toe, distance, params.event_prominence)
    if raw is not None:
        half = max(1, round(params.event_refine_s * fps))
        strikes = np.array([_kink(i, raw[0], half, after=True) for i in strikes], dtype=np.intp)
        toe_offs = np.array([_kink(i, -raw[1], half, after=False) for i in toe_offs], dtype=np.intp)
    return strikes, toe_offs


def _kink(i: int, raw: np.ndarray, half: int, after: bool) -> int:
    """Refine an extreme to where the belt-speed line meets the extreme's level, on the raw signal.

    Stance is a straight line (the foot rides the belt); swing ends (strike) or starts (toe-off) near
    the extreme level. Low-pass filtering and noise on the flat side bias a plain argmax toward the
    flat side, so fit the line on the stance side (after a strike, before a toe-off) and intersect it
    with the extreme level. Falls back to the filtered extreme when the raw data are missing.
    """
    n = len(raw)
    lo, hi = max(i - half, 0), min(i + half + 1, n)
    near = raw[lo:hi]
    if near.size < 3 or not np.isfinite(near).all():
        return int(i)
    level = float(np.max(np.convolve(near, np.ones(3) / 3.0, mode="valid")))
    span = max(3, 2 * half)
    a, b = (i + 1, i + 1 + span) if after else (i - span, i)
    if a < 0 or b > n:
        return int(i)
    t = np.arange(a, b, dtype=np.float64)
    y = raw[a:b]
    if not np.isfinite(y).all():
        return int(i)
    slope, icpt = np.polyfit(t, y, 1)
    if (after and slope >= 0) or (not after and slope <= 0):
        return int(i)
    cross = (level - icpt) / slope
    return int(np.clip(round(cross), i - half, i + half))


def toe_off_between(
    toe_offs: np.ndarray | list[int], start: int, end: int, toe_fwd: np.ndarray | None = None, offset: int = 0
) -> int | None:
    """The toe-off strictly inside (start, end); None if there is none.

    With several candidates (a glitch), the one where the foot tip is furthest back wins (Zeni's
    definition within the stride) if toe_fwd is given (indexed by frame - offset), else None.
    """
    inside = [int(t) for t in toe_offs if start < t < end]
    if len(inside) <= 1:
        return inside[0] if inside else None
    if toe_fwd is None:
        return None
    values = [toe_fwd[t - offset] if 0 <= t - offset < len(toe_fwd) else np.inf for t in inside]
    return inside[int(np.argmin(values))]
