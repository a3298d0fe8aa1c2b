"""Camera roll from the image, with a confidence, and the one rule that turns the ``[level]`` config
into the roll applied (``resolve_level``).

Convention: ``roll_deg`` is the angle at which a truly horizontal line appears in the image, clockwise
positive (with y pointing down, the line descends to the right). A truly vertical line then leans
with its top to the right by the same angle.

Method: OpenCV's line segment detector (LSD) on a frame downsampled to at most 640 px. Verticals
(door frames, poles, window mullions: segments within 20° of vertical) are the main evidence: true
verticals meet at a vanishing point (at infinity for a camera with no pitch), and the roll is the
angle, from the image vertical, of the direction from the principal point (the image centre) to that
point. The vanishing point is the best-supported intersection of segment pairs (the longest ones,
every pair tried: deterministic), each segment voting with its length when it points at it within
1.5°, then refined by a length-weighted least-squares fit of its inliers. Horizontal edges (the
deck, floor lines) are weaker evidence, as perspective tilts them: their length-weighted median
angle is used alone only without enough verticals; when both exist, agreeing horizontals raise
the confidence and disagreeing ones lower it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from hipcam.config import LevelConfig
from hipcam.domain import LevelInfo

MAX_SIDE = 640  # longer side of the frame the segments are detected on
MIN_CONFIDENCE = 0.3  # below this, auto falls back to the configured roll_deg
_VERTICAL_DEG = 20.0  # segments this close to vertical are vertical candidates
_HORIZONTAL_DEG = 20.0
_MIN_LENGTH = 0.06  # of the frame's longer side: shorter segments are texture
_INLIER_DEG = 1.5  # a segment supports a vanishing point when it points at it this closely
_HORIZ_INLIER_DEG = 2.0
_COLLINEAR = 0.012  # segments this close (1.2% of half the longer side) to a line are on it
_AGREE_DEG = 1.5  # horizontals within this of the verticals' roll agree
_PAIR_SEGMENTS = 40  # the longest verticals whose pairs are tried as vanishing points
_MIN_VERTICAL_CONFIDENCE = 0.25  # verticals decide alone from this confidence on


@dataclass(frozen=True)
class RollEstimate:
    """The roll found in one or more frames, how sure it is, and what it came from."""

    roll_deg: float
    confidence: float  # 0..1
    method: str  # verticals | horizontals | combined
    verticals: int = 0  # segments supporting the estimate
    horizontals: int = 0


@dataclass(frozen=True)
class _Segments:
    """Segments in coordinates centred on the image centre, scaled by half the longer side."""

    p1: np.ndarray  # [N, 2]
    p2: np.ndarray  # [N, 2]
    length: np.ndarray  # [N]
    tilt_deg: np.ndarray  # [N] angle from the vertical (top to the right positive) or from horizontal


def _detect(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """LSD segments [N, 4] (x1, y1, x2, y2) of ``gray`` centred and scaled, and the frame's aspect h/w."""
    img = np.asarray(gray)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    h, w = img.shape
    scale = MAX_SIDE / max(h, w)
    if scale < 1.0:
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    sh, sw = img.shape
    found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(img)[0]
    if found is None:
        return np.zeros((0, 4)), sh / sw
    half = max(sh, sw) / 2.0
    seg = found.reshape(-1, 4).astype(np.float64)
    seg[:, [0, 2]] = (seg[:, [0, 2]] - (sw - 1) / 2.0) / half
    seg[:, [1, 3]] = (seg[:, [1, 3]] - (sh - 1) / 2.0) / half
    return seg, sh / sw


def _split(seg: np.ndarray) -> tuple[_Segments, _Segments]:
    """Long near-vertical segments (oriented bottom to top) and long near-horizontal ones (left to right)."""
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    long = length >= 2.0 * _MIN_LENGTH  # the longer side spans 2 in these coordinates
    up = np.where((d[:, 1] > 0)[:, None], -d, d)  # vertical candidates pointing up (y down)
    tilt_v = np.degrees(np.arctan2(up[:, 0], -up[:, 1]))
    right = np.where((d[:, 0] < 0)[:, None], -d, d)
    tilt_h = np.degrees(np.arctan2(right[:, 1], right[:, 0]))
    vert = long & (np.abs(tilt_v) <= _VERTICAL_DEG)
    hori = long & (np.abs(tilt_h) <= _HORIZONTAL_DEG)

    def pick(mask: np.ndarray, tilt: np.ndarray) -> _Segments:
        return _Segments(seg[mask, :2], seg[mask, 2:], length[mask], tilt[mask])

    return pick(vert, tilt_v), pick(hori, tilt_h)


