"""The one frame loop: capture thread -> freshest-frame slot -> pose -> gait -> state (+ store).

Capture never waits for analysis: it overwrites a one-frame slot and counts what it overwrote as
dropped (Frigate's "skipped fps"). Analysis always takes the newest frame, so the page shows what
is happening now, not a backlog. Stride rows go to a small bounded writer queue so an fsync on
the SD card never stalls the frame loop.

Failures are states, not crashes: a lost camera is retried with exponential backoff
(``capture.reconnect_*``) inside the process; a missing or corrupt model shows "model not loaded"
(the camera view keeps running) and is retried every ``MODEL_RETRY_S``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from hipcam.config import HipcamConfig
from hipcam.errors import HipcamError
from hipcam.service.adapters import (
    CapturedFrame,
    FrameSource,
    GaitOutput,
    GaitTracker,
    NullOps,
    Ops,
    PoseEstimator,
    is_file_source,
    load_pose,
    make_gait,
    mask_features,
    open_frames,
)
from hipcam.service.state import LiveMetrics, LiveState, StrideRecord
from hipcam.service.store import Store

log = logging.getLogger(__name__)

MODEL_RETRY_S = 30.0
NO_RUNNER_AFTER_S = 1.0  # no person for this long -> "no runner in view"
STALL_AFTER_S = 3.0  # no frame from an open source for this long -> "camera lost"
CAMERA_VIEW_HZ = 6.0  # JPEGs for the camera view; landmarks go with each
CAMERA_VIEW_WIDTH = 640
SNAPSHOT_RING = 90  # small frames kept so a stride's snapshot can show its peak frame
WRITER_QUEUE = 256


class _NoGait:
    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None) -> GaitOutput:
        return GaitOutput(None, None, None, None, None, ())


class FreshestSlot:
    """A one-item mailbox: put() replaces an unread item and reports it as dropped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: CapturedFrame | None = None
        self.dropped = 0

    def put(self, item: CapturedFrame) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def put_when_free(self, item: CapturedFrame, stop: threading.Event, timeout: float = 5.0) -> None:
        """Recorded footage: wait (bounded) until the last frame was taken, so none is skipped.

        The gait analysis counts frames at the clip's true rate, so a replayed file must not
        lose frames; a live camera (put) drops instead, to stay current.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._item is not None and not stop.is_set() and time.monotonic() < deadline:
                self._cond.wait(0.1)
            if self._item is not None:
                self.dropped += 1
            # Re-stamp: for a replayed file, "captured" is when the frame is handed over.
            self._item = replace(item, captured_at=time.time())
            self._cond.notify_all()

    def get(self, timeout: float) -> CapturedFrame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None, timeout=timeout)
            item, self._item = self._item, None
            self._cond.notify_all()
            return item


@dataclass
class _Pending:
    session_id: int
    stride: StrideRecord
    snapshot: bytes | None


class StrideWriter:
    """Commits strides off the frame loop; bounded, so a dead disk cannot eat memory."""

    def __init__(self, store: Store, state: LiveState, ops: Ops) -> None:
        self._store, self._state, self._ops = store, state, ops
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=WRITER_QUEUE)
        self._thread = threading.Thread(target=self._run, name="hipcam-store", daemon=True)
        self.lost = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: _Pending) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.lost += 1
            log.error("stride writer is %d strides behind; dropping a stride", WRITER_QUEUE)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                return
            self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                stride_id = self._store.add_stride(item.session_id, item.stride, item.snapshot)
            except Exception:  # the writer must outlive one bad row (disk error, locked db)
                log.exception("could not store a stride")
                self._ops.pipeline_error("store")
                continue
            self._ops.stride_recorded()
            if item.snapshot is not None and self._store.disk_state().snapshots_paused:
                self._ops.snapshot_skipped_low_disk()
            self._state.attach_stride_ids(item.stride, item.session_id, stride_id)


class CaptureWorker:
    """Owns the frame source: opens it, feeds the slot, reconnects with backoff on loss."""

    def __init__(
        self,
        spec: str,
        cfg: HipcamConfig,
        slot: FreshestSlot,
        state: LiveState,
        ops: Ops,
        opener: Callable[[str, HipcamConfig], FrameSource] = open_frames,
    ) -> None:
        self.spec, self.cfg, self.slot, self.state, self.ops = spec, cfg, slot, state, ops
        self._opener = opener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hipcam-capture", daemon=True)
        self.connected = threading.Event()
        self.lossless = is_file_source(spec)
        self.last_frame_at = 0.0
        self.reconnects = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.cfg.capture.reconnect_initial_s
        while not self._stop.is_set():
            try:
                self.ops.camera_state("starting" if self.reconnects == 0 else "reconnecting")
                source = self._opener(self.spec, self.cfg)
                try:
                    for frame in source:
                        if self._stop.is_set():
                            return
                        if not self.connected.is_set():
                            self.connected.set()
                            self.ops.camera_state("streaming")
                            delay = self.cfg.capture.reconnect_initial_s  # a frame arrived: healthy again
                        self.last_frame_at = time.monotonic()
                        if self.lossless:
                            self.slot.put_when_free(frame, self._stop)
                        else:
                            self.slot.put(frame)
                finally:
                    source.close()
                reason = "the video source ended"
            except (HipcamError, OSError, RuntimeError, ValueError, cv2.error) as exc:
                reason = str(exc) or exc.__class__.__name__
            except Exception as exc:  # an unexpected bug in a source must not kill the capture thread
                log.exception("capture failed")
                reason = f"{exc.__class__.__name__}: {exc}"
            self._lost(reason, delay)
            self._stop.wait(delay)
            delay = min(delay * 2.0, self.cfg.capture.reconnect_max_s)
            self.reconnects += 1

    def _lost(self, reason: str, delay: float) -> None:
        self.connected.clear()
        log.warning("camera lost (%s); retrying in %.1f s", reason, delay)
        self.ops.camera_state("lost")
        self.ops.retrying()
        self.state.set_status("camera_lost", f"Camera lost: {reason}. Retrying in {delay:.0f} s")


class Pipeline:
    """Runs capture + analysis threads; everything it learns goes into ``state`` (and ``store``)."""

    def __init__(
        self,
        cfg: HipcamConfig,
        source: str,
        state: LiveState,
        store: Store | None,
        ops: Ops | None = None,
        pose_loader: Callable[[HipcamConfig], PoseEstimator] = load_pose,
        gait_factory: Callable[[HipcamConfig, float, tuple[int, int]], GaitTracker] = make_gait,
        opener: Callable[[str, HipcamConfig], FrameSource] = open_frames,
    ) -> None:
        self.cfg, self.source, self.state, self.store = cfg, source, state, store
        self.ops: Ops = ops or NullOps()
        self._pose_loader, self._gait_factory = pose_loader, gait_factory
        self.slot = FreshestSlot()
        self.capture = CaptureWorker(source, cfg, self.slot, state, self.ops, opener)
        self.writer = StrideWriter(store, state, self.ops) if store is not None else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hipcam-pipeline", daemon=True)
        self._pose: PoseEstimator | None = None
        self._pose_tried = -MODEL_RETRY_S
        self._gait: GaitTracker | None = None
        self._ring: deque[tuple[int, np.ndarray]] = deque(maxlen=SNAPSHOT_RING)
        self._last_view = 0.0
        self._last_person = time.monotonic()
        self._frame_dt: float | None = None
        self._last_processed: float | None = None
        self._stride_ends: deque[float] = deque(maxlen=9)
        self._reported_drops = 0
        self._session: int | None = None
        self.frames_processed = 0
        self._gait_frames = 0

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.state.set_source(self.source)
        if self.writer is not None:
            self.writer.start()
        self.capture.start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.capture.stop(timeout)
        self._thread.join(timeout)
        if self.writer is not None:
            self.writer.stop(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- loop --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.slot.get(timeout=0.5)
            self._report_drops()
            if frame is None:
                self._check_stall()
                continue
            try:
                self._process(frame)
            except Exception:  # one bad frame must not end the loop; it is counted and logged
                log.exception("frame %d failed", frame.index)
                self.ops.pipeline_error("postprocess")

    def _report_drops(self) -> None:
        dropped = self.slot.dropped
        if dropped > self._reported_drops:
            self.ops.frame_dropped(dropped - self._reported_drops)
            self._reported_drops = dropped

    def _check_stall(self) -> None:
        if self.capture.connected.is_set() and time.monotonic() - self.capture.last_frame_at > STALL_AFTER_S:
            self.state.set_status("camera_lost", f"No frames from the camera for {STALL_AFTER_S:.0f} s")

    def _ensure_pose(self) -> PoseEstimator | None:
        if self._pose is not None:
            return self._pose
        now = time.monotonic()
        if now - self._pose_tried < MODEL_RETRY_S:
            return None
        self._pose_tried = now
        try:
            self._pose = self._pose_loader(self.cfg)
        except HipcamError as exc:
            log.error("model not loaded: %s", exc)
            self.state.set_status("model_missing", f"Model not loaded: {exc}")
            return None
        return self._pose

    def _process(self, frame: CapturedFrame) -> None:
        started = time.perf_counter()
        self._keep_small(frame)
        pose = self._ensure_pose()
        if pose is None:
            self._publish_view(frame, None)
            return
        out = pose.process(frame.image, frame.timestamp_s)
        lm = out.landmarks
        gait = self._gait_for(frame)
        features = mask_features(out.mask, lm, self.cfg.gait.direction)
        g0 = time.perf_counter()
        upd = gait.update(frame.timestamp_s, lm, features)
        self._gait_frames += 1
        timings = dict(out.timings)
        timings["gait"] = time.perf_counter() - g0
        elapsed = time.perf_counter() - started
        self._publish(frame, lm, upd, elapsed)
        self.ops.frame_processed(elapsed, timings)

    def _gait_for(self, frame: CapturedFrame) -> GaitTracker:
        if self._gait is None:
            fps_hint = self.cfg.capture.true_fps or self.cfg.capture.fps
            try:
                h, w = frame.image.shape[:2]
                self._gait = self._gait_factory(self.cfg, float(fps_hint), (w, h))
            except HipcamError as exc:
                # Without the gait analysis the camera view and skeleton still work.
                log.error("gait analysis unavailable: %s", exc)
                self._gait = _NoGait()
        return self._gait

    def _publish(self, frame: CapturedFrame, lm: np.ndarray | None, upd: GaitOutput, elapsed: float) -> None:
        now = time.monotonic()
        if self._last_processed is not None:
            dt = now - self._last_processed
            self._frame_dt = dt if self._frame_dt is None else 0.9 * self._frame_dt + 0.1 * dt
        self._last_processed = now
        self.frames_processed += 1
        if lm is not None:
            self._last_person = now
        status, message = "running", ""
        if now - self._last_person > NO_RUNNER_AFTER_S:
            status, message = "no_runner", "No runner in view"
        self._follow_session()
        strides = self._strides_to_store(upd.strides)
        cadence = upd.cadence_spm if upd.cadence_spm is not None else self._cadence(upd.strides)
        metrics = LiveMetrics(
            thigh_deg=upd.thigh_deg,
            trunk_lean_deg=upd.trunk_lean_deg,
            hip_extension_deg=upd.hip_extension_deg,
            cadence_spm=cadence,
            fps=(1.0 / self._frame_dt) if self._frame_dt else None,
            inference_ms=elapsed * 1000.0,
            frames_processed=self.frames_processed,
            frames_dropped=self.slot.dropped,
            leg=upd.leg,
        )
        self.state.publish(
            t_s=frame.timestamp_s,
            frame_index=frame.index,
            captured_at=frame.captured_at,
            metrics=metrics,
            strides=strides,
            status=status,
            message=message,
        )
        self._publish_view(frame, lm)

    def _follow_session(self) -> None:
        """A newly started session begins with a clean per-leg summary on the page."""
        active = self.store.active_session_id if self.store is not None else None
        if active != self._session:
            if active is not None:
                self.state.reset_summary()
            self._session = active
            self.state.set_flags(session_id=active)

    def _cadence(self, new: tuple[StrideRecord, ...]) -> float | None:
        """Steps per minute from the completion times of recent strides of either leg."""
        for s in new:
            if s.t_end is not None:
                self._stride_ends.append(s.t_end)
        ends = sorted(self._stride_ends)
        if len(ends) < 3 or ends[-1] <= ends[0]:
            return None
        return 60.0 * (len(ends) - 1) / (ends[-1] - ends[0])

    def _strides_to_store(self, strides: tuple[StrideRecord, ...]) -> tuple[StrideRecord, ...]:
        if not strides or self.store is None or self.writer is None:
            return strides
        session = self.store.active_session_id
        if session is None:
            return strides
        disk = self.store.disk_state()
        self.state.set_flags(snapshots_paused=disk.snapshots_paused, disk_free_mb=round(disk.free_mb))
        for stride in strides:
            snap = None if disk.snapshots_paused else self._snapshot_for(stride)
            if disk.snapshots_paused:
                self.ops.snapshot_skipped_low_disk()
            self.writer.submit(_Pending(session, stride, snap))
        return strides

    # ---- images ------------------------------------------------------------------------
    def _keep_small(self, frame: CapturedFrame) -> None:
        img = frame.image
        width = self.cfg.storage.snapshot_width
        h, w = img.shape[:2]
        if w > width:
            img = cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
        # Keyed by the gait tracker's frame number (one per update), which its strides refer to.
        self._ring.append((self._gait_frames, img))

    def _snapshot_for(self, stride: StrideRecord) -> bytes | None:
        want = stride.peak_frame if stride.peak_frame is not None else stride.frame_end
        chosen = self._ring[-1][1] if self._ring else None
        if want is not None:
            for index, img in self._ring:
                if index == want:
                    chosen = img
                    break
        if chosen is None:
            return None
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(chosen, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        return buf.tobytes() if ok else None

    def _publish_view(self, frame: CapturedFrame, lm: np.ndarray | None) -> None:
        now = time.monotonic()
        if now - self._last_view < 1.0 / CAMERA_VIEW_HZ:
            return
        self._last_view = now
        img = frame.image
        h, w = img.shape[:2]
        if w > CAMERA_VIEW_WIDTH:
            img = cv2.resize(img, (CAMERA_VIEW_WIDTH, round(h * CAMERA_VIEW_WIDTH / w)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 70])
        if not ok:
            return
        points = None if lm is None else [(float(p[0]), float(p[1]), float(p[3])) for p in lm]
        self.state.publish_camera(buf.tobytes(), img.shape[1], img.shape[0], frame.captured_at, points)
