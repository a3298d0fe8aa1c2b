"""The one frame loop: capture thread -> freshest-frame slot -> pose -> gait -> state (+ store).

Analysis always takes the newest frame (see hipcam.service.capture_worker), so the page shows what is
happening now, not a backlog. Stride rows go to a small bounded writer queue so an fsync on the SD
card never stalls the frame loop (hipcam.service.stride_writer, which also holds them while the disk
is full), and the camera-view JPEG is encoded on its own thread.

Failures are states, not crashes: a lost camera is retried in-process (capture.reconnect_*); a read
that hangs is reported after ``STALL_AFTER_S``; a missing or corrupt model shows "model not loaded"
(the camera view keeps running) and is retried every ``MODEL_RETRY_S``.

Hip calibration: before each frame the loop checks (two attribute reads) whether the running session
or the store's calibrations changed, and hands the active runner's calibration to the analyzer. Each
analysed frame's uncalibrated pose goes to the state (for a tap on the paused camera view) and into
a ring keyed like the snapshot ring, so a stride's snapshot is stored with the pose of its frame.

Replay (hipcam.service.clip_recorder): the frame ring is sized by ``storage.clip_ring_s`` at the
analysed rate (bounded by ``clip_ring_mb``); each frame's analysed landmarks go into a ring too, and
a completed stride takes its landmarks and a copy of its key frame to the stride writer, whose thread
stores them, draws the overlay and cuts the clip from the frame ring.

Watchdog: fed for every analysed frame, and while the capture thread is alive and actively retrying
a lost camera (a restart would not bring the camera back, it would only hit the unit's start
limit). A wedged frame loop or a hung camera read feeds nothing, so systemd restarts the service.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hipcam.capture import FrameSource
from hipcam.config import HipcamConfig
from hipcam.domain import RUNNING
from hipcam.errors import HipcamError
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.capture_worker import CapturedFrame, CaptureWorker, FreshestSlot, shrunk_size
from hipcam.service.clip_recorder import EXTRAS_BACKLOG, Recorder, ring_frames
from hipcam.service.decimation import EvenDecimator
from hipcam.service.feedback import Feedback
from hipcam.service.frame_analysis import (
    Analysis,
    Analyzer,
    GaitFactory,
    PoseModel,
    describe_pose,
    load_pose,
    make_gait,
    opt,
    stride_record,
)
from hipcam.service.limits import LiveLimits
from hipcam.service.metrics import Metrics
from hipcam.service.preview import PreviewEncoder
from hipcam.service.settings import Settings
from hipcam.service.setup_check import SetupCheckRunner, people_detector
from hipcam.service.snapshots import SnapshotRing
from hipcam.service.state import FramePose, LiveMetrics, LiveState
from hipcam.service.stride_writer import StrideWriter, _Pending
from hipcam.service.telemetry import NullOps, Ops
from hipcam.service.walkup import WalkupCheck

if TYPE_CHECKING:
    from hipcam.service.mqtt import MqttPublisher

log = logging.getLogger(__name__)

MODEL_RETRY_S = 30.0
NO_RUNNER_AFTER_S = 1.0  # no person for this long -> "no runner in view"
STALL_AFTER_S = 1.5  # no frame from an open source for this long -> "camera lost"
IDLE_WAKE_S = 0.25  # the loop wakes this often without frames, to detect stalls in time
RETRY_ALIVE_S = 5.0  # the capture thread reported retry activity this recently -> feed the watchdog


class PoseRing:
    """The uncalibrated pose of the last frames, keyed like the SnapshotRing (the tracker's frame
    numbers), with the same fallback to the newest frame, so a snapshot and its pose agree."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._poses: OrderedDict[int, FramePose | None] = OrderedDict()

    def clear(self) -> None:
        self._poses.clear()

    def keep(self, number: int, pose: FramePose | None) -> None:
        self._poses[number] = pose
        self._poses.move_to_end(number)
        while len(self._poses) > self.capacity:
            self._poses.popitem(last=False)

    def get(self, number: int | None) -> FramePose | None:
        if number is not None and number in self._poses:
            return self._poses[number]
        return next(reversed(self._poses.values()), None)


