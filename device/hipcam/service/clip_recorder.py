"""What the service keeps of a stride for replay: its landmarks, its key frame with the lines on it
and its clip (docs/replay.md).

The frame loop keeps every analysed frame's landmarks in a ``LandmarkRing`` (preallocated, keyed
like the frame ring) and, when a stride completes, cuts them out and copies its key frame (toe-off:
the angles the class is decided on; else the peak, else the closing strike) into the stride's
``Extras``: a few hundred kB, no encoding. Everything slow runs on the stride writer's thread,
after the stride row is committed (``Recorder.store``): the landmarks blob is compressed and
stored, the overlay drawn (hipcam.vision.stride_overlay) and saved beside the snapshot, and the
clip's frames encoded straight from the frame ring (``SnapshotRing.jpeg_checked``) and kept within
the session's budget (hipcam.records.replay). A writer that falls behind finds the frames gone and
keeps no clip: it drops, it never queues frames.

While the disk is low (``snapshots_paused``) or refused a clip, nothing of this is written (the
stride rows still are) and the live state's ``clips_paused`` flag says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from hipcam.config import HipcamConfig
from hipcam.domain import NUM_LANDMARKS
from hipcam.records.clip_files import ClipFrame
from hipcam.records.landmarks_file import LandmarkSeries
from hipcam.records.replay import StrideLandmarks
from hipcam.records.snapshot_files import DiskFull, is_disk_full
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.snapshots import SnapshotRing
from hipcam.service.state import LiveState
from hipcam.vision.stride_overlay import overlay_jpeg

log = logging.getLogger(__name__)

MIN_RING_FRAMES = 90  # the snapshot ring's old size: 3 s at 30 fps
LANDMARK_RING_FACTOR = 4  # landmarks are small: keep more of them than of frames
EXTRAS_BACKLOG = 16  # strides waiting for the writer beyond which new ones go without replay extras
MIN_CLIP_SHARE = 0.5  # a clip missing more of its stride's frames than this is not kept


def ring_frames(cfg: HipcamConfig) -> int:
    """Frames the ring is sized for: ``clip_ring_s`` at the analysed rate (the true rate of
    slow-motion footage), at least the old snapshot ring; ``clip_ring_mb`` may bound it further."""
    rate = cfg.capture.true_fps or cfg.capture.fps
    return max(MIN_RING_FRAMES, math.ceil(cfg.storage.clip_ring_s * rate))


class LandmarkRing:
    """The analysed landmarks [33, 5] of the last frames, keyed by the tracker's frame numbers."""

    def __init__(self, capacity: int) -> None:
        self._lm = np.full((capacity, NUM_LANDMARKS, 5), np.nan, dtype=np.float32)
        self._numbers = np.full(capacity, -1, dtype=np.int64)
        self._times = np.zeros(capacity)
        self._next = 0
        self.size: tuple[int, int] = (1, 1)  # (width, height) the normalized landmarks refer to

    def clear(self) -> None:
        self._numbers.fill(-1)
        self._next = 0

    def keep(self, number: int, t_s: float, landmarks: np.ndarray | None, size: tuple[int, int]) -> None:
        slot = self._next
        if landmarks is not None and np.shape(landmarks) == (NUM_LANDMARKS, 5):
            self._lm[slot] = landmarks
        else:
            self._lm[slot] = np.nan
        self._numbers[slot], self._times[slot], self.size = number, t_s, size
        self._next = (slot + 1) % self._numbers.size

    def get(self, number: int | None) -> np.ndarray | None:
        """A copy of that frame's landmarks, None if it is not kept or nobody was found."""
        if number is None or number < 0:
            return None
        hits = np.flatnonzero(self._numbers == number)
        if not hits.size or np.isnan(self._lm[int(hits[0]), 0, 0]):
            return None
        return self._lm[int(hits[0])].copy()

    def cut(
        self, first: int, last: int, roll_deg: float, direction: str, near_leg: str | None
    ) -> StrideLandmarks | None:
        """The frames ``first`` to ``last`` still kept, as stride landmarks (None if none)."""
        inside = np.flatnonzero((self._numbers >= first) & (self._numbers <= last))
        if not inside.size:
            return None
        order = inside[np.argsort(self._numbers[inside])]
        lm, times = self._lm[order].copy(), self._times[order].copy()
        found = ~np.isnan(lm[:, 0, 0])
        dt = np.diff(times)
        fps = 1.0 / float(np.median(dt)) if dt.size and np.median(dt) > 0 else 30.0
        series = LandmarkSeries(lm, found, min(10000.0, max(1.0, fps)), *self.size)
        return StrideLandmarks(series, self._numbers[order].copy(), times, roll_deg, direction, near_leg)


