"""Per-frame measures for the set-up check: the runner's brightness, the background's, the feet's
sharpness (Laplacian variance: a foot smeared by a slow shutter has few sharp edges)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hipcam.domain import Landmark as L

_FEET = (L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)
_PAD = 0.08  # the runner's box grown by this share of its size


@dataclass(frozen=True)
class FrameStats:
    person_luma: float
    background_luma: float
    foot_sharpness: float | None


def _box(xy: np.ndarray, width: int, height: int, pad: float) -> tuple[int, int, int, int] | None:
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return None
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    grow = (hi - lo).max() * pad + 4
    x0, y0 = (np.clip(lo - grow, 0, [width, height])).astype(int)
    x1, y1 = (np.clip(hi + grow, 0, [width, height])).astype(int)
    return (x0, y0, x1, y1) if x1 - x0 >= 4 and y1 - y0 >= 4 else None


def measure_frame(image_rgb: np.ndarray, landmarks: np.ndarray) -> FrameStats | None:
    """Measures of one RGB uint8 frame, given the runner's normalized landmarks [33, >=2] (None: the
    runner's box is not in the frame)."""
    height, width = image_rgb.shape[:2]
    xy = np.asarray(landmarks[:, :2], np.float64) * [width, height]
    box = _box(xy, width, height, _PAD)
    if box is None:
        return None
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    x0, y0, x1, y1 = box
    inside = np.zeros(gray.shape, bool)
    inside[y0:y1, x0:x1] = True
    person = float(np.median(gray[inside]))
    background = float(np.median(gray[~inside])) if (~inside).any() else person
    feet = _box(xy[list(_FEET)], width, height, 0.3)
    sharp = None
    if feet is not None:
        fx0, fy0, fx1, fy1 = feet
        sharp = float(cv2.Laplacian(gray[fy0:fy1, fx0:fx1], cv2.CV_64F).var())
    return FrameStats(person, background, sharp)
