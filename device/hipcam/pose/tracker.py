"""BlazePose tracking: detect when the person is lost, otherwise crop from the last frame's landmarks.

The flow is MediaPipe's pose_landmark_cpu.pbtxt: detector -> ROI -> landmark model -> smoothing ->
next ROI from the smoothed auxiliary landmarks. Where several people are detected the main subject
is the biggest, most central one (MediaPipe takes the best-scoring one). MediaPipe never looks again
once it tracks someone, so it can stay on a bystander while the runner is in view; here the detector
also runs every ``recheck_interval_s`` while tracking, and the tracker moves to another person when
they are clearly the better subject (``switch_target``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipcam.config import HipcamConfig
from hipcam.pose import precision
from hipcam.pose.detector import Detection, PoseDetector, iou
from hipcam.pose.graph_split import split_branch
from hipcam.pose.landmarks import OUT_SEGMENTATION, LandmarkModel, MaskBranch, RawPose, segmentation_mask
from hipcam.pose.roi import Roi, mask_to_image, roi_from_alignment
from hipcam.pose.runtime import TfliteModel
from hipcam.pose.smoothing import PoseSmoother

log = logging.getLogger(__name__)

DETECTOR_FILE = "pose_detection.tflite"
LANDMARK_FILE = "pose_landmark_full.tflite"
# A re-check moves the tracker only to someone this much better by subject priority: detections of
# one person vary by 10-20% in size from frame to frame, which must not flip the choice back and forth.
SWITCH_RATIO = 1.3
# A detection overlapping the tracked ROI this much (IoU of the ROI squares) is the tracked person.
SAME_PERSON_IOU = 0.3
# ...and the landmark model must be sure it sees one whole person there. Tracked people score ~1.0
# (5th percentile 0.98 on the demo clip, 0.9998 on the lab clip); the detector's occasional boxes
# over two people score 0.68-0.88 and lose the person on the next frame.
SWITCH_MIN_POSE_SCORE = 0.95


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
    mask_logits: np.ndarray | None = None  # [256, 256] float32 person-mask logits in ROI space (keep_mask=True)
    timings: StageTimings = field(default_factory=StageTimings)
    switched: bool = False  # a re-check moved the tracker to another person on this frame

    def mask_image(self) -> np.ndarray | None:
        """The person mask (probabilities) projected into the frame, [height, width] float32 (None
        without keep_mask). The sigmoid runs here, so frames whose mask nobody reads skip it."""
        if self.mask_logits is None:
            return None
        return mask_to_image(segmentation_mask(self.mask_logits), self.roi, self.width, self.height)


def subject_priority(roi: Roi, width: int, height: int) -> float:
    """ROI side over the frame's long side, discounted by the ROI's distance from the frame centre."""
    side = float(max(width, height))
    off_centre = np.hypot(roi.cx - width / 2, roi.cy - height / 2) / side
    return float(roi.size / side * (1.0 - off_centre))


def select_subject(people: list[Detection], width: int, height: int) -> Detection:
    """The main subject: largest ROI, discounted by its distance from the frame centre."""
    return max(people, key=lambda d: subject_priority(d.roi(), width, height))


def roi_box(roi: Roi) -> np.ndarray:
    """The ROI's axis-aligned square (xmin, ymin, xmax, ymax), rotation ignored."""
    half = roi.size / 2
    return np.array([roi.cx - half, roi.cy - half, roi.cx + half, roi.cy + half])


