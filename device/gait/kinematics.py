"""Landmarks -> sagittal-plane signals (trunk lean, thigh angles, foot positions) and their filtering.

Shared by the offline and live paths. All angles in degrees, after camera-roll correction:
- thigh_deg: hip->knee from the downward vertical, positive when the knee is behind the hip;
- trunk_lean_deg: hip-midpoint->shoulder-midpoint from the upward vertical, positive when the
  shoulders are ahead of the hips;
- heel/toe forward position: (foot x - hip-midpoint x) along the running direction, in trunk lengths;
- heel/toe height: (foot y - hip-midpoint y) in trunk lengths, image y down (the ground is the maximum).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from hipcam.gait.params import GaitParams
from hipcam.skeleton import LEG_JOINTS, PRESENCE, VISIBILITY

LEGS: tuple[str, str] = ("left", "right")
CHANNELS: tuple[str, ...] = (
    "trunk_lean",
    "thigh_left",
    "thigh_right",
    "heel_left",
    "heel_right",
    "toe_left",
    "toe_right",
    "heel_y_left",
    "heel_y_right",
    "toe_y_left",
    "toe_y_right",
)
TRUNK = 0
THIGH = {"left": 1, "right": 2}
HEEL = {"left": 3, "right": 4}
TOE = {"left": 5, "right": 6}
HEEL_Y = {"left": 7, "right": 8}
TOE_Y = {"left": 9, "right": 10}
_NOSE, _EARS = 0, (7, 8)
_SHOULDERS, _HIPS = (11, 12), (23, 24)


def joint_ok(landmarks: np.ndarray, params: GaitParams) -> np.ndarray:
    """bool [..., 33]: the joint is finite, visible and present.

    MediaPipe's legacy solution writes presence 0 everywhere; a frame whose presences are all <= 0 is
    taken as "presence not reported" and gated on visibility alone.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    vis, pres = lm[..., VISIBILITY], lm[..., PRESENCE]
    with np.errstate(invalid="ignore"):
        no_presence = np.all(~(pres > 0.0), axis=-1, keepdims=True)
        ok = np.isfinite(lm[..., 0]) & np.isfinite(lm[..., 1]) & (vis >= params.min_visibility)
        return ok & (no_presence | (pres >= params.min_presence))


def _masked(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return np.where(ok[..., None], xy, np.nan)


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """nanmean without the all-NaN warning (an all-NaN slice gives NaN)."""
    finite = np.isfinite(a)
    count = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite, a, 0.0).sum(axis=axis) / np.where(count > 0, count, np.nan)


