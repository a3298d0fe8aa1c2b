"""The guided set-up check's gathering (issue 16): frames + their poses -> hipcam.gait.setup_check.

``SetupCollector`` takes every frame's pose and, every SAMPLE_S of capture time, measures the frame
itself (brightness, foot sharpness, lines for the roll, the detector's other people). `hipcam
setup-check` feeds it from a file or the camera; in the service ``SetupCheckRunner`` feeds it from the
frame loop for the ~20 s of a requested check and keeps the report and its picture for the web page
(which may not import the gait or vision code: it calls ``request()`` and reads ``status()``/``image()``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from hipcam.domain import NUM_LANDMARKS
from hipcam.gait import setup_check
from hipcam.pose.detector import PoseDetector
from hipcam.vision.frame_stats import FrameStats, measure_frame
from hipcam.vision.roll import MIN_CONFIDENCE, estimate_level_frames
from hipcam.vision.setup_overlay import draw_setup

SAMPLE_S = 0.5  # capture time between measured frames (40 over 20 s)
ROLL_FRAMES = 8  # sampled frames the roll is estimated on (the line detector is the slow part)
OTHER_PAD = 0.15  # the runner's landmark box grown by this share: detections inside are the runner
PREVIEW_SAMPLE = 4  # the picture: the 4th measured frame (a little into the run)
OTHER_MIN_SCORE = 0.6  # a detection this sure counts as a person (the tracker's own threshold: 0.5)

# The people the detector sees in an RGB frame, as hip-centre points [K, 2] in pixels.
PeopleDetector = Callable[[np.ndarray], np.ndarray]


def people_detector(pose: object, min_score: float = OTHER_MIN_SCORE) -> PeopleDetector | None:
    """A whole-frame people finder from a BlazePose's detector (None: the pose model has none). It
    shares the tracker's model, so it must run on the tracker's thread, between its frames."""
    detector = getattr(pose, "detector", None)
    if not isinstance(detector, PoseDetector):
        return None
    found = detector

    def detect(image: np.ndarray) -> np.ndarray:
        letterbox = found.preprocess(image)
        found.model.invoke()
        people = [p.keypoints[0] for p in found.postprocess(letterbox) if p.score >= min_score]
        return np.array(people, np.float64).reshape(-1, 2)

    return detect


def _others_in(people: np.ndarray, landmarks: np.ndarray | None, width: int, height: int) -> bool:
    """Whether a detected person's hips are outside the runner's (padded) landmark box."""
    if landmarks is None:
        return len(people) > 1
    xy = np.asarray(landmarks[:, :2], np.float64) * [width, height]
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return len(people) > 1
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = (hi - lo) * OTHER_PAD
    return any(not ((lo - pad <= p) & (p <= hi + pad)).all() for p in people)


@dataclass
class SetupCollector:
    detect: PeopleDetector | None = None  # None: the other-people check says it was not measured
    landmarks: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    stats: list[FrameStats] = field(default_factory=list)
    others: list[bool] = field(default_factory=list)
    grays: list[np.ndarray] = field(default_factory=list)
    preview: np.ndarray | None = None  # an RGB frame with the runner, for the picture
    preview_landmarks: np.ndarray | None = None
    size: tuple[int, int] = (0, 0)
    _t0: float | None = None
    _next_sample: float = 0.0

    def elapsed(self, t_s: float) -> float:
        return 0.0 if self._t0 is None else t_s - self._t0

    def add(
        self, image: np.ndarray, t_s: float, landmarks: np.ndarray | None, score: float | None, index: int | None = None
    ) -> None:
        """One frame (RGB uint8), its pose (normalized [33, >=4], None: nobody) and its number in the
        source (None: the next one; the live loop skips frames)."""
        self._t0 = t_s if self._t0 is None else self._t0
        self.size = (image.shape[1], image.shape[0])
        self.landmarks.append(landmarks if landmarks is not None else np.full((NUM_LANDMARKS, 5), np.nan, np.float32))
        self.scores.append(float("nan") if score is None else float(score))
        self.stamps.append(t_s)
        self.indices.append(index if index is not None else (self.indices[-1] + 1 if self.indices else 0))
        if self.elapsed(t_s) >= self._next_sample:
            self._next_sample += SAMPLE_S
            self._sample(image, landmarks)

    def _sample(self, image: np.ndarray, landmarks: np.ndarray | None) -> None:
        if self.detect is not None:
            self.others.append(_others_in(self.detect(image), landmarks, *self.size))
        if len(self.grays) < ROLL_FRAMES * 5:
            self.grays.append(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        if landmarks is None:
            return
        stats = measure_frame(image, landmarks)
        if stats is not None:
            self.stats.append(stats)
        if self.preview is None or len(self.stats) == PREVIEW_SAMPLE:
            self.preview, self.preview_landmarks = image.copy(), np.array(landmarks)

    def measures(self) -> setup_check.FrameMeasures:
        fm = setup_check.FrameMeasures(samples=len(self.grays))
        if self.grays:
            step = max(1, len(self.grays) // ROLL_FRAMES)
            est = estimate_level_frames(self.grays[::step][:ROLL_FRAMES])
            if est is not None and est.confidence >= MIN_CONFIDENCE:
                fm.roll_deg, fm.roll_confidence = est.roll_deg, est.confidence
        if self.stats:
            fm.person_luma = float(np.median([s.person_luma for s in self.stats]))
            fm.background_luma = float(np.median([s.background_luma for s in self.stats]))
            sharp = [s.foot_sharpness for s in self.stats if s.foot_sharpness is not None]
            fm.foot_sharpness = float(np.median(sharp)) if sharp else None
        if self.others:
            fm.others_share = float(np.mean(self.others))
        return fm

    def to_input(self, nominal_fps: float | None) -> setup_check.SetupInput | None:
        """The checks' input (None: no frame was added)."""
        if not self.landmarks:
            return None
        return setup_check.SetupInput(
            landmarks=np.stack(self.landmarks),
            width=self.size[0],
            height=self.size[1],
            timestamps_s=np.asarray(self.stamps),
            scores=np.asarray(self.scores),
            frames=self.measures(),
            nominal_fps=nominal_fps,
            frame_indices=np.asarray(self.indices),
        )

    def picture(self, roll_deg: float | None) -> np.ndarray | None:
        """The preview frame (RGB) with the measured lines drawn on it."""
        if self.preview is None or self.preview_landmarks is None:
            return None
        return draw_setup(self.preview, self.preview_landmarks, roll_deg)