def switch_target(
    current: Roi,
    people: list[Detection],
    width: int,
    height: int,
    *,
    ratio: float = SWITCH_RATIO,
    same_iou: float = SAME_PERSON_IOU,
) -> Detection | None:
    """The person a re-check should move the tracker to, or None to keep the tracked one.

    Detections overlapping ``current`` by ``same_iou`` or more are the tracked person; the best of
    the others wins only with more than ``ratio`` times the tracked person's priority, which is the
    larger of its tracked ROI's and its own detections' (both jitter; the larger keeps the tracker).
    """
    if not people:
        return None
    boxes = np.stack([roi_box(d.roi()) for d in people])
    same = iou(roi_box(current), boxes) >= same_iou
    others = [d for d, s in zip(people, same, strict=True) if not s]
    if not others:
        return None
    held = max(
        [subject_priority(current, width, height)]
        + [subject_priority(d.roi(), width, height) for d, s in zip(people, same, strict=True) if s]
    )
    best = select_subject(others, width, height)
    return best if subject_priority(best.roi(), width, height) > ratio * held else None


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
        recheck_interval_s: float = 0.0,
        mask_branch: MaskBranch | None = None,
    ) -> None:
        """``mask_branch``: the segmentation branch cut out of ``landmark`` (``graph_split``), run only
        on the frames ``process`` is told need the mask; without it ``landmark`` has the mask output."""
        if keep_mask and mask_branch is None and OUT_SEGMENTATION not in landmark.output_names:
            raise ValueError("keep_mask needs the landmark model's segmentation output")
        self.detector = PoseDetector(detector, detection_threshold)
        self.landmark_model = LandmarkModel(landmark, presence_threshold)
        self.mask_branch = mask_branch if keep_mask else None
        self.masked = keep_mask  # whether the last frame computed the mask
        self.smoother = PoseSmoother(enabled=smooth)
        self.keep_mask = keep_mask
        self.recheck_interval_s = recheck_interval_s  # 0: never look for a better subject while tracking
        self.timings = StageTimings()  # of the last processed frame, also when nobody was found
        self.precision = precision.PrecisionChoice("fp32", "fp32", "models given directly")
        self.threads = 0  # set by from_config (0: not known)
        self._roi: Roi | None = None
        self._last_check_s: float | None = None  # when the detector last ran
        self._retry_check = False  # re-check on the next frame: the last one's better person was refused
        self._retrying = False  # this frame's check is such a retry
        self._norm_size: tuple[int, int] | None = None  # frame size of the cached normalization divisor
        self._norm = np.ones(3, np.float32)

    @classmethod
    def from_config(
        cls, cfg: HipcamConfig, keep_mask: bool = False, models_dir: Path | None = None, scheduled_mask: bool = False
    ) -> BlazePose:
        """``scheduled_mask`` (with ``keep_mask``): the segmentation branch as a graph of its own, run
        only on the frames the caller asks the mask for (``process(..., mask=True)``)."""
        models = models_dir or cfg.paths.models()
        threads = precision.inference_threads(cfg.pose.threads)
        choice = precision.choose(cfg.pose.precision, models)
        landmark_bytes = precision.landmark_model_bytes(choice, models / LANDMARK_FILE, models)
        split = split_branch(landmark_bytes, OUT_SEGMENTATION) if keep_mask and scheduled_mask else None
        # Without a mask consumer the segmentation branch is cut out of the graph (~1/3 of its time).
        drop = () if keep_mask else (OUT_SEGMENTATION,)
        if split is None:
            landmark = TfliteModel(models / LANDMARK_FILE, threads, drop_outputs=drop, content=landmark_bytes)
            branch = None
        else:
            landmark = TfliteModel(models / LANDMARK_FILE, threads, content=split.trunk)
            branch = MaskBranch(TfliteModel(models / LANDMARK_FILE, threads, content=split.branch), split.links)
        log.info("pose: landmark model in %s (%s), %d threads", choice.precision, choice.reason, threads)
        pose = cls(
            TfliteModel(models / DETECTOR_FILE, threads),
            landmark,
            detection_threshold=cfg.pose.detection_threshold,
            presence_threshold=cfg.pose.presence_threshold,
            smooth=cfg.pose.smooth_landmarks,
            keep_mask=keep_mask,
            recheck_interval_s=cfg.pose.recheck_interval_s,
            mask_branch=branch,
        )
        pose.precision, pose.threads = choice, threads
        return pose

    def reset(self) -> None:
        """Forget the tracked person (e.g. after a seek or a camera switch)."""
        self._roi = None
        self._last_check_s = None
        self._retry_check = self._retrying = False
        self.smoother.reset()

    def process(self, frame_rgb: np.ndarray, timestamp_s: float, mask: bool = True) -> PoseResult | None:
        """Landmarks of the main subject in an RGB uint8 frame; None when nobody is found.

        ``mask=False``: this frame needs no segmentation mask (its branch is skipped, when split off).
        """
        self.masked = self.keep_mask and (mask or self.mask_branch is None)
        timings = StageTimings()
        self.timings = timings
        tracked = self._roi
        roi, switching = self._next_roi(frame_rgb, timestamp_s, timings)
        if roi is None:
            return None
        raw = self._landmarks(frame_rgb, roi, timings)
        if switching and tracked is not None and (raw is None or raw.score < SWITCH_MIN_POSE_SCORE):
            # No clear pose where the detector put the new person (one box over two people, a false
            # detection): stay with the tracked person rather than losing everybody, and look again
            # on the next frame (once only, to bound the cost), as such boxes rarely last.
            roi, switching = tracked, False
            raw = self._landmarks(frame_rgb, roi, timings)
            self._retry_check = not self._retrying
        if raw is None:
            self.reset()  # lost: the next frame runs the detector again
            return None
        t0 = time.perf_counter()
        if switching:
            self.smoother.reset()  # the filters hold the previous person's positions and speeds
        result = self._track(raw, roi, frame_rgb.shape, timestamp_s, detected=tracked is None)
        result.timings = timings
        result.switched = switching
        timings.postprocess_ms += (time.perf_counter() - t0) * 1e3
        return result

    def _next_roi(self, frame_rgb: np.ndarray, timestamp_s: float, timings: StageTimings) -> tuple[Roi | None, bool]:
        """This frame's crop, and whether it is a different person's than the tracked one."""
        if self._roi is None:
            return self._detect(frame_rgb, timings, timestamp_s), False
        if not self._recheck_due(timestamp_s):
            return self._roi, False
        self._retrying, self._retry_check = self._retry_check, False
        better = self._recheck(frame_rgb, self._roi, timings, timestamp_s)
        return (better, True) if better is not None else (self._roi, False)

    def _landmarks(self, frame_rgb: np.ndarray, roi: Roi, timings: StageTimings) -> RawPose | None:
        t0 = time.perf_counter()
        self.landmark_model.preprocess(frame_rgb, roi)
        t1 = time.perf_counter()
        self.landmark_model.model.invoke()
        if self.masked and self.mask_branch is not None:
            self.mask_branch.run(self.landmark_model.model)
        t2 = time.perf_counter()
        raw = self.landmark_model.postprocess(roi)
        timings.preprocess_ms += (t1 - t0) * 1e3
        timings.landmark_ms += (t2 - t1) * 1e3
        timings.postprocess_ms += (time.perf_counter() - t2) * 1e3
        return raw

    def _track(self, raw: RawPose, roi: Roi, shape: tuple[int, ...], timestamp_s: float, detected: bool) -> PoseResult:
        """Smooth, remember the next frame's ROI, and normalize like the landmarks file."""
        height, width = shape[:2]
        smoothed = self.smoother.apply(raw.landmarks, raw.world, timestamp_s)
        self._roi = roi_from_alignment(smoothed.aux[0, :2], smoothed.aux[1, :2])
        landmarks = smoothed.landmarks.astype(np.float32)
        if self._norm_size != (width, height):
            self._norm_size = (width, height)
            self._norm = np.array([width, height, width], np.float32)  # z is on the x scale
        landmarks[:, :3] /= self._norm
        return PoseResult(
            landmarks=landmarks,
            world_landmarks=smoothed.world.astype(np.float32),
            score=raw.score,
            roi=roi,
            width=width,
            height=height,
            detected=detected,
            mask_logits=self._mask_logits() if self.masked else None,
        )

    def _mask_logits(self) -> np.ndarray:
        if self.mask_branch is not None:
            return self.mask_branch.logits()
        return self.landmark_model.segmentation_logits()

    def _recheck_due(self, timestamp_s: float) -> bool:
        if self.recheck_interval_s <= 0:
            return False
        if self._retry_check:
            return True
        if self._last_check_s is None or timestamp_s < self._last_check_s:
            self._last_check_s = timestamp_s  # no reference yet, or the clock restarted
            return False
        # The tolerance keeps float frame times (k / fps) from missing a whole-second boundary.
        return timestamp_s - self._last_check_s >= self.recheck_interval_s - 1e-6

    def _recheck(self, frame_rgb: np.ndarray, tracked: Roi, timings: StageTimings, timestamp_s: float) -> Roi | None:
        """The ROI of a clearly better subject than the tracked one, if the detector sees one."""
        people = self._run_detector(frame_rgb, timings, timestamp_s)
        t0 = time.perf_counter()
        target = switch_target(tracked, people, frame_rgb.shape[1], frame_rgb.shape[0])
        timings.postprocess_ms += (time.perf_counter() - t0) * 1e3
        return target.roi() if target is not None else None

    def _detect(self, frame_rgb: np.ndarray, timings: StageTimings, timestamp_s: float) -> Roi | None:
        people = self._run_detector(frame_rgb, timings, timestamp_s)
        t0 = time.perf_counter()
        roi = select_subject(people, frame_rgb.shape[1], frame_rgb.shape[0]).roi() if people else None
        timings.postprocess_ms += (time.perf_counter() - t0) * 1e3
        return roi

    def _run_detector(self, frame_rgb: np.ndarray, timings: StageTimings, timestamp_s: float) -> list[Detection]:
        t0 = time.perf_counter()
        letterbox = self.detector.preprocess(frame_rgb)
        t1 = time.perf_counter()
        self.detector.model.invoke()
        t2 = time.perf_counter()
        people = self.detector.postprocess(letterbox)
        timings.preprocess_ms += (t1 - t0) * 1e3
        timings.detector_ms = (t2 - t1) * 1e3
        timings.postprocess_ms += (time.perf_counter() - t2) * 1e3
        self._last_check_s = timestamp_s
        return people
