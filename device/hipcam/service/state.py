"""The live snapshot: the one object the pipeline writes and the web layer reads.

The pipeline calls ``publish_*`` from its frame loop; web threads call ``snapshot()``,
``wait_for_change()`` and ``latest_frame()``. Every read returns immutable data built under a
short lock, and the JSON the live page streams is serialized once per version and cached, so ten
viewers cost ten socket writes, not ten serializations inside the frame loop.

Hip calibration: the camera view shows the landmarks the analysis used (with the runner's hip
calibration applied). A tap on a paused camera frame needs that frame's pose as BlazePose gave it,
so the frame loop notes each analysed frame's ``FramePose`` (``note_pose``, keyed by its capture
time) and ``publish_camera`` keeps the one of each camera frame; ``camera_pose(seq)`` finds it for
the last ``CAMERA_POSES_KEPT`` camera frames (about 10 s at the camera view's rate).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hipcam.domain import CLASSES, CLASSIFIED, LEGS, STATUSES, LevelInfo, Status
from hipcam.records.stride import StrideRecord
from hipcam.records.stride import json_number as _num

# How much history the plot and the stride strip keep (at 30 fps, 900 samples = 30 s).
PLOT_SAMPLES = 900
RECENT_STRIDES = 60
# A live event carries only the newest samples; the page asks /api/state once for the history.
TAIL_SECONDS = 1.0
CAMERA_POSES_KEPT = 64  # camera frames whose pose a calibration tap may still refer to
NOTED_POSES = 32  # analysed frames whose pose waits for the camera-view encoder
# The ``store`` flag: the stride writer's state (hipcam.service.stride_writer.StoreHealth.to_json):
# the disk refuses strides, how many are held in memory, lost, written after the disk had room again.
STORE_OK: dict[str, Any] = {"disk_full": False, "pending": 0, "lost": 0, "written_after_full": 0,
                            "snapshots_skipped": {}}  # fmt: skip


@dataclass(frozen=True)
class LiveMetrics:
    thigh_deg: float | None = None
    trunk_lean_deg: float | None = None
    hip_extension_deg: float | None = None
    cadence_spm: float | None = None
    fps: float | None = None
    inference_ms: float | None = None
    frames_processed: int = 0
    frames_dropped: int = 0  # found analysis busy (the freshest-frame slot)
    frames_skipped: int = 0  # skipped evenly (hipcam.service.decimation)
    analysed_share: float = 1.0  # of the camera's frames (below 1: the rest skipped evenly)
    camera_fps: float | None = None  # the rate frames arrive at (None: not measured yet)
    leg: str | None = None
    locomotion: str | None = None  # domain.Locomotion of the last second or so; None: not known


@dataclass(frozen=True)
class FramePose:
    """One analysed frame's pose as BlazePose gave it (before any hip calibration), and what a tap
    on that frame needs to calibrate the hip."""

    landmarks: np.ndarray  # [33, 5], x/y normalized to width/height; never mutated
    width: int  # the analysed frame's size
    height: int
    direction: str  # running direction the analysis used ("left" | "right")
    near_leg: str | None
    hips_used: np.ndarray | None = None  # [2, 2] left/right hip (normalized) after the calibration

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (stored beside a stride's snapshot)."""
        lm = np.asarray(self.landmarks, dtype=np.float64)
        return {
            "width": int(self.width),
            "height": int(self.height),
            "direction": self.direction,
            "near_leg": self.near_leg,
            "landmarks": [[_num(v, 5) for v in row] for row in lm.tolist()],
            "hips_used": None if self.hips_used is None else [[_num(v, 5) for v in p] for p in self.hips_used.tolist()],
        }


@dataclass(frozen=True)
class CameraFrame:
    """The newest JPEG for the camera view and the landmarks of that same frame."""

    seq: int
    jpeg: bytes
    width: int
    height: int
    captured_at: float
    landmarks: tuple[tuple[float, float, float], ...] | None  # x, y normalized; visibility (as analysed)
    pose: FramePose | None = None  # the frame's pose before the hip calibration

    @property
    def hip_calibrated(self) -> bool:
        return self.pose is not None and self.pose.hips_used is not None


@dataclass
class _Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    recent: deque[StrideRecord] = field(default_factory=deque)


