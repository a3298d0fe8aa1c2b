"""Even frame drops: when analysis cannot keep the camera's rate, skip frames at an even pace.

Left to the freshest-frame slot alone, the frames dropped are whichever arrive while analysis is
busy: bursts and runs that follow the analysis's jitter, and each analysed frame waits in the slot.
Instead the capture thread skips frames itself, before shrinking them, at the share the analysis
sustains, spread evenly by an accumulator (at 2/3: keep, keep, skip, ...), so each kept frame finds
the analysis idle.

The gait analysis filters in samples of one interval (hipcam.gait.live), so an even step is better
still: where keeping 1 frame in k loses at most 1 - MIN_UNIFORM_SHARE of the sustainable rate, the
share snaps down to 1/k and every interval is the same (15 of 30 frames/s rather than 17 with two
interval lengths). Below that the rate matters more and the two lengths stay, spread evenly.

The analysis's cost is its mean busy time per frame over the last BUSY_SAMPLES frames, the slowest
tenth trimmed (a model load or a re-detection must not move the share). The camera's interval is the
mean gap between the last ARRIVAL_SAMPLES arrivals on the wall clock: the rate frames really come in
at (a replayed slow-motion file arrives at its playback rate, in bursts when decoding falls behind).
The share is worked out again only when the analysis has reported a frame since, not per arrival.
Frames are skipped only once the sustainable share is below KEEP_ALL_ABOVE; the slot still catches
a frame that finds analysis busy (jitter) and counts it as dropped.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

BUSY_SAMPLES = 30  # analysed frames in the cost estimate (~1-2 s)
ARRIVAL_SAMPLES = 30  # arrival intervals in the camera-rate estimate
MIN_SAMPLES = 8  # of each, before any frame is skipped
TRIM_SHARE = 0.1  # slowest share of busy times left out of the mean
HEADROOM = 0.1  # the kept frames' interval exceeds the cost by this share (jitter)
KEEP_ALL_ABOVE = 0.95  # a sustainable share above this keeps every frame (the slot absorbs the rest)
MIN_UNIFORM_SHARE = 0.8  # an even 1-in-k step must keep this share of the sustainable rate
MIN_KEEP_SHARE = 1 / 30  # past this the analysis is broken, not slow; the slot handles the rest


def trimmed_mean(values: list[float], share: float = TRIM_SHARE) -> float:
    """Mean of `values` without the largest `share` of them (at least one value kept)."""
    ordered = sorted(values)
    kept = ordered[: max(1, len(ordered) - math.floor(len(ordered) * share))]
    return float(np.mean(kept))


def keep_share(cost_s: float, interval_s: float) -> float:
    """Share of the camera's frames to analyse when each costs cost_s and they arrive every interval_s."""
    if not (cost_s > 0 and interval_s > 0):
        return 1.0
    sustainable = interval_s / (cost_s * (1.0 + HEADROOM))
    if sustainable >= KEEP_ALL_ABOVE:
        return 1.0
    sustainable = max(sustainable, MIN_KEEP_SHARE)
    uniform = 1.0 / math.ceil(1.0 / sustainable - 1e-9)
    return uniform if uniform >= MIN_UNIFORM_SHARE * sustainable else sustainable


class EvenDecimator:
    """admit() is called by the capture thread per arriving frame, note_busy() by the frame loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._busy: deque[float] = deque(maxlen=BUSY_SAMPLES)
        self._gaps: deque[float] = deque(maxlen=ARRIVAL_SAMPLES)
        self._last_arrival: float | None = None
        self._credit = 0.0  # whole frames owed to the analysis
        self._busy_noted = self._busy_used = 0  # busy times reported / when the share was last worked out
        # Read by the frame loop for the page; single attribute stores, so no lock.
        self.share = 1.0  # of the camera's frames, analysed
        self.skipped = 0
        self.camera_fps: float | None = None

    def note_busy(self, seconds: float) -> None:
        """The analysis took `seconds` for one frame."""
        if math.isfinite(seconds) and seconds >= 0:
            with self._lock:
                self._busy.append(seconds)
                self._busy_noted += 1

    def admit(self) -> bool:
        """Whether the frame arriving now is analysed (True) or skipped evenly (False)."""
        now = self._clock()
        if self._last_arrival is not None and now > self._last_arrival:
            self._gaps.append(now - self._last_arrival)
        self._last_arrival = now
        self._update_share()
        # Bresenham: a frame is kept each time the credit reaches a whole frame, so kept frames are
        # spread as evenly as the share allows; at 1/k exactly one in k.
        self._credit += self.share
        if self._credit >= 1.0 - 1e-9:
            self._credit -= 1.0
            return True
        self.skipped += 1
        return False

    def _update_share(self) -> None:
        with self._lock:
            if self._busy_noted == self._busy_used:
                return  # nothing new from the analysis: the share stands
            self._busy_used = self._busy_noted
            busy = list(self._busy)
        if len(busy) < MIN_SAMPLES or len(self._gaps) < MIN_SAMPLES:
            return
        interval = float(np.mean(self._gaps))
        self.camera_fps = 1.0 / interval
        self.share = keep_share(trimmed_mean(busy), interval)