class SetupCheckRunner:
    """One live check at a time: ``request()`` starts ~seconds of gathering in the frame loop
    (``on_frame``), then the report is computed on a worker thread. Thread-safe."""

    def __init__(self, seconds: float = 20.0, clock: Callable[[], float] = time.time) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._collector: SetupCollector | None = None
        self._state = "idle"  # idle | running | computing | done
        self._started_at: float | None = None
        self._report: dict[str, Any] | None = None
        self._jpeg: bytes | None = None
        self._error: str | None = None

    def request(self) -> dict[str, Any]:
        """Start a check unless one is running; the status either way."""
        with self._lock:
            if self._state not in ("running", "computing"):
                self._collector, self._state = None, "running"
                self._started_at, self._report, self._jpeg, self._error = self._clock(), None, None, None
        return self.status()

    def status(self) -> dict[str, Any]:
        with self._lock:
            elapsed = 0.0 if self._collector is None or not self._collector.stamps else self._collector_elapsed()
            return {
                "state": self._state,
                "seconds": self.seconds,
                "elapsed_s": round(min(elapsed, self.seconds), 1),
                "started_at": self._started_at,
                "report": self._report,
                "error": self._error,
                "has_image": self._jpeg is not None,
            }

    def _collector_elapsed(self) -> float:
        assert self._collector is not None
        return self._collector.elapsed(self._collector.stamps[-1])

    def image(self) -> bytes | None:
        """The JPEG of the last report's frame with its lines."""
        with self._lock:
            return self._jpeg

    @property
    def active(self) -> bool:
        return self._state == "running"  # read without the lock: the frame loop's cheap test

    def on_frame(
        self, image: np.ndarray, t_s: float, landmarks: np.ndarray | None, score: float | None,
        detect: PeopleDetector | None = None, index: int | None = None,
    ) -> None:  # fmt: skip
        """Called by the frame loop for every analysed frame (returns at once when idle)."""
        if not self.active:
            return
        with self._lock:
            if self._collector is None:
                self._collector = SetupCollector(detect=detect)
            collector = self._collector
            collector.add(image, t_s, landmarks, score, index)
            if collector.elapsed(t_s) < self.seconds:
                return
            self._state = "computing"
        threading.Thread(target=self._finish, args=(collector,), name="hipcam-setup-check", daemon=True).start()

    def _finish(self, collector: SetupCollector) -> None:
        try:
            inp = collector.to_input(None)
            checks = setup_check.run_checks(inp) if inp is not None else []
            picture = collector.picture(inp.frames.roll_deg if inp is not None else None)
            jpeg = None
            if picture is not None:
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
                jpeg = buf.tobytes() if ok else None
            report, error = (setup_check.to_dict(checks), None) if checks else (None, "no frames arrived")
        except Exception as exc:  # a bug must not leave the page waiting forever
            report, jpeg, error = None, None, f"{exc.__class__.__name__}: {exc}"
        with self._lock:
            self._report, self._jpeg, self._error, self._state = report, jpeg, error, "done"
