"""hipcam's one vocabulary: stride classes, legs, service statuses, BlazePose's 33 landmarks and the
skeleton table. Every other module (and, through ``page_vocabulary``, the page) takes these names
from here, so a class, a leg or a landmark is spelled once.

Imports nothing of hipcam's: the bottom layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Literal


class GaitClass(StrEnum):
    """A stride's pattern (docs/gait.md). ``UNKNOWN``: the analysis could not classify it."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    UNKNOWN = "unknown"


UNKNOWN = GaitClass.UNKNOWN
CLASSIFIED: tuple[str, ...] = (GaitClass.A, GaitClass.B, GaitClass.C, GaitClass.D)
CLASSES: tuple[str, ...] = (*CLASSIFIED, UNKNOWN)


@dataclass(frozen=True)
class ClassInfo:
    name: str  # a few words, shown beside the letter
    meaning: str  # one sentence for the clinician
    colour: str  # the page's colour for the class (CSS)
    symbol: str  # what the stride strip shows


CLASS_INFO: dict[str, ClassInfo] = {
    GaitClass.A: ClassInfo("Neutral", "No extension beyond neutral", "#94a3b8", "A"),
    GaitClass.B: ClassInfo("True hip extension", "The goal: the thigh moves back from the hip", "#22c55e", "B"),
    GaitClass.C: ClassInfo("Leaning forward", "Apparent extension from a forward trunk lean", "#f59e0b", "C"),
    GaitClass.D: ClassInfo("Arching the back", "Apparent extension from an arched lower back", "#ef4444", "D"),
    UNKNOWN: ClassInfo("Not classified", "Too little of the stride was seen to classify it", "#64748b", "?"),
}

Leg = Literal["left", "right"]
LEGS: tuple[Leg, Leg] = ("left", "right")


def other_leg(leg: str) -> Leg:
    return "right" if leg == "left" else "left"


class Locomotion(StrEnum):
    """How a stride was covered (gait.locomotion): only running strides are classified A-D."""

    RUNNING = "running"
    WALKING = "walking"


RUNNING, WALKING = Locomotion.RUNNING, Locomotion.WALKING


class StrikePattern(StrEnum):
    """Which part of the foot lands first (gait.side_metrics, from the foot's angle at contact)."""

    REARFOOT = "rearfoot"
    MIDFOOT = "midfoot"
    FOREFOOT = "forefoot"


STRIKE_PATTERNS: tuple[str, ...] = tuple(StrikePattern)

Status = Literal["starting", "running", "no_runner", "camera_lost", "model_missing"]
STATUSES: tuple[Status, ...] = ("starting", "running", "no_runner", "camera_lost", "model_missing")


