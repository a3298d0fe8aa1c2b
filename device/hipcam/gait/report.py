"""GaitReport -> JSON-able dict (the documented schema) and a readable per-stride text table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hipcam.gait.classify import CLASSES
from hipcam.gait.strides import GaitReport, Stride


def _num(x: float | None, digits: int = 2) -> float | None:
    """JSON has no NaN: unknown numbers become null."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _stride(s: Stride) -> dict[str, Any]:
    return {
        "leg": s.leg,
        "foot_strike_frame": s.foot_strike_frame,
        "toe_off_frame": s.toe_off_frame,
        "end_frame": s.end_frame,
        "thigh_peak_deg": _num(s.thigh_peak_deg),
        "trunk_lean_deg": _num(s.trunk_lean_deg),
        "hip_extension_deg": _num(s.hip_extension_deg),
        "back_arch": {
            "detected": bool(s.back_arch.detected),
            "lumbar_depth_ratio": _num(s.back_arch.lumbar_depth_ratio, 4),  # absolute: information only
            "trunk_back_tilt_deg": _num(s.back_arch.trunk_back_tilt_deg),
            "lumbar_arch_change": _num(s.back_arch.lumbar_arch_change, 4),  # the D measure from the mask
            "lower_back_depth_peak": _num(s.back_arch.lower_back_depth_peak, 4),
            "lower_back_depth_neutral": _num(s.back_arch.lower_back_depth_neutral, 4),
        },
        "class": s.cls,
        "confidence": _num(s.confidence, 3),
    }


def _mean(values: list[float]) -> float | None:
    v = [x for x in values if math.isfinite(x)]
    return _num(float(np.mean(v))) if v else None


def to_dict(report: GaitReport) -> dict[str, Any]:
    """The report with exactly: fps, frames, frames_with_pose, direction, events, strides, summary."""
    classified = [s for s in report.strides if s.cls != "unknown"]
    return {
        "fps": _num(report.fps, 4),
        "frames": int(report.frames),
        "frames_with_pose": int(report.frames_with_pose),
        "direction": report.direction,
        "events": [{"frame": int(e.frame), "leg": e.leg, "type": e.type} for e in report.events],
        "strides": [_stride(s) for s in report.strides],
        "summary": {
            "cadence_spm": _num(report.cadence_spm, 1),
            "class_counts": {c: sum(s.cls == c for s in report.strides) for c in CLASSES},
            "hip_extension_deg_mean": _mean([s.hip_extension_deg for s in classified]),
            "trunk_lean_deg_mean": _mean([s.trunk_lean_deg for s in classified]),
        },
    }


def _fmt(x: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if x is None or not math.isfinite(x) else f"{x:>{width}.{digits}f}"


def format_table(report: GaitReport) -> str:
    """One line per stride (times in seconds at the report's fps), then the summary.

    arch+: lower-back depth gained at peak extension (the mask's D measure, trunk lengths); lumbar: the
    absolute upper-hull depth (information only: build and clothing dominate it).
    """
    head = (
        f"{'#':>3} {'leg':<5} {'strike':>7} {'toe-off':>7} {'end':>7} {'stance s':>8} {'thigh':>6} "
        f"{'trunk':>6} {'hip ext':>7} {'arch+':>6} {'lumbar':>6}  class conf  note"
    )
    lines = [head, "-" * len(head)]
    for i, s in enumerate(report.strides, 1):
        toe = "-" if s.toe_off_frame is None else str(s.toe_off_frame)
        note = s.reason or ("thigh from mask" if s.thigh_source == "mask" else "")
        lines.append(
            f"{i:>3} {s.leg:<5} {s.foot_strike_frame:>7} {toe:>7} {s.end_frame:>7} {_fmt(s.stance_s, 8, 3)} "
            f"{_fmt(s.thigh_peak_deg, 6)} {_fmt(s.trunk_lean_deg, 6)} {_fmt(s.hip_extension_deg, 7)} "
            f"{_fmt(s.back_arch.lumbar_arch_change, 6, 3)} {_fmt(s.back_arch.lumbar_depth_ratio, 6, 3)}  "
            f"{s.cls:<5} {s.confidence:4.2f}  {note}"
        )
    summary = to_dict(report)["summary"]
    counts = " ".join(f"{c}={n}" for c, n in summary["class_counts"].items())
    cad = "-" if report.cadence_spm is None else f"{report.cadence_spm:.1f}"
    lines += [
        "",
        f"fps {report.fps:g}, frames {report.frames} ({report.frames_with_pose} with pose), running "
        f"{report.direction}, roll {report.roll_deg:+.1f} deg, near leg {report.near_leg or '?'}",
        f"cadence {cad} steps/min; classes {counts}; mean hip extension "
        f"{_fmt(summary['hip_extension_deg_mean'], 0)} deg, mean trunk lean {_fmt(summary['trunk_lean_deg_mean'], 0)} deg",
    ]
    return "\n".join(lines)
