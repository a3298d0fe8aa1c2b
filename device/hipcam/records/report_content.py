"""What the session's PDF report says, as text (hipcam.records.pdf_report lays it out): the per-leg
table with its norms and sources, the set-up as stored, the change from the previous session.

Per leg, each measure is the mean ± SD over the leg's classified strides (as the session page's
means: an unclassified stride may be a tracking glitch), with n; class shares are over all strides.
Norms are cited only where a source states them (docs/report.md, docs/side-view-metrics.md); a
value the device does not store is "not recorded", never guessed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hipcam.domain import CLASSES, LEGS, STRIKE_PATTERNS, UNKNOWN
from hipcam.records import side_lengths
from hipcam.records.stride import StrideRecord

NOT_RECORDED = "not recorded"
DASH = "-"


@dataclass(frozen=True)
class Metric:
    key: str  # the StrideRecord field ("cadence_spm": from the stride's duration)
    label: str
    unit: str
    digits: int = 1
    factor: float = 1.0  # stored unit -> shown unit (s -> ms)
    norm: str = ""
    source: str = ""  # SOURCES keys, comma-separated
    cm_key: str = ""  # in trunk lengths: this key of side_lengths.in_cm, shown when the height is known


# The short citations; the full references are in SOURCES (printed at the end of the report).
METRICS: tuple[Metric, ...] = (
    Metric("hip_extension_at_toe_off_deg", "Hip extension at toe-off", "°", norm="peak about 10-20",
           source="Novacheck 1998"),
    Metric("trunk_lean_at_toe_off_deg", "Trunk lean at toe-off (+ forward)", "°", norm="about 5-10 forward",
           source="Folland 2017, Teng 2014"),
    Metric("cadence_spm", "Cadence", "steps/min", digits=0, norm="no fixed norm; +5-10 % lowers hip/knee load",
           source="Heiderscheit 2011"),
    Metric("knee_flexion_at_strike_deg", "Knee flexion at foot strike", "°"),
    Metric("knee_flexion_peak_stance_deg", "Peak knee flexion in stance", "°"),
    Metric("shank_angle_at_strike_deg", "Shank angle at strike (+ ankle ahead)", "°", norm="near vertical",
           source="Souza 2016"),
    Metric("foot_inclination_at_strike_deg", "Foot inclination at strike (+ toes up)", "°",
           norm="rearfoot > 8, forefoot < -1.6", source="Altman 2012"),
    Metric("overstride_trunk", "Overstride (heel ahead of hip)", "trunk lengths", digits=2,
           norm="no cut-off; a longer lead, more braking", source="Wille 2014", cm_key="overstride_cm"),
    Metric("vertical_oscillation_trunk", "Vertical oscillation of the pelvis", "trunk lengths", digits=2,
           cm_key="vertical_oscillation_cm"),
    Metric("stance_s", "Ground contact time", "ms", digits=0, factor=1000.0),
    Metric("flight_s", "Flight time", "ms", digits=0, factor=1000.0),
    Metric("stride_length_m", "Stride length", "m", digits=2),
)  # fmt: skip

SOURCES: dict[str, str] = {
    "Novacheck 1998": "Novacheck TF. The biomechanics of running. Gait Posture 1998;7(1):77-95.",
    "Folland 2017": "Folland JP et al. Running technique is an important component of running economy and "
    "performance. Med Sci Sports Exerc 2017;49(7):1412-1423.",
    "Teng 2014": "Teng HL, Powers CM. Sagittal plane trunk posture influences patellofemoral joint stress "
    "during running. J Orthop Sports Phys Ther 2014;44(10):785-792.",
    "Heiderscheit 2011": "Heiderscheit BC et al. Effects of step rate manipulation on joint mechanics during "
    "running. Med Sci Sports Exerc 2011;43(2):296-302.",
    "Altman 2012": "Altman AR, Davis IS. A kinematic method for footstrike pattern detection in barefoot and "
    "shod runners. Gait Posture 2012;35(2):298-300.",
    "Larson 2011": "Larson P et al. Foot strike patterns of recreational and sub-elite runners in a "
    "long-distance road race. J Sports Sci 2011;29(15):1665-1673.",
    "Wille 2014": "Wille CM et al. Ability of sagittal kinematic variables to estimate ground reaction forces "
    "and joint kinetics in running. J Orthop Sports Phys Ther 2014;44(10):825-830.",
    "Souza 2016": "Souza RB. An evidence-based videotaped running biomechanics analysis. Phys Med Rehabil "
    "Clin N Am 2016;27(1):217-236.",
}
STRIKE_NORM = ("about 9 in 10 recreational runners land rearfoot", "Larson 2011")


@dataclass(frozen=True)
class LegRow:
    label: str
    unit: str
    cells: dict[str, str]  # per leg
    norm: str
    source: str


def mean_sd(values: Sequence[float], digits: int) -> str:
    """``12.3 ± 2.1 (14)``; a single value has no SD; none is a dash."""
    if not values:
        return DASH
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f} (1)"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f} ({len(values)})"


def _value(stride: StrideRecord, metric: Metric, height_cm: float | None) -> float | None:
    if metric.key == "cadence_spm":  # a stride is two steps
        d = stride.duration_s
        return 120.0 / d if d else None
    value = side_lengths.in_cm(stride.to_json(), height_cm)[metric.cm_key] if height_cm else getattr(stride, metric.key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def leg_rows(strides: Sequence[StrideRecord], height_cm: float | None) -> list[LegRow]:
    """The per-leg table; lengths in cm when the runner's height is known (side_lengths.in_cm)."""
    cm = side_lengths.trunk_cm(height_cm) is not None
    by_leg: dict[str, list[StrideRecord]] = {leg: [s for s in strides if s.leg == leg] for leg in LEGS}
    rows = [_class_row(by_leg)]
    for metric in METRICS:
        in_cm = cm and bool(metric.cm_key)
        height = height_cm if in_cm else None
        digits = 1 if in_cm else metric.digits
        cells: dict[str, str] = {}
        for leg, mine in by_leg.items():
            values = [v * metric.factor for s in mine if s.classified and (v := _value(s, metric, height)) is not None]
            cells[leg] = mean_sd(values, digits)
        rows.append(LegRow(metric.label, "cm" if in_cm else metric.unit, cells, metric.norm, metric.source))
        if metric.key == "foot_inclination_at_strike_deg":
            rows.append(_strike_row(by_leg))
    return rows


