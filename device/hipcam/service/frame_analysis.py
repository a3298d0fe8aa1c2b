"""One frame through BlazePose, the mask measures and the live gait analysis.

``Analyzer`` is the only place the service touches hipcam.pose and hipcam.gait. The gait tracker is
built on the first frame, when the frame size (which the normalized landmarks refer to) and, in
level mode "auto", the camera roll (from that frame) are known. It is rebuilt when another person
takes over and when the page settings change what it uses (hipcam.service.settings, read through
its versioned ``applied()``), so no stride spans two runners or two settings.

Hip calibration: the active runner's offset (hipcam.gait.calibration, set by the pipeline with
``set_hip_calibration``) moves the hip landmarks of every frame before the mask measures and the
gait tracker see them, and the camera view is drawn from those same landmarks, so the page shows
the hip point in use. A new calibration (or another runner's) rebuilds the tracker, like a
settings change. Each ``Analysis`` also carries the frame's pose as BlazePose gave it, which a
clinician's tap on that frame is measured against.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from hipcam.config import HipcamConfig, LevelConfig
from hipcam.config.gait import GaitParams
from hipcam.domain import HIPS, UNKNOWN, LevelInfo
from hipcam.gait import report
from hipcam.gait.calibration import HipOffset, apply_hip_offset
from hipcam.gait.live import LiveGait, LiveUpdate
from hipcam.gait.mask_schedule import MaskSchedule, most_extended_thigh_deg
from hipcam.gait.strides import Stride
from hipcam.pose.tracker import BlazePose, PoseResult, StageTimings
from hipcam.records.store import HipCalibration
from hipcam.records.stride import StrideRecord
from hipcam.service.capture_worker import CapturedFrame
from hipcam.service.settings import AppliedSettings, Settings
from hipcam.service.state import FramePose
from hipcam.vision.mask_features import measure_normalized
from hipcam.vision.roll import resolve_level

# The mask measures cost ~1-2 ms per frame at the work size; above this average they run on a
# fraction of frames only (the gait analysis takes a median over each stride, so gaps are fine).
MASK_BUDGET_S = 0.005


class PoseModel(Protocol):
    timings: StageTimings  # of the last processed frame, also when nobody was found

    def process(self, frame_rgb: np.ndarray, timestamp_s: float, mask: bool = True) -> PoseResult | None: ...


class GaitModel(Protocol):
    @property
    def direction(self) -> str: ...

    def update(
        self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None = None
    ) -> LiveUpdate: ...


# (gait parameters, frame rate hint, camera roll, frame size) -> a new tracker
GaitFactory = Callable[[GaitParams, float, float, tuple[int, int]], GaitModel]


def load_pose(cfg: HipcamConfig) -> PoseModel:
    """BlazePose, built once; the segmentation mask is kept for the back-arch measures (its branch a
    graph of its own, run on the frames the schedule picks, when ``pose.mask_frames = "scheduled"``)."""
    return BlazePose.from_config(cfg, keep_mask=True, scheduled_mask=cfg.pose.mask_frames == "scheduled")


def describe_pose(pose: PoseModel) -> dict[str, Any]:
    """The loaded model's precision, why it was chosen, and its threads (BlazePose.from_config sets them)."""
    choice = getattr(pose, "precision", None)
    info: dict[str, Any] = choice.to_json() if choice is not None else {"precision": UNKNOWN}
    info["threads"] = getattr(pose, "threads", 0)
    return info


def make_gait(params: GaitParams, fps_hint: float, roll_deg: float, frame_size: tuple[int, int]) -> GaitModel:
    return LiveGait(params, fps_hint, roll_deg, frame_size=frame_size)


@dataclass(frozen=True)
class Analysis:
    landmarks: np.ndarray | None  # [33, 5], x/y normalized, as analysed (hip calibration applied)
    update: LiveUpdate
    timings: dict[str, float]  # seconds per metrics stage
    detector_ran: bool
    restarted: bool = False  # a new gait tracker started at this frame (its frame numbers restart)
    pose: FramePose | None = None  # the pose before the calibration (None: nobody found)
    score: float | None = None  # the landmark model's pose score (None: nobody found)
    mask_ran: bool = False  # the segmentation mask was computed for this frame


class MaskMeter:
    """hipcam.vision.mask_features.measure on every frame while it is cheap, else on every k-th."""

    def __init__(self, budget_s: float = MASK_BUDGET_S) -> None:
        self._budget = budget_s
        self._cost = 0.0  # moving average, seconds
        self._n = 0

    def features(self, result: PoseResult, landmarks: np.ndarray, direction: str) -> np.ndarray | None:
        if result.mask_logits is None:
            return None
        self._n += 1
        if self._n % max(1, math.ceil(self._cost / self._budget)):
            return None
        t0 = time.perf_counter()
        mask = result.mask_image()
        d = 1 if direction == "right" else -1
        row = None if mask is None else measure_normalized(mask, landmarks, d)
        dt = time.perf_counter() - t0
        self._cost = dt if self._n == 1 else 0.8 * self._cost + 0.2 * dt
        return row