def direction_votes(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per frame, + when the person faces +x: nose ahead of the ears, toes ahead of the heels."""
    p = _masked(xy, ok)
    ear_x = _nanmean(p[..., list(_EARS), 0], axis=-1)
    votes = [np.sign(p[..., _NOSE, 0] - ear_x)]
    for leg in LEGS:
        j = LEG_JOINTS[leg]
        votes.append(np.sign(p[..., j["foot_index"], 0] - p[..., j["heel"], 0]))
    return np.nansum(np.stack(votes, axis=-1), axis=-1)


def resolve_direction(params: GaitParams, vote_total: float) -> int:
    """+1 (running toward +x, "right") or -1; the config overrides the automatic vote."""
    if params.direction == "right":
        return 1
    if params.direction == "left":
        return -1
    return 1 if vote_total >= 0 else -1


def direction_name(d: int) -> str:
    return "right" if d > 0 else "left"


def _mid(p: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    return _nanmean(p[..., list(pair), :], axis=-2)


def frame_signals(xy: np.ndarray, ok: np.ndarray, d: int) -> np.ndarray:
    """Levelled pixel landmarks [N, 33, 2] (+ joint_ok [N, 33]) -> signals [N, len(CHANNELS)]."""
    p = _masked(np.asarray(xy, dtype=np.float64), ok)
    sh, hp = _mid(p, _SHOULDERS), _mid(p, _HIPS)
    trunk_vec = sh - hp
    trunk_len = np.hypot(trunk_vec[..., 0], trunk_vec[..., 1])
    out = np.full((*xy.shape[:-2], len(CHANNELS)), np.nan)
    out[..., TRUNK] = np.degrees(np.arctan2(d * trunk_vec[..., 0], -trunk_vec[..., 1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        for leg in LEGS:
            j = LEG_JOINTS[leg]
            thigh = p[..., j["knee"], :] - p[..., j["hip"], :]
            out[..., THIGH[leg]] = np.degrees(np.arctan2(-d * thigh[..., 0], thigh[..., 1]))
            out[..., HEEL[leg]] = d * (p[..., j["heel"], 0] - hp[..., 0]) / trunk_len
            out[..., TOE[leg]] = d * (p[..., j["foot_index"], 0] - hp[..., 0]) / trunk_len
            out[..., HEEL_Y[leg]] = (p[..., j["heel"], 1] - hp[..., 1]) / trunk_len
            out[..., TOE_Y[leg]] = (p[..., j["foot_index"], 1] - hp[..., 1]) / trunk_len
    return out


def leg_visibility(landmarks: np.ndarray, leg: str) -> np.ndarray:
    """Mean visibility of the leg's hip, knee, ankle, heel and foot tip, per frame (NaN -> 0)."""
    j = LEG_JOINTS[leg]
    idx = [j["hip"], j["knee"], j["ankle"], j["heel"], j["foot_index"]]
    vis = np.nan_to_num(np.asarray(landmarks[..., idx, VISIBILITY], dtype=np.float64), nan=0.0)
    return np.mean(vis, axis=-1)


def level_axis_angle(angle_deg: np.ndarray | float, d: int, roll_deg: float, up: bool) -> np.ndarray:
    """Roll-correct an angle measured in the raw image (same sign conventions as the signals).

    up=False: from the downward vertical, positive toward the rear (thigh); up=True: from the upward
    vertical, positive toward the front (trunk, back tilt). The axis is rotated by -roll like the points.
    """
    a = np.radians(np.asarray(angle_deg, dtype=np.float64))
    x, y = (d * np.sin(a), -np.cos(a)) if up else (-d * np.sin(a), np.cos(a))
    c, s = np.cos(np.radians(-roll_deg)), np.sin(np.radians(-roll_deg))
    x2, y2 = c * x - s * y, s * x + c * y
    return np.degrees(np.arctan2(d * x2, -y2) if up else np.arctan2(-d * x2, y2))


# --- filtering -------------------------------------------------------------------------------


def design_filter(fps: float, params: GaitParams) -> np.ndarray:
    """Butterworth low-pass (second-order sections); cutoff clamped below 0.4 x fps."""
    cutoff = min(params.filter_cutoff_hz, 0.4 * fps)
    return signal.butter(params.filter_order, cutoff, btype="low", fs=fps, output="sos")


def group_delay_frames(sos: np.ndarray) -> float:
    """Low-frequency group delay of the causal filter, in frames (subtracted from live event times)."""
    b, a = signal.sos2tf(sos)
    _, gd = signal.group_delay((b, a), w=[0.01])
    return float(gd[0])


def fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate interior NaN runs of at most max_gap samples, per column of x [N, C]."""
    out = np.array(x, dtype=np.float64, copy=True)
    n = out.shape[0]
    idx = np.arange(n)
    for c in range(out.shape[1]):
        col = out[:, c]
        bad = ~np.isfinite(col)
        if not bad.any() or bad.all():
            continue
        good = ~bad
        filled = np.interp(idx, idx[good], col[good])
        # Length of each NaN run, to leave long gaps (and the ends) untouched.
        run_id = np.cumsum(good)
        run_len = np.bincount(run_id[bad], minlength=run_id[-1] + 1)
        interior = bad & (run_id > 0) & (run_id < run_id[-1])
        short = interior & (run_len[run_id] <= max_gap)
        col[short] = filled[short]
    return out


def zero_lag(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """sosfiltfilt over each finite stretch of each column (long gaps stay NaN, short ones unfiltered)."""
    out = np.full(x.shape, np.nan)
    padlen_full = 3 * (2 * len(sos) + 1)
    for c in range(x.shape[1]):
        col = x[:, c]
        finite = np.isfinite(col)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.astype(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            seg = col[start:stop]
            if seg.size > padlen_full:
                out[start:stop, c] = signal.sosfiltfilt(sos, seg)
            else:
                out[start:stop, c] = seg
    return out


class CausalFilter:
    """Per-channel causal sosfilt with state; a channel restarts cleanly after a NaN gap."""

    def __init__(self, sos: np.ndarray, channels: int) -> None:
        self._sos = sos
        self._zi0 = signal.sosfilt_zi(sos)  # steady-state for a unit step
        self._zi: list[np.ndarray | None] = [None] * channels

    def step(self, row: np.ndarray) -> np.ndarray:
        out = np.full(row.shape, np.nan)
        for c, value in enumerate(row):
            if not np.isfinite(value):
                self._zi[c] = None
                continue
            zi = self._zi[c]
            if zi is None:
                zi = self._zi0 * value  # start as if the signal had been constant: no start-up transient
            y, self._zi[c] = signal.sosfilt(self._sos, [value], zi=zi)
            out[c] = y[0]
        return out


# --- outliers --------------------------------------------------------------------------------

_OUTLIER_JOINTS = tuple(j for leg in LEGS for j in (LEG_JOINTS[leg]["knee"], LEG_JOINTS[leg]["ankle"],
                        LEG_JOINTS[leg]["heel"], LEG_JOINTS[leg]["foot_index"]))  # fmt: skip


def odd_window(frames: float) -> int:
    """An odd window length (>= 1) close to `frames`."""
    n = max(1, round(frames))
    return n if n % 2 else n + 1


def _fill_nearest(a: np.ndarray) -> np.ndarray:
    """Replace NaN along axis 0 by the nearest finite sample (only to feed the median filter)."""
    out = a.copy()
    flat = out.reshape(out.shape[0], -1)
    idx = np.arange(flat.shape[0])
    for c in range(flat.shape[1]):
        good = np.isfinite(flat[:, c])
        if good.any() and not good.all():
            nearest = np.interp(idx, idx[good], idx[good])
            flat[:, c] = flat[np.rint(nearest).astype(np.intp), c]
    return out


def outlier_joints(xy: np.ndarray, ok: np.ndarray, window: int, threshold: float, centered: bool) -> np.ndarray:
    """bool [N, 33]: leg joints that jump away from their running median (a Hampel-type test).

    BlazePose briefly snaps a leg onto nearby structures (a treadmill handrail) or swaps the legs for
    a few frames; such a joint sits far (> threshold trunk lengths) from the median of its neighbours.
    centered=True (offline) uses the median of the window around each frame; False (live) the median
    of the window ending at each frame, which lags fast swings and so needs a looser threshold.
    """
    n = xy.shape[0]
    out = np.zeros(ok.shape, dtype=bool)
    if n < 3 or window < 3:
        return out
    joints = list(_OUTLIER_JOINTS)
    pts = np.where(ok[:, joints, None], xy[:, joints, :], np.nan)
    if not np.isfinite(pts).any():
        return out
    filled = _fill_nearest(pts)
    origin = 0 if centered else window // 2
    med = ndimage.median_filter(filled, size=(window, 1, 1), mode="nearest", origin=(origin, 0, 0))
    sh, hp = _mid(np.where(ok[..., None], xy, np.nan), _SHOULDERS), _mid(np.where(ok[..., None], xy, np.nan), _HIPS)
    trunk = np.hypot(*(sh - hp).T)
    scale = float(np.nanmedian(trunk)) if np.isfinite(trunk).any() else np.nan
    if not np.isfinite(scale) or scale <= 0:
        return out
    with np.errstate(invalid="ignore"):
        far = np.hypot(*(pts - med).transpose(2, 0, 1)) > threshold * scale
    out[:, joints] = far
    return out