def _shares(counts: Sequence[int]) -> str:
    total = sum(counts)
    return DASH if not total else " / ".join(f"{round(100 * c / total)}" for c in counts)


def _class_row(by_leg: Mapping[str, Sequence[StrideRecord]]) -> LegRow:
    cells = {leg: _shares([sum(1 for s in mine if s.cls == c) for c in CLASSES]) for leg, mine in by_leg.items()}
    return LegRow("Classes A / B / C / D / ?", "% of strides", cells, "B is the goal (true extension)", "")


def _strike_row(by_leg: Mapping[str, Sequence[StrideRecord]]) -> LegRow:
    cells = {
        leg: _shares([sum(1 for s in mine if s.classified and s.foot_strike_pattern == p) for p in STRIKE_PATTERNS])
        for leg, mine in by_leg.items()
    }
    return LegRow("Foot strike rear / mid / fore", "% of strides", cells, *STRIKE_NORM)


def frame_rate(strides: Sequence[StrideRecord]) -> float | None:
    """The analysed frame rate from the strides' own frame numbers and times (median over strides)."""
    rates = []
    for s in strides:
        if s.end_frame is None or s.foot_strike_frame is None or s.t_end is None or s.t_start is None:
            continue
        if s.end_frame > s.foot_strike_frame and s.t_end > s.t_start:
            rates.append((s.end_frame - s.foot_strike_frame) / (s.t_end - s.t_start))
    return statistics.median(rates) if rates else None


@dataclass(frozen=True)
class SetUp:
    """The set-up as stored: from the strides' landmarks (what the analysis used), else from the
    snapshots' poses (view only) or the strides' frame numbers and times (frame rate only)."""

    fps: float | None = None
    fps_from: str = ""
    direction: str | None = None  # where the runner faces in the image
    near_leg: str | None = None
    view_from: str = ""
    rolls: tuple[float, ...] = ()  # per stride sampled, degrees (hipcam.gait.level's sign)


def setup_lines(s: SetUp) -> list[tuple[str, str]]:
    rate = f"{s.fps:.0f} frames/s ({s.fps_from})" if s.fps else NOT_RECORDED
    if s.direction in ("left", "right"):
        near = f", near side: {s.near_leg} leg" if s.near_leg in LEGS else ""
        view = f"side view, runner facing image {s.direction}{near} ({s.view_from})"
    else:
        view = NOT_RECORDED
    if s.rolls:
        lo, hi = min(s.rolls), max(s.rolls)
        spread = "" if hi - lo < 0.05 else f" (strides {lo:+.1f} to {hi:+.1f})"
        roll = f"{statistics.median(s.rolls):+.1f}°{spread}, corrected in the angles (from the strides' landmarks)"
    else:
        roll = NOT_RECORDED
    return [("Analysed frame rate", rate), ("View / direction", view), ("Camera roll", roll)]


def class_counts_line(strides: Sequence[StrideRecord]) -> str:
    per_leg = ", ".join(f"{leg} {sum(1 for s in strides if s.leg == leg)}" for leg in LEGS)
    unknown = sum(1 for s in strides if s.cls == UNKNOWN)
    return f"{len(strides)} ({per_leg}; {unknown} not classified)"


ChangeCell = tuple[str, str, str]  # "before → now", "change (SDD)", mark


def change_rows(change: Mapping[str, Any]) -> list[tuple[str, dict[str, ChangeCell]]]:
    """session_change's legs as rows: (label [unit], per leg (before → now, change (SDD), mark))."""
    legs = change.get("legs", {})
    keys: list[str] = []
    for leg in LEGS:
        keys += [k for k in legs.get(leg, {}) if k not in keys]
    rows = []
    for key in keys:
        first = next(legs[leg][key] for leg in LEGS if key in legs.get(leg, {}))
        label = f"{first['label']} [{first['unit']}]" if first.get("unit") else str(first["label"])
        cells: dict[str, ChangeCell] = {leg: _change_cell(legs.get(leg, {}).get(key)) for leg in LEGS}
        rows.append((label, cells))
    return rows


_CHANGE_DIGITS = {"s": 3, "trunk lengths": 2}
MARK_TEXT = {"changed": "CHANGED", "within measurement error": "within error"}


def _num(value: Any, digits: int, signed: bool = False) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return DASH
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _change_cell(entry: Mapping[str, Any] | None) -> ChangeCell:
    if entry is None:
        return (DASH, "", "")
    d = _CHANGE_DIGITS.get(str(entry.get("unit")), 1)
    values = f"{_num(entry.get('previous'), d)} → {_num(entry.get('current'), d)}"
    delta = _num(entry.get("delta"), d, True)
    if entry.get("sdd") is not None:
        delta += f" ({_num(entry.get('sdd'), d)})"
    mark = entry.get("mark")
    return values, delta, MARK_TEXT.get(str(mark), str(mark)) if mark else ""
