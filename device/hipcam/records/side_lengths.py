"""Lengths of the side-view metric set that need more than the video: step and stride length from the
session's treadmill speed, and centimetres from the runner's height (docs/side-view-metrics.md).

The video measures lengths in trunk lengths (hip midpoint to shoulder midpoint). Winter's segment
proportions (Winter, Biomechanics and Motor Control of Human Movement, 4th ed. 2009, ch. 4, after Drillis & Contini) put
the shoulder (acromion) at 0.818 H and the greater trochanter at 0.530 H, so a trunk length is about
0.288 H. That is an estimate: BlazePose's hip and shoulder points are not the trochanter and the
acromion, and people's proportions differ by a few per cent.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from hipcam.records.stride import StrideRecord, json_number

TRUNK_PER_HEIGHT = 0.818 - 0.530  # Winter: shoulder height minus greater-trochanter height, per body height
MAX_SPEED_KMH = 40.0  # what the session form accepts (web_ui.api.body)
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 50.0, 250.0


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def with_speed(stride: StrideRecord, speed_kmh: float | None) -> StrideRecord:
    """The stride with stride length = belt speed x stride time and step length = half of it (m).

    `speed_kmh`: the session's treadmill speed (stored in km/h). The belt moves under the runner at that
    speed, so in one stride (foot strike to the same foot's next strike) it carries one stride length
    back. Both are None without a positive speed or a stride duration. The step length is half the
    stride: a left/right asymmetry in step time is not resolved here."""
    speed, duration = _finite(speed_kmh), _finite(stride.duration_s)
    if speed is None or duration is None or not (0.0 < speed <= MAX_SPEED_KMH) or duration <= 0.0:
        return replace(stride, stride_length_m=None, step_length_m=None)
    length = speed / 3.6 * duration
    return replace(stride, stride_length_m=length, step_length_m=length / 2.0)


def trunk_cm(height_cm: float | None) -> float | None:
    """The estimated trunk length (cm) of a runner `height_cm` tall; None without a plausible height."""
    h = _finite(height_cm)
    if h is None or not (MIN_HEIGHT_CM <= h <= MAX_HEIGHT_CM):
        return None
    return TRUNK_PER_HEIGHT * h


def in_cm(stride_json: dict[str, Any], height_cm: float | None) -> dict[str, Any]:
    """A copy of a stride's JSON (StrideRecord.to_json) with `overstride_cm` and
    `vertical_oscillation_cm` added: the trunk-length values x the estimated trunk length; None
    where either is unknown."""
    out = dict(stride_json)
    trunk = trunk_cm(height_cm)
    for src, dst in (("overstride_trunk", "overstride_cm"), ("vertical_oscillation_trunk", "vertical_oscillation_cm")):
        value = _finite(stride_json.get(src))
        out[dst] = None if trunk is None or value is None else json_number(value * trunk, 1)
    return out
