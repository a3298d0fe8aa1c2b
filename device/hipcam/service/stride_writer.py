"""Commits strides off the frame loop, and holds them in memory while the disk is full.

The frame loop hands each stride over through a small bounded queue, so an fsync on the SD card
never stalls it. The writer thread keeps the strides it has not committed yet, in order, in
``held``: normally one at a time; while the store says the disk is full (records.store.DiskFull)
up to ``HOLD_MAX`` of them, retried every ``RETRY_S`` and written in order once there is room. When
the bound is hit the oldest held stride is dropped and counted as lost. Snapshots of held strides
are let go (a full disk cannot take them; the memory stays small) and counted as skipped with the
reason ``disk_full``. What the writer knows is published as the live state's ``store`` flag (the
page's banner, /healthz) and, given a ``report`` callback, as metrics.

Given a ``recorder`` (hipcam.service.clip_recorder), each committed stride's replay extras (its
landmarks, overlaid key frame and clip) are stored right after its row, on this thread; a held
stride's extras are let go like its snapshot.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hipcam.records.snapshot_files import SKIP_REASONS
from hipcam.records.store import DiskFull, Store
from hipcam.records.stride import StrideRecord
from hipcam.service.clip_recorder import Extras, Recorder
from hipcam.service.state import LiveState
from hipcam.service.telemetry import Ops

log = logging.getLogger(__name__)

WRITER_QUEUE = 256
HOLD_MAX = 2000  # strides held in memory while the disk is full (a stride row is a few hundred bytes)
RETRY_S = 3.0  # a full disk is retried this often


@dataclass
class _Pending:
    session_id: int
    stride: StrideRecord
    snapshot: bytes | None
    pose: dict[str, Any] | None = None  # the snapshot frame's pose, saved beside it
    skipped: str | None = None  # why the frame loop sent no snapshot (SKIP_REASONS)
    handed_at: float = 0.0  # wall-clock time of the hand-over: the stride's recorded_at
    extras: Extras | None = None  # replay: landmarks, key frame, clip (hipcam.service.clip_recorder)


@dataclass(frozen=True)
class StoreHealth:
    """What the writer reports: the disk refused the last write, strides held, lost, snapshots skipped."""

    disk_full: bool = False
    pending: int = 0
    lost: int = 0
    written_after_full: int = 0  # held strides written once there was room again
    snapshots_skipped: tuple[tuple[str, int], ...] = tuple((r, 0) for r in SKIP_REASONS)

    def to_json(self) -> dict[str, Any]:
        return {
            "disk_full": self.disk_full,
            "pending": self.pending,
            "lost": self.lost,
            "written_after_full": self.written_after_full,
            "snapshots_skipped": dict(self.snapshots_skipped),
        }


class StrideWriter:
    """Commits strides off the frame loop; bounded, so a dead disk cannot eat memory."""

    def __init__(
        self,
        store: Store,
        state: LiveState,
        ops: Ops,
        report: Callable[[StoreHealth], None] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self._store, self._state, self._ops, self._report = store, state, ops, report
        self.recorder = recorder
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=WRITER_QUEUE)
        self._thread = threading.Thread(target=self._run, name="hipcam-store", daemon=True)
        self._lock = threading.Lock()
        self.held: deque[_Pending] = deque()  # the writer thread's own
        self.lost = 0
        self.disk_full = False
        self.written_after_full = 0
        self.skipped: dict[str, int] = dict.fromkeys(SKIP_REASONS, 0)
        self._retry_at = 0.0

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: _Pending) -> None:
        item.handed_at = item.handed_at or time.time()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.lost += 1
            log.error("stride writer is %d strides behind; dropping a stride", WRITER_QUEUE)

    @property
    def backlog(self) -> int:
        """Strides handed over and not yet taken by the writer thread."""
        return self._queue.qsize()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                return
            self._thread.join(timeout)

    def health(self) -> StoreHealth:
        with self._lock:
            return StoreHealth(
                self.disk_full, len(self.held), self.lost, self.written_after_full, tuple(self.skipped.items())
            )

    # ---- writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            wait = max(0.0, self._retry_at - time.monotonic()) if self.disk_full else None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                pass  # time to retry
            else:
                if item is None:
                    break
                self._hold(item)
            if not self.disk_full or time.monotonic() >= self._retry_at:
                self._flush()
            self._publish()
        self._flush()
        if self.held:
            log.error("stopping with %d strides not saved (the disk is full): they are lost", len(self.held))

    def _hold(self, item: _Pending) -> None:
        with self._lock:
            if self.disk_full:
                self._let_snapshot_go(item)
            self.held.append(item)
            if len(self.held) > HOLD_MAX:
                self.held.popleft()
                self.lost += 1
                if self.lost == 1 or self.lost % 100 == 0:
                    log.error("disk full: %d held strides lost so far (at most %d are held)", self.lost, HOLD_MAX)

    def _let_snapshot_go(self, item: _Pending) -> None:
        if item.extras is not None:
            item.extras.let_go()
        if item.snapshot is not None:
            item.snapshot, item.pose = None, None
            item.skipped = "disk_full"

    def _flush(self) -> None:
        """Write the held strides in order; stop at the first refused for want of room."""
        while self.held:
            item = self.held[0]
            try:
                saved = self._store.add_stride(
                    item.session_id, item.stride, item.snapshot, item.pose, recorded_at=item.handed_at
                )
            except DiskFull as exc:
                self._disk_full(exc)
                return
            except Exception:  # the writer must outlive one bad row (disk error, a deleted session)
                log.exception("could not store a stride")
                self._ops.pipeline_error("store")
                with self._lock:
                    self.held.popleft()
                continue
            self._written(item, saved.id, saved.snapshot_saved)
        if self.disk_full:
            log.warning("disk has room again: %d held strides written", self.written_after_full)
            with self._lock:
                self.disk_full = False

    def _disk_full(self, exc: DiskFull) -> None:
        with self._lock:
            if not self.disk_full:
                log.error(
                    "disk full: strides are not being saved; holding up to %d in memory, retrying every %.0f s (%s)",
                    HOLD_MAX, RETRY_S, exc,
                )  # fmt: skip
            self.disk_full = True
            for held in self.held:
                self._let_snapshot_go(held)
        self._retry_at = time.monotonic() + RETRY_S

    def _written(self, item: _Pending, stride_id: int, snapshot_saved: bool) -> None:
        reason = item.skipped  # "low_disk" from the frame loop (it counted it), "disk_full" if let go here
        if item.snapshot is not None and not snapshot_saved:
            # The disk went low since the frame loop looked, or the write failed (full disk).
            reason = "low_disk" if self._store.disk_state().snapshots_paused else self._store.snapshots.last_error
        with self._lock:
            self.held.popleft()
            if self.disk_full:
                self.written_after_full += 1
            if reason is not None:
                self.skipped[reason] = self.skipped.get(reason, 0) + 1
        self._ops.stride_recorded()
        if reason is not None and item.skipped != "low_disk":
            self._ops.snapshot_skipped_low_disk()
        self._state.attach_stride_ids(item.stride, item.session_id, stride_id)
        if self.recorder is not None and item.extras is not None:
            try:
                self.recorder.store(self._store, item.session_id, stride_id, item.stride, item.extras)
            except Exception:  # replay extras must never cost the writer
                log.exception("could not store stride %d's replay extras", stride_id)
                self._ops.pipeline_error("store")

    def _publish(self) -> None:
        health = self.health()
        self._state.set_flags(store=health.to_json())
        if self._report is not None:
            self._report(health)
