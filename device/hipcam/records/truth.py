"""Hand-labelled gait truth (`hipcam label` writes it, `hipcam evaluate` reads it): load, check, dump.

The file is a JSON object: one key per clip (the video's stem) holding the clip's labels, plus a
``_conventions`` block saying what the numbers mean (``CONVENTIONS`` below; the same meaning as the
lab's treadmill_lab_side.truth.json, which this module reads too). Keys it does not know are ignored
on load (a clip's are kept in ``Truth.extra`` and written back); the angles follow the conventions:

- thigh_deg: hip->knee from the IMAGE vertical, + = knee behind the hip (against the running direction);
- trunk_deg: hip->shoulder from the IMAGE vertical, + = shoulder ahead of the hip;
- hip_ext_deg = thigh_deg - trunk_deg (a relative angle: the camera roll does not change it).

Note the roll sign: here + means a truly level line appears *rising* to the right (the lab file's
convention); hipcam.gait.level's ``roll_deg`` is + when it *descends* to the right, i.e. the negative.

Pure Python (no Flask, no OpenCV).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hipcam.atomic import write_text
from hipcam.domain import LEGS
from hipcam.errors import HipcamError

EVENT_TYPES: tuple[str, str] = ("foot_strike", "toe_off")
DIRECTIONS: tuple[str, str] = ("left", "right")
MAX_ROLL_DEG = 45.0
CONVENTIONS: dict[str, str] = {
    "coordinates": "pixel coordinates (x right, y down) in the decoded frame",
    "frames": "0-based frame index in decode order (OpenCV / PyAV agree)",
    "foot_strike": "first frame in which the foot is judged to be in contact with the belt/ground",
    "toe_off": "last frame in which the foot (toe) is judged to be in contact",
    "confidence_frames": "+/- frames (same frame units as the clip; for slow-motion clips these are slow-motion frames)",
    "time_s": "frame / fps: VIDEO time (real time = frame / true_fps when true_fps is given)",
    "thigh_deg": "angle of hip->knee vector from IMAGE vertical, positive = knee behind hip relative to running direction",
    "trunk_deg": "angle of hip->shoulder vector from IMAGE vertical, positive = shoulder ahead of hip in running direction",
    "hip_ext_deg": "thigh_deg - trunk_deg",
    "roll_corrected": "no: angles are from the IMAGE vertical; from the true vertical add s*camera_roll_deg to thigh_deg "
    "and trunk_deg (s = +1 running right, -1 running left); hip_ext_deg is the same either way",
    "camera_roll_deg": "positive = a truly level line appears rising to the right in the image "
    "(camera rolled clockwise as seen from behind it)",
    "cadence_spm": "steps per minute in REAL time from consecutive foot strikes; null when the real rate is unknown",
}
_KNOWN = {
    "video", "fps", "true_fps", "frame_count", "frame_size_px", "frames_analyzed", "slow_motion",
    "running_direction_in_image", "near_side_leg", "events", "camera_roll_deg", "toe_off_angles",
    "cadence_spm", "notes", "running_direction",
}  # fmt: skip

Point = tuple[float, float]


@dataclass(frozen=True)
class TruthEvent:
    frame: int
    leg: str  # hipcam.domain.LEGS
    type: str  # EVENT_TYPES
    confidence_frames: int = 2
    note: str = ""


@dataclass(frozen=True)
class TruthAngles:
    frame: int
    shoulder_px: Point
    hip_px: Point
    knee_px: Point
    thigh_deg: float
    trunk_deg: float
    hip_ext_deg: float


@dataclass(frozen=True)
class Truth:
    name: str  # the clip's name: the video's stem, the file's top-level key
    video: str
    fps: float  # the file's frame rate (video time)
    frame_count: int
    frames_analyzed: tuple[int, int]
    running_direction: str  # DIRECTIONS, in the image
    near_leg: str
    events: list[TruthEvent]
    roll_deg: float  # camera_roll_deg: + = a level line rises to the right (see the module doc)
    toe_off_angles: list[TruthAngles]
    cadence_spm: float | None
    true_fps: float | None = None  # the real capture rate when it is not ``fps`` (slow motion)
    slow_motion: bool = False
    frame_size_px: tuple[int, int] | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # the clip's keys this module does not know

    def recomputed(self) -> Truth:
        """Events and angle entries sorted, the angles from their points, the cadence from the events."""
        events = sorted(self.events, key=lambda e: (e.frame, e.leg, e.type))
        angles = [
            angles_from_points(a.frame, a.shoulder_px, a.hip_px, a.knee_px, self.running_direction)
            for a in sorted(self.toe_off_angles, key=lambda a: a.frame)
        ]
        rate = self.true_fps if self.true_fps is not None else (None if self.slow_motion else self.fps)
        return replace(self, events=events, toe_off_angles=angles, cadence_spm=cadence_spm(events, rate))


def segment_angles(shoulder: Point, hip: Point, knee: Point, direction: str) -> tuple[float, float, float]:
    """(thigh_deg, trunk_deg, hip_ext_deg) from clicked pixels, per the conventions, to 0.1 deg."""
    if direction not in DIRECTIONS:
        raise HipcamError(f"running direction must be 'left' or 'right', not {direction!r}")
    ahead = 1.0 if direction == "right" else -1.0  # +x is ahead when running right
    thigh = math.degrees(math.atan2(-ahead * (knee[0] - hip[0]), knee[1] - hip[1]))
    trunk = math.degrees(math.atan2(ahead * (shoulder[0] - hip[0]), hip[1] - shoulder[1]))
    thigh, trunk = round(thigh, 1), round(trunk, 1)
    return thigh, trunk, round(thigh - trunk, 1)


def angles_from_points(frame: int, shoulder: Point, hip: Point, knee: Point, direction: str) -> TruthAngles:
    thigh, trunk, ext = segment_angles(shoulder, hip, knee, direction)
    return TruthAngles(frame, shoulder, hip, knee, thigh, trunk, ext)


def cadence_spm(events: Sequence[TruthEvent], rate: float | None) -> float | None:
    """Steps per minute from consecutive foot strikes (a same-leg pair counts as two steps; toe-offs
    are used when fewer than two strikes are marked). None without a real-time rate or two marks."""
    if rate is None or rate <= 0:
        return None
    for kind in EVENT_TYPES:
        marks = sorted((e.frame, e.leg) for e in events if e.type == kind)
        if len(marks) >= 2:
            steps = sum(1 if a[1] != b[1] else 2 for a, b in itertools.pairwise(marks))
            span = marks[-1][0] - marks[0][0]
            return round(60.0 * rate * steps / span, 1) if span > 0 else None
    return None


def new_truth(name: str, video: str, fps: float, frame_count: int, true_fps: float | None = None) -> Truth:
    """An empty truth for a clip: every frame analysed, running right, near leg right, level camera."""
    slow = true_fps is not None and abs(true_fps - fps) > 0.01
    return Truth(name, video, fps, frame_count, (0, max(0, frame_count - 1)), "right", "right", [], 0.0, [], None,
                 true_fps=true_fps, slow_motion=slow)  # fmt: skip


# --- reading ---------------------------------------------------------------------------------


class _Check:
    """Field readers that raise HipcamError naming the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> HipcamError:
        return HipcamError(f"{self.source}: {where} {what}")

    def number(self, d: Mapping[str, Any], key: str, where: str, optional: bool = False) -> float | None:
        v = d.get(key)
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.fail(f"{where}{key}", f"must be a number, not {v!r}")
        return float(v)

    def integer(self, v: Any, where: str, lo: int = 0, hi: int | None = None) -> int:
        if isinstance(v, bool) or not isinstance(v, int | float) or not float(v).is_integer():
            raise self.fail(where, f"must be a whole number, not {v!r}")
        if v < lo or (hi is not None and v > hi):
            raise self.fail(where, f"{int(v)} is outside {lo}..{hi if hi is not None else ''}")
        return int(v)

    def choice(self, v: Any, where: str, options: Sequence[str]) -> str:
        if v not in options:
            raise self.fail(where, f"must be one of {', '.join(map(repr, options))}, not {v!r}")
        return str(v)

    def point(self, v: Any, where: str) -> Point:
        ok = isinstance(v, list | tuple) and len(v) == 2
        if not ok or any(isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c) for c in v):
            raise self.fail(where, f"must be [x, y] in pixels, not {v!r}")
        return float(v[0]), float(v[1])

    def items(self, d: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        v = d.get(key, [])
        if not isinstance(v, list) or not all(isinstance(i, dict) for i in v):
            raise self.fail(key, "must be a list of objects")
        return v


def parse_clip(name: str, d: Any, source: str = "truth") -> Truth:
    """One clip's labels (the object under its name) -> Truth; HipcamError with one line if malformed."""
    c = _Check(source)
    if not isinstance(d, dict):
        raise c.fail(name, "must be an object")
    fps = c.number(d, "fps", "")
    if fps is None or fps <= 0:
        raise c.fail("fps", "must be positive")
    true_fps = c.number(d, "true_fps", "", optional=True)
    if true_fps is not None and true_fps <= 0:
        raise c.fail("true_fps", "must be positive")
    count = c.integer(d.get("frame_count"), "frame_count", lo=1)
    last = count - 1
    fa = d.get("frames_analyzed", [0, last])
    if not isinstance(fa, list | tuple) or len(fa) != 2:
        raise c.fail("frames_analyzed", f"must be [first, last], not {fa!r}")
    first_last = (c.integer(fa[0], "frames_analyzed[0]", 0, last), c.integer(fa[1], "frames_analyzed[1]", 0, last))
    if first_last[0] > first_last[1]:
        raise c.fail("frames_analyzed", f"first {first_last[0]} is after last {first_last[1]}")
    roll = c.number(d, "camera_roll_deg", "", optional=True) or 0.0
    if abs(roll) > MAX_ROLL_DEG:
        raise c.fail("camera_roll_deg", f"{roll:g} is not within ±{MAX_ROLL_DEG:g}")
    given = d.get("running_direction_in_image", d.get("running_direction"))  # the lab file has both
    direction = c.choice(given, "running_direction_in_image", DIRECTIONS)
    return Truth(
        name=name,
        video=str(d.get("video") or name),
        fps=fps,
        frame_count=count,
        frames_analyzed=first_last,
        running_direction=direction,
        near_leg=c.choice(d.get("near_side_leg"), "near_side_leg", LEGS),
        events=_events(c, d, last),
        roll_deg=roll,
        toe_off_angles=_angles(c, d, last, direction),
        cadence_spm=c.number(d, "cadence_spm", "", optional=True),
        true_fps=true_fps,
        slow_motion=bool(d.get("slow_motion", False)),
        frame_size_px=_size(c, d.get("frame_size_px")),
        notes=str(d.get("notes") or ""),
        extra={k: v for k, v in d.items() if k not in _KNOWN},
    )


def _size(c: _Check, v: Any) -> tuple[int, int] | None:
    if v is None:
        return None
    w, h = c.point(v, "frame_size_px")
    return int(w), int(h)


def _events(c: _Check, d: Mapping[str, Any], last: int) -> list[TruthEvent]:
    events, seen = [], set()
    for i, e in enumerate(c.items(d, "events")):
        w = f"events[{i}]."
        ev = TruthEvent(
            frame=c.integer(e.get("frame"), w + "frame", 0, last),
            leg=c.choice(e.get("leg"), w + "leg", LEGS),
            type=c.choice(e.get("type"), w + "type", EVENT_TYPES),
            confidence_frames=c.integer(e.get("confidence_frames", 2), w + "confidence_frames", 0, 1000),
            note=str(e.get("note") or ""),
        )
        if (ev.frame, ev.leg, ev.type) in seen:
            raise c.fail(f"events[{i}]", f"repeats the {ev.leg} {ev.type} at frame {ev.frame}")
        seen.add((ev.frame, ev.leg, ev.type))
        events.append(ev)
    return events


def _angles(c: _Check, d: Mapping[str, Any], last: int, direction: str) -> list[TruthAngles]:
    out, seen = [], set()
    for i, a in enumerate(c.items(d, "toe_off_angles")):
        w = f"toe_off_angles[{i}]."
        frame = c.integer(a.get("frame"), w + "frame", 0, last)
        if frame in seen:
            raise c.fail(f"toe_off_angles[{i}]", f"repeats frame {frame}")
        seen.add(frame)
        pts = [c.point(a.get(k), w + k) for k in ("shoulder_px", "hip_px", "knee_px")]
        if all(k in a for k in ("thigh_deg", "trunk_deg", "hip_ext_deg")):  # the file's values, as written
            vals = [c.number(a, k, w) for k in ("thigh_deg", "trunk_deg", "hip_ext_deg")]
            out.append(TruthAngles(frame, pts[0], pts[1], pts[2], *(float(v or 0.0) for v in vals)))
        else:
            out.append(angles_from_points(frame, pts[0], pts[1], pts[2], direction))
    return out


def parse_truth(data: Any, source: str = "truth", name: str | None = None) -> Truth:
    """A whole truth document -> the Truth of its one clip (or of ``name`` when it holds several)."""
    if not isinstance(data, dict):
        raise HipcamError(f"{source}: not a JSON object of clips")
    clips = [k for k in data if not k.startswith("_")]
    if name is None:
        if len(clips) != 1:
            raise HipcamError(f"{source}: holds {len(clips)} clips ({', '.join(clips) or 'none'}); expected one")
        name = clips[0]
    elif name not in data:
        raise HipcamError(f"{source}: no clip named {name!r} (has {', '.join(clips) or 'none'})")
    return parse_clip(name, data[name], source)


def load_truth(path: str | os.PathLike[str], name: str | None = None) -> Truth:
    """Read and check a truth file; HipcamError (one line) when it is missing or malformed."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HipcamError(f"truth file {p} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HipcamError(f"cannot read truth file {p}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise HipcamError(f"truth file {p} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return parse_truth(data, source=f"truth file {p}", name=name)


# --- writing ---------------------------------------------------------------------------------


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 2)


def clip_json(t: Truth) -> dict[str, Any]:
    """The clip's object as written in the file (time_s derived from fps)."""
    d: dict[str, Any] = {"video": t.video, "fps": t.fps, "true_fps": t.true_fps, "frame_count": t.frame_count}
    if t.frame_size_px is not None:
        d["frame_size_px"] = list(t.frame_size_px)
    d |= {
        "frames_analyzed": list(t.frames_analyzed),
        "slow_motion": t.slow_motion,
        "running_direction_in_image": t.running_direction,
        "near_side_leg": t.near_leg,
        "events": [
            {
                "frame": e.frame,
                "leg": e.leg,
                "type": e.type,
                "confidence_frames": e.confidence_frames,
                "time_s": round(e.frame / t.fps, 4),
            }
            | ({"note": e.note} if e.note else {})
            for e in t.events
        ],
        "camera_roll_deg": t.roll_deg,
        "toe_off_angles": [
            {
                "frame": a.frame,
                "shoulder_px": [_num(v) for v in a.shoulder_px],
                "hip_px": [_num(v) for v in a.hip_px],
                "knee_px": [_num(v) for v in a.knee_px],
                "thigh_deg": a.thigh_deg,
                "trunk_deg": a.trunk_deg,
                "hip_ext_deg": a.hip_ext_deg,
            }
            for a in t.toe_off_angles
        ],
        "cadence_spm": t.cadence_spm,
        "notes": t.notes,
    }
    return d | {k: v for k, v in t.extra.items() if k not in d}


def dump_truth(t: Truth) -> str:
    """The whole file's text: the clip under its name, then the conventions."""
    return json.dumps({t.name: clip_json(t), "_conventions": CONVENTIONS}, indent=1, ensure_ascii=False) + "\n"


def save_truth(path: str | os.PathLike[str], t: Truth) -> None:
    """Write atomically (readers see the old file or the whole new one)."""
    write_text(path, dump_truth(t))