class LiveState:
    """Thread-safe latest snapshot plus short ring buffers."""

    def __init__(self, rolling_strides: int = 10, plot_samples: int = PLOT_SAMPLES) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._status: str = "starting"
        self._message = "Starting up"
        self._source = ""
        self._metrics = LiveMetrics()
        self._captured_at: float | None = None  # wall-clock time the newest frame was captured
        self._published_at: float | None = None
        self._frame_index: int | None = None
        self._t_s: float | None = None
        self._samples: deque[tuple[float, float | None, float | None]] = deque(maxlen=plot_samples)
        self._strides: deque[StrideRecord] = deque(maxlen=RECENT_STRIDES)
        self._rolling = rolling_strides
        self._legs: dict[str, _Summary] = {leg: _Summary() for leg in LEGS}
        self._current_class: str | None = None
        self._camera: CameraFrame | None = None
        self._camera_seq = 0
        self._noted: OrderedDict[float, FramePose] = OrderedDict()  # captured_at -> pose, not yet shown
        self._camera_poses: deque[CameraFrame] = deque(maxlen=CAMERA_POSES_KEPT)  # with a pose
        self._flags: dict[str, Any] = {"snapshots_paused": False, "disk_free_mb": None, "session_id": None,
                                       "runner": None, "hip_calibration": None,
                                       "store": dict(STORE_OK)}  # fmt: skip
        self._cache: dict[str, tuple[int, str]] = {}
        self._level: LevelInfo | None = None  # None until the gait tracker has started
        self.closed = False

    # ---- writers (pipeline thread) -------------------------------------------------------
    def set_status(self, status: Status | str, message: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._changed:
            if status == self._status and message == self._message:
                return
            self._status, self._message = status, message
            self._bump()

    def set_source(self, source: str) -> None:
        with self._changed:
            self._source = source
            self._bump()

    def set_flags(self, **flags: Any) -> None:
        """Side information shown as banners (snapshots paused, active session id, ...)."""
        with self._changed:
            if all(self._flags.get(k) == v for k, v in flags.items()):
                return
            self._flags.update(flags)
            self._bump()

    def flag(self, name: str) -> Any:
        """One flag's current value (None if unknown)."""
        with self._lock:
            return self._flags.get(name)

    def set_level(self, level: LevelInfo) -> None:
        with self._changed:
            if level != self._level:
                self._level = level
                self._bump()

    def publish(
        self,
        *,
        t_s: float,
        frame_index: int,
        captured_at: float,
        metrics: LiveMetrics,
        strides: Iterable[StrideRecord] = (),
        status: Status | str | None = None,
        message: str = "",
    ) -> None:
        """One processed frame: live numbers, one plot sample, any strides completed at it."""
        new = list(strides)
        with self._changed:
            self._metrics = metrics
            self._captured_at = captured_at
            self._published_at = time.time()
            self._frame_index = frame_index
            self._t_s = t_s
            self._samples.append((t_s, _num(metrics.thigh_deg), _num(metrics.trunk_lean_deg)))
            for stride in new:
                self._add_stride(stride)
            if status is not None and status in STATUSES:
                self._status, self._message = status, message
            self._bump()

    def publish_camera(
        self,
        jpeg: bytes,
        width: int,
        height: int,
        captured_at: float,
        landmarks: Sequence[Sequence[float]] | None,
    ) -> int:
        """Store the newest camera JPEG with the landmarks drawn over it in the browser."""
        lm = None
        if landmarks is not None:
            lm = tuple((_num(p[0], 4) or 0.0, _num(p[1], 4) or 0.0, _num(p[2], 2) or 0.0) for p in landmarks)
        with self._lock:
            self._camera_seq += 1
            pose = self._noted.get(captured_at)
            self._camera = CameraFrame(self._camera_seq, jpeg, width, height, captured_at, lm, pose)
            if pose is not None:  # kept without its JPEG: the page holds the image it paused on
                self._camera_poses.append(replace(self._camera, jpeg=b""))
            return self._camera_seq

    def note_pose(self, captured_at: float, pose: FramePose) -> None:
        """The pose of an analysed frame, for the camera frame made from it (cheap: frame loop)."""
        with self._lock:
            self._noted[captured_at] = pose
            while len(self._noted) > NOTED_POSES:
                self._noted.popitem(last=False)

    def _add_stride(self, stride: StrideRecord) -> None:
        self._strides.append(stride)
        summary = self._legs.setdefault(stride.leg, _Summary())
        summary.recent.append(stride)
        if stride.cls in summary.counts:
            summary.counts[stride.cls] += 1
        while len(summary.recent) > self._rolling:
            summary.recent.popleft()
        if stride.classified:  # an unclassified stride does not replace the shown class
            self._current_class = stride.cls

    def attach_stride_ids(self, stride: StrideRecord, session_id: int, stride_id: int) -> None:
        """After the store committed a stride, let the page link to it."""
        with self._changed:
            for i, s in enumerate(self._strides):
                if s is stride:
                    self._strides[i] = s.with_ids(session_id, stride_id)
            self._bump()

    def reset_summary(self) -> None:
        """A new session starts: counts and the current class start from nothing."""
        with self._changed:
            self._legs = {leg: _Summary() for leg in LEGS}
            self._strides.clear()
            self._current_class = None
            self._bump()

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def close(self) -> None:
        """Shutting down: wake every waiting viewer so its stream can end."""
        with self._changed:
            self.closed = True
            self._bump()

    # ---- readers (web threads) -----------------------------------------------------------
    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    def wait_for_change(self, after_version: int, timeout: float) -> int:
        """Block until the version moves past ``after_version`` (or the timeout); return it."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != after_version, timeout=timeout)
            return self._version

    def readout_times(self) -> tuple[int | None, float | None, float | None]:
        """(frame index, captured_at, published_at) of the newest readout, for latency measurement."""
        with self._lock:
            return self._frame_index, self._captured_at, self._published_at

    def latest_frame(self) -> CameraFrame | None:
        with self._lock:
            return self._camera

    def camera_frame(self, seq: int) -> CameraFrame | None:
        """Camera frame ``seq`` (without its JPEG) with its pose, if it had one and is still kept."""
        with self._lock:
            return next((c for c in reversed(self._camera_poses) if c.seq == seq), None)

    def snapshot(self, full: bool = True) -> dict[str, Any]:
        with self._lock:
            return self._snapshot_locked(full)

    def snapshot_json(self, full: bool = True) -> tuple[int, str]:
        """(version, JSON text) cached per version so many viewers share one serialization."""
        key = "full" if full else "tail"
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] == self._version:
                return cached
            version = self._version
            snap = self._snapshot_locked(full)
        text = json.dumps(snap, separators=(",", ":"), allow_nan=False)
        with self._lock:
            self._cache[key] = (version, text)
        return version, text

    def _snapshot_locked(self, full: bool) -> dict[str, Any]:
        m = self._metrics
        samples = list(self._samples)
        if not full and self._t_s is not None:
            cutoff = self._t_s - TAIL_SECONDS
            samples = [s for s in samples[-64:] if s[0] >= cutoff]
        strides = list(self._strides)
        if not full:
            strides = strides[-12:]
        return {
            "version": self._version,
            "status": self._status,
            "message": self._message,
            "source": self._source,
            "captured_at": self._captured_at,
            "published_at": self._published_at,
            "frame_index": self._frame_index,
            "t_s": _num(self._t_s, 3),
            "current_class": self._current_class,
            "live": {
                "thigh_deg": _num(m.thigh_deg, 1),
                "trunk_lean_deg": _num(m.trunk_lean_deg, 1),
                "hip_extension_deg": _num(m.hip_extension_deg, 1),
                "cadence_spm": _num(m.cadence_spm, 0),
                "fps": _num(m.fps, 1),
                "inference_ms": _num(m.inference_ms, 1),
                "frames_processed": m.frames_processed,
                "frames_dropped": m.frames_dropped,
                "frames_skipped": m.frames_skipped,
                "analysed_share": _num(m.analysed_share, 3),
                "camera_fps": _num(m.camera_fps, 1),
                "leg": m.leg,
                "locomotion": m.locomotion,
            },
            "legs": {leg: self._leg_summary(s) for leg, s in self._legs.items()},
            "strides": [s.to_json() for s in strides],
            "samples": [[_num(t, 3), a, b] for t, a, b in samples],
            "camera_seq": self._camera.seq if self._camera else None,
            "flags": dict(self._flags),
            "level": self._level.to_json() if self._level is not None else None,
        }

    @staticmethod
    def _leg_summary(summary: _Summary) -> dict[str, Any]:
        recent = list(summary.recent)
        classified = [s for s in recent if s.cls in CLASSIFIED]  # unknown strides carry no trusted angles
        ext = [s.hip_extension_deg for s in classified if s.hip_extension_deg is not None]
        lean = [s.trunk_lean_deg for s in classified if s.trunk_lean_deg is not None]
        ext_to = [s.hip_extension_at_toe_off_deg for s in classified if s.hip_extension_at_toe_off_deg is not None]
        lean_to = [s.trunk_lean_at_toe_off_deg for s in classified if s.trunk_lean_at_toe_off_deg is not None]
        rolling: dict[str, int] = dict.fromkeys(CLASSES, 0)
        for s in recent:
            if s.cls in rolling:
                rolling[s.cls] += 1
        dominant = max(rolling, key=lambda k: rolling[k]) if recent else None
        return {
            "class": dominant,
            "last_class": recent[-1].cls if recent else None,
            "rolling_counts": rolling,
            "counts": dict(summary.counts),
            "hip_extension_deg": _num(sum(ext) / len(ext), 1) if ext else None,
            "trunk_lean_deg": _num(sum(lean) / len(lean), 1) if lean else None,
            "hip_extension_at_toe_off_deg": _mean(ext_to),
            "trunk_lean_at_toe_off_deg": _mean(lean_to),
            "strides": len(recent),
        }


def _mean(values: Sequence[float]) -> float | None:
    return _num(sum(values) / len(values), 1) if values else None
