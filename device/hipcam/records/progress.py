"""A runner's progress over sessions, and hipcam's own smallest detectable difference (SDD).

Per session and leg, over the classified strides (class != unknown): mean +- SD and n of each metric
in METRICS, only where a leg has at least MIN_STRIDES values (fewer: mean and SD are None, never a
number from a handful of strides). Class shares are metrics too: a stride counts 100 % for its class
and 0 % otherwise, so their mean is the share and the same error model applies.

The measurement error is hipcam's own (docs/runners.md): within a session, the odd and the even
strides of a leg are two repeated measurements of the same runner (split-half); the difference of
their means gives the per-stride error SD, pooled over the runner's sessions. The stride-to-stride
SD (pooled the same way) estimates the same thing more steadily; the larger of the two is used, so a
lucky split never makes the SDD small. For two session means of n1 and n2 strides the SDD is
1.96 * error_sd * sqrt(1/n1 + 1/n2) (= 1.96 * sqrt(2) * SEM for n strides each; for a class share
the error is at least the binomial one of the two sessions' pooled share). A change is
"changed" only when |delta| > SDD. This is within-session repeatability: it does not see a camera
moved between days, which is what the literature's between-day figures (LITERATURE) include.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from hipcam.domain import CLASSIFIED, LEGS, UNKNOWN
from hipcam.records.stride import StrideRecord

if TYPE_CHECKING:
    from hipcam.records.store import Store

MIN_STRIDES = 7
Z95 = 1.96
CHANGED, WITHIN = "changed", "within measurement error"


class Metric(NamedTuple):
    key: str
    label: str
    unit: str


METRICS: tuple[Metric, ...] = (
    Metric("hip_extension_at_toe_off_deg", "Hip extension at toe-off", "deg"),
    Metric("trunk_lean_at_toe_off_deg", "Trunk lean at toe-off", "deg"),
    Metric("cadence_spm", "Cadence", "steps/min"),
    Metric("knee_flexion_at_strike_deg", "Knee flexion at foot strike", "deg"),
    Metric("shank_angle_at_strike_deg", "Shank angle at foot strike", "deg"),
    Metric("foot_inclination_at_strike_deg", "Foot inclination at foot strike", "deg"),
    Metric("overstride_trunk", "Overstride", "trunk lengths"),
    Metric("vertical_oscillation_trunk", "Vertical oscillation", "trunk lengths"),
    Metric("stance_s", "Ground contact time", "s"),
    Metric("flight_s", "Flight time", "s"),
    *(Metric(f"share_{c}", f"Class {c} share", "%") for c in CLASSIFIED),
)

# Between-day figures of clinicians' 2D video (docs/runners.md has the references). Dingenen et al.
# also found a mean of at least 7 steps stable: hence MIN_STRIDES.
LITERATURE: tuple[dict[str, Any], ...] = (
    {"source": "Dingenen et al. 2018", "low": 1.3, "high": 4.8, "unit": "deg",
     "detail": "SDD between days of 2D sagittal and frontal angles, mean of 10 steps"},
    {"source": "Damsted et al. 2015", "low": 9.0, "high": 14.0, "unit": "deg",
     "detail": "95 % prediction interval between days of the knee angle at one foot strike (hip 9-11 deg)"},
)  # fmt: skip

Series = dict[str, dict[str, list[float]]]  # leg -> metric key -> per-stride values, in stride order


def _value(stride: StrideRecord, key: str) -> float | None:
    if key.startswith("share_"):
        return 100.0 if stride.cls == key.removeprefix("share_") else 0.0
    if key == "cadence_spm":  # two steps per stride of one leg
        duration = stride.duration_s
        if duration is None and stride.t_start is not None and stride.t_end is not None:
            duration = stride.t_end - stride.t_start
        return 120.0 / duration if duration is not None and duration > 0 else None
    value = getattr(stride, key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _series(strides: Sequence[StrideRecord]) -> Series:
    out: Series = {leg: {m.key: [] for m in METRICS} for leg in LEGS}
    for stride in strides:
        if stride.cls == UNKNOWN:
            continue
        for m in METRICS:
            if (value := _value(stride, m.key)) is not None:
                out[stride.leg][m.key].append(value)
    return out


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _summary(values: list[float]) -> dict[str, Any]:
    if len(values) < MIN_STRIDES:
        return {"mean": None, "sd": None, "n": len(values)}
    a = np.asarray(values, dtype=float)
    return {"mean": _r(float(a.mean())), "sd": _r(float(a.std(ddof=1))), "n": len(values)}


def _stats(series: Series) -> dict[str, dict[str, dict[str, Any]]]:
    return {leg: {key: _summary(values) for key, values in by_key.items()} for leg, by_key in series.items()}


def session_stats(strides: Sequence[StrideRecord]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per leg, per metric key: {"mean", "sd", "n"} over the classified strides (mean and SD None
    below MIN_STRIDES). The class shares (share_A...) are in %, cadence (cadence_spm) in steps/min."""
    return _stats(_series(strides))