class RecentCadence:
    """Steps per minute from the median duration of the last strides (a stride is two steps).

    Durations, not completion times, so a pause with nobody on the treadmill does not dilute it."""

    def __init__(self, strides: int = 8) -> None:
        self._durations: deque[float] = deque(maxlen=strides)

    def update(self, new: tuple[StrideRecord, ...]) -> float | None:
        for s in new:
            if not s.classified:  # unknown strides include split and merged ones: their durations mislead
                continue
            if s.t_start is not None and s.t_end is not None and s.t_end > s.t_start:
                self._durations.append(s.t_end - s.t_start)
        return 120.0 / statistics.median(self._durations) if len(self._durations) >= 2 else None


class Pipeline:
    """Runs capture + analysis threads; everything it learns goes into ``state`` (and ``store``)."""

    def __init__(
        self,
        cfg: HipcamConfig,
        source: FrameSource,
        state: LiveState,
        store: Store | None,
        ops: Ops | None = None,
        pose_loader: Callable[[HipcamConfig], PoseModel] = load_pose,
        gait_factory: GaitFactory = make_gait,
        settings: Settings | None = None,
        feedback: Feedback | None = None,
        mqtt: MqttPublisher | None = None,
        setup_check: SetupCheckRunner | None = None,
        walkup: WalkupCheck | None = None,
    ) -> None:
        self.cfg, self.source, self.state, self.store = cfg, source, state, store
        self.feedback = feedback  # the running session's live-feedback run (None: no feedback)
        self.settings = settings  # the page's settings channel (None: the start-up configuration holds)
        self.walkup = walkup  # the gym's walk-up check (hipcam.service.walkup; None: none)
        self.mqtt = mqtt  # completed strides are offered to it, never waited on (None: MQTT off)
        self.setup_check = setup_check  # the page's set-up check, fed while one runs (None: no check)
        self.ops: Ops = ops or NullOps()
        self._pose_loader, self._gait_factory = pose_loader, gait_factory
        self.slot = FreshestSlot()
        self.decimator = EvenDecimator()
        self.capture = CaptureWorker(source, cfg, self.slot, state, self.ops, self.decimator)
        self.preview = PreviewEncoder(state)
        metrics = getattr(self.ops, "metrics", None)  # ServiceOps: the writer's state as metrics too
        report = metrics.store_health if isinstance(metrics, Metrics) else None
        self._ring = SnapshotRing(ring_frames(cfg), cfg.storage.snapshot_width, cfg.storage.clip_ring_mb << 20)
        self.recorder = Recorder(cfg, self._ring, state)
        self.writer = StrideWriter(store, state, self.ops, report, self.recorder) if store is not None else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hipcam-pipeline", daemon=True)
        self._analyzer: Analyzer | None = None
        self._pose_tried = -MODEL_RETRY_S
        self._poses = PoseRing(self._ring.capacity)
        self._calibration_for: tuple[int | None, int] | None = None  # (session, store calibration version)
        self._stall_after = max(STALL_AFTER_S, 3.0 / max(source.fps, 1.0)) if source.fps else STALL_AFTER_S
        self._last_person = time.monotonic()
        self._frame_dt: float | None = None
        self._last_processed: float | None = None
        self._cadence = RecentCadence()
        self._limits = LiveLimits()  # what makes a figure unreliable, said beside it on the page
        self._reported_drops = self._reported_skips = 0
        self._reported_share = 1.0
        self._session: int | None = None
        self.frames_processed = 0

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.state.set_source(self.source.name)
        if self.writer is not None:
            self.writer.start()
        self.preview.start()
        self.capture.start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.capture.stop(timeout)
        self._thread.join(timeout)
        self.preview.stop(timeout)
        if self.writer is not None:
            self.writer.stop(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- loop --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.slot.get(timeout=IDLE_WAKE_S)
            self._report_drops()
            if frame is None:
                self._idle()
                continue
            try:
                self._process(frame)
            except Exception:  # one bad frame must not end the loop; it is counted and logged
                log.exception("frame %d failed", frame.index)
                self.ops.pipeline_error("postprocess")

    def _report_drops(self) -> None:
        dropped, skipped, share = self.slot.dropped, self.decimator.skipped, self.decimator.share
        if dropped > self._reported_drops:
            self.ops.frame_dropped(dropped - self._reported_drops)
            self._reported_drops = dropped
        if skipped > self._reported_skips or share != self._reported_share:
            self.ops.frames_skipped(skipped - self._reported_skips, share)
            self._reported_skips, self._reported_share = skipped, share

    def _idle(self) -> None:
        """No frame: detect a hung read; keep the watchdog fed while the camera is being retried."""
        now = time.monotonic()
        cap = self.capture
        if cap.streaming and not cap.stalled and now - cap.last_frame_at > self._stall_after:
            cap.mark_stalled()
            log.warning("no frames from %s for %.1f s", self.source.name, now - cap.last_frame_at)
            self.state.set_status("camera_lost", f"No frames from the camera for {self._stall_after:.1f} s")
        if cap.retrying_recently(now, RETRY_ALIVE_S):
            self.ops.loop_alive()

    def _ensure_analyzer(self) -> Analyzer | None:
        if self._analyzer is not None:
            return self._analyzer
        now = time.monotonic()
        if now - self._pose_tried < MODEL_RETRY_S:
            return None
        self._pose_tried = now
        try:
            pose = self._pose_loader(self.cfg)
            self._analyzer = Analyzer(self.cfg, pose, self._gait_factory, self.settings)
            self.ops.pose_loaded(describe_pose(pose))
            self._calibration_for = None  # the new analyzer has no calibration yet
        except HipcamError as exc:
            log.error("model not loaded: %s", exc)
            self.state.set_status("model_missing", f"Model not loaded: {exc}")
        return self._analyzer

    def _process(self, frame: CapturedFrame) -> None:
        started = time.perf_counter()
        waited = time.time() - frame.captured_at  # shrink + time in the slot
        analyzer = self._ensure_analyzer()
        if analyzer is None:
            self.preview.offer(frame.image, None, frame.captured_at)
            return
        self._follow_calibration(analyzer)
        out = analyzer.run(frame)
        if out.restarted:
            self._ring.clear()  # the new tracker's frame numbers start again; old frames would alias
            self._poses.clear()
            self.recorder.landmarks.clear()
            if analyzer.level is not None:
                self.state.set_level(analyzer.level)
        self._ring.keep(out.update.frame, frame.timestamp_s, frame.image)
        self._poses.keep(out.update.frame, out.pose)
        size = (frame.image.shape[1], frame.image.shape[0])
        self.recorder.landmarks.keep(out.update.frame, frame.timestamp_s, out.landmarks, size)
        if out.pose is not None:
            self.state.note_pose(frame.captured_at, out.pose)
        if self.setup_check is not None and self.setup_check.active:
            lm = out.pose.landmarks if out.pose is not None else None
            detect = people_detector(analyzer.pose)
            self.setup_check.on_frame(frame.image, frame.timestamp_s, lm, out.score, detect, frame.index)
        self._publish(frame, out, time.perf_counter() - started)
        self.preview.offer(frame.image, out.landmarks, frame.captured_at)
        timings = {**out.timings, "capture": max(0.0, waited)}
        busy = time.perf_counter() - started
        self.decimator.note_busy(busy)
        self.ops.frame_processed(busy, timings, out.detector_ran, out.mask_ran)

    def _publish(self, frame: CapturedFrame, out: Analysis, elapsed: float) -> None:
        now = time.monotonic()
        if self._last_processed is not None:
            dt = now - self._last_processed
            self._frame_dt = dt if self._frame_dt is None else 0.9 * self._frame_dt + 0.1 * dt
        self._last_processed = now
        self.frames_processed += 1
        if out.landmarks is not None:
            self._last_person = now
        status, message = "running", ""
        if now - self._last_person > NO_RUNNER_AFTER_S:
            status, message = "no_runner", "No runner in view"
        self._follow_session()
        upd = out.update
        # A walking stride is no running stride: not stored, published, cued on or shown (gait.locomotion).
        running = [s for s in upd.strides if s.locomotion == RUNNING]
        strides = tuple(stride_record(s, self._ring.time_of(s.end_frame, frame.timestamp_s)) for s in running)
        self._store_strides(strides, upd.direction, upd.near_leg)
        if self.mqtt is not None and strides:  # a bounded append; paho runs on the publisher's threads
            self.mqtt.offer_strides(strides, frame.captured_at, self._session)
        cadence = self._cadence.update(strides)
        if self.feedback is not None:  # before the snapshot: the runner's cue waits for nothing else
            # The store's session now, not the one noted at this frame's start: a plan started in
            # between belongs to a session the frame loop has not noted yet.
            self.feedback.on_frame(
                strides, cadence, frame.captured_at, self.store.active_session_id if self.store else None
            )
        if self.walkup is not None:
            self.walkup.on_frame(strides, status)
        metrics = LiveMetrics(
            thigh_deg=opt(upd.thigh_deg),
            trunk_lean_deg=opt(upd.trunk_lean_deg),
            hip_extension_deg=opt(upd.hip_extension_deg),
            cadence_spm=cadence,
            fps=(1.0 / self._frame_dt) if self._frame_dt else None,
            inference_ms=elapsed * 1000.0,
            frames_processed=self.frames_processed,
            frames_dropped=self.slot.dropped,
            frames_skipped=self.decimator.skipped,
            analysed_share=self.decimator.share,
            camera_fps=self.decimator.camera_fps,
            leg=upd.near_leg,
            locomotion=upd.locomotion,
        )
        limits = self._limits.update(out.landmarks, upd.fps, self.decimator.share)
        self.state.set_flags(limits=[limit.to_json() for limit in limits])
        self.state.publish(
            t_s=frame.timestamp_s,
            frame_index=frame.index,
            captured_at=frame.captured_at,
            metrics=metrics,
            strides=strides,
            status=status,
            message=message,
        )

    def _follow_session(self) -> None:
        """A newly started session begins with a clean per-leg summary on the page."""
        active = self.store.active_session_id if self.store is not None else None
        if active != self._session:
            if active is not None:
                self.state.reset_summary()
            self._session = active
            self.state.set_flags(session_id=active)

    def _follow_calibration(self, analyzer: Analyzer) -> None:
        """The running session's runner's hip calibration, re-read when the session or a
        calibration changed (the store's version), else nothing is read."""
        store = self.store
        if store is None:
            return
        key = (store.active_session_id, store.calibration_version)
        if key == self._calibration_for:
            return
        session = store.get_session(key[0]) if key[0] is not None else None
        runner = session["runner"] if session is not None and session["runner"] else None
        calibration = store.hip_calibration(runner)
        analyzer.set_hip_calibration(calibration)
        self.state.set_flags(runner=runner, hip_calibration=calibration.to_json() if calibration else None)
        self._calibration_for = key

    def _store_strides(self, strides: tuple[StrideRecord, ...], direction: str, near_leg: str | None) -> None:
        if not strides or self.store is None or self.writer is None:
            return
        session = self.store.active_session_id
        if session is None:
            return
        disk = self.store.disk_state()
        self.state.set_flags(snapshots_paused=disk.snapshots_paused, disk_free_mb=round(disk.free_mb))
        if disk.snapshots_paused:  # the recorder clears it with its next clip saved
            self.state.set_flags(clips_paused=True)
        level = self._analyzer.level if self._analyzer is not None else None
        roll = level.roll_deg if level is not None else 0.0
        for stride in strides:
            snap = None if disk.snapshots_paused else self._ring.jpeg(_peak_or_end(stride))
            if disk.snapshots_paused:
                self.ops.snapshot_skipped_low_disk()
            pose = self._snapshot_pose(_peak_or_end(stride)) if snap is not None else None
            skipped = "low_disk" if disk.snapshots_paused else None
            behind = self.writer.backlog > EXTRAS_BACKLOG  # drop the replay extras rather than queue them
            extras = self.recorder.extras(stride, roll, direction, near_leg, disk.snapshots_paused or behind)
            self.writer.submit(_Pending(session, stride, snap, pose, skipped, extras=extras))

    def _snapshot_pose(self, number: int | None) -> dict[str, Any] | None:
        pose = self._poses.get(number)
        if pose is None:
            return None
        out = pose.to_json()
        width = self.cfg.storage.snapshot_width  # the snapshot ring's shrink, so taps map onto its JPEG
        _, out["image_height"], out["image_width"] = shrunk_size(pose.height, pose.width, width, width)
        return out


def _peak_or_end(stride: StrideRecord) -> int | None:
    """The frame a stride's snapshot shows: its peak hip extension, else its closing strike."""
    return stride.peak_frame if stride.peak_frame is not None else stride.end_frame
