"""Rotated regions of interest: from two alignment points to a square crop, and back.

Follows MediaPipe's AlignmentPointsRectsCalculator + RectTransformationCalculator as configured in
pose_detection_to_roi.pbtxt and pose_landmarks_to_roi.pbtxt: the first point is the centre, the box
side is twice the centre-to-second-point distance, the rotation turns that vector to 90 degrees,
then the box is squared on its long side and scaled by 1.25. All maths is in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

TARGET_ANGLE = math.pi / 2
ROI_SCALE = 1.25


def normalize_radians(angle: float) -> float:
    """Wrap into [-pi, pi) like MediaPipe's NormalizeRadians."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


@dataclass(frozen=True)
class Roi:
    """A square region in pixels: centre, side length, rotation (radians, clockwise on screen)."""

    cx: float
    cy: float
    size: float
    rotation: float

    def crop_matrix(self, out_size: int) -> np.ndarray:
        """2x3 affine taking crop pixel (u, v) to image pixel (x, y), for cv2.WARP_INVERSE_MAP.

        Same corner convention as MediaPipe's ImageToTensor (crop corners at 0 and out_size).
        """
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        k = self.size / out_size
        half = self.size / 2
        return np.array(
            [
                [c * k, -s * k, self.cx - c * half + s * half],
                [s * k, c * k, self.cy - s * half - c * half],
            ],
            dtype=np.float64,
        )

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop-normalized points [..., 2] (0..1 across the crop) -> image pixels [..., 2]."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        u = (points[..., 0] - 0.5) * self.size
        v = (points[..., 1] - 0.5) * self.size
        return np.stack([self.cx + c * u - s * v, self.cy + s * u + c * v], axis=-1)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image pixels [..., 2] -> crop-normalized points; inverse of ``to_image``."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        dx = points[..., 0] - self.cx
        dy = points[..., 1] - self.cy
        return np.stack([(c * dx + s * dy) / self.size + 0.5, (-s * dx + c * dy) / self.size + 0.5], axis=-1)

    def crop(
        self, image: np.ndarray, out_size: int, dst: np.ndarray | None = None, border: int = cv2.BORDER_REPLICATE
    ) -> np.ndarray:
        """Warp the region into an out_size x out_size image with one cv2.warpAffine."""
        return cv2.warpAffine(
            image,
            self.crop_matrix(out_size),
            (out_size, out_size),
            dst=dst,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=border,
        )


def roi_from_alignment(center: np.ndarray, scale_point: np.ndarray) -> Roi:
    """ROI from a centre point and a scale point, both in image pixels."""
    x0, y0 = float(center[0]), float(center[1])
    x1, y1 = float(scale_point[0]), float(scale_point[1])
    box = 2.0 * math.hypot(x1 - x0, y1 - y0)
    rotation = normalize_radians(TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0))
    # The box is already square in pixels, so "square long side" keeps it; then scale by 1.25.
    return Roi(cx=x0, cy=y0, size=box * ROI_SCALE, rotation=rotation)


def mask_to_image(mask_roi: np.ndarray, roi: Roi, width: int, height: int) -> np.ndarray:
    """Project a crop-space mask [S, S] (float) into image space [height, width]; zero outside the ROI."""
    out_size = mask_roi.shape[0]
    return cv2.warpAffine(
        mask_roi,
        roi.crop_matrix(out_size),
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