@dataclass
class Extras:
    """What the frame loop hands over with a stride, besides its row and snapshot."""

    landmarks: StrideLandmarks | None = None
    key_frame: np.ndarray | None = None  # RGB, the ring's size
    key_landmarks: np.ndarray | None = None  # [33, 5] of the key frame
    near_leg: str | None = None
    clip: tuple[int, int] | None = None  # first and last frame numbers to cut a clip from

    def let_go(self) -> None:
        """Drop what a full disk cannot take (the stride is held in memory meanwhile)."""
        self.landmarks = self.key_frame = self.key_landmarks = self.clip = None


def key_frame_number(stride: StrideRecord) -> int | None:
    for number in (stride.toe_off_frame, stride.peak_frame, stride.end_frame):
        if number is not None:
            return number
    return None


class Recorder:
    """Builds a stride's Extras (frame loop) and stores them (stride writer's thread)."""

    def __init__(self, cfg: HipcamConfig, ring: SnapshotRing, state: LiveState) -> None:
        self.cfg, self.ring, self.state = cfg, ring, state
        self.landmarks = LandmarkRing(LANDMARK_RING_FACTOR * ring.capacity)
        self.clips_written = self.clips_skipped = 0

    def extras(
        self, stride: StrideRecord, roll_deg: float, direction: str, near_leg: str | None, paused: bool
    ) -> Extras | None:
        """The stride's extras (frame loop); None while the disk is low."""
        if paused or stride.foot_strike_frame is None or stride.end_frame is None:
            return None
        first, last = stride.foot_strike_frame, stride.end_frame
        key = key_frame_number(stride)
        return Extras(
            landmarks=self.landmarks.cut(first, last, roll_deg, direction, near_leg),
            key_frame=self.ring.image(key),
            key_landmarks=self.landmarks.get(key),
            near_leg=near_leg,
            clip=(first, last),
        )

    def store(self, store: Store, session_id: int, stride_id: int, stride: StrideRecord, extras: Extras) -> None:
        """Landmarks, overlay and clip of a committed stride (writer thread). Never raises: a
        refusal only loses what it was about, and a full disk pauses the clips."""
        if extras.landmarks is not None:
            try:
                store.replay.save_landmarks(stride_id, extras.landmarks)
            except DiskFull:
                log.warning("stride %d: landmarks not saved (disk full)", stride_id)
                self._paused(True)
                return
        if extras.key_frame is not None:
            jpeg = overlay_jpeg(extras.key_frame, extras.key_landmarks, stride, extras.near_leg)
            if jpeg is not None:
                store.replay.save_overlay(session_id, stride_id, jpeg)
        if extras.clip is not None:
            self._clip(store, session_id, stride_id, *extras.clip)

    def _clip(self, store: Store, session_id: int, stride_id: int, first: int, last: int) -> None:
        if store.disk_state().snapshots_paused:
            self._paused(True)
            return
        frames = []
        for number, t_s in self.ring.held(first, last):
            jpeg = self.ring.jpeg_checked(number)
            if jpeg is not None:
                frames.append(ClipFrame(number, t_s, jpeg))
        size = self.ring.frame_size
        if size is None or len(frames) < MIN_CLIP_SHARE * (last - first + 1):
            self.clips_skipped += 1  # the writer fell behind the ring (or the ring is too short)
            return
        storage = self.cfg.storage
        budget = int(storage.clip_budget_mb * 1024 * 1024)
        try:
            kept = store.replay.add_clip(session_id, stride_id, frames, size, budget, storage.clip_keep_recent)
        except (OSError, DiskFull) as exc:
            if isinstance(exc, DiskFull) or is_disk_full(exc, store.data_dir):
                log.warning("stride %d: replay clip not saved (disk full)", stride_id)
                self._paused(True)
            else:
                log.warning("stride %d: replay clip not saved: %s", stride_id, exc)
            return
        self.clips_written += int(kept)
        self._paused(False)

    def _paused(self, paused: bool) -> None:
        self.state.set_flags(clips_paused=paused)
