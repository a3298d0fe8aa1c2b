"""GaitReport -> JSON-able dict (the documented schema) and a readable per-stride text table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hipcam.domain import CLASSES, UNKNOWN, WALKING
from hipcam.gait.events import FootEvent
from hipcam.gait.side_metrics import SideMetrics
from hipcam.gait.strides import GaitReport, Stride
from hipcam.records.stride import StrideRecord


def _num(x: float | None, digits: int = 2) -> float | None:
    """JSON has no NaN: unknown numbers become null."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _opt(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def stride_record(s: Stride, t_start: float | None, t_end: float | None) -> StrideRecord:
    """A measured stride in the one record shape (hipcam.records.stride), timed by the caller:
    offline from frame numbers, live from the frames' timestamps."""
    arch, side = s.back_arch, s.side
    return StrideRecord(
        leg=s.leg,
        cls=s.cls,
        confidence=_opt(s.confidence),
        foot_strike_frame=s.foot_strike_frame,
        toe_off_frame=s.toe_off_frame,
        end_frame=s.end_frame,
        peak_frame=s.peak_frame,
        t_start=t_start,
        t_end=t_end,
        duration_s=_opt(s.duration_s),
        stance_s=_opt(s.stance_s),
        swing_s=_opt(s.swing_s),
        thigh_peak_deg=_opt(s.thigh_peak_deg),
        thigh_landmark_deg=_opt(s.thigh_landmark_deg),
        thigh_source=s.thigh_source,
        trunk_lean_deg=_opt(s.trunk_lean_deg),
        hip_extension_deg=_opt(s.hip_extension_deg),
        back_arch=bool(arch.detected),
        trunk_back_tilt_deg=_opt(arch.trunk_back_tilt_deg),
        lumbar_depth_ratio=_opt(arch.lumbar_depth_ratio),
        lumbar_arch_change=_opt(arch.lumbar_arch_change),
        lower_back_depth_peak=_opt(arch.lower_back_depth_peak),
        lower_back_depth_neutral=_opt(arch.lower_back_depth_neutral),
        thigh_at_toe_off_deg=_opt(s.thigh_at_toe_off_deg),
        trunk_lean_at_toe_off_deg=_opt(s.trunk_lean_at_toe_off_deg),
        hip_extension_at_toe_off_deg=_opt(s.hip_extension_at_toe_off_deg),
        hip_extension_uncertainty_deg=_opt(s.hip_extension_uncertainty_deg),
        trunk_lean_midpoints_deg=_opt(s.trunk_lean_midpoints_deg),
        reason=s.reason,
        **_side_fields(side),
    )


def _side_fields(side: SideMetrics) -> dict[str, Any]:
    """The side-view metric set as StrideRecord fields (lengths from the speed: records.side_lengths)."""
    return {
        "foot_strike_pattern": side.foot_strike_pattern,
        "foot_inclination_at_strike_deg": _opt(side.foot_inclination_at_strike_deg),
        "shank_angle_at_strike_deg": _opt(side.shank_angle_at_strike_deg),
        "overstride_trunk": _opt(side.overstride_trunk),
        "knee_flexion_at_strike_deg": _opt(side.knee_flexion_at_strike_deg),
        "knee_flexion_peak_stance_deg": _opt(side.knee_flexion_peak_stance_deg),
        "vertical_oscillation_trunk": _opt(side.vertical_oscillation_trunk),
        "flight_s": _opt(side.flight_s),
    }


def _offline_record(s: Stride, fps: float) -> StrideRecord:
    return stride_record(s, s.foot_strike_frame / fps, s.end_frame / fps)


def _mean(values: list[float]) -> float | None:
    v = [x for x in values if math.isfinite(x)]
    return _num(float(np.mean(v))) if v else None


def _event(e: FootEvent) -> dict[str, Any]:
    """An event as JSON; `inferred` marks a strike whose landing was hidden (timed from the other leg)."""
    out: dict[str, Any] = {"frame": int(e.frame), "leg": e.leg, "type": e.type}
    if e.inferred:
        out["inferred"] = True
    return out


