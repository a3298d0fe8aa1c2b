"""The capture thread: read the source, shrink each frame once, keep only the freshest one.

Capture never waits for analysis: it overwrites a one-frame slot and counts what it overwrote as
dropped (Frigate's "skipped fps"), for cameras and replayed files alike, so the page always shows
what is happening now. When analysis cannot keep the camera's rate, frames are first skipped evenly
(at the share it sustains, hipcam.service.decimation), so the analysed frames stay evenly spaced.
A replayed file is paced at its playback rate, like a camera, and frames are dropped when analysis
is slower (the gait analysis takes its time base from the timestamps, so a
dropped frame does not distort stride times).

A lost source is retried in-process with exponential backoff capped at ``capture.reconnect_max_s``;
while it retries, the worker says so (``retry_alive_at``) so the frame loop can keep the systemd
watchdog fed. A read that hangs is detected by the frame loop (``stalled``), not here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from hipcam.capture import FrameSource, OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.errors import HipcamError
from hipcam.service.decimation import EvenDecimator
from hipcam.service.state import LiveState
from hipcam.service.telemetry import Ops

log = logging.getLogger(__name__)

# Frames are shrunk once, right after capture, to what inference and the preview need: the landmark
# model sees a 256 px crop and the preview is 640 px wide, so a 1768 px frame only costs copies.
WORK_MAX_WIDTH = 960
WORK_MAX_HEIGHT = 720
RETRY_SLICE_S = 0.5  # the backoff wait is sliced so "still retrying" stays fresh


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    image: np.ndarray  # H x W x 3 RGB, already shrunk to the work size
    index: int
    timestamp_s: float  # analysis time of the frame (true time for slow-motion footage)
    captured_at: float  # wall clock when the frame left the source (latency is measured from here)


def shrunk_size(height: int, width: int, max_width: int, max_height: int) -> tuple[int, int, int]:
    """(factor, height, width) that ``shrink`` gives an image of this size."""
    k = max(1, math.ceil(max(width / max_width, height / max_height)))
    return k, max(1, height // k), max(1, width // k)


def shrink(
    image: np.ndarray, max_width: int = WORK_MAX_WIDTH, max_height: int = WORK_MAX_HEIGHT, out: np.ndarray | None = None
) -> np.ndarray:
    """Scale down by the smallest whole factor that fits max_width x max_height (never up).

    A whole factor takes OpenCV's fast INTER_AREA path (~4x cheaper than an arbitrary ratio on a
    1768 px frame) and keeps the aspect ratio exact. With ``out`` (shaped as ``shrunk_size`` says)
    the result is written there instead of into a new array; without, an image that already fits
    is returned as is.
    """
    k, h, w = shrunk_size(image.shape[0], image.shape[1], max_width, max_height)
    if k == 1:
        if out is None:
            return image
        np.copyto(out, image)
        return out
    # Trim to a multiple of k (at most k-1 edge pixels, a view, no copy): OpenCV's fast path needs it.
    return cv2.resize(image[: h * k, : w * k], (w, h), dst=out, interpolation=cv2.INTER_AREA)


class FreshestSlot:
    """A one-item mailbox: put() replaces an unread item and counts it as dropped."""

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

    def get(self, timeout: float) -> CapturedFrame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None, timeout=timeout)
            item, self._item = self._item, None
            return item


def playback_fps(source: FrameSource) -> float | None:
    """Rate at which an opened video file plays (its container rate), None for live sources.

    Not ``source.fps``: with capture.true_fps set that is the slow-motion capture rate, and
    decoding 240 frames/s would starve the analysis.
    """
    return source.playback_fps if isinstance(source, OpenCVSource) else None


class Pacer:
    """Sleeps until the next frame of a replayed file is due; a no-op for live sources."""

    def __init__(self, fps: float | None, stop: threading.Event) -> None:
        self._period = 1.0 / fps if fps else 0.0
        self._stop = stop
        self._due: float | None = None

    def wait(self) -> None:
        if not self._period:
            return
        now = time.monotonic()
        if self._due is None or now - self._due > 1.0:  # first frame, or fell far behind: no burst
            self._due = now
        elif self._due > now:
            self._stop.wait(self._due - now)
        self._due += self._period


class CaptureWorker:
    """Owns the frame source: opens it, feeds the slot, reconnects with backoff on loss."""

    def __init__(
        self,
        source: FrameSource,
        cfg: HipcamConfig,
        slot: FreshestSlot,
        state: LiveState,
        ops: Ops,
        decimator: EvenDecimator | None = None,
    ) -> None:
        self.source, self.cfg, self.slot, self.state, self.ops = source, cfg, slot, state, ops
        self.decimator = decimator  # None: every frame goes to the slot
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hipcam-capture", daemon=True)
        # Written by this thread, read by the frame loop; single attribute stores, so no lock.
        self.streaming = False
        self.stalled = False
        self.last_frame_at = 0.0
        self.retry_alive_at: float | None = None  # set while the worker is between retries
        self.reconnects = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.cfg.capture.reconnect_initial_s
        while not self._stop.is_set():
            self.ops.camera_state("starting" if self.reconnects == 0 else "reconnecting")
            try:
                self.source.open()
                try:
                    reason = self._stream()
                finally:
                    self.source.close()
            except (HipcamError, OSError, RuntimeError, ValueError, cv2.error) as exc:
                reason = str(exc) or exc.__class__.__name__
            except Exception as exc:  # a bug in a source must not kill the capture thread
                log.exception("capture failed")
                reason = f"{exc.__class__.__name__}: {exc}"
            if self._stop.is_set():
                return
            if self.streaming:  # frames had arrived: healthy again, start the backoff over
                delay = self.cfg.capture.reconnect_initial_s
            self._lost(reason, delay)
            self._backoff(delay)
            delay = min(delay * 2.0, self.cfg.capture.reconnect_max_s)
            self.reconnects += 1

    def _stream(self) -> str:
        pacer = Pacer(playback_fps(self.source), self._stop)
        while not self._stop.is_set():
            pacer.wait()
            frame = self.source.read()
            if frame is None:
                return "the video ended"
            captured_at = time.time()
            self._arrived()
            if self.decimator is not None and not self.decimator.admit():
                continue  # skipped evenly: not even shrunk
            self.slot.put(CapturedFrame(shrink(frame.image), frame.index, frame.timestamp_s, captured_at))
        return "stopped"

    def _arrived(self) -> None:
        self.last_frame_at = time.monotonic()
        if not self.streaming or self.stalled:
            self.streaming, self.stalled, self.retry_alive_at = True, False, None
            self.ops.camera_state("streaming")

    def _lost(self, reason: str, delay: float) -> None:
        self.streaming = False
        self.retry_alive_at = time.monotonic()
        log.warning("camera lost (%s); retrying in %.1f s", reason, delay)
        self.ops.camera_state("lost")
        self.state.set_status("camera_lost", f"Camera lost: {reason}. Retrying in {delay:.1f} s")

    def _backoff(self, delay: float) -> None:
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0 and not self._stop.wait(min(left, RETRY_SLICE_S)):
            self.retry_alive_at = time.monotonic()
        self.retry_alive_at = time.monotonic()

    def retrying_recently(self, now: float, within_s: float) -> bool:
        """The worker is alive and between reconnect attempts (not stuck inside open/read)."""
        alive = self.retry_alive_at
        return alive is not None and now - alive <= within_s

    def mark_stalled(self) -> None:
        """Called by the frame loop when an open source stops delivering (a hung read)."""
        self.stalled = True
        self.ops.camera_state("lost")
