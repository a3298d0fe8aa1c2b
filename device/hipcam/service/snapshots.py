"""The last few seconds of small frames, so a stride's snapshot can show its peak frame.

The frames live in one array, allocated once per frame size: each analysed frame is shrunk straight
into the next slot. Keeping them costs no allocation per frame and the same memory from the first
seconds on; a deque of separately allocated ~150 kB images churned the allocator, and its size
rose and fell with every tracker restart. Used by the frame loop's thread only.
"""

from __future__ import annotations

import cv2
import numpy as np

from hipcam.service.capture_worker import shrink, shrunk_size

JPEG_QUALITY = 80


class SnapshotRing:
    """Frames keyed by the gait tracker's frame number (one per update), which strides refer to."""

    def __init__(self, capacity: int, width: int) -> None:
        self.capacity, self.width = capacity, width
        self._images: np.ndarray | None = None  # capacity x H x W x 3 RGB
        self._numbers = np.full(capacity, -1, dtype=np.int64)  # -1: empty slot
        self._times = np.zeros(capacity)
        self._next = 0

    def __len__(self) -> int:
        return int(np.count_nonzero(self._numbers >= 0))

    def clear(self) -> None:
        """Forget all frames (a new tracker numbers its frames from the start again)."""
        self._numbers.fill(-1)
        self._next = 0

    def keep(self, number: int, t_s: float, image: np.ndarray) -> None:
        _, h, w = shrunk_size(image.shape[0], image.shape[1], self.width, self.width)
        if self._images is None or self._images.shape[1:3] != (h, w):  # first frame, or the source changed size
            self._images = np.empty((self.capacity, h, w, 3), dtype=np.uint8)
            self.clear()
        slot = self._next
        shrink(image, self.width, self.width, out=self._images[slot])
        self._numbers[slot], self._times[slot] = number, t_s
        self._next = (slot + 1) % self.capacity

    def time_of(self, number: int, default: float) -> float:
        slot = self._slot_of(number)
        return default if slot is None else float(self._times[slot])

    def jpeg(self, number: int | None) -> bytes | None:
        """The JPEG of that frame, or of the newest one if it is no longer kept; None if empty."""
        slot = self._slot_of(number) if number is not None else None
        if slot is None:
            slot = self._newest()
        if slot is None or self._images is None:
            return None
        bgr = cv2.cvtColor(self._images[slot], cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return buf.tobytes() if ok else None

    def _slot_of(self, number: int) -> int | None:
        if number < 0:  # never kept (-1 marks an empty slot)
            return None
        hits = np.flatnonzero(self._numbers == number)
        return int(hits[0]) if hits.size else None

    def _newest(self) -> int | None:
        slot = (self._next - 1) % self.capacity
        return slot if self._numbers[slot] >= 0 else None
