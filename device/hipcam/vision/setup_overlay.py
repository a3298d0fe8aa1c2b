"""The set-up check's picture: the frame with the lines it measured (OpenCV, RGB in and out).

Grey: the image's middle third (where the hips belong) and the in-frame margin; yellow: the hips'
row; cyan: the shoulder and hip widths; green: the trunk length; magenta: the runner's height; orange:
heels and toes; red: a level line at the measured camera roll, through the image centre.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hipcam.domain import Landmark as L

_GREY, _YELLOW, _CYAN = (200, 200, 200), (255, 220, 0), (0, 220, 255)
_GREEN, _MAGENTA, _ORANGE, _RED = (40, 220, 60), (230, 60, 230), (255, 140, 0), (255, 40, 40)
_FEET = (L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)


def _pt(xy: np.ndarray) -> tuple[int, int]:
    return round(float(xy[0])), round(float(xy[1]))


def _ok(*points: np.ndarray) -> bool:
    return all(np.isfinite(p).all() for p in points)


def draw_setup(
    image_rgb: np.ndarray, landmarks: np.ndarray, roll_deg: float | None, margin: float = 0.01
) -> np.ndarray:
    """A copy of the frame with the measured lines; ``landmarks`` normalized [33, >=2]."""
    out = np.ascontiguousarray(image_rgb).copy()
    h, w = out.shape[:2]
    t = max(1, round(max(w, h) / 400))
    for row in (h / 3, 2 * h / 3):
        cv2.line(out, (0, int(row)), (w - 1, int(row)), _GREY, t)
    m = int(margin * min(w, h))
    cv2.rectangle(out, (m, m), (w - 1 - m, h - 1 - m), _GREY, t)
    px = np.asarray(landmarks[:, :2], np.float64) * [w, h]
    ls, rs, lh, rh = px[L.LEFT_SHOULDER], px[L.RIGHT_SHOULDER], px[L.LEFT_HIP], px[L.RIGHT_HIP]
    if _ok(lh, rh):
        hip_mid = (lh + rh) / 2
        cv2.line(out, (0, int(hip_mid[1])), (w - 1, int(hip_mid[1])), _YELLOW, t)
        cv2.line(out, _pt(lh), _pt(rh), _CYAN, 2 * t)
        if _ok(ls, rs):
            cv2.line(out, _pt(ls), _pt(rs), _CYAN, 2 * t)
            cv2.line(out, _pt((ls + rs) / 2), _pt(hip_mid), _GREEN, 2 * t)
        feet = px[list(_FEET)]
        feet = feet[np.isfinite(feet).all(axis=1)]
        nose = px[L.NOSE]
        if len(feet) and _ok(nose):
            x = int(hip_mid[0]) + 6 * t
            cv2.line(out, (x, int(nose[1])), (x, int(feet[:, 1].max())), _MAGENTA, 2 * t)
        for foot in feet:
            cv2.circle(out, _pt(foot), 3 * t, _ORANGE, -1)
    if roll_deg is not None:
        dx, dy = math.cos(math.radians(roll_deg)) * w / 2, math.sin(math.radians(roll_deg)) * w / 2
        cv2.line(out, (int(w / 2 - dx), int(h / 2 - dy)), (int(w / 2 + dx), int(h / 2 + dy)), _RED, t)
    return out