class Landmark(IntEnum):
    """BlazePose's 33 landmarks, in the model's (and the landmarks file's) order."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


L = Landmark
NUM_LANDMARKS = len(Landmark)
NAMES: tuple[str, ...] = tuple(lm.name.lower() for lm in Landmark)
# Values per image landmark: x, y (normalized to width/height), z, visibility, presence.
VISIBILITY, PRESENCE = 3, 4

SHOULDERS: tuple[int, int] = (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
HIPS: tuple[int, int] = (L.LEFT_HIP, L.RIGHT_HIP)
EARS: tuple[int, int] = (L.LEFT_EAR, L.RIGHT_EAR)
HEELS: tuple[int, int] = (L.LEFT_HEEL, L.RIGHT_HEEL)
FOOT_TIPS: tuple[int, int] = (L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)
# Per side: shoulder, elbow, wrist; and pinky, index, thumb.
ARMS: tuple[tuple[int, int, int], ...] = (
    (L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST),
    (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST),
)
HANDS: tuple[tuple[int, int, int], ...] = (
    (L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB),
    (L.RIGHT_PINKY, L.RIGHT_INDEX, L.RIGHT_THUMB),
)

# Per leg, the joints the gait analysis reads.
LEG_JOINTS: dict[str, dict[str, int]] = {
    leg: {
        joint: Landmark[f"{leg.upper()}_{joint.upper()}"]
        for joint in ("shoulder", "hip", "knee", "ankle", "heel", "foot_index")
    }
    for leg in LEGS
}

# Left/right pairs of the body below the face: a leg-label swap exchanges them.
SWAP_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (Landmark[f"LEFT_{part}"], Landmark[f"RIGHT_{part}"]) for part in ("HIP", "KNEE", "ANKLE", "HEEL", "FOOT_INDEX")
)

# The landmarks whose agreement with a reference is checked (shoulders to foot tips).
BODY_LANDMARKS: tuple[int, ...] = (*SHOULDERS, *HIPS, *(j for pair in SWAP_PAIRS[1:] for j in pair))

# Skeleton edges drawn over the camera view (torso and limbs; the face is left out).
EDGES: tuple[tuple[int, int], ...] = (
    (L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_SHOULDER, L.LEFT_HIP), (L.RIGHT_SHOULDER, L.RIGHT_HIP),
    (L.LEFT_HIP, L.RIGHT_HIP),
    (L.LEFT_SHOULDER, L.LEFT_ELBOW), (L.LEFT_ELBOW, L.LEFT_WRIST),
    (L.RIGHT_SHOULDER, L.RIGHT_ELBOW), (L.RIGHT_ELBOW, L.RIGHT_WRIST),
    (L.LEFT_HIP, L.LEFT_KNEE), (L.LEFT_KNEE, L.LEFT_ANKLE), (L.LEFT_ANKLE, L.LEFT_HEEL),
    (L.LEFT_HEEL, L.LEFT_FOOT_INDEX), (L.LEFT_ANKLE, L.LEFT_FOOT_INDEX),
    (L.RIGHT_HIP, L.RIGHT_KNEE), (L.RIGHT_KNEE, L.RIGHT_ANKLE), (L.RIGHT_ANKLE, L.RIGHT_HEEL),
    (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX), (L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX),
)  # fmt: skip

# The lines the angles come from, and their colours on the page.
THIGH_COLOUR, TRUNK_COLOUR, SKELETON_COLOUR = "#38bdf8", "#f472b6", "rgba(255,255,255,0.75)"
LEG_COLOURS: dict[str, str] = {"left": "#38bdf8", "right": "#eab308"}  # readable on the dark page and on paper

# Per-frame measures from the segmentation mask (hipcam.vision.mask_features), in column order.
MASK_FEATURES: tuple[str, ...] = (
    "lumbar_depth_ratio",
    "back_tilt_deg",
    "thigh_mask_deg_left",
    "thigh_mask_deg_right",
    "lower_back_depth_ratio",
)
LUMBAR_DEPTH, BACK_TILT, THIGH_MASK_LEFT, THIGH_MASK_RIGHT, LOWER_BACK_DEPTH = range(len(MASK_FEATURES))
THIGH_MASK: dict[str, int] = {"left": THIGH_MASK_LEFT, "right": THIGH_MASK_RIGHT}


@dataclass(frozen=True)
class LevelInfo:
    """The camera roll the analysis applies, and where it came from."""

    mode: str  # the [level] mode: auto | manual | off
    roll_deg: float
    source: str  # edge (auto, found) | no_edge (auto, none or not confident: fell back to roll_deg) | manual | off
    confidence: float = 0.0  # of the automatic estimate, 0..1 (0: none made)
    method: str = "none"  # verticals | horizontals | combined (auto) | none (no estimate) | manual | off

    def text(self) -> str:
        roll = f"{self.roll_deg:+.1f}°"
        found = {
            "verticals": "verticals",
            "horizontals": "horizontal edges",
            "combined": "verticals and horizontal edges",
        }.get(self.method, "lines in the image")
        no_edge = f"auto: no edge found, using {roll}"
        if self.confidence > 0:
            no_edge = f"auto: no confident estimate ({self.confidence:.2f}), using {roll}"
        return {
            "edge": f"auto: {roll} from {found} (confidence {self.confidence:.2f})",
            "no_edge": no_edge,
            "manual": f"manual: {roll}",
            "off": "off: no correction",
        }.get(self.source, roll)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "roll_deg": round(self.roll_deg, 2), "source": self.source}
        if self.mode == "auto":  # what the estimate rests on: meaningless for manual and off
            out |= {"confidence": round(self.confidence, 2), "method": self.method}
        return out | {"text": self.text()}


def page_vocabulary() -> dict[str, Any]:
    """What the page's scripts need of this module, as JSON data (injected into the base template)."""
    return {
        "classes": {c: {"name": i.name, "meaning": i.meaning, "colour": i.colour, "symbol": i.symbol}
                    for c, i in CLASS_INFO.items()},
        "classified": list(CLASSIFIED),
        "unknown": str(UNKNOWN),
        "legs": list(LEGS),
        "landmarks": {lm.name.lower(): int(lm) for lm in Landmark},
        "edges": [list(e) for e in EDGES],
        "leg_joints": LEG_JOINTS,
        "colours": {"thigh": THIGH_COLOUR, "trunk": TRUNK_COLOUR, "skeleton": SKELETON_COLOUR, **LEG_COLOURS},
    }  # fmt: skip
