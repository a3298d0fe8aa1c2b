"""What every frame source hands out: RGB frames with their capture time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    image: uint8 [height, width, 3] in RGB order (the pose model's order; convert with
    cv2.COLOR_RGB2BGR before cv2.imencode). index: 0-based frame number since the source opened.
    timestamp_s: capture time in seconds: sensor/monotonic clock for cameras, index / fps for files.
    """

    image: np.ndarray
    index: int
    timestamp_s: float


@runtime_checkable
class FrameSource(Protocol):
    """A camera or a video file. ``read`` returns None at the end of a file (never for cameras,
    which raise VideoError when the device is lost, so the caller can reconnect)."""

    name: str

    @property
    def fps(self) -> float: ...

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        ...

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...
