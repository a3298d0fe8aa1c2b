"""Gait events from foot kinematics (Zeni et al. 2008, the "forward coordinates" method of Pose2Sim).

On a treadmill the foot travels backward at belt speed during stance, so relative to the pelvis the
heel is furthest forward at foot strike and the foot tip furthest back at toe-off:
    foot strike = max(heel_forward - hip_forward),  toe-off = min(toe_forward - hip_forward).
find_foot_events() serves the offline path (zero-lag filtered signals of the whole clip);
StreamingPeak the live path (unfiltered samples one at a time, confirmed 1-2 frames after the extreme
at 30-60 fps). The same extremes also hold walking across the frame: relative to the pelvis the stance
foot moves backward there too (the pelvis passes over it).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from hipcam.config.gait import GaitParams


def _peaks(x: np.ndarray, distance: int, prominence: float, full: np.ndarray | None = None) -> np.ndarray:
    """Maxima of x (NaN = not usable). full: the same signal without the ground mask, to vet edge peaks."""
    finite = np.isfinite(x)
    if finite.sum() < 3:
        return np.zeros(0, dtype=np.intp)
    # A NaN gap becomes a deep valley: no peak is invented inside it.
    filled = np.where(finite, x, np.nanmin(x[finite]) - 1.0)
    median = float(np.median(x[finite]))
    idx, _ = find_peaks(filled, prominence=prominence, height=median)
    # The peak and a neighbour must be measured, not interpolated across a gap. A peak on the edge of
    # a gap counts: a toe-off is often the last sample before the foot leaves the ground band or before
    # BlazePose loses the swinging foot. This test comes before the minimum-distance rule, so that a
    # taller extreme rejected here cannot suppress the true one next to it.
    keep = [int(i) for i in idx if _measured_extreme(int(i), x, finite, full, max(2, distance // 4))]
    return _thin(keep, x, distance)


def _measured_extreme(i: int, x: np.ndarray, finite: np.ndarray, full: np.ndarray | None, reach: int) -> bool:
    """x[i] is measured, with a measured neighbour; on a side without one, the signal beyond the gap
    (the nearest sample of `full`, the unmasked signal, within `reach` frames) is lower: an edge sample
    on a slope only looks like a peak because of the gap."""
    n = len(x)
    if not finite[i]:
        return False
    if not any(finite[j] for j in (i - 1, i + 1) if 0 <= j < n):
        return False
    ref = full if full is not None else x
    for step in (-1, 1):
        j = i + step
        if 0 <= j < n and finite[j]:
            continue
        beyond = ref[max(i - reach, 0) : i] if step < 0 else ref[i + 1 : i + 1 + reach]
        beyond = beyond[np.isfinite(beyond)]
        if beyond.size and (beyond[-1] if step < 0 else beyond[0]) > ref[i]:
            return False
    return True


def _thin(idx: list[int], x: np.ndarray, distance: int) -> np.ndarray:
    """Keep the highest peaks, dropping any closer than `distance` to a higher kept one."""
    kept: list[int] = []
    for i in sorted(idx, key=lambda j: -x[j]):
        if all(abs(i - k) >= distance for k in kept):
            kept.append(i)
    return np.asarray(sorted(kept), dtype=np.intp)


def near_ground(height: np.ndarray, band: float, segments: np.ndarray | None = None) -> np.ndarray:
    """Samples within `band` trunk lengths of the ground (the foot's lowest level, 95th percentile of y).

    segments: per-sample id of the tracked person (kinematics.identity_segments); the ground level is
    then taken per segment, since another person stands at another height and distance.
    """
    if segments is not None:
        out = np.zeros(len(height), dtype=bool)
        for seg in np.unique(segments):
            sel = segments == seg
            out[sel] = near_ground(np.asarray(height)[sel], band)
        return out
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
    segments: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices of foot strikes and toe-offs of one leg (sorted).

    Only samples with the foot near the ground count: strike and toe-off happen there, and it rejects
    the frames where BlazePose snaps an airborne foot onto something far forward (a handrail).
    measured: (heel, toe) bool masks of the frames actually measured (not interpolated over a gap);
    an extreme must fall on measured frames. raw: unfiltered (heel_fwd, toe_fwd) to refine the timing.
    segments: identity segment per frame (the ground level is taken per segment).
    """
    distance = max(1, int(0.8 * params.min_stride_s * fps))
    heel_ok, toe_ok = measured if measured is not None else (np.isfinite(heel_fwd), np.isfinite(toe_fwd))
    heel = np.where(near_ground(heel_y, params.ground_band, segments) & heel_ok, heel_fwd, np.nan)
    toe = np.where(near_ground(toe_y, params.ground_band, segments) & toe_ok, toe_fwd, np.nan)
    strikes = _peaks(heel, distance, params.event_prominence, np.where(heel_ok, heel_fwd, np.nan))
    toe_offs = _peaks(-toe, distance, params.event_prominence, np.where(toe_ok, -toe_fwd, np.nan))
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


class StreamingPeak:
    """Causal detector of the maxima of one signal, fed one sample at a time (the live event path).

    Hysteresis on the raw signal, no low-pass filter and so no group delay: a maximum is confirmed as
    soon as the signal has stayed `drop` below it for `confirm` consecutive samples, provided it rose by
    `prominence` from the preceding minimum. Foot strike: the heel stops moving forward and rides the belt
    (or, overground, the pelvis passes over it) backward, so the confirmation comes 1-2 frames after the
    kink at 30-60 fps. Only samples flagged `usable` (measured, foot near the ground) can be the maximum;
    any finite sample counts for the minimum and the confirmation.
    """

    def __init__(self, prominence: float, drop: float, confirm: int, min_distance: int) -> None:
        self.prominence, self.drop = prominence, drop
        self.confirm, self.min_distance = max(1, confirm), max(1, min_distance)
        self._lo = np.inf
        self._hi, self._hi_i, self._below = -np.inf, -1, 0
        self._tail: list[tuple[int, float]] = []
        self._seeking_peak = False
        self._last = -(10**9)

    def step(self, i: int, x: float, usable: bool) -> int | None:
        """Feed sample i; returns the frame of a newly confirmed maximum, else None."""
        if not np.isfinite(x):
            return None
        if not self._seeking_peak:
            self._lo = min(self._lo, x)
            if x > self._lo + self.prominence:  # rising again: the next maximum is on its way
                self._seeking_peak, self._hi, self._hi_i, self._below = True, -np.inf, -1, 0
            else:
                return None
        if usable and x > self._hi:
            self._hi, self._hi_i, self._below = x, i, 0
            self._tail = [(i, x)]
            return None
        if self._hi_i >= 0:
            self._tail.append((i, x if usable else -np.inf))
        if self._hi_i < 0 or x >= self._hi - self.drop:
            self._below = 0  # confirmation needs consecutive samples past the drop
            return None
        self._below += 1
        if self._below < self.confirm or self._hi - self._lo < self.prominence:
            return None
        # The extreme is the end of the flat top (the kink where the foot starts riding back): the last
        # sample within a third of `drop` of the top's level (median of the samples near the maximum, so
        # one noisy high sample does not set it); plain argmax lands early on noise over the top.
        level = float(np.median([v for _, v in self._tail if v >= self._hi - self.drop / 2.0]))
        peak = max(j for j, v in self._tail if v >= level - self.drop / 3.0)
        self._seeking_peak, self._lo = False, x
        if peak - self._last < self.min_distance:
            return None
        self._last = peak
        return peak


class JumpGate:
    """Causal spike rejection for a foot position: a sample that moved faster than `max_step` per frame
    from the last accepted one is dropped (NaN). BlazePose's leg swaps and feet snapped onto the
    handrail are such jumps; a real foot relative to the pelvis moves < ~10 trunk lengths/s. If the
    signal stays away for `resync` frames, the new place is accepted (the jump was real, e.g. a new person).
    """

    def __init__(self, max_step: float, resync: int) -> None:
        self.max_step, self.resync = max_step, max(1, resync)
        self._last, self._last_i, self._rejected = np.nan, -1, 0

    def step(self, i: int, x: float) -> float:
        if not np.isfinite(x):
            return np.nan
        gap = max(1, i - self._last_i)
        if np.isfinite(self._last) and abs(x - self._last) > self.max_step * gap and self._rejected < self.resync:
            self._rejected += 1
            return np.nan
        self._last, self._last_i, self._rejected = x, i, 0
        return x