def _lines(s: _Segments) -> np.ndarray:
    """Homogeneous lines [N, 3] through the segments, normalised so (a, b) is a unit normal."""
    ones = np.ones((len(s.length), 1))
    lines = np.cross(np.hstack([s.p1, ones]), np.hstack([s.p2, ones]))
    return lines / np.linalg.norm(lines[:, :2], axis=1, keepdims=True)


def _residual_deg(s: _Segments, vps: np.ndarray) -> np.ndarray:
    """[K, N] angle between each segment and the direction from its midpoint to each vanishing point."""
    mid = (s.p1 + s.p2) / 2.0
    d = s.p2 - s.p1
    # Direction midpoint -> vp for homogeneous vp (x, y, w): (x - w mx, y - w my), up to sign.
    tx = vps[:, :1] - vps[:, 2:] * mid[None, :, 0]
    ty = vps[:, 1:2] - vps[:, 2:] * mid[None, :, 1]
    cross = np.abs(tx * d[None, :, 1] - ty * d[None, :, 0])
    dot = np.abs(tx * d[None, :, 0] + ty * d[None, :, 1])
    return np.degrees(np.arctan2(cross, dot))


def _vanishing_point(s: _Segments) -> tuple[np.ndarray, np.ndarray] | None:
    """The verticals' vanishing point (homogeneous, unit norm) and the inlier mask, or None."""
    n = len(s.length)
    if n < 2:
        return None
    lines = _lines(s)
    top = np.argsort(-s.length)[:_PAIR_SEGMENTS]
    i, j = np.triu_indices(len(top), k=1)
    vps = np.cross(lines[top[i]], lines[top[j]])
    norm = np.linalg.norm(vps, axis=1)
    vps = vps[norm > 1e-12] / norm[norm > 1e-12, None]
    if len(vps) == 0:
        return None
    res = _residual_deg(s, vps)
    score = ((res < _INLIER_DEG) * (1.0 - (res / _INLIER_DEG) ** 2) * s.length[None, :]).sum(axis=1)
    vp = vps[int(np.argmax(score))]
    for _ in range(3):  # least squares on the inliers: the unit v minimising sum w (l . v)^2
        inl = _residual_deg(s, vp[None, :])[0] < _INLIER_DEG
        if inl.sum() < 2:
            return None
        a = lines[inl] * np.sqrt(s.length[inl])[:, None]
        refined = np.linalg.svd(a.T @ a)[2][-1]
        vp = refined if refined @ vp >= 0 else -refined
    return vp, _residual_deg(s, vp[None, :])[0] < _INLIER_DEG


def _saturate(x: float, scale: float) -> float:
    return 1.0 - math.exp(-max(x, 0.0) / scale)


def _from_verticals(s: _Segments, aspect: float) -> tuple[float, float, int] | None:
    """(roll, confidence, inliers) from the verticals' vanishing point."""
    found = _vanishing_point(s)
    if found is None:
        return None
    vp, inl = found
    ux, uy = (vp[0], vp[1]) if vp[1] <= 0 else (-vp[0], -vp[1])  # centre -> vp, pointing up
    roll = math.degrees(math.atan2(ux, -uy))
    height = 2.0 * min(1.0, aspect)  # the frame's height in these coordinates
    support = float(s.length[inl].sum()) / height
    share = float(s.length[inl].sum() / s.length.sum())
    count = int(inl.sum())
    conf = _saturate(support, 1.0) * _saturate(count - 1, 2.0) * (0.5 + 0.5 * share)
    return roll, conf, count


def _dominant_line(s: _Segments) -> tuple[float, np.ndarray]:
    """The angle of the longest straight edge (collinear segments joined: an edge LSD cut in pieces, or
    an aliased one) and the mask of its segments. Its angle is the total-least-squares line through
    their endpoints, weighted by length: finer than any one piece's angle."""
    lines = _lines(s)
    lines *= np.where(lines[:, 1] < 0, -1.0, 1.0)[:, None]  # normals pointing down: comparable
    mid = np.hstack([(s.p1 + s.p2) / 2.0, np.ones((len(s.length), 1))])
    best, best_len = np.zeros(len(s.length), bool), -1.0
    for seed in np.argsort(-s.length)[:10]:
        members = (np.abs(s.tilt_deg - s.tilt_deg[seed]) < _HORIZ_INLIER_DEG) & (np.abs(mid @ lines[seed]) < _COLLINEAR)
        if s.length[members].sum() > best_len:
            best, best_len = members, float(s.length[members].sum())
    pts = np.vstack([s.p1[best], s.p2[best]])
    w = np.concatenate([s.length[best], s.length[best]])
    centred = pts - np.average(pts, axis=0, weights=w)
    direction = np.linalg.eigh((centred * w[:, None]).T @ centred)[1][:, -1]
    direction = direction if direction[0] >= 0 else -direction
    return math.degrees(math.atan2(direction[1], direction[0])), best


