"""The feedback run of the running session, shared by the web (start, stop) and the frame loop
(each frame's strides). One lock guards the run; the frame loop holds it for microseconds (judging
a stride, checking the block clock) except at a block's end, when the run is saved.

The cue for each judged stride goes to the CueBoard at once (the runner view's stream), and the
run's status to the live snapshot's ``flags.feedback`` (the pages). The run is saved whole when a
block ends and when the run stops; a save that fails (a full disk) is logged and retried at the next
block's end, so a run loses at most its blocks while the disk is full, and never the session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from hipcam.feedback import FeedbackRun, Plan
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.cues import CueBoard
from hipcam.service.state import LiveState

log = logging.getLogger(__name__)


class Feedback:
    def __init__(
        self, state: LiveState, cues: CueBoard, store: Store | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.state, self.cues, self.store, self.clock = state, cues, store, clock
        self._lock = threading.Lock()
        self._run: FeedbackRun | None = None
        self._run_id: int | None = None

    # ---- the web ---------------------------------------------------------------------------
    def start(self, plan: Plan, session_id: int) -> dict[str, Any]:
        """Start ``plan`` in the running session (ends a run already going); its status."""
        now = self.clock()
        with self._lock:
            self._end_locked(now)
            self._run, self._run_id = FeedbackRun(plan, session_id, now), None
            self._save_locked()
            status = self._run.status()
        self.state.set_flags(feedback=status)
        log.info("feedback started in session %d: %s, %s", session_id, plan.target.label(), plan.schedule.kind)
        return status

    def stop(self) -> dict[str, Any] | None:
        """Stop the run (its results are kept); its final status, or None if there was none."""
        with self._lock:
            status = self._end_locked(self.clock())
        self.state.set_flags(feedback=status)
        return status

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return self._run.status() if self._run is not None else None

    # ---- the frame loop ----------------------------------------------------------------------
    def on_frame(
        self, strides: Sequence[StrideRecord], cadence_spm: float | None, captured_at: float, session_id: int | None
    ) -> None:
        """Judge this frame's completed strides, post their cues, move the block clock."""
        if self._run is None:  # the common case, without the lock: a start is seen at the next frame
            return
        now = self.clock()
        cues: list[dict[str, Any]] = []
        with self._lock:
            run = self._run
            if run is None or run.finished:
                return
            if session_id != run.session_id:  # the session was stopped: so is its feedback
                status = self._end_locked(now)
            else:
                closed = run.advance(now)
                cues = [run.on_stride(s, cadence_spm, captured_at, now) for s in strides]
                if closed:
                    self._save_locked()
                status = run.status() if closed or cues else None
        for cue in cues:
            self.cues.post(cue)
        if status is not None:
            self.state.set_flags(feedback=status)

    # ---- inside the lock -----------------------------------------------------------------------
    def _end_locked(self, now: float) -> dict[str, Any] | None:
        if self._run is None:
            return None
        if not self._run.finished:
            self._run.stop(now)
            self._save_locked()
        return self._run.status()

    def _save_locked(self) -> None:
        run = self._run
        if run is None or self.store is None:
            return
        try:
            self._run_id = self.store.save_feedback_run(self._run_id, run.session_id, run.to_json())
        except Exception as exc:  # DiskFull, a locked or damaged database: live feedback goes on
            log.warning("feedback results of session %d not saved (%s); retried at the next block", run.session_id, exc)
