"""Landmark smoothing as in MediaPipe's pose_landmark_filtering.pbtxt, vectorised over all landmarks.

- One-Euro filter (one_euro_filter.cc): the sampling rate comes from the timestamps; the speed that
  opens the cutoff is measured in object sizes per second (value_scale = 1 / object size);
- visibility: a plain low-pass filter, alpha 0.1 on the new value;
- image landmarks: min_cutoff 0.05, beta 80, derivative cutoff 1, on pixel coordinates (z scaled as x);
- auxiliary (ROI) landmarks: min_cutoff 0.01, beta 10; world landmarks: 0.1, 40, no value scaling;
- object size: the unfiltered auxiliary landmarks' alignment box (2 x centre-to-scale-point distance).
A frame without a person resets every filter, as MediaPipe does on an empty packet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_FREQUENCY = 30.0
MIN_OBJECT_SCALE = 1e-6
VISIBILITY_ALPHA = 0.1
NUM_BODY = 33  # body landmarks; two auxiliary (ROI) ones follow them
NUM_POINTS = 35


def _alpha(cutoff: np.ndarray | float, frequency: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * frequency)


class OneEuroFilter:
    """One-Euro filter over an array of values of fixed shape (each element filtered independently).

    ``min_cutoff`` and ``beta`` may be arrays broadcasting against the values (per-element parameters).
    """

    def __init__(self, min_cutoff: float | np.ndarray, beta: float | np.ndarray, derivate_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.derivate_cutoff = derivate_cutoff
        self.reset()

    def reset(self) -> None:
        self._frequency = DEFAULT_FREQUENCY
        self._last_t: float | None = None
        self._last_raw: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def apply(self, value: np.ndarray, t: float, value_scale: float = 1.0) -> np.ndarray:
        if self._last_t is not None and t <= self._last_t:
            return value  # MediaPipe: out-of-order timestamp, pass the value through
        if self._last_t is not None:
            self._frequency = 1.0 / (t - self._last_t)
        self._last_t = t
        if self._last_raw is None or self._x is None or self._dx is None:
            self._last_raw = value.copy()
            self._x = value.copy()
            self._dx = np.zeros_like(value)
            return self._x.copy()
        dvalue = (value - self._last_raw) * (value_scale * self._frequency)
        self._dx += _alpha(self.derivate_cutoff, self._frequency) * (dvalue - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x += _alpha(cutoff, self._frequency) * (value - self._x)
        self._last_raw[...] = value
        return self._x.copy()


class LowPass:
    """Exponential smoothing, ``alpha`` weighting the new value; the first value passes through."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None

    def apply(self, value: np.ndarray) -> np.ndarray:
        if self._state is None:
            self._state = value.copy()
        else:
            self._state += self.alpha * (value - self._state)
        return self._state.copy()


@dataclass(frozen=True)
class SmoothedPose:
    landmarks: np.ndarray  # [33, 5] pixels (x, y, z), visibility, presence
    aux: np.ndarray  # [2, 5] pixels: hips centre and scale point, for the next ROI
    world: np.ndarray  # [33, 4] metres + visibility


class PoseSmoother:
    """All of MediaPipe's per-pose filters; ``apply`` takes pixel landmarks [35, 5] and world [33, 3].

    With smoothing on, the body and auxiliary landmarks always go through their One-Euro filters
    together (both skip a frame whose object scale is degenerate), so they share one filter with
    per-row parameters; the world landmarks' visibility is a copy of the body's, so its low-pass is
    the body's. Every element still sees exactly the arithmetic of its own filter.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        body = np.arange(NUM_POINTS)[:, None] < NUM_BODY  # [35, 1]: one parameter per row
        self._points = OneEuroFilter(min_cutoff=np.where(body, 0.05, 0.01), beta=np.where(body, 80.0, 10.0))
        self._points_vis = LowPass(VISIBILITY_ALPHA)
        self._aux = OneEuroFilter(min_cutoff=0.01, beta=10.0)  # smoothing off: the ROI points only
        self._aux_vis = LowPass(VISIBILITY_ALPHA)
        self._world = OneEuroFilter(min_cutoff=0.1, beta=40.0)

    def reset(self) -> None:
        for f in (self._points, self._points_vis, self._aux, self._aux_vis, self._world):
            f.reset()

    def apply(self, landmarks: np.ndarray, world: np.ndarray, t: float) -> SmoothedPose:
        world4 = np.empty((NUM_BODY, 4), np.float64)
        if not self.enabled:
            # MediaPipe still smooths the auxiliary (ROI) landmarks when smoothing is off.
            world4[:, :3] = world
            world4[:, 3] = landmarks[:NUM_BODY, 3]  # VisibilityCopy
            return SmoothedPose(
                landmarks=landmarks[:NUM_BODY].copy(), aux=self._smooth_aux(landmarks[NUM_BODY:], t), world=world4
            )
        scale = object_scale(landmarks[NUM_BODY:])
        out = landmarks.copy()
        out[:, 3] = self._points_vis.apply(landmarks[:, 3])
        if scale >= MIN_OBJECT_SCALE:
            out[:, :3] = self._points.apply(landmarks[:, :3], t, 1.0 / scale)
        world4[:, :3] = self._world.apply(world, t, 1.0)
        world4[:, 3] = out[:NUM_BODY, 3]  # VisibilityCopy, then the same low-pass as the body's
        return SmoothedPose(landmarks=out[:NUM_BODY], aux=out[NUM_BODY:], world=world4)

    def _smooth_aux(self, aux: np.ndarray, t: float) -> np.ndarray:
        scale = object_scale(aux)
        out = aux.copy()
        out[:, 3] = self._aux_vis.apply(aux[:, 3])
        if scale >= MIN_OBJECT_SCALE:
            out[:, :3] = self._aux.apply(aux[:, :3], t, 1.0 / scale)
        return out


def object_scale(aux: np.ndarray) -> float:
    """Side of the alignment box of the auxiliary landmarks, in pixels."""
    return 2.0 * float(math.hypot(aux[1, 0] - aux[0, 0], aux[1, 1] - aux[0, 1]))
