"""Raspberry Pi camera through picamera2 (imported lazily: it only exists on Pi OS).

Kept thin on purpose, no Pi camera is reachable from CI. One main stream in RGB for the pose model
(the camera view and snapshots are made from it, so the ISP produces no second stream), a fixed
FrameRate, buffers released through ``captured_request()`` and timestamps from the sensor
(SensorTimestamp, ns).
"""

from __future__ import annotations

from typing import Any

from hipcam.capture.base import Frame
from hipcam.errors import VideoError

INSTALL_HINT = "install python3-picamera2 with apt and create the venv with --system-site-packages"


def picamera_available() -> bool:
    """True when picamera2 imports and libcamera lists at least one camera."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        return False
    try:
        return bool(Picamera2.global_camera_info())
    except (RuntimeError, OSError):
        return False


class PicameraSource:
    def __init__(self, width: int, height: int, fps: float) -> None:
        self.name = "picamera"
        self._size = (width, height)
        self._fps = fps
        self._cam: Any = None
        self._index = 0

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
        try:
            cam = Picamera2()
            config = cam.create_video_configuration(
                # libcamera's "BGR888" is R, G, B byte order in memory, i.e. an RGB numpy array.
                main={"size": self._size, "format": "BGR888"},
                controls={"FrameRate": self._fps},
            )
            cam.configure(config)
            cam.start()
        except (RuntimeError, OSError, IndexError) as exc:
            raise VideoError(f"picamera: cannot start the camera ({exc})") from None
        self._cam = cam
        self._index = 0

    def read(self) -> Frame | None:
        if self._cam is None:
            raise VideoError("picamera: read() before open()")
        try:
            with self._cam.captured_request() as request:
                image = request.make_array("main")
                stamp_ns = request.get_metadata().get("SensorTimestamp")
        except (RuntimeError, OSError) as exc:
            raise VideoError(f"picamera: capture failed ({exc})") from None
        timestamp = stamp_ns / 1e9 if stamp_ns is not None else float("nan")
        frame = Frame(image=image, index=self._index, timestamp_s=timestamp)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._cam is not None:
            self._cam.stop()
            self._cam.close()
            self._cam = None
