"""Thin adapters between the service and the pose, capture, gait and ops packages.

The pipeline codes against the small protocols below. This module maps them onto the real
packages (``hipcam.pose``, ``hipcam.capture``, ``hipcam.gait``, ``hipcam.service.metrics`` /
``notify``) and tolerates small differences in attribute names, so the frame loop does not
change when those packages do. Where a package is absent, a clear HipcamError is raised (pose:
reported as "model not loaded"), or, for capture only, a plain OpenCV reader is used.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hipcam.config import HipcamConfig
from hipcam.errors import AssetError, HipcamError, VideoError
from hipcam.service.state import StrideRecord

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


# ---- frames ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray  # H x W x 3, RGB
    index: int
    timestamp_s: float  # analysis time of the frame (true time for slow-motion footage)
    captured_at: float  # wall clock when the frame left the source, for latency measurement


class FrameSource(Protocol):
    def __iter__(self) -> Iterator[CapturedFrame]: ...

    def close(self) -> None: ...


def is_file_source(spec: str) -> bool:
    return Path(spec).suffix.lower() in VIDEO_SUFFIXES


def file_playback_fps(path: str) -> float | None:
    """Nominal playback rate of a video file (a replayed file is paced like a live camera)."""
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS)) if cap.isOpened() else 0.0
    finally:
        cap.release()
    return fps if 1.0 <= fps <= 1000.0 else None


class _Paced:
    """Wraps a frame iterator; sleeps so a file plays at its playback rate, like a camera."""

    def __init__(self, frames: Iterator[Any], pace_fps: float | None, closer: Any) -> None:
        self._frames = frames
        self._pace = pace_fps
        self._closer = closer

    def __iter__(self) -> Iterator[CapturedFrame]:
        start: float | None = None
        n = 0
        for frame in self._frames:
            if self._pace:
                now = time.monotonic()
                if start is None:
                    start = now
                due = start + n / self._pace
                if due > now:
                    time.sleep(due - now)
                elif now - due > 1.0:  # fell far behind (a stall): restart the clock, do not burst
                    start, n = now, 0
                n += 1
            yield _to_captured(frame)

    def close(self) -> None:
        close = getattr(self._closer, "close", None)
        if callable(close):
            close()


def _to_captured(frame: Any) -> CapturedFrame:
    image = getattr(frame, "image", None)
    if image is None:
        image = getattr(frame, "rgb", None)
    if image is None:
        raise VideoError("capture returned a frame without an image")
    index = int(getattr(frame, "index", 0))
    ts = getattr(frame, "timestamp_s", None)
    if ts is None:
        ts = getattr(frame, "t_s", None)
    if ts is None:
        ts = time.monotonic()
    return CapturedFrame(image=image, index=index, timestamp_s=float(ts), captured_at=time.time())


def open_frames(spec: str, cfg: HipcamConfig) -> FrameSource:
    """Open a frame source through hipcam.capture (or OpenCV when it is not installed)."""
    pace = file_playback_fps(spec) if is_file_source(spec) else None
    try:
        capture = importlib.import_module("hipcam.capture")
        open_source = capture.open_source
    except (ImportError, AttributeError):
        log.warning("hipcam.capture.open_source not available; using the built-in OpenCV reader")
        it = _opencv_frames(spec, cfg)
        return _Paced(it, pace, it)
    src = open_source(spec, cfg)
    read = getattr(src, "read", None)
    iterator = _read_all(read) if callable(read) else iter(src)
    return _Paced(iterator, pace, src)


def _read_all(read: Any) -> Iterator[Any]:
    """hipcam.capture sources: read() until None (end of an unlooped file)."""
    while (frame := read()) is not None:
        yield frame


def _opencv_frames(spec: str, cfg: HipcamConfig) -> Iterator[Any]:
    """Fallback reader: a video file (looped) or a camera index, frames as RGB."""
    import cv2

    target: str | int = int(spec) if spec.isdigit() else spec
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        raise VideoError(f"{spec}: cannot open video source")
    fps = cfg.capture.true_fps or float(cap.get(cv2.CAP_PROP_FPS) or cfg.capture.fps)
    index = 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                if isinstance(target, str) and cfg.capture.loop_files and index > 0:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                raise VideoError(f"{spec}: no more frames")
            yield _SimpleFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index, index / fps)
            index += 1
    finally:
        cap.release()


@dataclass(frozen=True)
class _SimpleFrame:
    image: np.ndarray
    index: int
    timestamp_s: float


def resolve_auto_source(cfg: HipcamConfig, probe: Any = None) -> str:
    """`auto`: the Pi camera, else the first USB camera, else the demo clip (looped)."""
    probe = probe or _probe
    for spec in ("picamera", "0"):
        if probe(spec, cfg):
            return spec
    demo = cfg.paths.models_dir / "demo.mp4"
    if not demo.is_file():
        raise AssetError(f"no camera found and the demo clip {demo} is missing (run `hipcam fetch`)")
    return str(demo)


def _probe(spec: str, cfg: HipcamConfig) -> bool:
    """Can this source deliver one frame? Every failure just means 'try the next one'."""
    if spec.isdigit() and not Path(f"/dev/video{spec}").exists():
        return False
    try:
        src = open_frames(spec, cfg)
        try:
            next(iter(src))
        finally:
            src.close()
    except (HipcamError, OSError, StopIteration, ImportError, RuntimeError, ValueError) as exc:
        log.info("source %s not available: %s", spec, exc)
        return False
    return True


# ---- pose --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoseOutput:
    landmarks: np.ndarray | None  # [33, 5], x/y normalized
    mask: np.ndarray | None
    timings: Mapping[str, float]


class PoseEstimator(Protocol):
    def process(self, frame_rgb: np.ndarray, timestamp_s: float) -> PoseOutput: ...


class _PoseAdapter:
    def __init__(self, model: Any) -> None:
        self._model = model

    def process(self, frame_rgb: np.ndarray, timestamp_s: float) -> PoseOutput:
        result = self._model.process(frame_rgb, timestamp_s)
        if result is None:
            return PoseOutput(None, None, {})
        lm = getattr(result, "landmarks", None)
        if lm is None:
            lm = getattr(result, "image_landmarks", None)
        mask_fn = getattr(result, "mask_image", None)
        mask = mask_fn() if callable(mask_fn) else getattr(result, "mask", None)
        return PoseOutput(None if lm is None else np.asarray(lm, dtype=np.float32), mask, _timings_s(result))


def _timings_s(result: Any) -> dict[str, float]:
    """Stage timings in seconds keyed by stage ('landmark_ms' -> 'landmark')."""
    raw = getattr(result, "timings", None)
    if raw is None:
        return {}
    items = raw.items() if isinstance(raw, Mapping) else vars(raw).items()
    out: dict[str, float] = {}
    for key, value in items:
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key.removesuffix("_ms")] = float(value) / 1000.0 if key.endswith("_ms") else float(value)
    return out


def load_pose(cfg: HipcamConfig) -> PoseEstimator:
    """Build BlazePose once. Missing/corrupt models raise HipcamError (shown as 'model not loaded')."""
    models_dir = cfg.paths.models_dir
    for name in ("pose_detection.tflite", "pose_landmark_full.tflite"):
        path = models_dir / name
        if not path.is_file() or path.stat().st_size < 1024:
            raise AssetError(f"model {path} is missing or empty; run `hipcam fetch`")
    try:
        pose_mod = importlib.import_module("hipcam.pose")
        cls = getattr(pose_mod, "BlazePose", None) or importlib.import_module("hipcam.pose.pipeline").BlazePose
    except (ImportError, AttributeError) as exc:
        raise AssetError(f"the pose package is not available ({exc})") from None
    factory = getattr(cls, "from_config", None)
    try:
        # keep_mask: the segmentation mask feeds the back-arch measures (class D).
        model = factory(cfg, keep_mask=True) if callable(factory) else cls(cfg.pose, models_dir)
    except HipcamError:
        raise
    except (ValueError, RuntimeError, OSError) as exc:
        raise AssetError(f"cannot load the pose model: {exc}") from None
    return _PoseAdapter(model)


# ---- gait --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GaitOutput:
    thigh_deg: float | None
    trunk_lean_deg: float | None
    hip_extension_deg: float | None
    cadence_spm: float | None
    leg: str | None
    strides: tuple[StrideRecord, ...]


class GaitTracker(Protocol):
    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None) -> GaitOutput: ...


def _first(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _opt_float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _opt_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def stride_record(stride: Any, t_now: float | None = None) -> StrideRecord:
    """Map a gait stride (hipcam.gait Stride, or a mapping) onto the service's StrideRecord.

    Frame numbers are the gait tracker's own (one per update). Times: the stride ends at ``t_now``
    (the frame that completed it) and started ``duration_s`` earlier.
    """
    frames = _first(stride, "frames")
    start = end = None
    if isinstance(frames, tuple | list) and len(frames) >= 2:
        start, end = _opt_int(frames[0]), _opt_int(frames[-1])
    start = _opt_int(_first(stride, "foot_strike_frame", "frame_start")) if start is None else start
    end = _opt_int(_first(stride, "end_frame", "frame_end")) if end is None else end
    duration = _opt_float(_first(stride, "duration_s"))
    t_end = _opt_float(_first(stride, "t_end")) or t_now
    t_start = _opt_float(_first(stride, "t_start"))
    if t_start is None and t_end is not None and duration is not None:
        t_start = t_end - duration
    arch = _first(stride, "back_arch")
    arch_detected = _first(arch, "detected") if arch is not None and not isinstance(arch, bool | int | float) else arch
    lumbar = (
        _first(arch, "lumbar_depth_ratio") if arch is not None and not isinstance(arch, bool | int | float) else None
    )
    cls = _first(stride, "cls", "class_", "class", "label")
    cls = str(getattr(cls, "value", cls) or "")
    return StrideRecord(
        leg=str(_first(stride, "leg") or "left"),
        cls=cls if cls in ("A", "B", "C", "D") else "U",
        confidence=_opt_float(_first(stride, "confidence")),
        hip_extension_deg=_opt_float(_first(stride, "hip_extension_deg")),
        thigh_peak_deg=_opt_float(_first(stride, "thigh_peak_deg")),
        trunk_lean_deg=_opt_float(_first(stride, "trunk_lean_deg")),
        back_arch=None if arch_detected is None else bool(arch_detected),
        lumbar_depth_ratio=_opt_float(lumbar if lumbar is not None else _first(stride, "lumbar_depth_ratio")),
        frame_start=start,
        frame_end=end,
        t_start=t_start,
        t_end=t_end,
        peak_frame=_opt_int(_first(stride, "peak_frame")),
    )


# "Nobody in view" as the landmarks files spell it: NaN landmarks.
_NO_POSE = np.full((33, 5), np.nan, dtype=np.float32)


class _GaitAdapter:
    def __init__(self, live: Any) -> None:
        self._live = live

    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None) -> GaitOutput:
        upd = self._live.update(t_s, landmarks, mask_features)
        strides = _first(upd, "strides", "completed", "new_strides") or ()
        return GaitOutput(
            thigh_deg=_opt_float(_first(upd, "thigh_deg", "thigh_angle_deg")),
            trunk_lean_deg=_opt_float(_first(upd, "trunk_lean_deg", "trunk_deg")),
            hip_extension_deg=_opt_float(_first(upd, "hip_extension_deg")),
            cadence_spm=_opt_float(_first(upd, "cadence_spm", "cadence")),
            leg=_first(upd, "near_leg", "leg"),
            strides=tuple(stride_record(s, t_s) for s in strides),
        )


def make_gait(cfg: HipcamConfig, fps_hint: float, frame_size: tuple[int, int] = (640, 480)) -> GaitTracker:
    try:
        gait_mod = importlib.import_module("hipcam.gait")
        live_cls = getattr(gait_mod, "LiveGait", None) or importlib.import_module("hipcam.gait.live").LiveGait
    except (ImportError, AttributeError) as exc:
        raise HipcamError(f"the gait package is not available ({exc})") from None
    roll = cfg.level.roll_deg if cfg.level.mode == "manual" else 0.0
    try:
        return _GaitAdapter(live_cls(cfg.gait, fps_hint, roll, frame_size=frame_size))
    except TypeError:  # an older LiveGait without frame_size
        return _GaitAdapter(live_cls(cfg.gait, fps_hint, roll))


def mask_features(mask: np.ndarray | None, landmarks: np.ndarray | None, direction: str) -> np.ndarray | None:
    """Per-frame mask measures for the gait analysis (None when there is no mask)."""
    if mask is None or landmarks is None:
        return None
    try:
        mf = importlib.import_module("hipcam.gait.mask_features")
    except ImportError:
        return None
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m[..., 0]
    px = np.array(landmarks, dtype=np.float64, copy=True)
    px[:, 0] *= m.shape[1]
    px[:, 1] *= m.shape[0]
    hint = direction if direction in ("left", "right") else None
    return np.asarray(mf.measure(m, px, hint), dtype=np.float32)


# ---- ops ---------------------------------------------------------------------------------
class Ops(Protocol):
    """Hooks the frame loop calls; metrics and the systemd watchdog live behind them."""

    def frame_processed(self, seconds: float, timings: Mapping[str, float]) -> None: ...
    def frame_dropped(self, n: int) -> None: ...
    def stride_recorded(self) -> None: ...
    def snapshot_skipped_low_disk(self) -> None: ...
    def pipeline_error(self, stage: str) -> None: ...
    def camera_state(self, state: str) -> None: ...
    def retrying(self) -> None: ...


class NullOps:
    def frame_processed(self, seconds: float, timings: Mapping[str, float]) -> None:
        pass

    def frame_dropped(self, n: int) -> None:
        pass

    def stride_recorded(self) -> None:
        pass

    def snapshot_skipped_low_disk(self) -> None:
        pass

    def pipeline_error(self, stage: str) -> None:
        pass

    def camera_state(self, state: str) -> None:
        pass

    def retrying(self) -> None:
        pass


class ServiceOps:
    """Ops backed by hipcam.service.metrics.Metrics and hipcam.service.notify.Watchdog."""

    def __init__(self, metrics: Any, watchdog: Any) -> None:
        self.metrics = metrics
        self.watchdog = watchdog
        self._stages: frozenset[str] = frozenset(getattr(importlib.import_module(metrics.__module__), "STAGES", ()))

    def frame_processed(self, seconds: float, timings: Mapping[str, float]) -> None:
        for stage, value in timings.items():
            if stage in self._stages:
                self.metrics.observe_stage(stage, value)
        self.metrics.frame_processed(seconds)
        # Only a processed frame feeds the watchdog: a wedged loop must let systemd restart us.
        self.watchdog.frame_processed()

    def frame_dropped(self, n: int) -> None:
        self.metrics.frame_dropped(n)

    def stride_recorded(self) -> None:
        self.metrics.stride_recorded()

    def snapshot_skipped_low_disk(self) -> None:
        self.metrics.snapshot_skipped_low_disk()

    def pipeline_error(self, stage: str) -> None:
        self.metrics.pipeline_error(stage)

    def camera_state(self, state: str) -> None:
        self.metrics.set_camera_state(state)

    def retrying(self) -> None:
        # Brief: the watchdog is fed only while frames are analysed. While the camera is lost we
        # stay silent, so with WatchdogSec= set systemd restarts us after a long outage.
        return None
