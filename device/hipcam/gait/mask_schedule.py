"""Which frames need the segmentation mask (``pose.mask_frames = "scheduled"``).

The gait analysis reads the mask in two phases of each step: close to peak thigh extension (the
lower-back depth within ``lumbar_window_s`` of the peak, the outline's thigh axis within 40 ms) and
in the stride's least-extended quarter (the neutral reference of the arch measure). Both want at
least two measured frames (strides._MIN_LUMBAR_SAMPLES). Elsewhere the mask is never read, and the
complete graph costs about 1.5x the one without its segmentation branch.

The phase is predicted from the landmarks of the frames before: the more extended of the two thighs
(its angle behind the vertical), extrapolated one frame ahead, against its own range over the last
few seconds. The mask is asked for:

- in the peak phase (the top ``PEAK_SHARE`` of the recent frames) every ``lumbar_window_s`` seconds,
  which puts two samples in the window around each peak (it is twice that wide);
- in the neutral phase (the bottom ``NEUTRAL_SHARE``) every ``NEUTRAL_GAP_S``: at 30 fps every
  other frame, as the outline is often not measurable at mid-stance (thighs together);
- elsewhere, and while the phase is not known yet (start, lost runner), every ``BACKGROUND_GAP_S``.

Time-based, so it holds at any frame rate: measured, it asks for a third of the frames of a 30 fps
clip and 4% of a 240 fps one (docs/mask-schedule.md). Pure numpy: no pose or service import.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from hipcam.domain import Landmark

PEAK_SHARE = 0.30
PEAK_GAP_SHARE = 1.0  # of lumbar_window_s
NEUTRAL_SHARE = 0.25  # as the gait's least-extended quarter
NEUTRAL_GAP_S = 0.05
BACKGROUND_GAP_S = 1.0
HISTORY_S = 3.0  # the thigh's range is taken over this much of the past
MIN_HISTORY_S = 1.0  # about one stride: before that the phase is not known
MIN_RANGE_DEG = 8.0  # a smaller swing is no running stride: no phase to predict

_LEGS = ((Landmark.LEFT_HIP, Landmark.LEFT_KNEE), (Landmark.RIGHT_HIP, Landmark.RIGHT_KNEE))


def most_extended_thigh_deg(landmarks_px: np.ndarray, d: int) -> float:
    """The larger of the two thighs' angles behind the vertical (deg; NaN without hips and knees).

    landmarks_px [33, >=2] in pixels; d: running direction, +1 toward +x, -1 toward -x.
    """
    angles = []
    for hip, knee in _LEGS:
        dx, dy = landmarks_px[knee, 0] - landmarks_px[hip, 0], landmarks_px[knee, 1] - landmarks_px[hip, 1]
        if math.isfinite(dx) and math.isfinite(dy):
            angles.append(math.degrees(math.atan2(-d * dx, dy)))
    return max(angles) if angles else math.nan


class MaskSchedule:
    """Per frame: ``want(t)`` before the pose runs, then ``observe(t, thigh)`` with its result."""

    def __init__(self, lumbar_window_s: float) -> None:
        self._window = lumbar_window_s
        self._history: deque[tuple[float, float]] = deque()
        self._last_mask_s = -math.inf
        self.asked = 0
        self.frames = 0

    @property
    def share(self) -> float:
        """The share of frames the mask was asked for so far."""
        return self.asked / self.frames if self.frames else 0.0

    def want(self, t_s: float) -> bool:
        self.frames += 1
        gap = self._gap(t_s)
        if t_s - self._last_mask_s < gap - 1e-6:
            return False
        self._last_mask_s = t_s
        self.asked += 1
        return True

    def observe(self, t_s: float, thigh_deg: float) -> None:
        """This frame's most extended thigh (``most_extended_thigh_deg``; NaN when nobody was found)."""
        if not math.isfinite(thigh_deg):
            self._history.clear()  # lost: the phase starts over
            return
        self._history.append((t_s, thigh_deg))
        while self._history and self._history[0][0] < t_s - HISTORY_S:
            self._history.popleft()

    def _gap(self, t_s: float) -> float:
        """How long after the last mask frame this one may have one, by its predicted phase."""
        if len(self._history) < 3 or self._history[-1][0] - self._history[0][0] < MIN_HISTORY_S:
            return BACKGROUND_GAP_S
        angles = np.fromiter((a for _, a in self._history), float, len(self._history))
        low, high = np.percentile(angles, [100 * NEUTRAL_SHARE, 100 * (1 - PEAK_SHARE)])
        if np.ptp(angles) < MIN_RANGE_DEG:
            return BACKGROUND_GAP_S
        (t0, a0), (t1, a1) = self._history[-2], self._history[-1]
        predicted = a1 + (a1 - a0) * (t_s - t1) / (t1 - t0) if t1 > t0 else a1
        if predicted >= high:
            return self._window * PEAK_GAP_SHARE
        if predicted <= low:
            return NEUTRAL_GAP_S
        return BACKGROUND_GAP_S
