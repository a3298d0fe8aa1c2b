"""Raspberry Pi camera through picamera2 (imported lazily: it only exists on Pi OS).

Kept thin on purpose, no Pi camera is reachable from CI (tests/fakes/picamera2 pins the calls made
here). One main stream in RGB for the pose model (the camera view and snapshots are made from it, so
the ISP produces no second stream), a fixed FrameRate, buffers released through
``captured_request()`` and timestamps from the sensor (SensorTimestamp, ns).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from hipcam.capture.base import Frame
from hipcam.errors import VideoError

log = logging.getLogger(__name__)

INSTALL_HINT = "install python3-picamera2 with apt and create the venv with --system-site-packages"


def picamera_available() -> bool:
    """True when picamera2 imports and libcamera lists at least one camera."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        return False
    try:
        return bool(Picamera2.global_camera_info())
    except Exception:  # a broken libcamera means "no Pi camera" to auto, not a crash
        return False


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class PicameraSource:
    def __init__(self, width: int, height: int, fps: float) -> None:
        self.name = "picamera"
        self._size = (width, height)
        self._fps = fps
        self._cam: Any = None
        self._index = 0
        # Set for good once a frame comes without SensorTimestamp: one clock per source, so time
        # never steps between the sensor's clock and ours.
        self._monotonic = False

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise VideoError(f"picamera: picamera2 is not installed ({INSTALL_HINT})") from None
        cam = None
        try:
            cam = Picamera2()
            config = cam.create_video_configuration(
                # libcamera's "BGR888" is R, G, B byte order in memory, i.e. an RGB numpy array.
                main={"size": self._size, "format": "BGR888"},
                controls={"FrameRate": self._fps},
            )
            cam.configure(config)
            cam.start()
        # libcamera's failures are not a documented set (RuntimeError, IndexError for "no camera",
        # OSError, plain Exception): whichever it is, the caller gets one line and may retry.
        except Exception as exc:
            if cam is not None:
                _release(cam)  # else the next attempt finds the camera still acquired ("busy")
            raise VideoError(f"picamera: cannot start the camera ({_describe(exc)})") from None
        self._cam = cam
        self._index = 0

    def read(self) -> Frame | None:
        if self._cam is None:
            raise VideoError("picamera: read() before open()")
        try:
            with self._cam.captured_request() as request:  # the buffer goes back to libcamera on exit
                image = request.make_array("main")
                stamp_ns = request.get_metadata().get("SensorTimestamp")
        except Exception as exc:  # see open(): a lost or wedged camera must not end in a traceback
            raise VideoError(f"picamera: capture failed ({_describe(exc)})") from None
        frame = Frame(image=image, index=self._index, timestamp_s=self._timestamp(stamp_ns))
        self._index += 1
        return frame

    def _timestamp(self, stamp_ns: int | None) -> float:
        """Seconds on the sensor's clock; the monotonic clock when the metadata lacks it (a NaN
        would poison the One-Euro filter downstream)."""
        if stamp_ns is not None and not self._monotonic:
            return stamp_ns / 1e9
        if not self._monotonic:
            log.warning("picamera: frames carry no SensorTimestamp; timing them by the monotonic clock")
            self._monotonic = True
        return time.monotonic()

    def close(self) -> None:
        if self._cam is not None:
            cam, self._cam = self._cam, None
            _release(cam)


def _release(cam: Any) -> None:
    """stop() then close(), each attempted: a half-started camera must still be closed."""
    try:
        cam.stop()
    except Exception as exc:
        log.debug("picamera: stop failed (%s)", _describe(exc))
    try:
        cam.close()
    except Exception as exc:
        log.debug("picamera: close failed (%s)", _describe(exc))
