"""How far another precision's landmarks are from FP32's on the same frames (``hipcam bench --precision``).

Both pipelines see the very same decoded frames in the same order; per frame where both found the
person, each of the 33 landmarks' image distance is divided by the FP32 torso length (shoulder
midpoint to hip midpoint), so the figure means the same at any distance from the camera.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from hipcam.domain import Landmark
from hipcam.pose.tracker import BlazePose

_SHOULDERS = (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER)
_HIPS = (Landmark.LEFT_HIP, Landmark.RIGHT_HIP)


@dataclass(frozen=True)
class Agreement:
    frames: int  # frames both found the person in
    median_pct: float  # of torso length, over all landmarks of those frames
    p95_pct: float
    median_px: float
    speedup: float  # FP32's pose time / this precision's, on the same frames, interleaved frame by frame


def _pixels(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    return landmarks[:, :2] * np.array([width, height], dtype=np.float64)


def agreement(candidate: BlazePose, reference: BlazePose, frames: list[np.ndarray], fps: float) -> Agreement:
    candidate.reset()
    reference.reset()
    pct: list[np.ndarray] = []
    px: list[np.ndarray] = []
    spent = [0.0, 0.0]
    for i, image in enumerate(frames):
        t0 = time.perf_counter()
        a = candidate.process(image, i / fps)
        t1 = time.perf_counter()
        b = reference.process(image, i / fps)
        spent[0] += t1 - t0
        spent[1] += time.perf_counter() - t1
        if a is None or b is None:
            continue
        ref = _pixels(b.landmarks, b.width, b.height)
        torso = float(np.linalg.norm(ref[list(_SHOULDERS)].mean(0) - ref[list(_HIPS)].mean(0)))
        dist = np.linalg.norm(_pixels(a.landmarks, a.width, a.height) - ref, axis=1)
        px.append(dist)
        if torso > 1.0:
            pct.append(100.0 * dist / torso)
    if not pct:
        return Agreement(0, float("nan"), float("nan"), float("nan"), float("nan"))
    all_pct = np.concatenate(pct)
    median_px = float(np.median(np.concatenate(px)))
    speedup = spent[1] / spent[0] if spent[0] > 0 else float("nan")
    return Agreement(len(pct), float(np.median(all_pct)), float(np.percentile(all_pct, 95)), median_px, speedup)
