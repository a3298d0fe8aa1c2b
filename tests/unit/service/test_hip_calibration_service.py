"""The hip calibration in the service: the analyzer applies it before the gait tracker and the
camera view, rebuilds the tracker when it changes; the pipeline follows the running session's
runner; a tap on a kept camera frame becomes the stored offset; snapshots keep their pose."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from service_fakes import FakeGait, FakeSource
from service_fakes import wait_until as _wait

from hipcam.config import HipcamConfig
from hipcam.domain import PRESENCE, VISIBILITY, Landmark
from hipcam.pose.roi import Roi
from hipcam.pose.tracker import PoseResult, StageTimings
from hipcam.records.store import Store
from hipcam.service.calibration import FrameGone, HipCalibrator
from hipcam.service.capture_worker import CapturedFrame
from hipcam.service.frame_analysis import Analyzer
from hipcam.service.pipeline import Pipeline, PoseRing
from hipcam.service.state import FramePose, LiveState

CFG = HipcamConfig.model_validate({"capture": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.5}})
W, H = 64, 48  # FakeSource's frames
LH, RH = Landmark.LEFT_HIP, Landmark.RIGHT_HIP


def _pose_px() -> np.ndarray:
    """Normalized landmarks of an upright runner on a 64x48 frame: trunk 20 px, hips at y=30."""
    lm = np.zeros((33, 5), np.float32)
    lm[:, VISIBILITY], lm[:, PRESENCE] = 0.9, 0.9
    lm[LH, :2], lm[RH, :2] = (30, 30), (32, 30)
    lm[Landmark.LEFT_SHOULDER, :2], lm[Landmark.RIGHT_SHOULDER, :2] = (30, 10), (32, 10)
    lm[:, 0] /= W
    lm[:, 1] /= H
    return lm


class TrunkPose:
    """The same upright pose in every frame."""

    def __init__(self) -> None:
        self.timings = StageTimings()

    def process(self, frame_rgb: np.ndarray, timestamp_s: float, mask: bool = True) -> PoseResult:
        h, w = frame_rgb.shape[:2]
        return PoseResult(_pose_px(), np.zeros((33, 4), np.float32), 1.0, Roi(w / 2, h / 2, h, 0.0), w, h, False)


class RecordingGait(FakeGait):
    made: ClassVar[list[RecordingGait]] = []

    def __init__(self) -> None:
        super().__init__(every=10)
        self.fed: list[np.ndarray | None] = []
        RecordingGait.made.append(self)

    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None = None) -> Any:
        self.fed.append(None if landmarks is None else np.array(landmarks))
        return super().update(t_s, landmarks, mask_features)


def _frame(i: int) -> CapturedFrame:
    return CapturedFrame(np.zeros((H, W, 3), np.uint8), i, i / 30, time.time())


def test_the_analyzer_moves_the_hips_and_rebuilds_the_tracker_on_a_change(tmp_path: Path) -> None:
    RecordingGait.made = []
    store = Store(tmp_path)
    analyzer = Analyzer(CFG, TrunkPose(), lambda *a: RecordingGait())
    first = analyzer.run(_frame(0))
    assert first.pose is not None and first.pose.hips_used is None
    np.testing.assert_array_equal(first.landmarks, _pose_px())
    cal = store.set_hip_calibration("Ann", 0.1, -0.25, "left")  # 2 px ahead, 5 px down (trunk 20 px)
    analyzer.set_hip_calibration(cal)
    out = analyzer.run(_frame(1))
    assert out.restarted and len(RecordingGait.made) == 2
    fed = RecordingGait.made[-1].fed[-1]
    assert fed is not None
    np.testing.assert_allclose(fed[LH, :2] * (W, H), (32.0, 35.0), atol=1e-4)  # what the tracker sees
    np.testing.assert_allclose(fed[RH, :2] * (W, H), (34.0, 35.0), atol=1e-4)
    np.testing.assert_allclose(out.landmarks, fed)  # and what the camera view draws
    assert out.pose is not None and out.pose.hips_used is not None
    np.testing.assert_array_equal(out.pose.landmarks, _pose_px())  # the pose a tap is measured against
    analyzer.set_hip_calibration(store.hip_calibration("Ann"))  # the same numbers: no restart
    assert not analyzer.run(_frame(2)).restarted
    analyzer.set_hip_calibration(None)
    assert analyzer.run(_frame(3)).restarted and len(RecordingGait.made) == 3
    store.close()


def test_a_tap_on_a_kept_camera_frame_becomes_the_offset(tmp_path: Path) -> None:
    store, state = Store(tmp_path), LiveState()
    store.start_session("Ann")
    state.note_pose(1.0, FramePose(_pose_px(), W, H, "right", "left"))
    seq = state.publish_camera(b"jpeg", W * 2, H * 2, 1.0, None)  # the view twice the analysed size
    cal = HipCalibrator(store, state).from_live("Ann", seq, (2 * 32.0, 2 * 35.0))
    assert cal.forward == pytest.approx(0.1) and cal.up == pytest.approx(-0.25) and cal.near_leg == "left"
    assert store.hip_calibration("Ann") == cal
    with pytest.raises(FrameGone):
        HipCalibrator(store, state).from_live("Ann", seq + 1, (1.0, 1.0))
    state.publish_camera(b"jpeg", W, H, 2.0, None)  # no pose noted for it: nobody to tap on
    with pytest.raises(FrameGone):
        HipCalibrator(store, state).from_live("Ann", seq + 1, (1.0, 1.0))
    with pytest.raises(ValueError, match="trochanter"):
        HipCalibrator(store, state).from_live("Ann", seq, (2 * 32.0, 2 * 46.0))
    store.close()


def test_only_recent_camera_frames_are_kept_and_without_their_jpeg() -> None:
    state = LiveState()
    seqs = []
    for i in range(80):
        state.note_pose(float(i), FramePose(_pose_px(), W, H, "right", None))
        seqs.append(state.publish_camera(b"x" * 1000, W, H, float(i), None))
    assert state.camera_frame(seqs[0]) is None
    kept = state.camera_frame(seqs[-1])
    assert kept is not None and kept.jpeg == b"" and kept.pose is not None


def test_the_pose_ring_falls_back_to_the_newest_like_the_snapshot_ring() -> None:
    ring = PoseRing(3)
    poses = [FramePose(_pose_px(), W, H, "right", None) for _ in range(5)]
    for i, p in enumerate(poses):
        ring.keep(i, p)
    assert ring.get(4) is poses[4] and ring.get(2) is poses[2]
    assert ring.get(0) is poses[4] and ring.get(None) is poses[4]  # dropped: the newest, as SnapshotRing.jpeg
    ring.clear()
    assert ring.get(1) is None


def test_the_pipeline_applies_the_running_runners_calibration(tmp_path: Path) -> None:
    RecordingGait.made = []
    store, state = Store(tmp_path), LiveState()
    pipe = Pipeline(CFG, FakeSource(fps=100), state, store, pose_loader=lambda c: TrunkPose(),
                    gait_factory=lambda *a: RecordingGait())  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: state.latest_frame() is not None and len(RecordingGait.made) >= 1)
        assert state.snapshot()["flags"]["hip_calibration"] is None
        session = store.start_session("Ann")["id"]
        store.set_hip_calibration("Ann", 0.0, -0.25, "left")
        assert _wait(lambda: (state.snapshot()["flags"]["hip_calibration"] or {}).get("up") == -0.25)
        assert state.snapshot()["flags"]["runner"] == "Ann"
        assert _wait(lambda: bool((cam := state.latest_frame()) and cam.hip_calibrated))
        fed = RecordingGait.made[-1].fed[-1]
        assert fed is not None
        np.testing.assert_allclose(fed[LH, :2] * (W, H), (30.0, 35.0), atol=1e-4)
        # Strides stored from now on carry their snapshot's pose, with the hips used.
        assert _wait(lambda: any(s.snapshot for s in store.strides(session)), 10)
        stride = next(s for s in store.strides(session) if s.snapshot)
        assert stride.stride_id is not None
        pose = store.snapshot_pose(session, stride.stride_id)
        assert pose is not None and pose["hips_used"] is not None and pose["near_leg"] == "left"
        assert (pose["width"], pose["height"], pose["direction"]) == (W, H, "right")
        assert (pose["image_width"], pose["image_height"]) == (W, H)  # smaller than snapshot_width: kept
        assert pose["landmarks"][LH][:2] == pytest.approx([30 / W, 30 / H], abs=1e-5)
        made = len(RecordingGait.made)
        store.clear_hip_calibration("Ann")
        assert _wait(lambda: state.snapshot()["flags"]["hip_calibration"] is None)
        assert _wait(lambda: len(RecordingGait.made) > made)  # the tracker was rebuilt
    finally:
        pipe.stop()
        store.close()
