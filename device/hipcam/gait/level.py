"""Undo the camera roll on landmark coordinates (pure numpy; the roll itself: hipcam.vision.roll).

Convention: ``roll_deg`` is the angle at which a truly horizontal line (the treadmill deck) appears in
the image, clockwise positive (with y pointing down, the line descends to the right). Levelling rotates
points by ``-roll_deg`` about the image centre.
"""

from __future__ import annotations

import numpy as np


def level_points(xy: np.ndarray, roll_deg: float, width: float, height: float) -> np.ndarray:
    """Rotate pixel coordinates [..., 2] by -roll_deg about the image centre (undoes the camera roll)."""
    if roll_deg == 0.0:
        return np.asarray(xy, dtype=np.float64)
    c, s = np.cos(np.radians(-roll_deg)), np.sin(np.radians(-roll_deg))
    cx, cy = width / 2.0, height / 2.0
    x = xy[..., 0] - cx
    y = xy[..., 1] - cy
    return np.stack([c * x - s * y + cx, s * x + c * y + cy], axis=-1)


def level_landmarks(landmarks: np.ndarray, width: int, height: int, roll_deg: float) -> np.ndarray:
    """Normalized landmarks [..., 33, >=2] -> levelled pixel coordinates [..., 33, 2]."""
    xy = np.asarray(landmarks[..., :2], dtype=np.float64) * np.array([width, height], dtype=np.float64)
    return level_points(xy, roll_deg, width, height)
