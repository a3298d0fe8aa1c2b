"""The last few seconds of small frames: a stride's snapshot, its key frame and its replay clip.

The frames live in one array, allocated once per frame size: each analysed frame is shrunk straight
into the next slot. Keeping them costs no allocation per frame and the same memory from the first
seconds on; a deque of separately allocated ~150 kB images churned the allocator, and its size
rose and fell with every tracker restart. The ring holds ``capacity`` frames (seconds at the
analysed rate, hipcam.service.clip_recorder.ring_frames), fewer if they would take more than
``max_bytes``.

Written by the frame loop's thread only. The stride writer's thread encodes a clip's frames from it
with ``jpeg_checked``: a slot is marked empty before it is overwritten and its number set after, so
a frame overwritten while it was being encoded is noticed and left out, never stored torn.
"""

from __future__ import annotations

import cv2
import numpy as np

from hipcam.service.capture_worker import shrink, shrunk_size

JPEG_QUALITY = 80
CLIP_JPEG_QUALITY = 70  # replay frames: many per stride, looked at moving


class SnapshotRing:
    """Frames keyed by the gait tracker's frame number (one per update), which strides refer to."""

    def __init__(self, capacity: int, width: int, max_bytes: int | None = None) -> None:
        self.capacity, self.width, self.max_bytes = capacity, width, max_bytes
        self._images: np.ndarray | None = None  # slots x H x W x 3 RGB
        self._numbers = np.full(capacity, -1, dtype=np.int64)  # -1: empty slot
        self._times = np.zeros(capacity)
        self._next = 0

    def __len__(self) -> int:
        return int(np.count_nonzero(self._numbers >= 0))

    @property
    def slots(self) -> int:
        """Frames held (``capacity``, or fewer once the memory bound applied to the frame size)."""
        return int(self._numbers.size)

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the frames kept, None before the first."""
        return None if self._images is None else (int(self._images.shape[2]), int(self._images.shape[1]))

    def clear(self) -> None:
        """Forget all frames (a new tracker numbers its frames from the start again)."""
        self._numbers.fill(-1)
        self._next = 0

    def keep(self, number: int, t_s: float, image: np.ndarray) -> None:
        _, h, w = shrunk_size(image.shape[0], image.shape[1], self.width, self.width)
        if self._images is None or self._images.shape[1:3] != (h, w):  # first frame, or the source changed size
            slots = self.capacity
            if self.max_bytes is not None:
                slots = max(2, min(slots, self.max_bytes // (h * w * 3)))
            self._images = None  # let the old frames go before the new ones are allocated
            self._numbers, self._times = np.full(slots, -1, dtype=np.int64), np.zeros(slots)
            self._images = np.empty((slots, h, w, 3), dtype=np.uint8)
            self.clear()
        slot = self._next
        self._numbers[slot] = -1  # before the pixels change: a reader encoding this slot notices
        shrink(image, self.width, self.width, out=self._images[slot])
        self._numbers[slot], self._times[slot] = number, t_s
        self._next = (slot + 1) % self._numbers.size

    def time_of(self, number: int, default: float) -> float:
        slot = self._slot_of(number)
        return default if slot is None else float(self._times[slot])

    def held(self, first: int, last: int) -> list[tuple[int, float]]:
        """(number, time) of the frames from ``first`` to ``last`` still kept, in order."""
        numbers = self._numbers
        inside = np.flatnonzero((numbers >= first) & (numbers <= last))
        order = inside[np.argsort(numbers[inside])]
        return [(int(numbers[i]), float(self._times[i])) for i in order]

    def image(self, number: int | None) -> np.ndarray | None:
        """A copy of that frame (RGB), None if it is no longer kept."""
        slot = self._slot_of(number) if number is not None else None
        return None if slot is None or self._images is None else self._images[slot].copy()

    def jpeg(self, number: int | None) -> bytes | None:
        """The JPEG of that frame, or of the newest one if it is no longer kept; None if empty."""
        slot = self._slot_of(number) if number is not None else None
        if slot is None:
            slot = self._newest()
        if slot is None or self._images is None:
            return None
        return _encode(self._images[slot], JPEG_QUALITY)

    def jpeg_checked(self, number: int, quality: int = CLIP_JPEG_QUALITY) -> bytes | None:
        """That frame's JPEG, from another thread than the frame loop's: None if it is not kept or
        was overwritten meanwhile."""
        images, slot = self._images, self._slot_of(number)
        if images is None or slot is None or slot >= images.shape[0]:
            return None
        data = _encode(images[slot], quality)
        return data if self._numbers.size > slot and self._numbers[slot] == number else None

    def _slot_of(self, number: int) -> int | None:
        if number < 0:  # never kept (-1 marks an empty slot)
            return None
        hits = np.flatnonzero(self._numbers == number)
        return int(hits[0]) if hits.size else None

    def _newest(self) -> int | None:
        slot = (self._next - 1) % self._numbers.size
        return slot if self._numbers[slot] >= 0 else None


def _encode(rgb: np.ndarray, quality: int) -> bytes | None:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None
