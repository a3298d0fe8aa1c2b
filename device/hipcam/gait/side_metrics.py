"""The side-view metric set of one stride (Souza 2016's clinical protocol; docs/side-view-metrics.md).

Read from the stride's signals (gait.kinematics channels, levelled for the camera roll, signed by the
running direction): at foot strike the foot inclination and the strike pattern from it, the shank
angle, overstride and knee flexion; the peak knee flexion over stance; the pelvis's vertical
oscillation over the stride; the stride's flight time from both legs' events.

Values at an event are the median of the unfiltered signal over the event frame and its neighbours
(STRIKE_HALF_WINDOW_S, at least one frame each side): the foot flattens and the knee bends within a
few frames of contact, and a low-pass filter would pull the value at the strike toward what follows,
while a short median keeps a monotonic trend's centre and rejects a one-frame glitch. A measure whose
landmarks are missing or below the visibility threshold at the event frame is None, never filled in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hipcam.domain import StrikePattern
from hipcam.gait.kinematics import FOOT_INCL, HEEL, KNEE_FLEX, PELVIS_UP, SHANK, TRUNK_PX

if TYPE_CHECKING:
    from hipcam.gait.strides import StrideWindow

# Altman & Davis 2012 (foot strike angle): rearfoot > 8.0 deg, midfoot -1.6..8.0 deg, forefoot < -1.6 deg.
REARFOOT_ABOVE_DEG = 8.0
FOREFOOT_BELOW_DEG = -1.6
STRIKE_HALF_WINDOW_S = 0.0125
_MIN_STANCE_SEEN = 0.7  # share of the stance frames with the knee measured, for its peak
_MIN_STRIDE_SEEN = 0.8  # share of the stride's frames with the pelvis measured, for its oscillation


@dataclass(frozen=True)
class SideMetrics:
    """One stride's side-view metrics; None where not measurable (docs/side-view-metrics.md)."""

    foot_strike_pattern: str | None = None
    foot_inclination_at_strike_deg: float | None = None
    shank_angle_at_strike_deg: float | None = None
    overstride_trunk: float | None = None
    knee_flexion_at_strike_deg: float | None = None
    knee_flexion_peak_stance_deg: float | None = None
    vertical_oscillation_trunk: float | None = None
    flight_s: float | None = None


def strike_pattern(inclination_deg: float | None) -> str | None:
    """rearfoot / midfoot / forefoot from the foot's inclination at contact (Altman & Davis 2012)."""
    if inclination_deg is None or not math.isfinite(inclination_deg):
        return None
    if inclination_deg > REARFOOT_ABOVE_DEG:
        return StrikePattern.REARFOOT.value
    if inclination_deg < FOREFOOT_BELOW_DEG:
        return StrikePattern.FOREFOOT.value
    return StrikePattern.MIDFOOT.value


def at_event(raw: np.ndarray, frame: int, fps: float) -> float | None:
    """The median of signal `raw` [n] over `frame` +- STRIKE_HALF_WINDOW_S (>= 1 frame); None when
    the signal is not measured at `frame` itself."""
    if not 0 <= frame < len(raw) or not math.isfinite(raw[frame]):
        return None
    half = max(1, round(STRIKE_HALF_WINDOW_S * fps))
    near = raw[max(frame - half, 0) : frame + half + 1]
    return float(np.median(near[np.isfinite(near)]))


def peak_over(raw: np.ndarray, filtered: np.ndarray, a: int, b: int, fps: float) -> float | None:
    """The peak of a signal over frames [a, b]: found on the smoothed signal among the frames where it
    was measured (not gap-filled), valued like an event on the measured one (the low-pass filter
    flattens a peak by a degree or two); None when fewer than _MIN_STANCE_SEEN of the frames were."""
    if b < a:
        return None
    smooth = np.where(np.isfinite(raw[a : b + 1]), filtered[a : b + 1], np.nan)
    seen = int(np.isfinite(smooth).sum())
    if seen < max(2, _MIN_STANCE_SEEN * (b - a + 1)):
        return None
    return at_event(raw, a + int(np.nanargmax(smooth)), fps)


def oscillation(raw: np.ndarray, filtered: np.ndarray, scale_px: np.ndarray, a: int, b: int) -> float | None:
    """Range of the smoothed pelvis height over frames [a, b) in trunk lengths (the stride's median
    trunk length); None when fewer than _MIN_STRIDE_SEEN of the frames were measured."""
    seen = np.isfinite(raw[a:b])
    height = filtered[a:b][seen]
    height = height[np.isfinite(height)]
    scale = scale_px[a:b][np.isfinite(scale_px[a:b])]
    if b <= a or height.size < max(3, _MIN_STRIDE_SEEN * (b - a)) or not scale.size:
        return None
    trunk = float(np.median(scale))
    return float(height.max() - height.min()) / trunk if trunk > 0 else None


def flight_time(
    start: int,
    toe_off: int | None,
    end: int,
    other_strikes: tuple[int, ...] | None,
    other_toe_offs: tuple[int, ...] | None,
    fps: float,
) -> float | None:
    """Seconds of the stride [start, end) with neither foot down (frames in the air / fps): between
    this leg's toe-off and the other foot's strike, and between the other foot's next toe-off and this
    leg's next strike (events are the last and first frames in contact). A phase
    where the other foot lands before this one leaves (double support, walking) adds 0. None when an
    event is missing: no toe-off, not exactly one strike of the other leg inside the stride, or no
    toe-off of the other leg known after it."""
    if toe_off is None or other_strikes is None or other_toe_offs is None:
        return None
    strikes = [s for s in other_strikes if start < s < end]
    if len(strikes) != 1:
        return None
    landed = strikes[0]
    if any(toe_off < t < landed for t in other_toe_offs):
        return None  # the other foot left the ground again before landing: its events are incomplete
    lifts = [t for t in other_toe_offs if landed < t < landed + (end - start)]
    if not lifts:
        return None
    # Frames strictly between a last contact frame (toe-off) and a first one (strike) are in the air.
    frames = max(0, landed - toe_off - 1) + max(0, end - min(lifts) - 1)
    return frames / fps


def side_metrics(w: StrideWindow) -> SideMetrics:
    """The stride `w`'s side-view metrics (its leg, its foot strike and toe-off, both legs' events)."""
    raw = w.filtered if w.raw is None else w.raw
    inclination = at_event(raw[:, FOOT_INCL[w.leg]], w.start, w.fps)
    peak = None
    if w.toe_off is not None:
        peak = peak_over(raw[:, KNEE_FLEX[w.leg]], w.filtered[:, KNEE_FLEX[w.leg]], w.start, w.toe_off, w.fps)
    pelvis = oscillation(raw[:, PELVIS_UP], w.filtered[:, PELVIS_UP], raw[:, TRUNK_PX], w.start, w.end)
    return SideMetrics(
        foot_strike_pattern=strike_pattern(inclination),
        foot_inclination_at_strike_deg=inclination,
        shank_angle_at_strike_deg=at_event(raw[:, SHANK[w.leg]], w.start, w.fps),
        overstride_trunk=at_event(raw[:, HEEL[w.leg]], w.start, w.fps),
        knee_flexion_at_strike_deg=at_event(raw[:, KNEE_FLEX[w.leg]], w.start, w.fps),
        knee_flexion_peak_stance_deg=peak,
        vertical_oscillation_trunk=pelvis,
        flight_s=flight_time(w.start, w.toe_off, w.end, w.other_strikes, w.other_toe_offs, w.fps),
    )
