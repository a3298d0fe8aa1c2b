"""Walk-up form checks (docs/walkup.md): what a gym member reads after a check, worked out from the
check's strides. Pure: no clock, no I/O.

One reviewed table holds everything the card says: the plain words of each pattern (``PATTERN_WORDS``),
the one cue that fits it (``CUES``, in a clinician's vocabulary, with its sources) and the usual ranges
the two angles are set against (``USUAL``, the same literature as the class thresholds of
hipcam.config.gait / docs/gait.md). Change the wording here and only here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hipcam.domain import CLASSIFIED, LEGS, RUNNING, GaitClass
from hipcam.records.stride import StrideRecord, json_number

# When two patterns were seen equally often, the card names the one that needs the more work.
TIE_ORDER: tuple[str, ...] = (GaitClass.D, GaitClass.C, GaitClass.A, GaitClass.B)


@dataclass(frozen=True)
class Cue:
    text: str  # what the runner reads, a few words
    why: str  # one sentence: what the cue changes
    sources: tuple[str, ...]


@dataclass(frozen=True)
class UsualRange:
    low: float
    high: float
    unit: str
    below: str  # plain words for a value under the range
    within: str
    above: str
    source: str


SOUZA_2016 = (
    "Souza RB. An evidence-based videotaped running biomechanics analysis. Phys Med Rehabil Clin N Am 2016;27:217-236"
)
NOVACHECK_1998 = "Novacheck TF. The biomechanics of running. Gait Posture 1998;7:77-95"
TENG_POWERS_2014 = "Teng HL, Powers CM. Sagittal plane trunk posture influences patellofemoral joint stress during running. J Orthop Sports Phys Ther 2014;44:785-792"
FOLLAND_2017 = "Folland JP, Allen SJ, Black MI, Handsaker JC, Forrester SE. Running technique is an important component of running economy and performance. Med Sci Sports Exerc 2017;49:1412-1423"
SCHACHE_1999 = "Schache AG, Bennell KL, Blanch PD, Wrigley TV. The coordinated movement of the lumbo-pelvic-hip complex during running. Gait Posture 1999;10:30-47"
WILLY_DAVIS_2011 = "Willy RW, Davis IS. The effect of a hip-strengthening program on mechanics during running and during a single-leg squat. J Orthop Sports Phys Ther 2011;41:625-632"
HEIDERSCHEIT_2011 = "Heiderscheit BC, Chumanov ES, Michalski MP, Wille CM, Ryan MB. Effects of step rate manipulation on joint mechanics during running. Med Sci Sports Exerc 2011;43:296-302"

PATTERN_WORDS: dict[str, str] = {
    GaitClass.A: "Neutral: the thigh stays under you, with little push-off behind the hip",
    GaitClass.B: "True hip extension: the thigh swings back from the hip with the trunk upright",
    GaitClass.C: "Leaning forward: the thigh looks extended because the trunk tips forward",
    GaitClass.D: "Arching the back: the thigh looks extended because the lower back arches",
}

CUES: dict[str, Cue] = {
    GaitClass.A: Cue(
        "Push the ground away behind you",
        "More hip extension at push-off, driven by the glutes rather than reaching forward.",
        (NOVACHECK_1998, SOUZA_2016, WILLY_DAVIS_2011),
    ),
    GaitClass.B: Cue(
        "Keep it: run tall and keep pushing back",
        "True hip extension with an upright trunk is the pattern to hold.",
        (NOVACHECK_1998, SOUZA_2016),
    ),
    GaitClass.C: Cue(
        "Run tall, push the ground away behind you",
        "Less forward trunk lean, so the extension comes from the hip and not from tipping forward.",
        (SOUZA_2016, TENG_POWERS_2014, FOLLAND_2017),
    ),
    GaitClass.D: Cue(
        "Ribs down, squeeze the glutes",
        "A quieter lower back and pelvis, so the glutes extend the hip instead of the spine arching.",
        (SCHACHE_1999, SOUZA_2016, WILLY_DAVIS_2011),
    ),
}

Measure = Literal["hip_extension", "trunk_lean"]
USUAL: dict[Measure, UsualRange] = {
    # Peak hip extension in running ~10-20 deg; 10 deg is also the B threshold (hip_extension_min_deg).
    "hip_extension": UsualRange(
        10.0, 20.0, "°", "less than usual", "in the usual range", "more than usual", NOVACHECK_1998
    ),
    # Trunk lean in distance running ~5-10 deg forward; C starts at 12 deg (trunk_lean_max_deg).
    "trunk_lean": UsualRange(
        5.0, 10.0, "°", "more upright than usual", "in the usual range", "more forward than usual", FOLLAND_2017
    ),
}
# Not on the card's cue, but the one evidence-based lever beside posture, named in docs/walkup.md.
CADENCE_SOURCE = HEIDERSCHEIT_2011


def counts(stride: StrideRecord) -> bool:
    """A stride a walk-up check counts: classified A-D and running (walking strides are never classed)."""
    return stride.cls in CLASSIFIED and getattr(stride, "locomotion", RUNNING) == RUNNING


def dominant(classes: Iterable[str]) -> str | None:
    """The pattern seen most (ties: the one needing more work, ``TIE_ORDER``); None for no stride."""
    seen = Counter(c for c in classes if c in CLASSIFIED)
    if not seen:
        return None
    return max(TIE_ORDER, key=lambda c: (seen[c], -TIE_ORDER.index(c)))


def against_usual(measure: Measure, value: float | None) -> dict[str, Any]:
    """``value`` beside its usual range: the numbers, below/within/above and the words."""
    r = USUAL[measure]
    verdict = None if value is None else "below" if value < r.low else "above" if value > r.high else "within"
    words = {"below": r.below, "within": r.within, "above": r.above}.get(verdict or "", "not measured")
    return {"value": json_number(value, 1), "low": r.low, "high": r.high, "unit": r.unit, "verdict": verdict,
            "words": words, "source": r.source}  # fmt: skip


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def leg_result(strides: Sequence[StrideRecord]) -> dict[str, Any]:
    """One leg's part of the card, from its counted strides."""
    used = [s for s in strides if counts(s)]
    cls = dominant(s.cls for s in used)
    seen = Counter(s.cls for s in used)
    return {
        "class": cls,
        "words": PATTERN_WORDS.get(cls or "", "Not enough strides seen"),
        "strides": len(used),
        "counts": {c: seen[c] for c in CLASSIFIED},
        "hip_extension": against_usual("hip_extension", _mean(s.hip_extension_at_toe_off_deg for s in used)),
        "trunk_lean": against_usual("trunk_lean", _mean(s.trunk_lean_at_toe_off_deg for s in used)),
    }


def cue_for(cls: str | None) -> dict[str, Any] | None:
    cue = CUES.get(cls or "")
    return None if cue is None else {"text": cue.text, "why": cue.why, "sources": list(cue.sources)}


def make_card(by_leg: Mapping[str, Sequence[StrideRecord]], finished_at: float) -> dict[str, Any]:
    """The result card of a finished check: per leg the pattern and the two angles, overall the
    pattern seen most over both legs and its one cue. Carries no name and nothing of the runner's
    but these figures."""
    legs = {leg: leg_result(by_leg.get(leg, ())) for leg in LEGS}
    overall = dominant(s.cls for leg in LEGS for s in by_leg.get(leg, ()) if counts(s))
    return {
        "finished_at": json_number(finished_at, 3),
        "class": overall,
        "words": PATTERN_WORDS.get(overall or "", "Not enough strides seen"),
        "legs": legs,
        "cue": cue_for(overall),
    }