def _from_horizontals(s: _Segments, aspect: float) -> tuple[float, float, int] | None:
    """(roll, confidence, segments): the longest horizontal edge, surer when the other edges agree."""
    if len(s.length) == 0:
        return None
    roll, edge = _dominant_line(s)
    width = 2.0 * min(1.0, 1.0 / aspect)  # the frame's width in these coordinates
    agree = np.abs(s.tilt_deg - roll) < _HORIZ_INLIER_DEG
    share = float(s.length[agree].sum() / s.length.sum())
    conf = 0.6 * _saturate(float(s.length[edge].sum()) / width, 0.7) * (0.5 + 0.5 * share)
    return roll, conf, int(agree.sum())


def estimate_level(gray: np.ndarray) -> RollEstimate | None:
    """Roll (deg, clockwise positive) and confidence from one grayscale frame [H, W]; None: no lines."""
    if gray.ndim != 2 or min(gray.shape) < 16:
        return None
    seg, aspect = _detect(gray)
    if len(seg) == 0:
        return None
    verts, horis = _split(seg)
    v = _from_verticals(verts, aspect)
    h = _from_horizontals(horis, aspect)
    if v is not None and (v[1] >= _MIN_VERTICAL_CONFIDENCE or h is None):
        if h is None:
            return RollEstimate(v[0], v[1], "verticals", v[2], 0)
        if abs(h[0] - v[0]) <= _AGREE_DEG:
            conf = 1.0 - (1.0 - v[1]) * (1.0 - 0.5 * h[1])
            return RollEstimate(v[0], conf, "combined", v[2], h[2])
        return RollEstimate(v[0], v[1] * (1.0 - 0.5 * h[1]), "verticals", v[2], 0)
    if h is None:
        return None
    if v is not None and abs(h[0] - v[0]) <= _AGREE_DEG:  # weak verticals that agree
        roll = (v[0] * v[1] + h[0] * h[1]) / (v[1] + h[1])
        return RollEstimate(roll, 1.0 - (1.0 - v[1]) * (1.0 - h[1]), "combined", v[2], h[2])
    conf = h[1] * (1.0 - 0.5 * v[1]) if v is not None else h[1]
    return RollEstimate(h[0], conf, "horizontals", 0, h[2])


def estimate_level_frames(frames: Sequence[np.ndarray]) -> RollEstimate | None:
    """The median roll of several frames' estimates, its confidence lowered when the frames disagree."""
    found = [e for e in (estimate_level(f) for f in frames) if e is not None]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    rolls = np.array([e.roll_deg for e in found])
    roll = float(np.median(rolls))
    spread = float(np.median(np.abs(rolls - roll)))
    conf = float(np.median([e.confidence for e in found])) * len(found) / len(frames)
    conf *= 1.0 / (1.0 + (spread / _AGREE_DEG) ** 2)
    best = min(found, key=lambda e: abs(e.roll_deg - roll))
    return RollEstimate(roll, conf, best.method, best.verticals, best.horizontals)


def estimate_roll(gray: np.ndarray) -> float | None:
    """Roll (deg, clockwise positive) of one frame, or None when no estimate reaches MIN_CONFIDENCE."""
    est = estimate_level(gray)
    return est.roll_deg if est is not None and est.confidence >= MIN_CONFIDENCE else None


def resolve_level(level: LevelConfig, gray: np.ndarray | Sequence[np.ndarray] | None) -> LevelInfo:
    """The roll to apply for the [level] section: off -> 0; manual -> roll_deg; auto -> estimated from
    ``gray`` (a grayscale frame, or several: their median), falling back to roll_deg when there is no
    frame or the estimate's confidence is below MIN_CONFIDENCE."""
    if level.mode == "off":
        return LevelInfo("off", 0.0, "off", method="off")
    if level.mode == "manual":
        return LevelInfo("manual", level.roll_deg, "manual", method="manual")
    if gray is None:
        return LevelInfo("auto", level.roll_deg, "no_edge")
    frames = [gray] if isinstance(gray, np.ndarray) and gray.ndim == 2 else list(gray)
    est = estimate_level_frames(frames)
    if est is None:
        return LevelInfo("auto", level.roll_deg, "no_edge")
    if est.confidence < MIN_CONFIDENCE:
        return LevelInfo("auto", level.roll_deg, "no_edge", confidence=est.confidence, method=est.method)
    return LevelInfo("auto", est.roll_deg, "edge", confidence=est.confidence, method=est.method)
