"""Test doubles for the service's frame loop, typed against the real interfaces.

A frame source implementing hipcam.capture.FrameSource, a pose model returning real PoseResult
objects (or nobody) and a gait tracker returning real LiveUpdate/Stride objects.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hipcam.capture import Frame
from hipcam.errors import VideoError
from hipcam.gait.live import LiveUpdate
from hipcam.gait.strides import BackArch, Stride
from hipcam.pose.roi import Roi
from hipcam.pose.tracker import PoseResult, StageTimings


def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``pred`` until it holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


class FakeSource:
    """Delivers n frames at ``fps``; raises (an unplugged camera) at ``fail_after``."""

    def __init__(self, n: int = 10_000, fail_after: int | None = None, fps: float = 200.0, name: str = "fake") -> None:
        self.n, self.fail_after, self.rate, self.name = n, fail_after, fps, name
        self._i = 0
        self._image = np.zeros((48, 64, 3), np.uint8)

    @property
    def fps(self) -> float:
        return self.rate

    def pose(self) -> dict[str, Any]:
        return {"precision": "fp32", "requested": "auto", "reason": "a test double", "threads": 1}

    @property
    def size(self) -> tuple[int, int]:
        return (64, 48)

    def open(self) -> None:
        self._i = 0

    def read(self) -> Frame | None:
        if self._i >= self.n:
            return None
        if self.fail_after is not None and self._i == self.fail_after:
            raise VideoError("unplugged")
        time.sleep(1 / self.rate)
        self._i += 1
        return Frame(self._image, self._i - 1, (self._i - 1) / 30)

    def close(self) -> None:
        pass


class FakePose:
    """A person in every frame (or nobody, with ``found=False``), after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0, found: bool = True) -> None:
        self.delay, self.found = delay, found
        self.timings = StageTimings()

    def process(self, frame_rgb: np.ndarray, timestamp_s: float, mask: bool = True) -> PoseResult | None:
        time.sleep(self.delay)
        self.timings = StageTimings(landmark_ms=1.0)
        if not self.found:
            return None
        h, w = frame_rgb.shape[:2]
        return PoseResult(
            landmarks=np.full((33, 5), 0.5, np.float32),
            world_landmarks=np.zeros((33, 4), np.float32),
            score=1.0,
            roi=Roi(w / 2, h / 2, float(h), 0.0),
            width=w,
            height=h,
            detected=False,
        )


def make_stride(leg: str = "left", cls: str = "B", ext: float = 12.0, end_frame: int = 10) -> Stride:
    return Stride(
        leg=leg, foot_strike_frame=max(0, end_frame - 30), toe_off_frame=None, end_frame=end_frame, peak_frame=None,
        thigh_peak_deg=ext + 3.0, trunk_lean_deg=3.0, hip_extension_deg=ext,
        back_arch=BackArch(detected=False, lumbar_depth_ratio=None, trunk_back_tilt_deg=0.0),
        cls=cls, confidence=0.9, duration_s=1.0, stance_s=None, swing_s=None,
    )  # fmt: skip


class FakeGait:
    """Fixed angles; a class-B stride every ``every`` updates (0: never)."""

    direction = "right"

    def __init__(self, every: int = 10) -> None:
        self.every = every
        self.n = -1

    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None = None) -> LiveUpdate:
        self.n += 1
        strides = [make_stride(end_frame=self.n)] if self.every and self.n % self.every == self.every - 1 else []
        nan = math.nan
        return LiveUpdate(
            t_s=t_s, frame=self.n, direction=self.direction, near_leg="left" if self.every else None,
            thigh_deg=10.0 if self.every else nan, trunk_lean_deg=3.0 if self.every else nan,
            hip_extension_deg=7.0 if self.every else nan, thigh_deg_by_leg={}, strides=strides,
        )  # fmt: skip


def web_app(store: Any, cfg: Any = None, state: Any = None, **deps: Any) -> Any:
    """The real web app around a store (and a live state, a config, other WebDeps fields)."""
    from hipcam.config import HipcamConfig
    from hipcam.service.calibration import HipCalibrator
    from hipcam.service.state import LiveState
    from web_ui import create_app
    from web_ui.deps import WebDeps

    state = state or LiveState()
    deps.setdefault("secret_key", b"k" * 32)
    deps.setdefault("calibrator", HipCalibrator(store, state))  # as hipcam serve wires it
    return create_app(WebDeps(state, store, cfg or HipcamConfig(), **deps))
