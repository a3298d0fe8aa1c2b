"""The camera view: a few JPEGs per second, encoded off the frame loop.

The frame loop only offers (image, landmarks) to a one-item mailbox at ``CAMERA_VIEW_HZ``; this
thread resizes and encodes, so JPEG work never adds to the capture->readout latency. The landmarks
travel with their own image, so the skeleton never drifts from the picture.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from hipcam.service.capture_worker import shrink
from hipcam.service.state import LiveState

CAMERA_VIEW_HZ = 6.0
CAMERA_VIEW_WIDTH = 640
JPEG_QUALITY = 70


class PreviewEncoder:
    def __init__(self, state: LiveState, hz: float = CAMERA_VIEW_HZ) -> None:
        self._state = state
        self._period = 1.0 / hz
        self._cond = threading.Condition()
        self._item: tuple[np.ndarray, np.ndarray | None, float] | None = None
        self._last_offer = 0.0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="hipcam-preview", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def offer(self, image: np.ndarray, landmarks: np.ndarray | None, captured_at: float) -> None:
        """Cheap: keeps a reference when a preview is due, nothing else (frames are never mutated)."""
        now = time.monotonic()
        if now - self._last_offer < self._period:
            return
        self._last_offer = now
        with self._cond:
            self._item = (image, landmarks, captured_at)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._item is not None or self._stop)
                if self._stop:
                    return
                assert self._item is not None
                (image, landmarks, captured_at), self._item = self._item, None
            self._publish(image, landmarks, captured_at)

    def _publish(self, image: np.ndarray, landmarks: np.ndarray | None, captured_at: float) -> None:
        small = shrink(image, CAMERA_VIEW_WIDTH, CAMERA_VIEW_WIDTH)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return
        points = None if landmarks is None else [(float(p[0]), float(p[1]), float(p[3])) for p in landmarks]
        self._state.publish_camera(buf.tobytes(), small.shape[1], small.shape[0], captured_at, points)
