"""A recorded session in a real Store for the report and export tests: a runner record, strides of the
synthetic runner with their stored landmarks (store.replay), snapshots drawn from those landmarks and,
for the picked strides, an overlaid key frame."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from synth_runner import RunnerSpec, Synth, generate

from hipcam.domain import Landmark as L
from hipcam.records.landmarks_file import LandmarkSeries
from hipcam.records.replay import StrideLandmarks
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord

_BONES = ((L.LEFT_SHOULDER, L.LEFT_HIP), (L.LEFT_HIP, L.LEFT_KNEE), (L.LEFT_KNEE, L.LEFT_ANKLE),
          (L.RIGHT_SHOULDER, L.RIGHT_HIP), (L.RIGHT_HIP, L.RIGHT_KNEE), (L.RIGHT_KNEE, L.RIGHT_ANKLE),
          (L.LEFT_ANKLE, L.LEFT_FOOT_INDEX), (L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX), (L.NOSE, L.LEFT_SHOULDER))  # fmt: skip


@dataclass(frozen=True)
class Recorded:
    session_id: int
    runner_id: int
    synth: Synth
    stride_ids: list[int]
    frames: int  # distinct frames over all strides (the TRC's)


def frame_jpeg(sy: Synth, k: int, lines: bool = False) -> bytes:
    """The synthetic runner's frame k as a JPEG: the skeleton on a grey background (``lines``: with
    the thigh and trunk lines thick, as an overlay would mark them)."""
    w, h = sy.spec.width, sy.spec.height
    img = np.full((h, w, 3), 200, np.uint8)
    cv2.rectangle(img, (0, int(h * 0.92)), (w, h), (90, 90, 90), -1)  # the treadmill deck
    px = sy.px[k]
    for a, b in _BONES:
        cv2.line(img, tuple(int(v) for v in px[a]), tuple(int(v) for v in px[b]), (40, 40, 40), 4)
    if lines:
        for a, b in ((L.RIGHT_HIP, L.RIGHT_KNEE), (L.RIGHT_HIP, L.RIGHT_SHOULDER)):
            cv2.line(img, tuple(int(v) for v in px[a]), tuple(int(v) for v in px[b]), (0, 0, 0), 8)
        cv2.putText(img, "B 15.0", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def _record(sy: Synth, leg: str, a: int, b: int, rng: np.random.Generator, speed: float | None) -> StrideRecord:
    fps = sy.spec.fps
    ext = sy.hip_extension_deg + rng.normal(0, 2.0) + (1.5 if leg == "right" else 0.0)
    values = {
        "hip_extension_at_toe_off_deg": ext, "trunk_lean_at_toe_off_deg": sy.spec.trunk_lean_deg + rng.normal(0, 1),
        "hip_extension_deg": ext + 2.0, "thigh_at_toe_off_deg": ext + sy.spec.trunk_lean_deg,
        "knee_flexion_at_strike_deg": 14 + rng.normal(0, 2), "knee_flexion_peak_stance_deg": 42 + rng.normal(0, 2),
        "shank_angle_at_strike_deg": 6 + rng.normal(0, 1.5), "foot_inclination_at_strike_deg": 12 + rng.normal(0, 3),
        "overstride_trunk": 0.35 + rng.normal(0, 0.03), "vertical_oscillation_trunk": 0.16 + rng.normal(0, 0.01),
        "stance_s": sy.stance_s, "flight_s": sy.flight_s,
    }  # fmt: skip
    duration = (b - a) / fps
    return StrideRecord(
        leg=leg, cls="B" if ext >= 10 else "A", confidence=0.9, foot_strike_frame=a, end_frame=b,
        toe_off_frame=a + round(sy.spec.duty * (b - a)), peak_frame=a + round(sy.spec.duty * (b - a)),
        t_start=a / fps, t_end=b / fps, duration_s=duration, swing_s=duration - sy.stance_s,
        foot_strike_pattern="rearfoot" if values["foot_inclination_at_strike_deg"] > 8 else "midfoot",
        stride_length_m=None if speed is None else speed / 3.6 * duration,
        step_length_m=None if speed is None else speed / 3.6 * duration / 2, **values,
    )  # fmt: skip


def record_session(
    store: Store,
    runner: str = "Ana Souza",
    height_cm: float | None = 172.0,
    seconds: float = 6.0,
    seed: int = 0,
    landmarks: bool = True,
    speed: float | None = 10.0,
    runner_id: int | None = None,
) -> Recorded:
    """Record (and stop) a session of the synthetic runner, strides in the order they end."""
    sy = generate(RunnerSpec(duration_s=seconds, seed=seed, roll_deg=1.5))
    if runner_id is None:
        found = [r for r in store.runners.list() if r["name"] == runner]
        runner_id = int(found[0]["id"] if found else store.runners.create(runner, height_cm=height_cm)["id"])
    session_id = int(store.start_session(treadmill_speed=speed, runner_id=runner_id)["id"])
    rng = np.random.default_rng(seed)
    windows = []
    for leg in ("left", "right"):
        strikes = sy.event_frames(leg, "foot_strike").round().astype(int)
        windows += [(int(b), leg, int(a)) for a, b in itertools.pairwise(strikes)]
    ids, seen = [], set()
    for b, leg, a in sorted(windows):
        rec = _record(sy, leg, a, b, rng, speed)
        pose = {"direction": "right", "near_leg": "right", "width": sy.spec.width, "height": sy.spec.height}
        sid = store.add_stride(session_id, rec, frame_jpeg(sy, rec.peak_frame or a), pose).id
        ids.append(sid)
        if landmarks:
            store.replay.save_landmarks(sid, _landmarks(sy, a, b))
            seen.update(range(a, b + 1))
    store.stop_session(session_id)
    return Recorded(session_id, runner_id, sy, ids, len(seen))


def _landmarks(sy: Synth, a: int, b: int) -> StrideLandmarks:
    s = sy.series
    cut = LandmarkSeries(s.image_landmarks[a : b + 1].copy(), s.found[a : b + 1].copy(), s.fps, s.width, s.height)
    frames = np.arange(a, b + 1)
    return StrideLandmarks(cut, frames.astype(np.int64), frames / s.fps, sy.spec.roll_deg, "right", "right")
