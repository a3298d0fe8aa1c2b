"""The live analyzer asks the pose model for the mask only on the frames its schedule picks
(pose.mask_frames = "scheduled"), and on every frame with "all"."""

from __future__ import annotations

import math
import time

import numpy as np
from service_fakes import FakeGait

from hipcam.config import HipcamConfig
from hipcam.domain import PRESENCE, VISIBILITY, Landmark
from hipcam.pose.roi import Roi
from hipcam.pose.tracker import PoseResult, StageTimings
from hipcam.service.capture_worker import CapturedFrame
from hipcam.service.frame_analysis import Analyzer

W, H = 320, 240
FPS = 30.0


class SwingingPose:
    """A runner (toward +x) whose thighs swing -25..+15 deg, half a stride apart; records the mask asks."""

    def __init__(self) -> None:
        self.timings = StageTimings()
        self.asked: list[bool] = []

    def process(self, frame_rgb: np.ndarray, timestamp_s: float, mask: bool = True) -> PoseResult:
        self.asked.append(mask)
        lm = np.zeros((33, 5), np.float32)
        lm[:, VISIBILITY], lm[:, PRESENCE] = 0.9, 0.9
        phase = 2 * math.pi * timestamp_s / 0.72
        for k, (hip, knee) in enumerate(
            ((Landmark.LEFT_HIP, Landmark.LEFT_KNEE), (Landmark.RIGHT_HIP, Landmark.RIGHT_KNEE))
        ):
            angle = math.radians(-5 + 20 * math.sin(phase + k * math.pi))  # + behind the hip
            lm[hip, :2] = (160, 120)
            lm[knee, :2] = (160 - 60 * math.sin(angle), 120 + 60 * math.cos(angle))
        lm[Landmark.LEFT_SHOULDER, :2] = lm[Landmark.RIGHT_SHOULDER, :2] = (165, 40)
        lm[:, 0] /= W
        lm[:, 1] /= H
        return PoseResult(lm, np.zeros((33, 4), np.float32), 1.0, Roi(W / 2, H / 2, H, 0.0), W, H, False)


def _run(mask_frames: str) -> list[bool]:
    """The mask flags the analyzer passed to the pose model, per frame, over 6 s at 30 fps."""
    cfg = HipcamConfig.model_validate({"pose": {"mask_frames": mask_frames}, "gait": {"direction": "right"}})
    pose = SwingingPose()
    analyzer = Analyzer(cfg, pose, lambda *a: FakeGait(every=10))
    for i in range(int(6 * FPS)):
        analyzer.run(CapturedFrame(np.zeros((H, W, 3), np.uint8), i, i / FPS, time.time()))
    return pose.asked


def test_scheduled_asks_for_the_mask_on_part_of_the_frames_and_all_on_every_one() -> None:
    scheduled = _run("scheduled")
    assert scheduled[0]  # the first frame, before any phase is known
    share = sum(scheduled[int(2 * FPS) :]) / len(scheduled[int(2 * FPS) :])
    assert 0.15 < share < 0.45  # peaks and mid-stances at 30 fps, not the frames between
    assert all(_run("all"))
