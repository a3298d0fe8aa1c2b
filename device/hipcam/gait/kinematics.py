"""Landmarks -> sagittal-plane signals (trunk lean, thigh angles, foot positions) and their filtering.

Shared by the offline and live paths. All angles in degrees, after camera-roll correction:
- thigh_deg: hip->knee from the downward vertical, positive when the knee is behind the hip;
- trunk_lean_deg: hip-midpoint->shoulder-midpoint from the upward vertical, positive when the
  shoulders are ahead of the hips;
- heel/toe forward position: (foot x - hip-midpoint x) along the running direction, in trunk lengths;
- heel/toe height: (foot y - hip-midpoint y) in trunk lengths, image y down (the ground is the maximum).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import signal

from hipcam.config.gait import GaitParams
from hipcam.domain import LEG_JOINTS, PRESENCE, VISIBILITY

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


def frame_direction(landmarks_px: np.ndarray) -> int:
    """+1 / -1 / 0 (undecided) for one frame's landmarks [33, >=2] in pixels, by ``direction_votes``."""
    xy = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    ok = np.asarray(np.isfinite(xy).all(axis=1))
    votes = direction_votes(xy[None], ok[None])
    return int(np.sign(float(np.asarray(votes).ravel()[0])))


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


def frame_signals(xy: np.ndarray, ok: np.ndarray, d: int | np.ndarray) -> np.ndarray:
    """Levelled pixel landmarks [N, 33, 2] (+ joint_ok [N, 33]) -> signals [N, len(CHANNELS)].

    d: running direction, +1/-1, or one per frame [N] (identity segments may run either way).
    """
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
    """Per-channel causal sosfilt with state; a channel restarts cleanly after a NaN gap.

    One sample of all channels at a time, vectorized over the channels (transposed direct form II,
    as scipy's sosfilt): a per-channel sosfilt call costs ~0.2 ms each, too much per frame on a Pi.
    """

    def __init__(self, sos: np.ndarray, channels: int) -> None:
        self._sos = np.asarray(sos, dtype=np.float64)
        self._zi0 = signal.sosfilt_zi(sos)  # [sections, 2] steady state for a unit step
        self._z = np.zeros((channels, len(self._sos), 2))
        self._live = np.zeros(channels, dtype=bool)

    def step(self, row: np.ndarray) -> np.ndarray:
        x = np.asarray(row, dtype=np.float64)
        finite = np.isfinite(x)
        start = finite & ~self._live
        # A (re)starting channel begins as if the signal had been constant: no start-up transient.
        self._z[start] = self._zi0[None] * x[start, None, None]
        self._live = finite
        y = np.where(finite, x, 0.0)
        z = self._z
        for k, (b0, b1, b2, _, a1, a2) in enumerate(self._sos):
            xin = y
            y = b0 * xin + z[:, k, 0]
            z0 = b1 * xin - a1 * y + z[:, k, 1]
            z[:, k, 1] = np.where(finite, b2 * xin - a2 * y, z[:, k, 1])
            z[:, k, 0] = np.where(finite, z0, z[:, k, 0])
        return np.where(finite, y, np.nan)


# --- outliers --------------------------------------------------------------------------------

_OUTLIER_JOINTS = tuple(j for leg in LEGS for j in (LEG_JOINTS[leg]["knee"], LEG_JOINTS[leg]["ankle"],
                        LEG_JOINTS[leg]["heel"], LEG_JOINTS[leg]["foot_index"]))  # fmt: skip


def odd_window(frames: float) -> int:
    """An odd window length (>= 1) close to `frames`."""
    n = max(1, round(frames))
    return n if n % 2 else n + 1


