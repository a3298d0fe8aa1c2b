"""Stride measurement shared by the offline and live paths, and the result types."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hipcam.config.gait import GaitParams
from hipcam.domain import LOWER_BACK_DEPTH, LUMBAR_DEPTH, RUNNING, THIGH_MASK, UNKNOWN, WALKING, other_leg
from hipcam.gait.classify import arch_margin, classify
from hipcam.gait.events import FootEvent
from hipcam.gait.kinematics import THIGH, TRUNK, TRUNK_SIDE, level_axis_angle
from hipcam.gait.locomotion import pelvis_gait_correlation, stride_locomotion
from hipcam.gait.side_metrics import SideMetrics, side_metrics
from hipcam.gait.timing import StepTiming

_PEAK_HALF_WINDOW_S = 0.04  # the mask thigh is pooled this close to the peak thigh frame
_NEUTRAL_SHARE = 0.25  # the stride's least-extended quarter (by the more extended thigh) is the reference
_MIN_LUMBAR_SAMPLES = 2  # measured mask frames needed in each of the two windows


@dataclass
class BackArch:
    detected: bool
    lumbar_depth_ratio: float | None  # absolute upper-hull outline depth (stride median): information only
    trunk_back_tilt_deg: float  # how far the trunk tips backward at peak extension (< 0: leaning forward)
    # The mask's D measure (trunk lengths): lower-back depth at peak thigh extension minus that in the
    # stride's least-extended phase; > 0 = the back arches as the thigh extends. None: not measurable.
    lumbar_arch_change: float | None = None
    lower_back_depth_peak: float | None = None  # median within lumbar_window_s of the peak thigh frame
    lower_back_depth_neutral: float | None = None  # median over the stride's least-extended quarter


@dataclass
class Stride:
    leg: str
    foot_strike_frame: int
    toe_off_frame: int | None
    end_frame: int  # the next foot strike of the same leg
    peak_frame: int | None
    thigh_peak_deg: float
    trunk_lean_deg: float
    hip_extension_deg: float
    back_arch: BackArch
    cls: str
    confidence: float
    duration_s: float
    stance_s: float | None
    swing_s: float | None
    thigh_source: str = "landmarks"  # or "mask" when the outline's thigh axis was used (at toe-off)
    thigh_landmark_deg: float = math.nan  # the landmarks' thigh angle at toe-off
    # At toe-off, the clinical measure (the class is decided on these); trunk from the near side.
    thigh_at_toe_off_deg: float = math.nan
    trunk_lean_at_toe_off_deg: float = math.nan
    hip_extension_at_toe_off_deg: float = math.nan
    hip_extension_uncertainty_deg: float = math.nan  # from landmark jitter and confidence, mask disagreement
    trunk_lean_midpoints_deg: float = math.nan  # at toe-off, hip midpoint -> shoulder midpoint
    reason: str = ""  # why the stride is 'unknown'
    locomotion: str = RUNNING  # domain.Locomotion; a walking stride is never classified (gait.locomotion)
    pelvis_gait_r: float = math.nan  # the correlation it was decided on
    side: SideMetrics = field(default_factory=SideMetrics)  # the side-view metric set (gait.side_metrics)


@dataclass
class GaitReport:
    fps: float
    frames: int
    frames_with_pose: int
    direction: str
    roll_deg: float
    near_leg: str | None
    events: list[FootEvent]
    strides: list[Stride]
    timing: StepTiming  # cadence (steps counted over elapsed time), stance and flight


def _nanmedian(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


@dataclass(frozen=True)
class StrideWindow:
    """One stride [start, end) of `leg` and the arrays it is measured on, timed by the caller (offline
    from frame counts, see `counted_times`; live from the frames' timestamps).

    filtered: signals [n, CHANNELS]; quality: this leg's visibility [n]; mask: mask features [n, K] in
    domain.MASK_FEATURES order or None. start/toe_off/end index these arrays; `offset` is added to
    report absolute frame numbers (the live buffer's position in the stream). median_duration_s: the
    expected stride duration (split/merged strides are judged against it), None while unknown.
    """

    leg: str
    start: int
    toe_off: int | None
    end: int
    filtered: np.ndarray
    quality: np.ndarray
    mask: np.ndarray | None
    d: int  # running direction, +1 toward +x
    roll_deg: float
    fps: float
    duration_s: float
    stance_s: float | None
    swing_s: float | None
    median_duration_s: float | None = None
    offset: int = 0
    near: str | None = None  # the leg nearer the camera: its side gives the trunk line
    # Where the trunk line is read (None: at this stride's toe-off). For a far-leg stride, the near
    # leg's latest toe-off before its own (`trunk_frame_for`): the near shoulder swings with the arm,
    # so at the far leg's toe-off the near-side line reads the trunk several degrees back.
    trunk_frame: int | None = None
    raw: np.ndarray | None = None  # unfiltered signals like `filtered` (the landmark jitter); None: not known
    # The other leg's foot strikes and toe-offs (indices like start/end) for the flight time; None: not known.
    other_strikes: tuple[int, ...] | None = None
    other_toe_offs: tuple[int, ...] | None = None


def trunk_frame_for(
    leg: str, toe_off: int | None, near: str | None, near_toe_offs: list[int], fps: float, max_s: float
) -> int | None:
    """The frame whose near-side trunk line measures a stride of `leg` with this toe-off: its own
    toe-off for the near leg (None), else the near leg's latest toe-off at most `max_s` before."""
    if toe_off is None or near is None or leg == near:
        return None
    before = [t for t in near_toe_offs if 0 <= toe_off - t <= max_s * fps]
    return max(before) if before else None


def counted_times(start: int, toe_off: int | None, end: int, fps: float) -> tuple[float, float | None, float | None]:
    """(duration, stance, swing) in seconds from frame counts; stance and swing are None without a toe-off."""
    if toe_off is None:
        return (end - start) / fps, None, None
    return (end - start) / fps, (toe_off - start) / fps, (end - toe_off) / fps


def _unmeasured(w: StrideWindow) -> Stride:
    """The stride's frames and times, nothing measured yet (class unknown)."""
    return Stride(
        leg=w.leg,
        foot_strike_frame=w.start + w.offset,
        toe_off_frame=None if w.toe_off is None else w.toe_off + w.offset,
        end_frame=w.end + w.offset,
        peak_frame=None,
        thigh_peak_deg=math.nan,
        trunk_lean_deg=math.nan,
        hip_extension_deg=math.nan,
        back_arch=BackArch(False, None, math.nan),
        cls=UNKNOWN,
        confidence=0.0,
        duration_s=w.duration_s,
        stance_s=w.stance_s,
        swing_s=w.swing_s,
    )


def _rejection(w: StrideWindow, thigh: np.ndarray, quality: float, params: GaitParams) -> str:
    """Why the stride cannot be classified whatever its angles ("" when it can)."""
    if w.toe_off is None:
        return "no single toe-off between the foot strikes"
    if w.median_duration_s and abs(w.duration_s / w.median_duration_s - 1.0) > params.stride_tolerance:
        return "stride duration off the median (split or merged stride)"
    if quality < params.min_visibility:
        return "leg occluded (low landmark visibility)"
    if np.isfinite(thigh).mean() < 0.7:
        return "too few frames with this leg's thigh"
    return ""


def _trunk(w: StrideWindow, frame: int) -> float:
    """Trunk lean at `frame`: the near side's hip -> shoulder, else (near side unknown) the midpoints'."""
    if w.near is not None and math.isfinite(side := float(w.filtered[frame, TRUNK_SIDE[w.near]])):
        return side
    return float(w.filtered[frame, TRUNK])


def _thigh(w: StrideWindow, frame: int, params: GaitParams) -> tuple[float, str, float]:
    """(thigh angle used, its source, the landmarks' thigh angle) at `frame`."""
    thigh_lm = float(w.filtered[frame, THIGH[w.leg]])
    if w.mask is None:
        return thigh_lm, "landmarks", thigh_lm
    separation = thigh_lm - float(w.filtered[frame, THIGH[other_leg(w.leg)]])
    # The outline's thigh axis is only measurable where the thighs are apart in the image; with
    # them merged near the hip it reads the pair's common centre (much too extended).
    if np.isfinite(separation) and separation >= params.thigh_mask_min_separation_deg:
        used, source = _mask_thigh(thigh_lm, w.mask, frame, w.leg, w.d, w.roll_deg, w.fps, params)
        return used, source, thigh_lm
    return thigh_lm, "landmarks", thigh_lm


_TOE_OFF_REACH_S = 0.067  # two frames at 30 fps


def _most_extended_near(w: StrideWindow, toe_off: int) -> int:
    """The frame within _TOE_OFF_REACH_S of the toe-off where the thigh is most extended. The thigh
    turns there from extending to flexing, so its angle barely depends on which of these frames is
    the toe-off, while at the toe-off frame itself one frame's timing moves it by 3-4 deg at 30 fps."""
    reach = max(1, round(_TOE_OFF_REACH_S * w.fps))
    lo, hi = max(toe_off - reach, w.start), min(toe_off + reach + 1, w.end)
    thigh = w.filtered[lo:hi, THIGH[w.leg]]
    return lo + int(np.nanargmax(thigh)) if np.isfinite(thigh).any() else toe_off


def _measure(stride: Stride, w: StrideWindow, peak: int, params: GaitParams) -> None:
    """Fill in the angles at toe-off (else at the peak), at the thigh's peak frame and the back-arch measures."""
    at = peak if w.toe_off is None else _most_extended_near(w, w.toe_off)
    thigh, source, thigh_lm = _thigh(w, at, params)
    trunk = _trunk(w, at if w.trunk_frame is None else w.trunk_frame)
    stride.thigh_at_toe_off_deg, stride.trunk_lean_at_toe_off_deg = thigh, trunk
    stride.hip_extension_at_toe_off_deg = thigh - trunk
    stride.thigh_source, stride.thigh_landmark_deg = source, thigh_lm
    stride.trunk_lean_midpoints_deg = float(w.filtered[at, TRUNK])
    stride.hip_extension_uncertainty_deg = uncertainty_deg(w, at, abs(thigh - thigh_lm))
    stride.peak_frame = peak + w.offset
    stride.thigh_peak_deg = float(w.filtered[peak, THIGH[w.leg]])
    stride.trunk_lean_deg = _trunk(w, peak if w.trunk_frame is None else w.trunk_frame)  # far leg: as at toe-off
    stride.hip_extension_deg = stride.thigh_peak_deg - stride.trunk_lean_deg
    arch = BackArch(False, None, -trunk)
    if w.mask is not None:
        arch = lumbar_arch(w.mask, w.filtered, w.start, w.end, peak, w.fps, params, -trunk)
    arch.detected = arch_margin(trunk, arch.lumbar_arch_change, params) >= 0
    stride.back_arch = arch


_JITTER_HALF_WINDOW_S = 0.1
_MIN_UNCERTAINTY_DEG = 0.5


def uncertainty_deg(w: StrideWindow, frame: int, mask_disagreement_deg: float) -> float:
    """Uncertainty (deg) of the hip extension at `frame`: the landmark angles' frame-to-frame jitter
    around the smooth trajectory (thigh and trunk, in quadrature), scaled up by low landmark
    confidence, and the disagreement of the mask's thigh axis with the landmarks' where it was used."""
    jitter = math.nan
    if w.raw is not None:
        half = max(2, round(_JITTER_HALF_WINDOW_S * w.fps))
        lo, hi = max(frame - half, 0), frame + half + 1
        trunk_col = TRUNK_SIDE[w.near] if w.near is not None else TRUNK
        parts = []
        for col in (THIGH[w.leg], trunk_col):
            res = w.raw[lo:hi, col] - w.filtered[lo:hi, col]
            res = res[np.isfinite(res)]
            parts.append(float(np.sqrt(np.mean(res**2))) if res.size >= 3 else math.nan)
        jitter = math.hypot(*parts)
    quality = float(w.quality[frame]) if 0 <= frame < len(w.quality) else 0.0
    confident = jitter / max(quality, 0.2) if math.isfinite(jitter) else math.nan
    total = math.hypot(confident, mask_disagreement_deg) if math.isfinite(confident) else math.nan
    return max(total, _MIN_UNCERTAINTY_DEG) if math.isfinite(total) else math.nan


def measure_stride(w: StrideWindow, params: GaitParams) -> Stride:
    """Measure and classify the stride `w` describes: on the angles at toe-off (the clinical measure)."""
    thigh = w.filtered[w.start : w.end, THIGH[w.leg]]
    stride = _unmeasured(w)
    stride.side = side_metrics(w)
    q = float(np.median(w.quality[w.start : w.end])) if w.end > w.start else 0.0
    stride.reason = _rejection(w, thigh, q, params)
    stride.pelvis_gait_r = pelvis_gait_correlation(w.filtered, w.end, w.fps, w.duration_s)
    stride.locomotion = stride_locomotion(stride.pelvis_gait_r, w.duration_s, w.stance_s)
    if stride.locomotion == WALKING:
        stride.reason = "walking, not running"
    if not np.isfinite(thigh).any():
        stride.reason = stride.reason or "no thigh angle"
        return stride
    _measure(stride, w, w.start + int(np.nanargmax(thigh)), params)
    if stride.reason:
        return stride
    arch_change = stride.back_arch.lumbar_arch_change
    stride.cls, stride.confidence = classify(
        stride.thigh_at_toe_off_deg, stride.trunk_lean_at_toe_off_deg, arch_change, min(1.0, q), params
    )
    if stride.cls == UNKNOWN:
        stride.reason = "low confidence"
    return stride


def lumbar_arch(
    mask: np.ndarray,
    filtered: np.ndarray,
    start: int,
    end: int,
    peak: int,
    fps: float,
    params: GaitParams,
    back_tilt_deg: float,
) -> BackArch:
    """The back-arch measures of the stride [start, end) whose thigh peaks at `peak` (BackArch.detected
    is left False: the caller decides with classify.arch_margin).

    mask: mask features [n, K] (domain.MASK_FEATURES order), indexed like `filtered`. Arching to
    fake extension means the lordosis grows as the thigh reaches its peak, so the D measure is a change
    within the runner's own stride: the median lower-back depth within `lumbar_window_s` of the peak
    minus its median over the stride's least-extended quarter (the frames where the more extended of
    the two thighs is lowest, i.e. around each mid-stance). A constant offset (build, clothing, the
    buttock's shape, the mask's soft edge) cancels. Needs _MIN_LUMBAR_SAMPLES measured frames in each
    window, else the change is None. The absolute upper-hull depth is kept as information only.
    """
    arch = BackArch(False, None, back_tilt_deg)
    hull = mask[start:end, LUMBAR_DEPTH]
    if np.isfinite(hull).sum() >= 3:
        arch.lumbar_depth_ratio = _nanmedian(hull)
    depth = mask[start:end, LOWER_BACK_DEPTH]
    half = max(1, round(params.lumbar_window_s * fps))
    near_peak = depth[max(peak - half - start, 0) : peak + half + 1 - start]
    thighs = filtered[start:end, [THIGH["left"], THIGH["right"]]]
    finite = np.isfinite(thighs).any(axis=1)
    if finite.sum() < 4:
        return arch
    most_extended = np.max(np.where(np.isfinite(thighs), thighs, -np.inf), axis=1)
    cut = float(np.percentile(most_extended[finite], 100 * _NEUTRAL_SHARE))
    neutral = depth[finite & (most_extended <= cut)]
    if min(np.isfinite(near_peak).sum(), np.isfinite(neutral).sum()) < _MIN_LUMBAR_SAMPLES:
        return arch
    arch.lower_back_depth_peak, arch.lower_back_depth_neutral = _nanmedian(near_peak), _nanmedian(neutral)
    arch.lumbar_arch_change = arch.lower_back_depth_peak - arch.lower_back_depth_neutral
    return arch


def _mask_thigh(
    thigh_lm: float, mask: np.ndarray, p: int, leg: str, d: int, roll: float, fps: float, params: GaitParams
) -> tuple[float, str]:
    """Use the mask's thigh axis where it departs from the landmarks' (hip landmark off the thigh axis).

    The departure must exceed `thigh_mask_disagree_deg` plus the mask measure's own spread around the
    peak (interquartile range over ±40 ms): on real footage the far thigh's outline merges with the near
    leg and buttock, its axis jitters by 3-6 deg, and a plain threshold then swaps in the noisier value.
    """
    half = max(1, round(_PEAK_HALF_WINDOW_S * fps))
    raw = mask[max(p - half, 0) : p + half + 1, THIGH_MASK[leg]]
    raw = raw[np.isfinite(raw)]
    if raw.size < 2:
        return thigh_lm, "landmarks"
    spread = float(np.subtract(*np.percentile(raw, [75, 25])))
    thigh_mask = float(level_axis_angle(float(np.median(raw)), d, roll, up=False))
    # A hip landmark placed high at the waistband tilts the thigh by a few degrees (raising it by 30 % of
    # the thigh's length at 20 deg costs under 5 deg); a far larger departure means the outline is wrong
    # (thighs merged, an arm or a shadow), not the landmarks.
    if params.thigh_mask_disagree_deg + spread < abs(thigh_mask - thigh_lm) <= params.thigh_mask_max_disagree_deg:
        return thigh_mask, "mask"
    return thigh_lm, "landmarks"
