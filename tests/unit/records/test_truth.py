"""The truth file: the lab's file loads, a written file reads back the same, malformed files are one
clear HipcamError, and the angles follow the conventions for both running directions."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from paths import SHARED_DATA

from hipcam.errors import HipcamError
from hipcam.records.truth import (
    CONVENTIONS,
    TruthEvent,
    cadence_spm,
    dump_truth,
    load_truth,
    new_truth,
    parse_truth,
    save_truth,
    segment_angles,
)

LAB = SHARED_DATA / "truth" / "treadmill_lab_side.truth.json"


def _clip(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "video": "c.mp4", "fps": 30.0, "frame_count": 100, "frames_analyzed": [0, 99],
        "running_direction_in_image": "right", "near_side_leg": "right", "camera_roll_deg": 0.0,
        "events": [{"frame": 10, "leg": "right", "type": "toe_off", "confidence_frames": 2}],
        "toe_off_angles": [{"frame": 10, "shoulder_px": [253, 52], "hip_px": [247, 128], "knee_px": [234, 169]}],
    }  # fmt: skip
    return d | over


def _write(tmp_path: Path, data: Any) -> Path:
    p = tmp_path / "t.truth.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


@pytest.mark.skipif(not LAB.is_file(), reason=f"{LAB} not present (../shared beside the repo)")
def test_the_lab_file_loads_and_its_angles_match_the_formula() -> None:
    t = load_truth(LAB)
    assert t.name == "treadmill_lab_side" and t.video == "treadmill_lab_side.mp4"
    assert (t.fps, t.frame_count, t.frames_analyzed) == (29.97, 949, (0, 299))
    assert (t.running_direction, t.near_leg, t.roll_deg, t.cadence_spm) == ("right", "right", 0.0, None)
    assert t.slow_motion and len(t.events) == 6
    assert t.events[0] == TruthEvent(17, "right", "toe_off", 3)
    assert [a.frame for a in t.toe_off_angles] == [17, 216]
    assert t.toe_off_angles[0].hip_px == (247.0, 128.0)
    # the hand-computed values in the file are what the formula gives for its points
    assert t.recomputed().toe_off_angles == t.toe_off_angles
    assert "mean_hip_ext_deg" in t.extra  # the clip's other keys are kept, not lost on a re-save


def test_round_trip(tmp_path: Path) -> None:
    t = parse_truth({"c": _clip(notes="n", true_fps=240.0, slow_motion=True)}).recomputed()
    assert t.toe_off_angles[0].thigh_deg == 17.6 and t.cadence_spm is None
    p = tmp_path / "out" / "c.truth.json"
    save_truth(p, t)
    assert load_truth(p) == t
    data = json.loads(p.read_text())
    assert set(data) == {"c", "_conventions"} and data["_conventions"] == CONVENTIONS
    assert data["c"]["events"][0]["time_s"] == round(10 / 30, 4)
    assert dump_truth(load_truth(p)) == p.read_text()


def test_new_truth_defaults() -> None:
    t = new_truth("c", "c.mp4", 30.0, 50, true_fps=240.0)
    assert t.frames_analyzed == (0, 49) and t.slow_motion and t.events == [] and t.toe_off_angles == []
    assert not new_truth("c", "c.mp4", 30.0, 50, true_fps=30.0).slow_motion


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "not a JSON object"),
        ({}, "holds 0 clips"),
        ({"a": _clip(), "b": _clip()}, "holds 2 clips"),
        ({"c": "x"}, "must be an object"),
        ({"c": _clip(fps=0)}, "fps must be positive"),
        ({"c": _clip(fps="30")}, "fps must be a number"),
        ({"c": _clip(frame_count=None)}, "frame_count must be a whole number"),
        ({"c": _clip(frames_analyzed=[50, 10])}, "is after last"),
        ({"c": _clip(frames_analyzed=[0, 100])}, "outside 0..99"),
        ({"c": _clip(running_direction_in_image="up")}, "running_direction_in_image must be one of"),
        ({"c": _clip(near_side_leg=None)}, "near_side_leg"),
        ({"c": _clip(camera_roll_deg=60)}, "camera_roll_deg"),
        ({"c": _clip(events=[{"frame": 1, "leg": "mid", "type": "toe_off"}])}, "events[0].leg"),
        ({"c": _clip(events=[{"frame": 1, "leg": "left", "type": "heel"}])}, "events[0].type"),
        ({"c": _clip(events=[{"frame": 1.5, "leg": "left", "type": "toe_off"}])}, "events[0].frame"),
        ({"c": _clip(events=[{"frame": 1, "leg": "left", "type": "toe_off"}] * 2)}, "repeats the left toe_off"),
        ({"c": _clip(events={"frame": 1})}, "events must be a list"),
        (
            {"c": _clip(toe_off_angles=[{"frame": 3, "hip_px": [1, 2], "knee_px": [1, 2]}])},
            "shoulder_px must be [x, y]",
        ),
        (
            {"c": _clip(toe_off_angles=[{"frame": 3, "shoulder_px": [1, 2, 3], "hip_px": [1, 2], "knee_px": [1, 2]}])},
            "shoulder_px",
        ),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path: Path, data: Any, message: str) -> None:
    with pytest.raises(HipcamError) as exc:
        load_truth(_write(tmp_path, data))
    text = str(exc.value)
    assert message in text and "\n" not in text and str(tmp_path) in text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HipcamError, match="not found"):
        load_truth(tmp_path / "nope.json")


def test_a_named_clip_of_several() -> None:
    assert parse_truth({"a": _clip(), "b": _clip(fps=60.0)}, name="b").fps == 60.0
    with pytest.raises(HipcamError, match="no clip named 'z'"):
        parse_truth({"a": _clip()}, name="z")


@pytest.mark.parametrize("direction", ["right", "left"])
def test_angle_signs_follow_the_running_direction(direction: str) -> None:
    ahead = 1 if direction == "right" else -1
    hip = (100.0, 100.0)
    # knee behind the hip, shoulder ahead of it: both positive
    thigh, trunk, ext = segment_angles((100 + ahead * 10, 0), hip, (100 - ahead * 30, 130), direction)
    assert thigh == pytest.approx(45.0, abs=0.05) and trunk == pytest.approx(5.7, abs=0.05)
    assert ext == pytest.approx(thigh - trunk, abs=1e-9)
    # mirrored: knee ahead (hip flexion), shoulder behind (leaning back): both negative
    thigh, trunk, _ = segment_angles((100 - ahead * 10, 0), hip, (100 + ahead * 30, 130), direction)
    assert thigh == pytest.approx(-45.0, abs=0.05) and trunk == pytest.approx(-5.7, abs=0.05)
    # straight up and down: zero
    assert segment_angles((100, 0), hip, (100, 200), direction) == (0.0, 0.0, 0.0)


def test_lab_points_give_the_lab_angles_and_mirror_to_the_same() -> None:
    assert segment_angles((253, 52), (247, 128), (234, 169), "right") == (17.6, 4.5, 13.1)
    w = 480  # the same runner mirrored left-right, running left
    assert segment_angles((w - 253, 52), (w - 247, 128), (w - 234, 169), "left") == (17.6, 4.5, 13.1)


def test_bad_direction_is_an_error() -> None:
    with pytest.raises(HipcamError):
        segment_angles((0, 0), (0, 1), (0, 2), "up")


def test_cadence_from_strikes() -> None:
    ev = [
        TruthEvent(0, "left", "foot_strike"),
        TruthEvent(20, "right", "foot_strike"),
        TruthEvent(40, "left", "foot_strike"),
    ]
    assert cadence_spm(ev, 60.0) == 180.0  # a step every 20 frames at 60 fps
    assert cadence_spm([ev[0], ev[2]], 60.0) == 180.0  # a same-leg pair is two steps
    assert cadence_spm(ev, None) is None and cadence_spm(ev[:1], 60.0) is None
    toe = [replace(e, type="toe_off") for e in ev]
    assert cadence_spm(toe, 60.0) == 180.0  # toe-offs when no two strikes are marked
    t = parse_truth({"c": _clip(fps=240.0, events=[{"frame": e.frame, "leg": e.leg, "type": e.type} for e in ev])})
    assert t.recomputed().cadence_spm == 720.0  # not slow motion: the file's rate is the real one
    assert replace(t, slow_motion=True).recomputed().cadence_spm is None
    assert replace(t, slow_motion=True, true_fps=60.0).recomputed().cadence_spm == 180.0
