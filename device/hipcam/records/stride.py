"""The one shape of a completed stride: what the store keeps, the API and the live stream send, and
``hipcam analyze --json`` writes. Plain values only (None for what could not be measured)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from hipcam.domain import CLASSES, LEGS, UNKNOWN

# Decimal places each number is rounded to in JSON (what the measurement can resolve).
_DIGITS: dict[str, int] = {
    "confidence": 3,
    "t_start": 3,
    "t_end": 3,
    "duration_s": 3,
    "stance_s": 3,
    "swing_s": 3,
    "lumbar_depth_ratio": 4,
    "lumbar_arch_change": 4,
    "lower_back_depth_peak": 4,
    "lower_back_depth_neutral": 4,
    "recorded_at": 3,
    "flight_s": 3,
    "overstride_trunk": 3,
    "vertical_oscillation_trunk": 3,
}


def json_number(value: Any, digits: int = 2) -> float | None:
    """JSON-safe rounded float: NaN, inf, None and non-numbers become None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


@dataclass(frozen=True)
class StrideRecord:
    """One completed stride. Frames are the analysis's own frame numbers; times in seconds of the
    analysed stream (the true capture rate for slow-motion footage); angles in degrees
    (docs/gait.md); lumbar measures in trunk lengths."""

    leg: str
    cls: str  # A | B | C | D | unknown ("class" in JSON and in the store)
    confidence: float | None = None
    foot_strike_frame: int | None = None
    toe_off_frame: int | None = None
    end_frame: int | None = None  # the next foot strike of the same leg
    peak_frame: int | None = None  # peak thigh extension
    t_start: float | None = None
    t_end: float | None = None
    duration_s: float | None = None
    stance_s: float | None = None
    swing_s: float | None = None
    thigh_peak_deg: float | None = None  # peak thigh angle (landmarks) over the stride
    thigh_landmark_deg: float | None = None  # the landmarks' thigh angle at toe-off
    thigh_source: str | None = None  # what thigh_at_toe_off_deg comes from: landmarks | mask
    trunk_lean_deg: float | None = None
    hip_extension_deg: float | None = None
    back_arch: bool | None = None  # apparent extension from arching the back was detected
    trunk_back_tilt_deg: float | None = None
    lumbar_depth_ratio: float | None = None  # absolute outline depth: information only
    lumbar_arch_change: float | None = None  # the mask's D measure
    lower_back_depth_peak: float | None = None
    lower_back_depth_neutral: float | None = None
    # At toe-off (the clinical measure; the class is decided on these), trunk from the near side.
    thigh_at_toe_off_deg: float | None = None
    trunk_lean_at_toe_off_deg: float | None = None
    hip_extension_at_toe_off_deg: float | None = None
    hip_extension_uncertainty_deg: float | None = None  # from landmark jitter/confidence and the mask
    trunk_lean_midpoints_deg: float | None = None  # at toe-off, hip midpoint -> shoulder midpoint
    reason: str = ""  # why the stride is unknown
    # The side-view metric set (hipcam.gait.side_metrics; docs/side-view-metrics.md). Lengths in trunk
    # lengths (hip midpoint to shoulder midpoint); in cm only where the runner's height is known.
    foot_strike_pattern: str | None = None  # rearfoot | midfoot | forefoot (domain.STRIKE_PATTERNS)
    foot_inclination_at_strike_deg: float | None = None  # heel->toe vs the ground; > 0 toes up
    shank_angle_at_strike_deg: float | None = None  # knee->ankle vs vertical; > 0 ankle ahead of knee
    overstride_trunk: float | None = None  # heel ahead of the hip midpoint at foot strike
    knee_flexion_at_strike_deg: float | None = None
    knee_flexion_peak_stance_deg: float | None = None
    vertical_oscillation_trunk: float | None = None  # pelvis height range over the stride
    flight_s: float | None = None  # stride time in the air (both feet off), per stride
    stride_length_m: float | None = None  # treadmill speed x stride time (None without a speed)
    step_length_m: float | None = None
    # Set by the store once the stride is saved.
    session_id: int | None = None
    stride_id: int | None = None
    recorded_at: float | None = None
    snapshot: str | None = None  # the snapshot's file, relative to the store's snapshot folder
    starred: bool = False  # the clinician starred it: its replay clip is kept

    def __post_init__(self) -> None:
        if self.leg not in LEGS:
            raise ValueError(f"leg must be one of {LEGS}, not {self.leg!r}")
        if self.cls not in CLASSES:
            raise ValueError(f"class must be one of {CLASSES}, not {self.cls!r}")

    @property
    def classified(self) -> bool:
        return self.cls != UNKNOWN

    def with_ids(self, session_id: int, stride_id: int) -> StrideRecord:
        return replace(self, session_id=session_id, stride_id=stride_id)

    def to_json(self) -> dict[str, Any]:
        """The stride as JSON (the API, the live stream, the exports and ``analyze --json``)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "cls":
                out["class"] = str(value)
            elif isinstance(value, float):
                out[key] = json_number(value, _DIGITS.get(key, 2))
            else:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StrideRecord:
        """The inverse of ``to_json`` (also accepts ``cls`` for ``class``); unknown keys are ignored.
        ``leg`` and ``class`` are required: a stride without them is refused, not guessed."""
        values = {k: data[k] for k in FIELD_NAMES if k in data and k != "cls"}
        if "leg" not in data or ("class" not in data and "cls" not in data):
            raise ValueError("a stride needs its leg and class")
        values["cls"] = str(data.get("class", data.get("cls")))
        for key, value in list(values.items()):
            if isinstance(value, float) and not math.isfinite(value):
                values[key] = None
        for flag in ("back_arch", "starred"):
            if values.get(flag) is not None:
                values[flag] = bool(values[flag])
        return cls(**values)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(StrideRecord))
# The JSON / CSV / store column names, in order ("class" for the dataclass's ``cls``).
COLUMNS: tuple[str, ...] = tuple("class" if n == "cls" else n for n in FIELD_NAMES)
