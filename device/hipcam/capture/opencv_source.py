"""OpenCV frame sources: video files (replayable, slow-motion aware), USB/V4L2 cameras, network streams."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from hipcam.capture.base import Frame
from hipcam.capture.spec import redacted
from hipcam.errors import VideoError

log = logging.getLogger(__name__)

Kind = Literal["file", "camera", "url"]
# A container's frame count can be off by a frame or two; fewer decoded frames than this is a short
# read (a truncated file, or a header that miscounts), reported but not refused.
TRUNCATION_SLACK = 2
FFMPEG_LOGLEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
AV_LOG_QUIET = "-8"


_NETWORK_TIMEOUT_MS = 5000


@contextmanager
def quiet_video_logs() -> Iterator[None]:
    """Keep FFmpeg's and OpenCV's own stderr lines out while a capture opens.

    "moov atom not found", "partial file" and "backend ... can't be used" would bury the one-line
    VideoError that says the same for the user. OpenCV hands OPENCV_FFMPEG_LOGLEVEL to FFmpeg (whose
    level is process-wide) each time a capture opens, so the capture's later decoding stays quiet
    too. A level the user set (OPENCV_FFMPEG_LOGLEVEL, OPENCV_LOG_LEVEL) is left alone, for debugging.
    """
    cv_logging = _opencv_logging()
    set_ffmpeg = FFMPEG_LOGLEVEL_ENV not in os.environ
    keep_cv = cv_logging is None or "OPENCV_LOG_LEVEL" in os.environ
    cv_level = None if keep_cv else cv_logging.getLogLevel()
    if set_ffmpeg:
        os.environ[FFMPEG_LOGLEVEL_ENV] = AV_LOG_QUIET
    if cv_level is not None:
        cv_logging.setLogLevel(min(cv_level, cv_logging.LOG_LEVEL_ERROR))
    try:
        yield
    finally:
        if set_ffmpeg:
            os.environ.pop(FFMPEG_LOGLEVEL_ENV, None)
        if cv_level is not None:
            cv_logging.setLogLevel(cv_level)


def _opencv_logging() -> Any:
    """cv2.utils.logging, or None where the bindings lack it (opencv-python-headless 4.11, the Pi's
    pin): then only FFmpeg is quietened, and opening a video must not fail over it."""
    try:
        from cv2.utils import logging as cv_logging
    except ImportError:
        return None
    return cv_logging


class OpenCVSource:
    """cv2.VideoCapture behind the FrameSource interface.

    Files: timestamps are index / fps, with ``true_fps`` overriding the container's rate so
    slow-motion footage gets real-time timestamps; ``loop`` replays the file with timestamps that
    keep increasing. Cameras and URLs: timestamps are time.monotonic() when the frame arrived.

    A file that ends before the frame count its container claims (truncated, or a miscounting
    header) hands out every frame that decodes; ``short_read`` then says so. A looping source logs
    that once (the live service); a single pass leaves the reporting to its caller (``hipcam
    analyze`` prints one warning line). Only a file with no decodable frame is an error.
    """

    def __init__(
        self,
        target: int | str,
        kind: Kind,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        true_fps: float | None = None,
        loop: bool = False,
    ) -> None:
        self.target = target
        self.kind = kind
        self.name = redacted(str(target)) if kind != "camera" or isinstance(target, str) else f"camera {target}"
        self._request = (width, height, fps)
        self._true_fps = true_fps
        self._loop = loop
        self._cap: cv2.VideoCapture | None = None
        self._fps = 0.0
        self._stream_fps = 0.0  # the container's rate (a slow-motion file plays slower than it was shot)
        self._size = (0, 0)
        self._frame_count = 0
        self._index = 0  # frames handed out since open()
        self._pass_start = 0  # index of the first frame of the current replay pass
        self._pending: np.ndarray | None = None  # first frame, decoded by open() to validate the source
        self._short: tuple[int, int] | None = None  # (claimed, decoded) once a pass ended early

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def playback_fps(self) -> float | None:
        """Rate at which a video file plays, after open(); None for cameras and streams."""
        return self._stream_fps if self.kind == "file" and self._stream_fps > 0 else None

    @property
    def frame_count(self) -> int:
        """Frames the container declares (files only; 0 for live sources)."""
        return self._frame_count

    @property
    def short_read(self) -> tuple[int, int] | None:
        """(frames the container claims, frames decoded) once a pass over a file ended more than
        TRUNCATION_SLACK frames early; None before the end, and for complete files and live sources."""
        return self._short

    def open(self) -> None:
        if self.kind == "file":
            path = Path(str(self.target))
            if not path.exists():
                raise VideoError(f"{path}: no such video file")
            if not path.is_file():
                raise VideoError(f"{path}: not a file")
        cap = self._new_capture()
        if not cap.isOpened():
            cap.release()
            what = "not a video file (cannot be opened)" if self.kind == "file" else "cannot be opened"
            raise VideoError(f"{self.name}: {what}")
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            what = "no decodable frame (truncated or not a video)" if self.kind == "file" else "delivers no frames"
            raise VideoError(f"{self.name}: {what}")
        self._cap = cap
        stream_fps = cap.get(cv2.CAP_PROP_FPS)
        stream_fps = stream_fps if np.isfinite(stream_fps) and stream_fps > 0 else 30.0
        self._stream_fps = float(stream_fps)
        self._fps = float(self._true_fps or stream_fps)
        self._size = (int(first.shape[1]), int(first.shape[0]))
        self._frame_count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0) if self.kind == "file" else 0
        self._index = 0
        self._pass_start = 0
        self._pending = first
        self._short = None

    def _new_capture(self) -> cv2.VideoCapture:
        with quiet_video_logs():
            if self.kind == "file":
                return cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG)
            if self.kind == "url":
                # A network stream that does not answer must not block the capture thread (and so a
                # reconnect or a shutdown) for FFmpeg's default 30 s or more.
                timeouts = [
                    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                    _NETWORK_TIMEOUT_MS,
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                    _NETWORK_TIMEOUT_MS,
                ]
                return cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG, timeouts)
            cap = cv2.VideoCapture(self.target)
        width, height, fps = self._request
        if self.kind == "camera" and cap.isOpened():
            if width and height:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
        return cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise VideoError(f"{self.name}: read() before open()")
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                return self._end_of_stream()
        stamp = time.monotonic() if self.kind != "file" else self._index / self._fps
        # In place: the BGR buffer is fresh per frame, so no second full-frame allocation.
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)
        frame = Frame(image=image, index=self._index, timestamp_s=stamp)
        self._index += 1
        return frame

    def _end_of_stream(self) -> Frame | None:
        if self.kind != "file":
            raise VideoError(f"{self.name}: stream lost after {self._index} frames")
        decoded = self._index - self._pass_start
        if self._frame_count and decoded < self._frame_count - TRUNCATION_SLACK and self._short is None:
            self._short = (self._frame_count, decoded)
            if self._loop:  # once, not per replay
                log.warning("%s: the container claims %d frames, %d decoded; replaying those", self.name, *self._short)
        if not self._loop or decoded == 0:
            return None
        assert self._cap is not None
        self._cap.release()
        self._cap = self._new_capture()
        self._pass_start = self._index
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise VideoError(f"{self.name}: cannot be replayed from the start")
        self._pending = bgr
        return self.read()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._pending = None

    def __enter__(self) -> OpenCVSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
