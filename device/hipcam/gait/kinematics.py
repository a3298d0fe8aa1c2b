"""Landmarks -> sagittal-plane signals (trunk lean, thigh angles, foot positions), and the per-frame
repairs and tests on the landmarks (outliers, leg swaps, identity switches, side view).

Shared by the offline and live paths (their filters: hipcam.gait.filters). All angles in degrees, after camera-roll correction:
- thigh_deg: hip->knee from the downward vertical, positive when the knee is behind the hip;
- trunk_lean_deg: hip->shoulder from the upward vertical, positive when the shoulders are ahead of the
  hips; per side (TRUNK_SIDE: the near side is the clinician's line, greater trochanter to acromion,
  Souza 2016) and from the midpoints (TRUNK: both sides, the far one guessed by BlazePose);
- heel/toe forward position: (foot x - hip-midpoint x) along the running direction, in trunk lengths;
- heel/toe height: (foot y - hip-midpoint y) in trunk lengths, image y down (the ground is the maximum);
- foot inclination, shank angle, knee flexion: see FOOT_INCL, SHANK, KNEE_FLEX (docs/side-view-metrics.md).
"""

from __future__ import annotations

import numpy as np

from hipcam.config.gait import GaitParams
from hipcam.domain import EARS, HIPS, LEG_JOINTS, LEGS, PRESENCE, SHOULDERS, VISIBILITY, Landmark
from hipcam.gait.filters import odd_window, running_nanmedian, trailing_nanmedian_last

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
    "trunk_lean_left",
    "trunk_lean_right",
    "pelvis_up",
    "ankle_gap",
    "foot_incl_left",
    "foot_incl_right",
    "shank_left",
    "shank_right",
    "knee_flex_left",
    "knee_flex_right",
    "trunk_px",
)
TRUNK = 0
THIGH = {"left": 1, "right": 2}
HEEL = {"left": 3, "right": 4}
TOE = {"left": 5, "right": 6}
HEEL_Y = {"left": 7, "right": 8}
TOE_Y = {"left": 9, "right": 10}
TRUNK_SIDE = {"left": 11, "right": 12}  # one side's hip -> shoulder (the clinician's line on the near side)
# Walking vs running (gait.locomotion): the hip midpoint's height and the left ankle's lead on the right
# one, in levelled pixels (only their correlation is used, so no scale is needed).
PELVIS_UP, ANKLE_GAP = 13, 14
# The side-view metric set (gait.side_metrics): heel -> foot tip against the levelled ground (+ toes up),
# knee -> ankle from the downward vertical (+ ankle ahead of the knee), knee flexion (180 - the
# hip-knee-ankle angle, < 0 bent backward), and the trunk length in levelled pixels (a scale per frame).
FOOT_INCL = {"left": 15, "right": 16}
SHANK = {"left": 17, "right": 18}
KNEE_FLEX = {"left": 19, "right": 20}
TRUNK_PX = 21


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
    ear_x = _nanmean(p[..., list(EARS), 0], axis=-1)
    votes = [np.sign(p[..., Landmark.NOSE, 0] - ear_x)]
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
    sh, hp = _mid(p, SHOULDERS), _mid(p, HIPS)
    trunk_vec = sh - hp
    trunk_len = np.hypot(trunk_vec[..., 0], trunk_vec[..., 1])
    out = np.full((*xy.shape[:-2], len(CHANNELS)), np.nan)
    out[..., TRUNK] = np.degrees(np.arctan2(d * trunk_vec[..., 0], -trunk_vec[..., 1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        for leg in LEGS:
            j = LEG_JOINTS[leg]
            side = p[..., j["shoulder"], :] - p[..., j["hip"], :]
            out[..., TRUNK_SIDE[leg]] = np.degrees(np.arctan2(d * side[..., 0], -side[..., 1]))
            thigh = p[..., j["knee"], :] - p[..., j["hip"], :]
            out[..., THIGH[leg]] = np.degrees(np.arctan2(-d * thigh[..., 0], thigh[..., 1]))
            out[..., HEEL[leg]] = d * (p[..., j["heel"], 0] - hp[..., 0]) / trunk_len
            out[..., TOE[leg]] = d * (p[..., j["foot_index"], 0] - hp[..., 0]) / trunk_len
            out[..., HEEL_Y[leg]] = (p[..., j["heel"], 1] - hp[..., 1]) / trunk_len
            out[..., TOE_Y[leg]] = (p[..., j["foot_index"], 1] - hp[..., 1]) / trunk_len
            _leg_angles(out, p, leg, d)
    out[..., PELVIS_UP] = -hp[..., 1]
    out[..., TRUNK_PX] = trunk_len
    left, right = LEG_JOINTS["left"]["ankle"], LEG_JOINTS["right"]["ankle"]
    out[..., ANKLE_GAP] = d * (p[..., left, 0] - p[..., right, 0])
    return out


def _leg_angles(out: np.ndarray, p: np.ndarray, leg: str, d: int | np.ndarray) -> None:
    """The leg's foot inclination, shank angle and knee flexion (deg) into `out`, in place."""
    j = LEG_JOINTS[leg]
    foot = p[..., j["foot_index"], :] - p[..., j["heel"], :]
    thigh = p[..., j["knee"], :] - p[..., j["hip"], :]
    shank = p[..., j["ankle"], :] - p[..., j["knee"], :]
    out[..., FOOT_INCL[leg]] = np.degrees(np.arctan2(-foot[..., 1], d * foot[..., 0]))
    forward_of_down = np.degrees(np.arctan2(d * shank[..., 0], shank[..., 1]))
    out[..., SHANK[leg]] = forward_of_down
    # Thigh minus shank, both from the downward vertical and + forward: > 0 the shank swings back.
    flex = np.degrees(np.arctan2(d * thigh[..., 0], thigh[..., 1])) - forward_of_down
    out[..., KNEE_FLEX[leg]] = (flex + 180.0) % 360.0 - 180.0


def leg_visibility(landmarks: np.ndarray, leg: str) -> np.ndarray:
    """Mean visibility of the leg's hip, knee, ankle, heel and foot tip, per frame (NaN -> 0)."""
    j = LEG_JOINTS[leg]
    idx = [j["hip"], j["knee"], j["ankle"], j["heel"], j["foot_index"]]
    vis = np.nan_to_num(np.asarray(landmarks[..., idx, VISIBILITY], dtype=np.float64), nan=0.0)
    return np.mean(vis, axis=-1)


_NEAR_MARGIN = 0.02  # below this (depth, or visibility) the two sides are not told apart


def nearness(landmarks: np.ndarray) -> np.ndarray:
    """[..., 2] per frame: (depth of the left shoulder and hip minus the right's, i.e. > 0 when the right
    side is nearer the camera; left minus right leg visibility, > 0 when the left is seen better).
    BlazePose's relative depth z tells the sides apart far more clearly than visibility on a side
    view (0.2-0.35 trunk widths on the lab clip, against visibility differences of 0-0.1)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    left = [Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP]
    right = [Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP]
    depth = np.mean(lm[..., left, 2] - lm[..., right, 2], axis=-1)
    vis = leg_visibility(lm, "left") - leg_visibility(lm, "right")
    return np.stack([depth, vis], axis=-1)


def near_side(score: np.ndarray) -> str | None:
    """The side nearer the camera from a `nearness` pair (a median over frames, or a running mean):
    depth first; visibility where the depths do not differ (a model that reports no depth)."""
    depth, vis = (float(v) for v in score)
    if np.isfinite(depth) and abs(depth) >= _NEAR_MARGIN:
        return "right" if depth > 0 else "left"
    if np.isfinite(vis) and abs(vis) >= _NEAR_MARGIN:
        return "left" if vis > 0 else "right"
    return None


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


# --- outliers --------------------------------------------------------------------------------

_OUTLIER_JOINTS = tuple(LEG_JOINTS[leg][j] for leg in LEGS for j in ("knee", "ankle", "heel", "foot_index"))


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
    med = trailing_nanmedian_last(pts, window) if last_only else running_nanmedian(pts, window, centered)
    sh, hp = _mid(np.where(ok[..., None], xy, np.nan), SHOULDERS), _mid(np.where(ok[..., None], xy, np.nan), HIPS)
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


def trunk_lengths(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """[N]: shoulder midpoint to hip midpoint (px) per frame, NaN without the joints."""
    p = np.where(ok[..., None], xy, np.nan)
    sh, hp = _mid(p, SHOULDERS), _mid(p, HIPS)
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
    med = trailing_nanmedian_last(pts, window) if last_only else running_nanmedian(pts, window, centered)
    k = len(_SWAP_JOINTS)

    def cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _nanmean(np.hypot(*(a - b).transpose(2, 0, 1)), axis=1)  # mean joint distance [N]

    with np.errstate(invalid="ignore"):
        same = cost(pts[:, :k], med[:, :k]) + cost(pts[:, k:], med[:, k:])
        cross = cost(pts[:, :k], med[:, k:]) + cost(pts[:, k:], med[:, :k])
        scale = trunk_lengths(xy, ok)
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
    hp = _mid(p, HIPS)
    trunk = trunk_lengths(xy, ok)
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


# Body width is judged on its median over this long: a runner's shoulders turn with the arm swing
# (0.39-0.41 trunk lengths for a few frames each stride on the home clip, in a plain side view), while
# turning to face the camera takes far longer.
SIDE_VIEW_WINDOW_S = 1.0


def body_width(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """[...]: horizontal shoulder (or hip, the larger) width / trunk length. ~0-0.25 in a side view,
    0.4-0.8 facing the camera; NaN without the joints."""
    p = np.where(ok[..., None], xy, np.nan)
    trunk = np.hypot(*np.moveaxis(_mid(p, SHOULDERS) - _mid(p, HIPS), -1, 0))
    widths = np.stack([np.abs(p[..., a, 0] - p[..., b, 0]) for a, b in (SHOULDERS, HIPS)], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.max(widths, axis=-1) / trunk


def side_view(xy: np.ndarray, ok: np.ndarray, max_width: float, window: int) -> np.ndarray:
    """bool [N]: the person is seen from the side (body width below max_width trunk lengths), judged on
    the running median over `window` frames (one turned frame does not break a stride). Gait events
    need a side view: facing the camera the feet move sideways in the image, not fore-aft."""
    w = running_nanmedian(body_width(xy, ok), max(1, window), centered=True)
    with np.errstate(invalid="ignore"):
        return ~(w > max_width)  # unknown width (NaN): leave the frame to the other tests


def clean_pose(xy: np.ndarray, ok: np.ndarray, fps: float, params: GaitParams) -> None:
    """The repairs before any measure, in place on levelled landmarks [N, 33, 2] and joint_ok [N, 33]:
    leg-label swaps, then glitching leg joints (twice: the second pass sees a median no longer dragged
    by the worst glitches). Centered windows; live runs it over its buffer, so both paths see the same."""
    window = odd_window(params.outlier_window_s * fps)
    repair_swaps(xy, ok, window, centered=True)
    for _ in range(2):
        ok &= ~outlier_joints(xy, ok, window, params.outlier_threshold, centered=True)