class _Parts(NamedTuple):
    """One session's share of the pooled error model (one leg and metric): sums, so pooling is adding."""

    split_sq: float  # (mean of the odd strides - mean of the even ones) ** 2
    split_w: float  # 1/a + 1/b: its variance in units of the per-stride variance
    sq_dev: float  # sum of squared deviations from the session mean
    dof: int  # n - 1


def _parts(values: list[float]) -> _Parts | None:
    if len(values) < MIN_STRIDES:
        return None
    a = np.asarray(values, dtype=float)
    odd, even = a[0::2], a[1::2]
    return _Parts(float(odd.mean() - even.mean()) ** 2, 1.0 / len(odd) + 1.0 / len(even),
                  float(((a - a.mean()) ** 2).sum()), len(a) - 1)  # fmt: skip


def _pool(parts: Sequence[_Parts | None]) -> dict[str, Any]:
    used = [p for p in parts if p is not None]
    if not used:
        return {"split_half_sd": None, "stride_sd": None, "error_sd": None, "sessions": 0}
    split_half = math.sqrt(sum(p.split_sq for p in used) / sum(p.split_w for p in used))
    stride_sd = math.sqrt(sum(p.sq_dev for p in used) / sum(p.dof for p in used))
    return {"split_half_sd": _r(split_half), "stride_sd": _r(stride_sd), "error_sd": _r(max(split_half, stride_sd)),
            "sessions": len(used)}  # fmt: skip


def error_model(series_list: Sequence[list[float]]) -> dict[str, Any]:
    """Per-stride measurement error from several sessions' values of one metric and leg: the
    split-half SD, the stride-to-stride SD, and error_sd (the larger), over sessions with enough strides."""
    return _pool([_parts(v) for v in series_list])


def sdd(error_sd: float | None, n1: int, n2: int) -> float | None:
    """The smallest detectable difference between two means of n1 and n2 strides (95 %)."""
    if error_sd is None or min(n1, n2) < MIN_STRIDES:
        return None
    return _r(Z95 * error_sd * math.sqrt(1.0 / n1 + 1.0 / n2))


Parts = dict[str, dict[str, _Parts | None]]  # leg -> metric key -> one session's parts


def _session_parts(series: Series) -> Parts:
    return {leg: {key: _parts(values) for key, values in by_key.items()} for leg, by_key in series.items()}


def _errors(history: Sequence[Parts]) -> dict[str, dict[str, dict[str, Any]]]:
    """The error model of each leg and metric, pooled over these sessions."""
    return {leg: {m.key: _pool([p[leg][m.key] for p in history]) for m in METRICS} for leg in LEGS}


def _limit(error_sd: float | None, m: Metric, p: dict[str, Any], c: dict[str, Any]) -> float | None:
    """The SDD of one comparison. A class share's error is at least the binomial one of the two
    sessions' pooled share: a class never seen before has no spread, yet one stride of it is no change."""
    if m.unit == "%" and error_sd is not None:
        pooled = (p["mean"] * p["n"] + c["mean"] * c["n"]) / (p["n"] + c["n"]) / 100.0
        error_sd = max(error_sd, 100.0 * math.sqrt(pooled * (1.0 - pooled)))
    return sdd(error_sd, p["n"], c["n"])


