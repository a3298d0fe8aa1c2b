"""The live analysis' frame-rate estimate from the frames' timestamps.

The median frame interval over the last _SAMPLES intervals: a few dropped frames (a doubled interval)
do not move it, so the rate is only replaced when the camera really runs at another rate.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

_SAMPLES = 64  # frame intervals in the running median
_MIN_SAMPLES = 10
_TOLERANCE = 0.03  # relative disagreement with the current rate that makes the estimate replace it


class FrameRateEstimator:
    """Feed it every frame's timestamp; it says when the rate in use is off."""

    def __init__(self) -> None:
        self._t_prev: float | None = None
        self._dts: deque[float] = deque(maxlen=_SAMPLES)

    def update(self, t_s: float, fps: float) -> float | None:
        """The rate to adopt after the frame at `t_s` when `fps` (the rate in use) is off, else None.

        Non-finite timestamps are ignored; a timestamp not after the previous one adds no interval.
        """
        if not math.isfinite(t_s):
            return None
        if self._t_prev is not None and t_s > self._t_prev:
            self._dts.append(t_s - self._t_prev)
        self._t_prev = t_s
        if len(self._dts) < _MIN_SAMPLES:
            return None
        est = 1.0 / float(np.median(self._dts))
        if 1.0 <= est <= 10000.0 and abs(est / fps - 1.0) > _TOLERANCE:
            return est
        return None
