"""BlazePose tracking: detect when the person is lost, otherwise crop from the last frame's landmarks.

The flow is MediaPipe's pose_landmark_cpu.pbtxt: detector -> ROI -> landmark model -> smoothing ->
next ROI from the smoothed auxiliary landmarks. Where several people are detected the main subject
is the biggest, most central one (MediaPipe takes the best-scoring one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipcam.config import HipcamConfig
from hipcam.pose.detector import Detection, PoseDetector
from hipcam.pose.landmarks import OUT_SEGMENTATION, LandmarkModel, RawPose
from hipcam.pose.roi import Roi, mask_to_image, roi_from_alignment
from hipcam.pose.smoothing import PoseSmoother
from hipcam.runtime import TfliteModel

DETECTOR_FILE = "pose_detection.tflite"
LANDMARK_FILE = "pose_landmark_full.tflite"


@dataclass
class StageTimings:
    """Milliseconds spent per stage on one frame (detector_ms is 0 while tracking)."""

    preprocess_ms: float = 0.0
    detector_ms: float = 0.0
    landmark_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.detector_ms + self.landmark_ms + self.postprocess_ms


@dataclass
class PoseResult:
    """One frame's pose. ``landmarks`` [33, 5]: x, y normalized to width/height, z (x scale),
    visibility, presence, as in the landmarks file; ``world_landmarks`` [33, 4] metres + visibility."""

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    score: float
    roi: Roi
    width: int
    height: int
    detected: bool  # the detector ran on this frame (person was re-acquired)
    mask_roi: np.ndarray | None = None  # [256, 256] float32 person mask in ROI space (keep_mask=True)
    timings: StageTimings = field(default_factory=StageTimings)

    def mask_image(self) -> np.ndarray | None:
        """The person mask projected into the frame, [height, width] float32 (None without keep_mask)."""
        if self.mask_roi is None:
            return None
        return mask_to_image(self.mask_roi, self.roi, self.width, self.height)


def select_subject(people: list[Detection], width: int, height: int) -> Detection:
    """The main subject: largest ROI, discounted by its distance from the frame centre."""
    side = float(max(width, height))

    def priority(d: Detection) -> float:
        roi = d.roi()
        off_centre = np.hypot(roi.cx - width / 2, roi.cy - height / 2) / side
        return roi.size / side * (1.0 - off_centre)

    return max(people, key=priority)


class BlazePose:
    """Single-person BlazePose over a frame stream. Not thread-safe: one instance per stream."""

    def __init__(
        self,
        detector: TfliteModel,
        landmark: TfliteModel,
        *,
        detection_threshold: float = 0.5,
        presence_threshold: float = 0.5,
        smooth: bool = True,
        keep_mask: bool = False,
    ) -> None:
        if keep_mask and OUT_SEGMENTATION not in landmark.output_names:
            raise ValueError("keep_mask needs the landmark model's segmentation output")
        self.detector = PoseDetector(detector, detection_threshold)
        self.landmark_model = LandmarkModel(landmark, presence_threshold)
        self.smoother = PoseSmoother(enabled=smooth)
        self.keep_mask = keep_mask
        self.timings = StageTimings()  # of the last processed frame, also when nobody was found
        self._roi: Roi | None = None

    @classmethod
    def from_config(cls, cfg: HipcamConfig, keep_mask: bool = False, models_dir: Path | None = None) -> BlazePose:
        models = models_dir or cfg.paths.models_dir
        threads = cfg.pose.threads
        # Without a mask consumer the segmentation branch is cut out of the graph (~25% of its time).
        drop = () if keep_mask else (OUT_SEGMENTATION,)
        return cls(
            TfliteModel(models / DETECTOR_FILE, threads),
            TfliteModel(models / LANDMARK_FILE, threads, drop_outputs=drop),
            detection_threshold=cfg.pose.detection_threshold,
            presence_threshold=cfg.pose.presence_threshold,
            smooth=cfg.pose.smooth_landmarks,
            keep_mask=keep_mask,
        )

    def reset(self) -> None:
        """Forget the tracked person (e.g. after a seek or a camera switch)."""
        self._roi = None
        self.smoother.reset()

    def process(self, frame_rgb: np.ndarray, timestamp_s: float) -> PoseResult | None:
        """Landmarks of the main subject in an RGB uint8 frame; None when nobody is found."""
        timings = StageTimings()
        self.timings = timings
        detected = self._roi is None
        roi = self._roi if self._roi is not None else self._detect(frame_rgb, timings)
        if roi is None:
            return None
        t0 = time.perf_counter()
        self.landmark_model.preprocess(frame_rgb, roi)
        t1 = time.perf_counter()
        self.landmark_model.model.invoke()
        t2 = time.perf_counter()
        raw = self.landmark_model.postprocess(roi)
        result = self._track(raw, roi, frame_rgb.shape, timestamp_s, detected) if raw is not None else None
        if result is None:
            self.reset()  # lost: the next frame runs the detector again
        else:
            result.timings = timings
        timings.preprocess_ms += (t1 - t0) * 1e3
        timings.landmark_ms = (t2 - t1) * 1e3
        timings.postprocess_ms += (time.perf_counter() - t2) * 1e3
        return result

    def _track(self, raw: RawPose, roi: Roi, shape: tuple[int, ...], timestamp_s: float, detected: bool) -> PoseResult:
        """Smooth, remember the next frame's ROI, and normalize like the landmarks file."""
        height, width = shape[:2]
        smoothed = self.smoother.apply(raw.landmarks, raw.world, timestamp_s)
        self._roi = roi_from_alignment(smoothed.aux[0, :2], smoothed.aux[1, :2])
        landmarks = smoothed.landmarks.astype(np.float32)
        landmarks[:, :3] /= np.array([width, height, width], np.float32)  # z is on the x scale
        return PoseResult(
            landmarks=landmarks,
            world_landmarks=smoothed.world.astype(np.float32),
            score=raw.score,
            roi=roi,
            width=width,
            height=height,
            detected=detected,
            mask_roi=self.landmark_model.segmentation_roi() if self.keep_mask else None,
        )

    def _detect(self, frame_rgb: np.ndarray, timings: StageTimings) -> Roi | None:
        t0 = time.perf_counter()
        letterbox = self.detector.preprocess(frame_rgb)
        t1 = time.perf_counter()
        self.detector.model.invoke()
        t2 = time.perf_counter()
        people = self.detector.postprocess(letterbox)
        roi = select_subject(people, frame_rgb.shape[1], frame_rgb.shape[0]).roi() if people else None
        t3 = time.perf_counter()
        timings.preprocess_ms += (t1 - t0) * 1e3
        timings.detector_ms = (t2 - t1) * 1e3
        timings.postprocess_ms += (t3 - t2) * 1e3
        return roi
