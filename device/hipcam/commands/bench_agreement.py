"""How far another precision's landmarks are from FP32's on the same frames (``hipcam bench --precision``).

Both pipelines see the very same decoded frames in the same order; per frame where both found the
person, each of the 33 landmarks' image distance is divided by the FP32 torso length (shoulder
midpoint to hip midpoint), so the figure means the same at any distance from the camera.
"""

from __future__ import annotations

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


def _pixels(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    return landmarks[:, :2] * np.array([width, height], dtype=np.float64)


def agreement(candidate: BlazePose, reference: BlazePose, frames: list[np.ndarray], fps: float) -> Agreement:
    candidate.reset()
    reference.reset()
    pct: list[np.ndarray] = []
    px: list[np.ndarray] = []
    for i, image in enumerate(frames):
        a, b = candidate.process(image, i / fps), reference.process(image, i / fps)
        if a is None or b is None:
            continue
        ref = _pixels(b.landmarks, b.width, b.height)
        torso = float(np.linalg.norm(ref[list(_SHOULDERS)].mean(0) - ref[list(_HIPS)].mean(0)))
        dist = np.linalg.norm(_pixels(a.landmarks, a.width, a.height) - ref, axis=1)
        px.append(dist)
        if torso > 1.0:
            pct.append(100.0 * dist / torso)
    if not pct:
        return Agreement(0, float("nan"), float("nan"), float("nan"))
    all_pct = np.concatenate(pct)
    return Agreement(len(pct), float(np.median(all_pct)), float(np.percentile(all_pct, 95)), float(np.median(px)))
