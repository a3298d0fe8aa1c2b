"""Camera roll: estimate it from a long, near-horizontal edge and undo it on landmark coordinates.

Convention: ``roll_deg`` is the angle at which a truly horizontal line (the treadmill deck) appears in
the image, clockwise positive (with y pointing down, the line descends to the right). Levelling rotates
points by ``-roll_deg`` about the image centre. Pure numpy/scipy on arrays passed in.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_MAX_WIDTH = 320  # the estimate runs on a downsampled frame: cheap and less sensitive to texture


def _downsample(gray: np.ndarray) -> tuple[np.ndarray, int]:
    step = max(1, int(np.ceil(gray.shape[1] / _MAX_WIDTH)))
    return np.asarray(gray[::step, ::step], dtype=np.float32), step


def estimate_roll(
    gray: np.ndarray, max_deg: float = 15.0, resolution_deg: float = 0.1, min_length: float = 0.3
) -> float | None:
    """Roll (deg, clockwise positive) from the strongest long straight edge within ±max_deg of horizontal.

    gray: [H, W] grayscale frame (any numeric dtype). Gradients (Sobel) pick edge pixels whose edge runs
    within max_deg of horizontal; a Hough-like accumulation over candidate angles finds the angle whose
    best line collects the most edge strength. Returns None when no line spans at least ``min_length``
    of the frame width (no deck in view, or a blurred frame): the caller then keeps the manual value.
    """
    if gray.ndim != 2 or min(gray.shape) < 16:
        return None
    img, _ = _downsample(gray)
    gy = ndimage.sobel(img, axis=0)
    gx = ndimage.sobel(img, axis=1)
    mag = np.hypot(gx, gy)
    # Horizontal edges have a mostly vertical gradient.
    near_h = np.abs(gx) <= np.abs(gy) * np.tan(np.radians(max_deg + 2.0))
    strong = mag > max(np.percentile(mag, 95), 1e-6)
    ys, xs = np.nonzero(near_h & strong)
    if xs.size < img.shape[1] * min_length:
        return None
    weights = mag[ys, xs]
    angles = np.radians(np.arange(-max_deg, max_deg + resolution_deg / 2, resolution_deg))
    # Offset of each edge pixel from a line of angle theta through the origin: rho = y cos - x sin.
    rho = ys[None, :] * np.cos(angles)[:, None] - xs[None, :] * np.sin(angles)[:, None]
    rho_i = np.rint(rho - rho.min()).astype(np.intp)
    n_bins = int(rho_i.max()) + 1
    flat = rho_i + (np.arange(len(angles)) * n_bins)[:, None]
    acc = np.bincount(flat.ravel(), weights=np.broadcast_to(weights, rho.shape).ravel(), minlength=n_bins * len(angles))
    acc = acc.reshape(len(angles), n_bins)
    # Count pixels too: the best line must be long, not just one high-contrast blob.
    counts = np.bincount(flat.ravel(), minlength=n_bins * len(angles)).reshape(len(angles), n_bins)
    score = acc.max(axis=1)
    best = int(np.argmax(score))
    if counts[best].max() < img.shape[1] * min_length:
        return None
    offset = 0.0
    if 0 < best < len(angles) - 1:  # parabolic refinement between angle bins
        a, b, c = score[best - 1], score[best], score[best + 1]
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return float(np.degrees(angles[best]) + offset * resolution_deg)


def resolve_roll(mode: str, manual_deg: float, gray: np.ndarray | None = None) -> float:
    """Roll to apply for the [level] config: "off" -> 0, "manual" -> manual_deg, "auto" -> estimate.

    In auto mode, falls back to the manual value when no frame is given or no edge is found.
    """
    if mode == "off":
        return 0.0
    if mode == "auto" and gray is not None:
        est = estimate_roll(gray)
        if est is not None:
            return est
    return float(manual_deg)


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
