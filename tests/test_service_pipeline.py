"""The frame loop with fake capture/pose/gait: camera loss and recovery, missing model, drops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hipcam.config import HipcamConfig
from hipcam.errors import AssetError, VideoError
from hipcam.service.adapters import CapturedFrame, GaitOutput, PoseOutput
from hipcam.service.pipeline import Pipeline
from hipcam.service.state import LiveState, stride_from_mapping
from hipcam.service.store import Store

CFG = HipcamConfig.model_validate({"capture": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.5}})


class FakeSource:
    def __init__(self, n: int, fail_after: int | None = None, fps: float = 200.0) -> None:
        self.n, self.fail_after, self.fps = n, fail_after, fps

    def __iter__(self) -> Iterator[CapturedFrame]:
        for i in range(self.n):
            if self.fail_after is not None and i == self.fail_after:
                raise VideoError("unplugged")
            time.sleep(1 / self.fps)
            yield CapturedFrame(np.zeros((48, 64, 3), np.uint8), i, i / 30, time.time())

    def close(self) -> None:
        pass


class FakePose:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def process(self, frame_rgb: np.ndarray, timestamp_s: float) -> PoseOutput:
        time.sleep(self.delay)
        return PoseOutput(np.full((33, 5), 0.5, np.float32), None, {"landmark": 0.001})


class FakeGait:
    def __init__(self) -> None:
        self.n = 0

    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None) -> GaitOutput:
        self.n += 1
        strides = (stride_from_mapping({"leg": "left", "class": "B", "hip_extension_deg": 12.0, "t_end": t_s}),)
        return GaitOutput(10.0, 3.0, 12.0, None, "left", strides if self.n % 10 == 0 else ())


def _wait(pred, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_camera_loss_recovers_in_process(tmp_path: Path) -> None:
    opens = []
    statuses: list[str] = []

    def opener(spec: str, cfg: HipcamConfig) -> FakeSource:
        opens.append(1)
        if len(opens) <= 2:
            raise VideoError("no camera")
        return FakeSource(10_000, fail_after=40 if len(opens) == 3 else None)

    state = LiveState()
    pipe = Pipeline(CFG, "0", state, None, pose_loader=lambda c: FakePose(), gait_factory=lambda c, f, s: FakeGait(),
                    opener=opener)  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: state.status == "camera_lost")
        statuses.append(state.status)
        assert _wait(lambda: len(opens) >= 4 and state.status == "running", 10)
        assert pipe.capture.reconnects >= 3
    finally:
        pipe.stop()


def test_missing_model_is_a_status_and_camera_view_still_works(tmp_path: Path) -> None:
    def loader(cfg: HipcamConfig) -> FakePose:
        raise AssetError("model x missing; run `hipcam fetch`")

    state = LiveState()
    pipe = Pipeline(CFG, "clip.mp4", state, None, pose_loader=loader, gait_factory=lambda c, f, s: FakeGait(),
                    opener=lambda s, c: FakeSource(10_000))  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: state.status == "model_missing")
        assert "hipcam fetch" in state.snapshot()["message"]
        assert _wait(lambda: state.latest_frame() is not None)
        assert pipe.alive
    finally:
        pipe.stop()


def test_live_source_drops_and_strides_stored(tmp_path: Path) -> None:
    store = Store(tmp_path)
    session = store.start_session("x")
    state = LiveState()
    pipe = Pipeline(CFG, "0", state, store, pose_loader=lambda c: FakePose(0.02),
                    gait_factory=lambda c, f, s: FakeGait(), opener=lambda s, c: FakeSource(10_000, fps=300))  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: len(store.strides(session["id"])) >= 2, 10)
        snap = state.snapshot()
        assert snap["live"]["frames_dropped"] > 0 and snap["current_class"] == "B"
        assert snap["flags"]["session_id"] == session["id"]
    finally:
        pipe.stop()
        store.close()
