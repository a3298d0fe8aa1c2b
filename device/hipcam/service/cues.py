"""The runner's cues: the one thing the live page does not wait a tick for.

A cue (hit or miss of the feedback target, per stride) must reach the runner view fast enough to
train with, so it is not carried by the 10 Hz snapshot stream: the frame loop ``post``s it here and
every waiting ``/stream/cues`` wakes at once (``wait``). The feedback status (target, block, time
left) rides in the live snapshot's ``flags.feedback``, which changes only a few times a second.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

KEPT = 32  # recent cues, for a runner view that reconnects


class CueBoard:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._cues: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self.seq = 0
        self.closed = False

    def post(self, cue: dict[str, Any]) -> int:
        """Publish one cue (a JSON-ready dict); its sequence number is added as ``seq``."""
        with self._changed:
            self.seq += 1
            self._cues.append({**cue, "seq": self.seq})
            self._changed.notify_all()
            return self.seq

    def wait(self, after: int, timeout: float) -> list[dict[str, Any]]:
        """The cues newer than ``after``, waiting up to ``timeout`` s for one (empty: none came)."""
        with self._changed:
            self._changed.wait_for(lambda: self.seq > after or self.closed, timeout)
            return [c for c in self._cues if c["seq"] > after]

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()