def _trailing_median_last(a: np.ndarray, window: int) -> np.ndarray:
    """running_nanmedian(a, window, centered=False), computed for the last sample only (rest NaN)."""
    out = np.full(a.shape, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out[-1] = np.nanmedian(a[-window:], axis=0)
    return out


def running_nanmedian(a: np.ndarray, window: int, centered: bool) -> np.ndarray:
    """Median over `window` samples along axis 0 ignoring NaN (centered, or trailing: ending at each sample).

    Missing samples are left out rather than filled: filling a rejected glitch with its nearest value
    would copy the glitch's edge into the window and drag the median toward it.
    """
    half = window // 2
    before, after = (half, half) if centered else (window - 1, 0)
    pad = np.full((before + a.shape[0] + after, *a.shape[1:]), np.nan)
    pad[before : before + a.shape[0]] = a
    win = np.lib.stride_tricks.sliding_window_view(pad, window, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN
        return np.nanmedian(win, axis=-1)


def outlier_joints(
    xy: np.ndarray, ok: np.ndarray, window: int, threshold: float, centered: bool, last_only: bool = False
) -> np.ndarray:
    """bool [N, 33]: leg joints that jump away from their running median (a Hampel-type test).

    BlazePose briefly snaps a leg onto nearby structures (a treadmill handrail) or swaps the legs for
    a few frames; such a joint sits far (> threshold trunk lengths) from the median of its neighbours.
    centered=True (offline) uses the median of the window around each frame; False (live) the median
    of the window ending at each frame, which lags fast swings and so needs a looser threshold.
    last_only: judge the last frame only (the live path; the other rows come back False).
    """
    n = xy.shape[0]
    out = np.zeros(ok.shape, dtype=bool)
    if n < 3 or window < 3:
        return out
    joints = list(_OUTLIER_JOINTS)
    pts = np.where(ok[:, joints, None], xy[:, joints, :], np.nan)
    if not np.isfinite(pts).any():
        return out
    med = _trailing_median_last(pts, window) if last_only else running_nanmedian(pts, window, centered)
    sh, hp = _mid(np.where(ok[..., None], xy, np.nan), _SHOULDERS), _mid(np.where(ok[..., None], xy, np.nan), _HIPS)
    trunk = np.hypot(*(sh - hp).T)
    scale = float(np.nanmedian(trunk)) if np.isfinite(trunk).any() else np.nan
    if not np.isfinite(scale) or scale <= 0:
        return out
    with np.errstate(invalid="ignore"):
        far = np.hypot(*(pts - med).transpose(2, 0, 1)) > threshold * scale
    out[:, joints] = far
    return out


# --- leg swaps and identity switches ---------------------------------------------------------

_SWAP_JOINTS = ("knee", "ankle", "heel", "foot_index")


def _trunk_scale(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    p = np.where(ok[..., None], xy, np.nan)
    sh, hp = _mid(p, _SHOULDERS), _mid(p, _HIPS)
    return np.hypot(*(sh - hp).T)


def repair_swaps(
    xy: np.ndarray, ok: np.ndarray, window: int, centered: bool, margin: float = 0.6, last_only: bool = False
) -> np.ndarray:
    """bool [N]: frames whose left/right leg labels are swapped; xy and ok are swapped in place there.

    In a side view the two legs overlap and BlazePose sometimes exchanges their labels for a few frames
    (mostly as the swinging leg passes the stance leg). Each leg's knee/ankle/heel/foot tip are compared
    with both legs' running medians (window frames; centered offline, trailing live); when the crossed
    assignment is closer by more than `margin` trunk lengths (each leg's mean joint distance, added over
    the two legs) the labels are exchanged. The medians follow the majority labelling, so a swap shorter
    than half the window is repaired; a whole-clip consistent mislabelling is not (and needs no
    repair). last_only: the live path, judging the last frame against the trailing median only. A
    trailing median lags the legs by half a window, so there the crossed labelling must also be the
    closer one to the previous (already repaired) frame: without that, a fast-moving leg was taken for
    its partner and the wrong labels fed the medians of the following frames.
    """
    n = xy.shape[0]
    swapped = np.zeros(n, dtype=bool)
    if n < 3 or window < 3:
        return swapped
    lj = [LEG_JOINTS["left"][j] for j in _SWAP_JOINTS]
    rj = [LEG_JOINTS["right"][j] for j in _SWAP_JOINTS]
    both = lj + rj
    pts = np.where(ok[:, both, None], xy[:, both, :], np.nan)
    if not np.isfinite(pts).any():
        return swapped
    med = _trailing_median_last(pts, window) if last_only else running_nanmedian(pts, window, centered)
    k = len(_SWAP_JOINTS)

    def cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _nanmean(np.hypot(*(a - b).transpose(2, 0, 1)), axis=1)  # mean joint distance [N]

    with np.errstate(invalid="ignore"):
        same = cost(pts[:, :k], med[:, :k]) + cost(pts[:, k:], med[:, k:])
        cross = cost(pts[:, :k], med[:, k:]) + cost(pts[:, k:], med[:, :k])
        scale = _trunk_scale(xy, ok)
        swapped = np.isfinite(same) & np.isfinite(cross) & (same - cross > margin * scale)
        if last_only and swapped[-1]:
            prev = pts[-2]
            same_prev = cost(pts[-1:, :k], prev[None, :k]) + cost(pts[-1:, k:], prev[None, k:])
            cross_prev = cost(pts[-1:, :k], prev[None, k:]) + cost(pts[-1:, k:], prev[None, :k])
            swapped[-1] = not bool(
                np.isfinite(same_prev[0]) and np.isfinite(cross_prev[0]) and same_prev[0] <= cross_prev[0]
            )
    if swapped.any():
        idx = np.flatnonzero(swapped)
        for a, b in zip([*lj, LEG_JOINTS["left"]["hip"]], [*rj, LEG_JOINTS["right"]["hip"]], strict=True):
            xy[idx, a], xy[idx, b] = xy[idx, b].copy(), xy[idx, a].copy()
            ok[idx, a], ok[idx, b] = ok[idx, b].copy(), ok[idx, a].copy()
    return swapped


def identity_segments(xy: np.ndarray, ok: np.ndarray, max_jump: float = 1.0, max_scale: float = 1.4) -> np.ndarray:
    """int [N]: segment id per frame; a new segment starts where the tracked person changes.

    With several people in view the pose tracker can jump from one to another (the reference outdoor
    clip holds three). Between consecutive frames with a pose, a jump of the hip midpoint by more than
    `max_jump` trunk lengths, or a change of the trunk length by more than a factor `max_scale`, starts
    a new segment; strides never span segments and the ground level is taken per segment.
    """
    p = np.where(ok[..., None], xy, np.nan)
    hp = _mid(p, _HIPS)
    trunk = _trunk_scale(xy, ok)
    seg = np.zeros(xy.shape[0], dtype=np.intp)
    current, last = 0, -1
    for i in range(xy.shape[0]):
        if np.isfinite(hp[i]).all() and np.isfinite(trunk[i]) and trunk[i] > 0:
            if last >= 0:
                jump = float(np.hypot(*(hp[i] - hp[last]))) / max(trunk[i], trunk[last])
                ratio = max(trunk[i], trunk[last]) / min(trunk[i], trunk[last])
                # A plain dropped frame or two does not start a segment; the allowed jump grows with the gap.
                if jump > max_jump * max(1, (i - last) / 3) or ratio > max_scale:
                    current += 1
            last = i
        seg[i] = current
    return seg


def body_width(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """[...]: horizontal shoulder (or hip, the larger) width / trunk length. ~0-0.25 in a side view,
    0.4-0.8 facing the camera; NaN without the joints."""
    p = np.where(ok[..., None], xy, np.nan)
    trunk = np.hypot(*np.moveaxis(_mid(p, _SHOULDERS) - _mid(p, _HIPS), -1, 0))
    widths = np.stack([np.abs(p[..., a, 0] - p[..., b, 0]) for a, b in (_SHOULDERS, _HIPS)], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.max(widths, axis=-1) / trunk


def side_view(xy: np.ndarray, ok: np.ndarray, max_width: float, window: int) -> np.ndarray:
    """bool [N]: the person is seen from the side (body width below max_width trunk lengths), judged on
    the running median over `window` frames (one turned frame does not break a stride). Gait events
    need a side view: facing the camera the feet move sideways in the image, not fore-aft."""
    w = running_nanmedian(body_width(xy, ok), max(1, window), centered=True)
    with np.errstate(invalid="ignore"):
        return ~(w > max_width)  # unknown width (NaN): leave the frame to the other tests
