"""A camera that dies and comes back: the service says so quickly and recovers in-process.

The frame source is a test double that delivers frames, then fails (raises, as a pulled USB
camera does, or stalls, as a wedged driver does), refuses to reopen while "unplugged", and works
again once "plugged back". The real Pipeline, LiveState, Metrics and ops hooks run around it;
pose and gait are stand-ins (tests/service_fakes.py) so the test is about the source, not the model.

Requirements: camera_lost reported within 2 s of the failure, analysis resumed within 5 s of
the source returning, same process throughout, and /healthz tracks it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from service_fakes import FakeGait, FakePose

from hipcam.capture import Frame
from hipcam.config import HipcamConfig, load_config
from hipcam.errors import VideoError
from hipcam.service.metrics import Metrics
from hipcam.service.notify import Notifier, Watchdog
from hipcam.service.pipeline import Pipeline
from hipcam.service.state import LiveState
from hipcam.service.telemetry import ServiceOps

FPS = 30.0
LOST_WITHIN_S = 2.0
RESUME_WITHIN_S = 5.0


class FlakyCamera:
    """A FrameSource. ``plugged.clear()`` makes the live stream fail; ``plugged.set()`` heals it."""

    name = "test-camera"

    def __init__(self, mode: str) -> None:
        self.mode = mode  # "raise" | "stall"
        self.plugged = threading.Event()
        self.plugged.set()
        self.opens = 0
        self.index = 0
        self._next_t = 0.0
        self._frame = np.zeros((120, 160, 3), dtype=np.uint8)

    @property
    def fps(self) -> float:
        return FPS

    def pose(self) -> dict[str, Any]:
        return {"precision": "fp32", "requested": "auto", "reason": "a test double", "threads": 1}

    @property
    def size(self) -> tuple[int, int]:
        return (160, 120)

    def open(self) -> None:
        self.opens += 1
        if not self.plugged.is_set():
            raise VideoError(f"{self.name}: cannot open video source")
        self._next_t = time.monotonic()

    def read(self) -> Frame | None:
        if not self.plugged.is_set():
            if self.mode == "raise":
                raise VideoError("camera read failed")
            self.plugged.wait()  # stalled read: blocks until the camera comes back
        self._next_t = max(self._next_t + 1.0 / FPS, time.monotonic() - 1.0)
        time.sleep(max(0.0, self._next_t - time.monotonic()))
        self.index += 1
        return Frame(self._frame, self.index, self.index / FPS)

    def close(self) -> None:
        pass


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


# Real threads in real time: the short outage runs in the fast set, the long ones (5-11 s each) are slow.
@pytest.mark.parametrize(
    ("mode", "outage_s"),
    [
        ("raise", 1.0),
        pytest.param("raise", 8.0, marks=pytest.mark.slow),
        pytest.param("stall", 4.0, marks=pytest.mark.slow),
    ],
)
def test_camera_lost_then_back(cfg: HipcamConfig, mode: str, outage_s: float) -> None:
    from service_fakes import web_app

    from hipcam.records.store import Store

    cam = FlakyCamera(mode)
    state = LiveState()
    metrics = Metrics(data_dir=cfg.data_dir(), process_metrics=False)
    ops = ServiceOps(metrics, Watchdog(Notifier({})))
    pipe = Pipeline(cfg, cam, state, None, ops, pose_loader=lambda c: FakePose(found=False),
                    gait_factory=lambda *a: FakeGait(every=0))  # fmt: skip
    store = Store(cfg.data_dir())
    client = web_app(store, cfg, state, health=metrics).test_client()
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
        store.close()
        state.close()


@pytest.mark.slow  # 6 s each, in real time
@pytest.mark.parametrize("mode", ["raise", "stall"])
def test_watchdog_fed_while_retrying_but_not_when_stalled(cfg: HipcamConfig, mode: str) -> None:
    """An unplugged camera that is being retried keeps WATCHDOG=1 coming (no restart loop that hits
    the unit's start limit); a hung read (no progress, no retry activity) lets the pings stop."""
    import socket
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="hc-wd-"))  # AF_UNIX paths must stay short
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(folder / "notify"))
    listener.settimeout(0.2)
    received: list[bytes] = []

    def drain() -> None:
        while listener.fileno() >= 0:
            try:
                received.append(listener.recv(256))
            except TimeoutError:
                continue
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    cam = FlakyCamera(mode)
    state = LiveState()
    notifier = Notifier({"NOTIFY_SOCKET": str(folder / "notify")})
    watchdog = Watchdog(notifier, interval_s=0.2)
    metrics = Metrics(data_dir=cfg.data_dir(), process_metrics=False)
    pipe = Pipeline(cfg, cam, state, None, ServiceOps(metrics, watchdog), pose_loader=lambda c: FakePose(found=False),
                    gait_factory=lambda *a: FakeGait(every=0))  # fmt: skip
    pipe.start()
    try:
        assert _wait_for(lambda: watchdog.pings >= 3, 10) is not None, "frames did not feed the watchdog"
        cam.plugged.clear()
        assert _wait_for(lambda: state.status == "camera_lost", LOST_WITHIN_S + 1) is not None
        time.sleep(0.5)
        before = watchdog.pings
        time.sleep(3.0)
        if mode == "raise":
            assert watchdog.pings - before >= 5, "no WATCHDOG=1 while the camera was being retried"
        else:
            assert watchdog.pings == before, "a hung camera read must not feed the watchdog"
        cam.plugged.set()
        assert _wait_for(lambda: state.status != "camera_lost", RESUME_WITHIN_S) is not None
    finally:
        pipe.stop()
        state.close()
        notifier.close()
        listener.close()
