"""The live analysis' frame-rate estimate from the frames' timestamps.

Over the last _SAMPLES frame intervals:
- Evenly spaced frames with a few dropped: the median interval, so a doubled interval here and there
  does not move it. "A few": under _MAX_LONG of the intervals longer than the median by over _NEAR,
  and under _MAX_SHORT shorter (a drop only ever lengthens an interval).
- Otherwise the spacing is mixed (frames skipped in a pattern, as at 2 of 3, whose intervals are
  half 1 and half 2 frames): the mean interval. The median would jump between the two lengths.
The rate in use is replaced only after the estimate has disagreed with it by more than _TOLERANCE
for _PERSIST frames in a row: a replacement starts the analysis' buffer again, so a window whose mix
of intervals drifts for a moment must not restart it. (With the median alone and a 3 % tolerance,
2 of 3 frames kept found no stride at all on the home clip's landmarks: each flip of the median
restarted the buffer.)
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

_SAMPLES = 64  # frame intervals in the estimate
_MIN_SAMPLES = 10
_TOLERANCE = 0.1  # relative disagreement with the rate in use that replaces it (the filters bear 10 %)
_NEAR = 0.25  # an interval within this share of the median counts as the usual one
_MAX_LONG = 0.2  # share of longer intervals (dropped frames) that even spacing allows
_MAX_SHORT = 0.1  # share of shorter ones
_PERSIST = 10  # frames in a row the estimate must disagree before it replaces the rate


def interval_estimate(dts: np.ndarray) -> float:
    """The typical frame interval: the median where the spacing is even, else the mean (see the module)."""
    median = float(np.median(dts))
    longer, shorter = np.mean(dts > (1 + _NEAR) * median), np.mean(dts < (1 - _NEAR) * median)
    return median if longer < _MAX_LONG and shorter < _MAX_SHORT else float(dts.mean())


class FrameRateEstimator:
    """Feed it every frame's timestamp; it says when the rate in use is off."""

    def __init__(self) -> None:
        self._t_prev: float | None = None
        self._dts: deque[float] = deque(maxlen=_SAMPLES)
        self._off_for = 0  # frames in a row the estimate has disagreed with the rate in use

    def update(self, t_s: float, fps: float) -> float | None:
        """The rate to adopt after the frame at `t_s` when `fps` (the rate in use) is off, else None.

        Non-finite timestamps are ignored; a timestamp not after the previous one adds no interval.
        The first estimate (once _MIN_SAMPLES intervals are in) replaces a hint off by over _NEAR at once.
        """
        if not math.isfinite(t_s):
            return None
        if self._t_prev is not None and t_s > self._t_prev:
            self._dts.append(t_s - self._t_prev)
        self._t_prev = t_s
        if len(self._dts) < _MIN_SAMPLES:
            return None
        est = 1.0 / interval_estimate(np.asarray(self._dts))
        if not (1.0 <= est <= 10000.0 and abs(est / fps - 1.0) > _TOLERANCE):
            self._off_for = 0
            return None
        self._off_for += 1
        first = len(self._dts) == _MIN_SAMPLES and abs(est / fps - 1.0) > _NEAR
        if first or self._off_for >= _PERSIST:
            self._off_for = 0
            return est
        return None
