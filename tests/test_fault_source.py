"""A camera that dies and comes back: the service says so quickly and recovers in-process.

The frame source is a test double that delivers frames, then fails (raises, as a pulled USB
camera does, or stalls, as a wedged driver does), refuses to reopen while "unplugged", and works
again once "plugged back". The real Pipeline, LiveState, Metrics and ops hooks run around it;
pose and gait are stand-ins so the test is about the source, not the model.

Requirements: camera_lost reported within 2 s of the failure, analysis resumed within 5 s of
the source returning, same process throughout, and /healthz tracks it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hipcam.config import HipcamConfig, load_config
from hipcam.errors import VideoError
from hipcam.service.adapters import CapturedFrame, GaitOutput, PoseOutput, ServiceOps
from hipcam.service.metrics import Metrics
from hipcam.service.notify import Notifier, Watchdog
from hipcam.service.pipeline import Pipeline
from hipcam.service.state import LiveState

FPS = 30.0
LOST_WITHIN_S = 2.0
RESUME_WITHIN_S = 5.0


class FlakyCamera:
    """Opener + source in one. ``unplug()`` makes the live stream fail; ``plug()`` heals it."""

    def __init__(self, mode: str) -> None:
        self.mode = mode  # "raise" | "stall"
        self.plugged = threading.Event()
        self.plugged.set()
        self.opens = 0
        self.index = 0
        self._frame = np.zeros((120, 160, 3), dtype=np.uint8)

    def open(self, spec: str, cfg: HipcamConfig) -> FlakyCamera:
        self.opens += 1
        if not self.plugged.is_set():
            raise VideoError(f"{spec}: cannot open video source")
        return self

    def __iter__(self) -> Iterator[CapturedFrame]:
        next_t = time.monotonic()
        while True:
            if not self.plugged.is_set():
                if self.mode == "raise":
                    raise VideoError("camera read failed")
                self.plugged.wait()  # stalled read: blocks until the camera comes back
            next_t += 1.0 / FPS
            time.sleep(max(0.0, next_t - time.monotonic()))
            self.index += 1
            yield CapturedFrame(self._frame, self.index, self.index / FPS, time.time())

    def close(self) -> None:
        pass


class NoPose:
    def process(self, frame_rgb: np.ndarray, timestamp_s: float) -> PoseOutput:
        return PoseOutput(None, None, {"detector": 0.001, "landmark": 0.002})


class NoGait:
    def update(self, t_s: float, landmarks: Any, mask_features: Any) -> GaitOutput:
        return GaitOutput(None, None, None, None, None, ())


def _wait_for(cond: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until cond() held, or None after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


@pytest.fixture
def cfg(tmp_path: Path) -> HipcamConfig:
    # Defaults, as shipped: the reconnect back-off is part of what is being tested.
    return load_config(None, {}, {"storage": {"data_dir": str(tmp_path)}})


@pytest.mark.parametrize(("mode", "outage_s"), [("raise", 1.0), ("raise", 8.0), ("stall", 4.0)])
def test_camera_lost_then_back(cfg: HipcamConfig, mode: str, outage_s: float) -> None:
    from flask import Flask

    from web_ui.ops import ops_blueprint

    cam = FlakyCamera(mode)
    state = LiveState()
    metrics = Metrics(data_dir=cfg.data_dir(), process_metrics=False)
    ops = ServiceOps(metrics, Watchdog(Notifier({})))
    pipe = Pipeline(cfg, "test-camera", state, None, ops, pose_loader=lambda *a, **k: NoPose(),
                    gait_factory=lambda *a, **k: NoGait(), opener=cam.open)  # fmt: skip
    app = Flask(__name__)
    app.register_blueprint(ops_blueprint(metrics, metrics, max_frame_age_s=cfg.health.max_frame_age_s))
    client = app.test_client()
    pipe.start()
    try:
        assert _wait_for(lambda: metrics.frames_processed_total() > 30, 10) is not None, "never started"
        assert client.get("/healthz").status_code == 200

        cam.plugged.clear()
        lost_after = _wait_for(lambda: state.status == "camera_lost", LOST_WITHIN_S + 3)
        assert lost_after is not None and lost_after <= LOST_WITHIN_S, f"camera_lost after {lost_after} s"
        if mode == "raise":
            assert metrics.camera_state in ("lost", "reconnecting")

        time.sleep(max(0.0, outage_s - lost_after))
        if outage_s > cfg.health.max_frame_age_s:
            body = client.get("/healthz")
            assert body.status_code == 503 and "camera" in body.get_json()["reason"]

        before = metrics.frames_processed_total()
        cam.plugged.set()
        resumed_after = _wait_for(lambda: metrics.frames_processed_total() > before + 5, RESUME_WITHIN_S + 10)
        assert resumed_after is not None, "analysis never resumed"
        assert resumed_after <= RESUME_WITHIN_S, f"analysis resumed {resumed_after:.1f} s after the camera returned"
        assert _wait_for(lambda: state.status != "camera_lost", 2) is not None
        assert client.get("/healthz").status_code == 200
        assert pipe.alive  # same process, same loop: no restart needed
        if mode == "raise":
            assert cam.opens >= 2 and metrics.camera_state == "streaming"
    finally:
        pipe.stop()
        state.close()