def compare(before: Series, after: Series, errors: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per leg, per metric: previous, current, delta, the SDD and the mark (None where either
    session has too few strides)."""
    legs: dict[str, Any] = {}
    for leg in LEGS:
        legs[leg] = {}
        for m in METRICS:
            p, c = _summary(before[leg][m.key]), _summary(after[leg][m.key])
            delta = None if p["mean"] is None or c["mean"] is None else _r(c["mean"] - p["mean"])
            limit = _limit(errors[leg][m.key]["error_sd"], m, p, c) if delta is not None else None
            mark = None if delta is None or limit is None else (CHANGED if abs(delta) > limit else WITHIN)
            legs[leg][m.key] = {"label": m.label, "unit": m.unit, "previous": p["mean"], "current": c["mean"],
                                "delta": delta, "sdd": limit, "mark": mark}  # fmt: skip
    return legs


def _classified(series: Series) -> bool:
    return any(series[leg][f"share_{CLASSIFIED[0]}"] for leg in LEGS)


def _history(store: Store, runner_id: int) -> list[tuple[dict[str, Any], Series]]:
    return [(s, _series(store.strides(int(s["id"])))) for s in store.runners.sessions(runner_id)]


def session_change(store: Store, session_id: int) -> dict[str, Any] | None:
    """The change of a session from its runner's previous session (the latest earlier one with
    classified strides), with the SDD pooled over the runner's sessions up to this one. None when
    there is no earlier session, or the session is the unassigned runner's (different people)."""
    session = store.get_session(session_id)
    if session is None or session["runner_id"] in (None, store.runners.unassigned_id):
        return None
    history = _history(store, int(session["runner_id"]))
    at = next(i for i, (s, _) in enumerate(history) if s["id"] == session_id)
    earlier = [i for i in range(at) if _classified(history[i][1])]
    if not earlier:
        return None
    before = history[earlier[-1]]
    errors = _errors([_session_parts(series) for _, series in history[: at + 1]])
    return {"previous_session_id": int(before[0]["id"]), "legs": compare(before[1], history[at][1], errors)}


def runner_progress(store: Store, runner_id: int) -> dict[str, Any] | None:
    """Every session's stats in time order, each one's change from the previous session and from the
    baseline (the first with classified strides), and the error model over all sessions. None: no runner."""
    runner = store.runners.get(runner_id)
    if runner is None:
        return None
    history = _history(store, runner_id)
    comparable = not runner["unassigned"]
    rated = [i for i, (_, series) in enumerate(history) if _classified(series)] if comparable else []
    parts = [_session_parts(series) for _, series in history]
    sessions = []
    for i, (session, series) in enumerate(history):
        before = [j for j in rated if j < i]
        errors = _errors(parts[: i + 1]) if before else {}
        entry = {"session_id": session["id"], "started_at": session["started_at"], "runner": session["runner"],
                 "stride_count": session["stride_count"], "stats": _stats(series),
                 "previous_session_id": history[before[-1]][0]["id"] if before else None,
                 "change_previous": compare(history[before[-1]][1], series, errors) if before else None,
                 "change_baseline": compare(history[before[0]][1], series, errors) if before else None}  # fmt: skip
        sessions.append(entry)
    return {
        "runner_id": runner_id,
        "comparable": comparable,
        "min_strides": MIN_STRIDES,
        "metrics": [m._asdict() for m in METRICS],
        "literature": list(LITERATURE),
        "baseline_session_id": history[rated[0]][0]["id"] if rated else None,
        "sessions": sessions,
        "error": _error_summary(history, parts),
    }


def _error_summary(
    history: Sequence[tuple[dict[str, Any], Series]], parts: Sequence[Parts]
) -> dict[str, dict[str, dict[str, Any]]]:
    """The error model over all the sessions, with the SEM and the SDD for the runner's typical
    (median) number of strides per session: what the page states as hipcam's SDD."""
    out = _errors(parts)
    for leg, by_key in out.items():
        for key, model in by_key.items():
            counts = [len(series[leg][key]) for _, series in history if len(series[leg][key]) >= MIN_STRIDES]
            n = int(np.median(counts)) if counts else None
            sem = None if n is None or model["error_sd"] is None else _r(model["error_sd"] / math.sqrt(n))
            model.update(n=n, sem=sem, sdd=sdd(model["error_sd"], n, n) if n else None)
    return out