def to_dict(report: GaitReport) -> dict[str, Any]:
    """The report with exactly: fps, frames, frames_with_pose, direction, near_leg, roll_deg, events,
    strides, summary."""
    classified = [s for s in report.strides if s.cls != UNKNOWN]
    timing = report.timing
    return {
        "fps": _num(report.fps, 4),
        "frames": int(report.frames),
        "frames_with_pose": int(report.frames_with_pose),
        "direction": report.direction,
        "near_leg": report.near_leg,
        "roll_deg": _num(report.roll_deg, 2),
        "events": [_event(e) for e in report.events],
        "strides": [_offline_record(s, report.fps).to_json() for s in report.strides],
        "summary": {
            "cadence_spm": _num(timing.cadence_spm, 1),
            "steps": timing.steps,
            "stance_s": _num(timing.stance_s, 3),
            "flight_s": _num(timing.flight_s, 3),
            "class_counts": {c: sum(s.cls == c for s in report.strides) for c in CLASSES},
            "walking_strides": sum(s.locomotion == WALKING for s in report.strides),  # reason: walking
            "hip_extension_at_toe_off_deg_mean": _mean([s.hip_extension_at_toe_off_deg for s in classified]),
            "trunk_lean_at_toe_off_deg_mean": _mean([s.trunk_lean_at_toe_off_deg for s in classified]),
        },
    }


def _fmt(x: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if x is None or not math.isfinite(x) else f"{x:>{width}.{digits}f}"


def _side_cells(m: SideMetrics) -> str:
    pattern = (m.foot_strike_pattern or "-")[0].upper()
    return (
        f"{pattern:>3} {_fmt(m.foot_inclination_at_strike_deg, 5)} {_fmt(m.shank_angle_at_strike_deg, 5)} "
        f"{_fmt(m.knee_flexion_at_strike_deg, 4, 0)} {_fmt(m.overstride_trunk, 5, 2)} {_fmt(m.flight_s, 6, 3)}"
    )


def format_table(report: GaitReport) -> str:
    """One line per stride (times in seconds at the report's fps), then the summary.

    thigh, trunk, hip ext (± its uncertainty): at toe-off, the class is decided on them; peak: the
    stride's peak thigh angle; arch+: lower-back depth gained at peak extension (the mask's D measure,
    trunk lengths). At foot strike (docs/side-view-metrics.md): pat (R/M/F strike pattern), foot
    (inclination, + toes up), shank (+ ankle ahead of the knee), knee (flexion), over (heel ahead of the
    hip, trunk lengths); flight: the stride's time with both feet off.
    """
    head = (
        f"{'#':>3} {'leg':<5} {'strike':>7} {'toe-off':>7} {'end':>7} {'stance s':>8} {'thigh':>6} "
        f"{'trunk':>6} {'hip ext':>7} {'±':>4} {'peak':>5} {'arch+':>6} pat {'foot':>5} {'shank':>5} "
        f"{'knee':>4} {'over':>5} {'flight':>6}  class conf  note"
    )
    lines = [head, "-" * len(head)]
    for i, s in enumerate(report.strides, 1):
        toe = "-" if s.toe_off_frame is None else str(s.toe_off_frame)
        note = s.reason or ("thigh from mask" if s.thigh_source == "mask" else "")
        lines.append(
            f"{i:>3} {s.leg:<5} {s.foot_strike_frame:>7} {toe:>7} {s.end_frame:>7} {_fmt(s.stance_s, 8, 3)} "
            f"{_fmt(s.thigh_at_toe_off_deg, 6)} {_fmt(s.trunk_lean_at_toe_off_deg, 6)} "
            f"{_fmt(s.hip_extension_at_toe_off_deg, 7)} {_fmt(s.hip_extension_uncertainty_deg, 4)} "
            f"{_fmt(s.thigh_peak_deg, 5)} {_fmt(s.back_arch.lumbar_arch_change, 6, 3)} {_side_cells(s.side)}  "
            f"{s.cls:<5} {s.confidence:4.2f}  {note}"
        )
    summary = to_dict(report)["summary"]
    counts = " ".join(f"{c}={n}" for c, n in summary["class_counts"].items())
    t = report.timing
    cad = "-" if t.cadence_spm is None else f"{t.cadence_spm:.1f}"
    lines += [
        "",
        f"fps {report.fps:g}, frames {report.frames} ({report.frames_with_pose} with pose), running "
        f"{report.direction}, roll {report.roll_deg:+.1f} deg, near leg {report.near_leg or '?'}",
        f"cadence {cad} steps/min ({t.steps} steps), stance {_fmt(t.stance_s, 0, 3)} s, flight {_fmt(t.flight_s, 0, 3)} s",
        f"classes {counts}; at toe-off: mean hip extension {_fmt(summary['hip_extension_at_toe_off_deg_mean'], 0)} deg, "
        f"mean trunk lean {_fmt(summary['trunk_lean_at_toe_off_deg_mean'], 0)} deg",
    ]
    return "\n".join(lines)
