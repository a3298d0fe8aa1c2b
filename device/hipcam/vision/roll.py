"""Camera roll from the image: a long, near-horizontal edge (the treadmill deck), and the one rule
that turns the ``[level]`` config into the roll applied (``resolve_level``).

Convention: ``roll_deg`` is the angle at which a truly horizontal line appears in the image, clockwise
positive (with y pointing down, the line descends to the right).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hipcam.config import LevelConfig
from hipcam.domain import LevelInfo

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


def resolve_level(level: LevelConfig, gray: np.ndarray | None) -> LevelInfo:
    """The roll to apply for the [level] section: off -> 0; manual -> roll_deg; auto -> estimated from
    ``gray`` (a grayscale frame), falling back to roll_deg when there is no frame or no edge in it."""
    if level.mode == "off":
        return LevelInfo("off", 0.0, "off")
    if level.mode == "manual":
        return LevelInfo("manual", level.roll_deg, "manual")
    est = estimate_roll(gray) if gray is not None else None
    return LevelInfo("auto", level.roll_deg, "no_edge") if est is None else LevelInfo("auto", est, "edge")
