"""Per-frame measures taken from BlazePose's person-segmentation mask (pure numpy, no I/O).

The landmarks alone cannot see the lower back, and BlazePose tends to put the hip landmark high (at
the waistband) with loose shorts. The segmentation mask shows the body's outline, so two things are
measured on it, each frame, in a cropped and downsampled band (cheap enough for a Pi):

``lumbar_depth_ratio``
    The back outline is traced between the shoulder level and just below the hip level (the buttock),
    on the side opposite the running direction: for each sampled row, starting on the trunk's centre
    line (shoulder-midpoint to hip-midpoint), walk backward to the first background pixel. The outline
    is a profile r(y) = how far behind the centre line the back is. Its upper convex hull bridges the
    upper back (thoracic bulge) and the buttock; the largest gap between that hull and the outline is
    the lumbar concavity depth, divided by the trunk length (shoulder-mid to hip-mid). A flat back gives
    ~0.02-0.04 on the synthetic silhouette; real runners read 0.1-0.2 (buttock, clothing, and a forearm
    behind the back that the arm test misses), so it is reported as information only.
``lower_back_depth_ratio``
    How far the buttock sticks out behind the deepest point of the lower back: on the profile from 45 %
    of shoulder->hip down to 0.1 trunk lengths below the hip, the rearmost point from 80 % down (the
    buttock) minus the most forward point above it, / trunk length. No upper back, so an arm swung
    behind it does not matter; rows near an arm behind the back are dropped with a margin. Its absolute
    value is build and clothing; the gait code uses its change within a stride (strides.lumbar_arch).
``back_tilt_deg``
    Angle of the chord from the buttock to the upper-back hull point, from the upward vertical,
    positive when the upper back is ahead of the buttock (same sign convention as the trunk lean).
``thigh_mask_deg_left`` / ``thigh_mask_deg_right``
    Thigh axis from the outline: on rows from 35 % to 85 % of the landmark hip->knee segment (below the
    buttock, above the knee), the mask run that contains the landmark line is found and its centre
    taken; a line is fitted through the centres. Angle from the downward vertical, positive when the
    knee is behind the hip. It does not depend on where the hip landmark sits, so where it disagrees
    with the landmark thigh angle the hip landmark is off the thigh axis (see docs/gait.md).

Limits: needs a side view and a clean mask (a busy background, a treadmill handrail or a second person
touching the runner corrupt it). Rows where an arm lies behind the back are dropped, since the outline
there is the arm's, so the lumbar measure is NaN in frames where an arm covers the lower back (the
gait analysis takes a median over the stride). Baggy clothing hides the true spine line, so the depth
reads low with a loose top. Thigh runs wider than half the trunk length (the two thighs merged, around
mid-stance) are dropped, so the thigh measure is mostly available around toe-off, where it matters. No
roll correction is applied here: the gait code rotates the angles with the landmarks.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from hipcam.domain import (
    ARMS,
    BACK_TILT,
    HANDS,
    HIPS,
    LEG_JOINTS,
    LEGS,
    LOWER_BACK_DEPTH,
    LUMBAR_DEPTH,
    MASK_FEATURES,
    SHOULDERS,
    THIGH_MASK_LEFT,
    THIGH_MASK_RIGHT,
)

FEATURE_NAMES = MASK_FEATURES
_SHOULDERS, _HIPS = SHOULDERS, HIPS
_ARMS, _HANDS = ARMS, HANDS
_LEGS: dict[str, tuple[int, int]] = {leg: (LEG_JOINTS[leg]["hip"], LEG_JOINTS[leg]["knee"]) for leg in LEGS}
_LOWER_BACK = (0.45, 1.1)  # rows of the lower-back profile, as fractions of shoulder-mid -> hip-mid
_BUTTOCK_FROM = 0.8  # the buttock is the rearmost point of the profile from this fraction down
_ARM_MARGIN = 0.1  # trunk lengths: rows this close to an arm's rows behind the back are dropped too
_ROWS_PER_TRUNK = 48  # sampled rows along the trunk; edges are interpolated below one step
_THRESHOLD = 0.5  # mask probability taken as "person"


def _nan() -> np.ndarray:
    return np.full(len(FEATURE_NAMES), np.nan, dtype=np.float32)


def _edge_distance(
    mask: np.ndarray, rows: np.ndarray, start_x: np.ndarray, sign: int, reach: float, step: int
) -> np.ndarray:
    """Per row, distance (px) from start_x along sign*x to where the mask drops below 0.5.

    Samples every `step` px (the downsampling) and interpolates the soft mask between the last person
    sample and the first background one for sub-step precision. NaN where the start is not on the
    body, or the edge lies beyond `reach` or the image border (unknown, not "far").
    """
    h, w = mask.shape
    k = np.arange(0.0, reach, step)
    cols = np.rint(start_x)[:, None] + sign * k[None, :]
    inside = (cols >= 0) & (cols < w)
    rows_i = np.clip(np.rint(rows), 0, h - 1).astype(np.intp)
    prob = np.where(inside, mask[rows_i[:, None], np.clip(cols, 0, w - 1).astype(np.intp)], 0.0)
    person = prob > _THRESHOLD
    first_bg = np.argmin(person, axis=1)
    last_in = np.maximum(first_bg - 1, 0)
    idx = np.arange(len(rows))
    p_in, p_out = prob[idx, last_in], prob[idx, first_bg]
    frac = np.clip((p_in - _THRESHOLD) / np.maximum(p_in - p_out, 1e-6), 0.0, 1.0)
    dist = (last_in + frac) * step
    # The image border reads as background (prob 0 outside): an edge found there is not an outline.
    bad = ~person[:, 0] | person.all(axis=1) | ~inside[idx, first_bg] | ~np.isfinite(start_x)
    return np.where(bad, np.nan, dist)


def _polyline_x(points: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x of a 2-segment polyline at each y (NaN where the polyline does not span that row)."""
    out = np.full(y.shape, np.nan)
    for a, b in ((points[0], points[1]), (points[1], points[2])):
        lo, hi = sorted((a[1], b[1]))
        if not np.all(np.isfinite([a[0], a[1], b[0], b[1]])) or hi - lo < 1e-6:
            continue
        sel = (y >= lo) & (y <= hi)
        out[sel] = a[0] + (y[sel] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
    return out


def _upper_hull_gap(y: np.ndarray, r: np.ndarray) -> tuple[float, float, float]:
    """Largest gap under the upper convex hull of (y, r); also the chord's end points' slope terms."""
    # Andrew's monotone chain, upper hull only: the rearmost bulges (upper back, buttock).
    hull: list[int] = []
    for i in range(len(y)):
        while len(hull) >= 2:
            i0, i1 = hull[-2], hull[-1]
            cross = (y[i1] - y[i0]) * (r[i] - r[i0]) - (r[i1] - r[i0]) * (y[i] - y[i0])
            if cross >= 0:  # i1 lies on or under the chord i0->i: not on the upper hull
                hull.pop()
            else:
                break
        hull.append(i)
    hull_r = np.interp(y, y[hull], r[hull])
    gap = hull_r - r
    j = int(np.argmax(gap))
    # The chord spanning the deepest point: its end points give the back's tilt.
    pos = int(np.searchsorted(y[hull], y[j]))
    a = hull[max(pos - 1, 0)]
    b = hull[min(pos, len(hull) - 1)]
    return float(gap[j]), float(y[b] - y[a]), float(r[b] - r[a])


def _lumbar(mask: np.ndarray, lm: np.ndarray, d: int, trunk: float, step: int) -> tuple[float, float]:
    sh = np.nanmean(lm[list(_SHOULDERS), :2], axis=0)
    hp = np.nanmean(lm[list(_HIPS), :2], axis=0)
    axis = hp - sh
    y_top = sh[1] + 0.1 * axis[1]  # skip the shoulder's own curvature
    y_bot = hp[1] + 0.1 * trunk  # the buttock; lower rows meet the rear thigh, which is not the back
    rows = np.arange(np.floor(y_top), np.ceil(y_bot), step)
    if rows.size < 8 or axis[1] <= 0:
        return np.nan, np.nan
    center = sh[0] + (rows - sh[1]) * axis[0] / axis[1]
    prof = _edge_distance(mask, rows, center, -d, 0.8 * trunk, step)
    for arm in _ARMS:
        arm_x = _polyline_x(lm[list(arm), :2], rows)
        arm_back = -d * (arm_x - center)  # how far behind the centre line the arm is
        covered = np.isfinite(arm_back) & (arm_back > 0.1 * trunk) & (prof >= arm_back - 0.12 * trunk)
        prof[covered] = np.nan
    ok = np.isfinite(prof)
    if ok.mean() < 0.6:
        return np.nan, np.nan
    y, r = rows[ok].astype(np.float64), prof[ok]
    gap, dy, dr = _upper_hull_gap(y, r)
    # dr > 0 when the lower point (buttock) is further back: the upper back is then ahead.
    tilt = float(np.degrees(np.arctan2(dr, dy))) if dy > 0 else np.nan
    return gap / trunk, tilt


def _arm_rows(
    lm: np.ndarray, rows: np.ndarray, center: np.ndarray, prof: np.ndarray, d: int, trunk: float
) -> np.ndarray:
    """bool per row: the back outline there may be an arm's (elbow, forearm or hand behind the back).

    Rows where the shoulder-elbow-wrist-hand line lies > 0.1 trunk lengths behind the centre line and
    the outline reaches near it, widened by _ARM_MARGIN: the forearm and fist are thick, and their
    lower edge lies below the wrist landmark (on the lab clip the far forearm's underside, 3-5 px below
    the polyline, made a 0.1-0.15 deep false "concavity" at every near-leg push-off).
    """
    covered = np.zeros(rows.shape, dtype=bool)
    for arm, hand in zip(_ARMS, _HANDS, strict=True):
        pts = lm[list(arm), :2]
        hand_pts = lm[list(hand), :2]
        if np.isfinite(hand_pts).all():
            pts = np.vstack([pts, hand_pts.mean(axis=0)[None]])
        for a, b in itertools.pairwise(pts):
            x = _polyline_x(np.vstack([a, b, b]), rows)
            behind = -d * (x - center)
            covered |= np.isfinite(behind) & (behind > 0.1 * trunk) & (prof >= behind - 0.12 * trunk)
    if covered.any():
        idx = np.flatnonzero(covered)
        near = np.abs(rows[:, None] - rows[idx][None, :]).min(axis=1) <= _ARM_MARGIN * trunk
        covered |= near
    return covered


def _lower_back(mask: np.ndarray, lm: np.ndarray, d: int, trunk: float, step: int) -> float:
    """How far the buttock sticks out behind the deepest point of the lower back, / trunk length.

    Only the profile from the mid-back down to just below the hip is used, where the arms rarely
    reach, and its own upper back is not needed (the upper-hull measure's weak point). The absolute
    value is mostly build and clothing; its change within a stride tracks the lumbo-pelvic extension
    (anterior pelvic tilt pushes the buttock back, lumbar extension pulls the waist forward).
    """
    sh = np.nanmean(lm[list(_SHOULDERS), :2], axis=0)
    hp = np.nanmean(lm[list(_HIPS), :2], axis=0)
    axis = hp - sh
    if axis[1] <= 0:
        return np.nan
    rows = np.arange(np.floor(sh[1] + _LOWER_BACK[0] * axis[1]), np.ceil(sh[1] + _LOWER_BACK[1] * axis[1]), step)
    if rows.size < 6:
        return np.nan
    center = sh[0] + (rows - sh[1]) * axis[0] / axis[1]
    prof = _edge_distance(mask, rows, center, -d, 0.8 * trunk, step)
    prof[_arm_rows(lm, rows, center, prof, d, trunk)] = np.nan
    ok = np.isfinite(prof)
    along = (rows - sh[1]) / axis[1]
    buttock = ok & (along >= _BUTTOCK_FROM)
    if ok.mean() < 0.6 or not buttock.any():
        return np.nan
    ib = int(np.flatnonzero(buttock)[np.argmax(prof[buttock])])
    above = ok & (np.arange(rows.size) < ib)
    if above.sum() < 3:
        return np.nan
    return float((prof[ib] - np.min(prof[above])) / trunk)


def _thigh_axis(mask: np.ndarray, hip: np.ndarray, knee: np.ndarray, d: int, trunk: float, step: int) -> float:
    seg = knee - hip
    if not np.all(np.isfinite(seg)) or seg[1] <= 0.2 * trunk:
        return np.nan
    rows = np.arange(hip[1] + 0.35 * seg[1], hip[1] + 0.85 * seg[1], step)
    if rows.size < 4:
        return np.nan
    xs = hip[0] + (rows - hip[1]) * seg[0] / seg[1]  # the landmark thigh line, used as a seed only
    to_plus = _edge_distance(mask, rows, xs, 1, 0.35 * trunk, step)
    to_minus = _edge_distance(mask, rows, xs, -1, 0.35 * trunk, step)
    centers = xs + (to_plus - to_minus) / 2.0
    widths = to_plus + to_minus
    centers[widths > 0.5 * trunk] = np.nan  # both thighs merged: not this thigh's axis
    centers[_clothed(widths, np.isfinite(centers))] = np.nan
    ok = np.isfinite(centers)
    # The axis needs a long enough stretch of bare thigh: a short one below a hem gives a slope off by
    # more than the landmarks' (unmeasurable is better than wrong; the hip calibration covers it).
    if ok.sum() < 4 or np.ptp(rows[ok]) < _MIN_AXIS_SPAN * seg[1]:
        return np.nan
    slope = stats.theilslopes(centers[ok], rows[ok]).slope  # dx/dy along the thigh, robust to odd rows
    return float(np.degrees(np.arctan(-d * slope)))


_CLOTHED_WIDTH = 1.3  # a row this much wider than the bare thigh below is clothing (loose shorts)
_MIN_AXIS_SPAN = 0.2  # of the hip->knee height: the rows the axis is fitted on must span this much


def _clothed(widths: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Rows whose outline is widened by loose shorts: wider than _CLOTHED_WIDTH x the thigh's width
    on the lowest third of the rows (nearest the knee, below any hem). Loose shorts flare behind the
    extending thigh and the centres of their rows lean with them: 9-20 deg too extended on the
    synthetic silhouette with a flare of 0.08-0.25 trunk lengths."""
    idx = np.flatnonzero(ok)
    if idx.size < 6:
        return np.zeros(widths.shape, dtype=bool)
    bare = float(np.median(widths[idx[-max(2, idx.size // 3) :]]))
    with np.errstate(invalid="ignore"):
        return ok & (widths > _CLOTHED_WIDTH * bare)


def measure_normalized(mask: np.ndarray, landmarks: np.ndarray, d: int) -> np.ndarray:
    """``measure`` with landmarks normalized to the mask's width and height (as the pose model gives them)."""
    px = np.asarray(landmarks, dtype=np.float64).copy()
    px[:, 0] *= mask.shape[1]
    px[:, 1] *= mask.shape[0]
    return measure(mask, px, d)


def measure(mask: np.ndarray, landmarks_px: np.ndarray, d: int) -> np.ndarray:
    """Measure FEATURE_NAMES on one frame.

    mask: person-segmentation probability in image space, float [H, W] (values 0..1).
    landmarks_px: [33, 5] BlazePose landmarks with x, y in pixels of that image.
    d: the running direction in the image, +1 toward +x, -1 toward -x (hipcam.gait.kinematics decides it).
    Returns float32 [len(FEATURE_NAMES)], NaN for anything that cannot be measured on this frame.
    """
    out = _nan()
    if mask.ndim != 2 or landmarks_px.shape[0] < 33 or landmarks_px.shape[-1] < 2 or mask.size == 0:
        return out
    lm = np.asarray(landmarks_px, dtype=np.float64)
    if not np.isfinite(lm[list(_SHOULDERS + _HIPS), :2]).all():
        return out
    sh = lm[list(_SHOULDERS), :2].mean(axis=0)
    hp = lm[list(_HIPS), :2].mean(axis=0)
    trunk = float(np.hypot(*(hp - sh)))
    if not np.isfinite(trunk) or trunk < 12.0 or d == 0:
        return out
    step = max(1, int(trunk / _ROWS_PER_TRUNK))
    with np.errstate(invalid="ignore"):
        out[LUMBAR_DEPTH], out[BACK_TILT] = _lumbar(mask, lm, d, trunk, step)
        out[LOWER_BACK_DEPTH] = _lower_back(mask, lm, d, trunk, step)
        for idx, leg in ((THIGH_MASK_LEFT, "left"), (THIGH_MASK_RIGHT, "right")):
            hip_i, knee_i = _LEGS[leg]
            out[idx] = _thigh_axis(mask, lm[hip_i, :2], lm[knee_i, :2], d, trunk, step)
    return out