class Analyzer:
    """Pose -> mask measures -> gait for one stream of frames. Not thread-safe."""

    def __init__(
        self,
        cfg: HipcamConfig,
        pose: PoseModel,
        gait_factory: GaitFactory = make_gait,
        settings: Settings | None = None,
    ) -> None:
        """``settings``: the page's settings channel; without it the start-up configuration holds."""
        self.cfg, self.pose = cfg, pose
        self._gait_factory = gait_factory
        self._settings = settings
        self._gait: GaitModel | None = None
        self._applied = settings.applied() if settings is not None else AppliedSettings.of(cfg, 0)
        self._built_for: tuple[LevelConfig, GaitParams] | None = None  # what the current tracker uses
        self._mask = MaskMeter()
        self.mask_schedule = MaskSchedule(cfg.gait.lumbar_window_s) if cfg.pose.mask_frames == "scheduled" else None
        self.level: LevelInfo | None = None  # applied by the current tracker
        self._hip: HipCalibration | None = None  # the active runner's, applied to every frame
        self._near: str | None = None  # the near leg the tracker last reported

    def set_hip_calibration(self, calibration: HipCalibration | None) -> None:
        """The hip calibration for the frames from now on; a change ends the tracker (no stride
        is measured half with one hip point and half with another)."""
        if _key(calibration) != _key(self._hip):
            self._gait = None
        self._hip = calibration

    def _follow_settings(self) -> None:
        """A new settings version that changes what the tracker uses ends the tracker."""
        if self._settings is None or self._settings.applied().version == self._applied.version:
            return
        self._applied = self._settings.applied()
        if self._built_for != (self._applied.level, self._applied.gait):
            self._gait = None  # no stride may span two settings

    def run(self, frame: CapturedFrame) -> Analysis:
        schedule = self.mask_schedule
        mask = schedule is None or schedule.want(frame.timestamp_s)
        result = self.pose.process(frame.image, frame.timestamp_s, mask=mask)
        if result is not None and result.switched:
            self._gait = None  # another person took over: no stride may span two runners
        self._follow_settings()
        restarted = self._gait is None
        gait = self._gait or self._start_gait(frame.image)
        timings = _seconds(self.pose.timings)
        t0 = time.perf_counter()
        direction = gait.direction
        landmarks, pose = self._calibrated(result, frame.image.shape, direction)
        features = None if result is None or landmarks is None else self._mask.features(result, landmarks, direction)
        update = gait.update(frame.timestamp_s, landmarks, features)
        if schedule is not None:
            schedule.observe(frame.timestamp_s, _thigh(landmarks, frame.image.shape, direction))
        self._near = update.near_leg
        timings["gait"] = time.perf_counter() - t0
        score = result.score if result is not None else None
        mask_ran = result is not None and result.mask_logits is not None
        detector_ran = self.pose.timings.detector_ms > 0
        return Analysis(landmarks, update, timings, detector_ran, restarted, pose, score, mask_ran)

    def _calibrated(
        self, result: PoseResult | None, shape: tuple[int, ...], direction: str
    ) -> tuple[np.ndarray | None, FramePose | None]:
        """(the landmarks to analyse, the frame's pose) with the hip calibration applied, if any."""
        if result is None:
            return None, None
        h, w = shape[:2]
        raw, cal = result.landmarks, self._hip
        near = self._near or (cal.near_leg if cal is not None else None)
        if cal is None:
            return raw, FramePose(raw, w, h, direction, near)
        used = apply_hip_offset(raw, w, h, HipOffset(cal.forward, cal.up), near or "left", direction)
        return used, FramePose(raw, w, h, direction, near, used[list(HIPS), :2])

    def _start_gait(self, image: np.ndarray) -> GaitModel:
        level, params = self._applied.level, self._applied.gait
        self._built_for = (level, params)
        self.level = resolve_level(level, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        fps_hint = self.cfg.capture.true_fps or self.cfg.capture.fps  # LiveGait refines it from timestamps
        h, w = image.shape[:2]
        self._gait = self._gait_factory(params, fps_hint, self.level.roll_deg, (w, h))
        return self._gait


def _thigh(landmarks: np.ndarray | None, shape: tuple[int, ...], direction: str) -> float:
    if landmarks is None:
        return math.nan
    px = landmarks[:, :2] * (shape[1], shape[0])
    return most_extended_thigh_deg(px, 1 if direction == "right" else -1)


def _key(calibration: HipCalibration | None) -> tuple[str, float, float] | None:
    return None if calibration is None else (calibration.runner, calibration.forward, calibration.up)


def _seconds(t: StageTimings) -> dict[str, float]:
    return {
        "preprocess": t.preprocess_ms / 1e3,
        "detector": t.detector_ms / 1e3,
        "landmark": t.landmark_ms / 1e3,
        "postprocess": t.postprocess_ms / 1e3,
    }


def opt(value: float) -> float | None:
    """NaN (the gait code's 'unknown') -> None."""
    return value if math.isfinite(value) else None


def stride_record(stride: Stride, t_end: float) -> StrideRecord:
    """A completed gait stride as the page and the store see it.

    Frame numbers are the gait tracker's (one per update), which the snapshot ring is keyed by;
    ``t_end`` is the analysis time of the stride's closing foot strike.
    """
    t_start = t_end - stride.duration_s if math.isfinite(stride.duration_s) else None
    return report.stride_record(stride, t_start, t_end)
