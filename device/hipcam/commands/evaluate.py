"""`hipcam evaluate TRUTH ANALYSIS`: how far an analysis (`hipcam analyze --json`) is from hand truth
(`hipcam label`): events, cadence, angles at toe-off and the share of unknown strides.

Matching: within the truth's labelled frame range, each labelled event is paired with the nearest
detected event of the same leg and type not already paired, within a tolerance of 0.4 step times
(from the labelled strikes) and at most 0.15 s; unpaired detections in the range are false events.
Times are converted with the analysis's frame rate (the true capture rate of slow-motion footage).
Angles: the labelled ones were clicked in the image; they are levelled with the labeller's camera roll
(as the analysis levels its own with the roll it found) before they are compared.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hipcam.atomic import write_text
from hipcam.domain import UNKNOWN
from hipcam.errors import HipcamError
from hipcam.gait.kinematics import level_axis_angle
from hipcam.records.truth import Truth, load_truth

EVENT_TYPES = ("foot_strike", "toe_off")
_MAX_TOLERANCE_S = 0.15
_STEP_SHARE = 0.4
# The targets (README): events, cadence, angles, unknown share.
TARGETS = {
    "recall": 0.95,
    "false_per_event": 1 / 20,
    "median_abs_ms": 17.0,
    "p90_abs_frames": 2.0,
    "cadence_spm": 1.5,
    "hip_ext_rmse_deg": 4.0,
    "trunk_rmse_deg": 3.0,
    "unknown_share": 0.10,
}


@dataclass(frozen=True)
class EventScore:
    type: str
    labelled: int
    found: int
    false: int
    recall: float
    median_error_frames: float | None
    mean_error_frames: float | None
    median_abs_frames: float | None
    p90_abs_frames: float | None
    median_error_ms: float | None
    mean_error_ms: float | None


@dataclass(frozen=True)
class AngleScore:
    measure: str
    n: int
    mean_error_deg: float | None
    rmse_deg: float | None


@dataclass(frozen=True)
class Evaluation:
    clip: str
    fps: float
    tolerance_frames: float
    events: list[EventScore]
    cadence_truth_spm: float | None
    cadence_spm: float | None
    angles: list[AngleScore]
    strides: int
    unknown_share: float | None


def _load_analysis(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HipcamError(f"{path}: no such analysis file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HipcamError(f"{path}: not an analysis JSON ({exc})") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("events"), list)
        or not isinstance(data.get("strides"), list)
    ):
        raise HipcamError(f"{path}: not an analysis JSON (no events and strides; write it with hipcam analyze --json)")
    fps = data.get("fps")
    if not isinstance(fps, int | float) or not 1 <= fps <= 10000:
        raise HipcamError(f"{path}: its fps {fps!r} is not a frame rate")
    return data


def _tolerance(truth: Truth, fps: float) -> float:
    strikes = sorted(e.frame for e in truth.events if e.type == "foot_strike")
    steps = np.diff(strikes)
    cap = _MAX_TOLERANCE_S * fps  # the analysis runs at the true rate
    share = _STEP_SHARE * float(np.median(steps)) if steps.size else math.inf
    tol = min(share, cap)
    return tol if math.isfinite(tol) else 3.0


def _match(labelled: list[int], found: list[int], tol: float) -> list[tuple[int, int]]:
    """(labelled, found) pairs, closest first, each used once."""
    pairs = sorted((abs(f - t), t, f) for t in labelled for f in found if abs(f - t) <= tol)
    used_t: set[int] = set()
    used_f: set[int] = set()
    out = []
    for _, t, f in pairs:
        if t not in used_t and f not in used_f:
            used_t.add(t)
            used_f.add(f)
            out.append((t, f))
    return out


def _stat(values: list[float], fn: Any) -> float | None:
    return float(fn(values)) if values else None


def _event_score(
    kind: str, truth: Truth, events: list[dict[str, Any]], tol: float, fps: float
) -> tuple[EventScore, dict]:
    lo, hi = truth.frames_analyzed
    errors: list[float] = []
    labelled = found_n = false = 0
    matched: dict[tuple[str, int], int] = {}
    for leg in sorted({e.leg for e in truth.events}):
        t_frames = [e.frame for e in truth.events if e.type == kind and e.leg == leg]
        f_frames = [int(e["frame"]) for e in events if e.get("type") == kind and e.get("leg") == leg]
        f_frames = [f for f in f_frames if lo - tol <= f <= hi + tol]
        pairs = _match(t_frames, f_frames, tol)
        labelled += len(t_frames)
        found_n += len(pairs)
        false += sum(1 for f in f_frames if lo <= f <= hi and f not in {p[1] for p in pairs})
        errors += [float(f - t) for t, f in pairs]
        matched.update({(leg, t): f for t, f in pairs})
    absolute = [abs(e) for e in errors]
    ms = 1000.0 / fps
    score = EventScore(
        type=kind,
        labelled=labelled,
        found=found_n,
        false=false,
        recall=found_n / labelled if labelled else math.nan,
        median_error_frames=_stat(errors, np.median),
        mean_error_frames=_stat(errors, np.mean),
        median_abs_frames=_stat(absolute, np.median),
        p90_abs_frames=_stat(absolute, lambda v: np.percentile(v, 90)),
        median_error_ms=None if not errors else float(np.median(errors)) * ms,
        mean_error_ms=None if not errors else float(np.mean(errors)) * ms,
    )
    return score, matched


def levelled_truth_angles(truth: Truth) -> list[tuple[int, float, float, float]]:
    """(frame, thigh, trunk, hip extension) of each labelled toe-off, from the image vertical (how they
    were clicked) to the true vertical with the labeller's own camera roll, like the analysis's."""
    d = 1 if truth.running_direction == "right" else -1
    roll = -truth.roll_deg  # the truth file's roll is + rising to the right; hipcam's + descending
    out = []
    for a in truth.toe_off_angles:
        thigh = float(level_axis_angle(a.thigh_deg, d, roll, up=False))
        trunk = float(level_axis_angle(a.trunk_deg, d, roll, up=True))
        out.append((a.frame, thigh, trunk, thigh - trunk))
    return out


def _angle_scores(truth: Truth, strides: list[dict[str, Any]], to_matched: dict, tol: float) -> list[AngleScore]:
    """Angles at the labelled toe-offs vs the stride whose toe-off was matched to them."""
    pairs = {"hip_extension_at_toe_off_deg": 3, "trunk_lean_at_toe_off_deg": 2, "thigh_at_toe_off_deg": 1}
    errors: dict[str, list[float]] = {k: [] for k in pairs}
    for ang in levelled_truth_angles(truth):
        frame = to_matched.get((truth.near_leg, ang[0]))
        if frame is None:
            continue
        stride = next((s for s in strides if s.get("leg") == truth.near_leg and s.get("toe_off_frame") == frame), None)
        if stride is None:
            continue
        for mine, theirs in pairs.items():
            value = stride.get(mine)
            if isinstance(value, int | float):
                errors[mine].append(float(value) - ang[theirs])
    return [
        AngleScore(k, len(v), _stat(v, np.mean), None if not v else float(np.sqrt(np.mean(np.square(v)))))
        for k, v in errors.items()
    ]


def evaluate(truth: Truth, analysis: dict[str, Any]) -> Evaluation:
    fps = float(analysis["fps"])
    tol = _tolerance(truth, fps)
    events = [e for e in analysis["events"] if isinstance(e, dict) and isinstance(e.get("frame"), int)]
    scores, matched = [], {}
    for kind in EVENT_TYPES:
        score, m = _event_score(kind, truth, events, tol, fps)
        scores.append(score)
        if kind == "toe_off":
            matched = m
    lo, hi = truth.frames_analyzed
    strides = [s for s in analysis["strides"] if isinstance(s, dict)]
    in_range = [
        s for s in strides if isinstance(s.get("foot_strike_frame"), int) and lo <= s["foot_strike_frame"] <= hi
    ]
    unknown = sum(1 for s in in_range if s.get("class") == UNKNOWN)
    summary = analysis.get("summary")
    summary = summary if isinstance(summary, dict) else {}
    cadence = summary.get("cadence_spm")
    return Evaluation(
        clip=truth.name,
        fps=fps,
        tolerance_frames=tol,
        events=scores,
        cadence_truth_spm=truth.cadence_spm,
        cadence_spm=float(cadence) if isinstance(cadence, int | float) else None,
        angles=_angle_scores(truth, in_range, matched, tol),
        strides=len(in_range),
        unknown_share=unknown / len(in_range) if in_range else None,
    )


def _f(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def format_evaluation(ev: Evaluation) -> str:
    lines = [
        f"{ev.clip}: analysis at {ev.fps:g} fps, events matched within {ev.tolerance_frames:.1f} frames",
        f"{'event':<12} {'truth':>5} {'found':>5} {'false':>5} {'recall':>7} {'med err':>8} {'mean err':>8} "
        f"{'med |e|':>7} {'p90 |e|':>7} {'med ms':>7} {'mean ms':>7}",
    ]
    for s in ev.events:
        lines.append(
            f"{s.type:<12} {s.labelled:>5} {s.found:>5} {s.false:>5} {_f(100 * s.recall, 0):>6}% "
            f"{_f(s.median_error_frames):>8} {_f(s.mean_error_frames):>8} {_f(s.median_abs_frames):>7} "
            f"{_f(s.p90_abs_frames):>7} {_f(s.median_error_ms, 0):>7} {_f(s.mean_error_ms, 0):>7}"
        )
    cad_err = None if ev.cadence_spm is None or ev.cadence_truth_spm is None else ev.cadence_spm - ev.cadence_truth_spm
    lines.append(
        f"cadence: {_f(ev.cadence_spm)} steps/min vs {_f(ev.cadence_truth_spm)} labelled (error {_f(cad_err)})"
    )
    for a in ev.angles:
        lines.append(
            f"{a.measure:<30} n={a.n:<3} mean error {_f(a.mean_error_deg):>5} deg, RMSE {_f(a.rmse_deg):>5} deg"
        )
    share = "-" if ev.unknown_share is None else f"{100 * ev.unknown_share:.0f}%"
    lines.append(f"strides in the labelled range: {ev.strides}, unknown {share}")
    return "\n".join(lines)


def run_evaluate(truth_path: Path, analysis_path: Path, json_out: Path | None = None) -> int:
    truth = load_truth(truth_path)
    result = evaluate(truth, _load_analysis(analysis_path))
    print(format_evaluation(result))
    if json_out is not None:
        write_text(json_out, json.dumps(asdict(result), indent=2, default=str) + "\n")
    return 0
