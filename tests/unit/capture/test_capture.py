"""Frame sources: clear one-line errors for bad files, correct frames and timestamps for good ones."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hipcam.capture import Frame, FrameSource, OpenCVSource, make_source, open_source
from hipcam.config import HipcamConfig
from hipcam.errors import AssetError, VideoError


def _cfg(models_dir: Path, **capture: object) -> HipcamConfig:
    return HipcamConfig(paths={"models_dir": models_dir}, capture={"loop_files": False, **capture})


def _read_all(source: FrameSource) -> list[Frame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"nope\.mp4: no such video file$"):
        open_source(str(tmp_path / "nope.mp4"), _cfg(tmp_path))


def test_not_a_video(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video\n" * 100)
    with pytest.raises(VideoError, match="not a video") as err:
        open_source(str(bogus), _cfg(tmp_path))
    assert "\n" not in str(err.value)


def test_truncated_video(tmp_path: Path, demo_clip: Path, models_dir: Path) -> None:
    """A cut file hands out the frames that decode and says how many (no longer a VideoError)."""
    data = demo_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 4])  # header intact, most frames gone
    source = open_source(str(cut), _cfg(models_dir))
    try:
        frames = _read_all(source)
        assert isinstance(source, OpenCVSource) and source.short_read == (230, len(frames))
    finally:
        source.close()
    assert 0 < len(frames) < 230 and [f.index for f in frames] == list(range(len(frames)))
    stub = tmp_path / "stub.mp4"
    stub.write_bytes(data[:4096])  # not even one frame: still an error
    with pytest.raises(VideoError, match=r"truncated|not a video") as err:
        open_source(str(stub), _cfg(models_dir))
    assert "\n" not in str(err.value)


def test_demo_clip_frames_and_timestamps(models_dir: Path) -> None:
    source = open_source("demo", _cfg(models_dir))
    try:
        assert source.fps == 30.0 and source.size == (1768, 994)
        frames = _read_all(source)
    finally:
        source.close()
    assert len(frames) == 230
    assert [f.index for f in frames] == list(range(230))
    assert np.allclose([f.timestamp_s for f in frames], np.arange(230) / 30.0)
    first = frames[0].image
    assert first.shape == (994, 1768, 3) and first.dtype == np.uint8


def test_rgb_order(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "red.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(5):
        writer.write(np.dstack([np.zeros((48, 64)), np.zeros((48, 64)), np.full((48, 64), 255)]).astype(np.uint8))
    writer.release()
    with OpenCVSource(str(path), "file") as source:
        frame = source.read()
    assert frame is not None
    r, g, b = frame.image[24, 32].astype(int)
    assert r > 200 and g < 50 and b < 50  # BGR red on disk is R first in the Frame


def test_true_fps_and_loop(models_dir: Path) -> None:
    source = open_source("demo", _cfg(models_dir, true_fps=240.0, loop_files=True))
    try:
        stamps = [f.timestamp_s for f in (source.read() for _ in range(235)) if f is not None]
    finally:
        source.close()
    assert source.fps == 240.0
    assert len(stamps) == 235 and np.all(np.diff(stamps) > 0)  # replay keeps time moving forward
    assert stamps[231] == pytest.approx(231 / 240.0)


def test_demo_missing_asks_for_fetch(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="run `hipcam fetch`"):
        make_source("demo", HipcamConfig(paths={"models_dir": tmp_path}))


def test_spec_routing(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    cam = make_source("2", cfg)
    assert isinstance(cam, OpenCVSource) and cam.kind == "camera" and cam.target == 2
    url = make_source("rtsp://cam.local/stream", cfg)
    assert isinstance(url, OpenCVSource) and url.kind == "url"
    dev = make_source("/dev/video4", cfg)
    assert isinstance(dev, OpenCVSource) and dev.kind == "camera"


def test_quiet_video_logs_is_scoped(monkeypatch: pytest.MonkeyPatch) -> None:
    from hipcam.capture.opencv_source import FFMPEG_LOGLEVEL_ENV, quiet_video_logs

    cv_logging = pytest.importorskip("cv2.utils.logging", reason="this OpenCV has no cv2.utils.logging")
    monkeypatch.delenv(FFMPEG_LOGLEVEL_ENV, raising=False)
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)
    before = cv_logging.getLogLevel()
    with quiet_video_logs():
        assert os.environ[FFMPEG_LOGLEVEL_ENV] == "-8"
        assert cv_logging.getLogLevel() <= cv_logging.LOG_LEVEL_ERROR
    assert FFMPEG_LOGLEVEL_ENV not in os.environ and cv_logging.getLogLevel() == before
    monkeypatch.setenv(FFMPEG_LOGLEVEL_ENV, "32")  # the user debugging FFmpeg keeps their level
    with quiet_video_logs():
        assert os.environ[FFMPEG_LOGLEVEL_ENV] == "32"


def test_opencv_without_its_logging_binding_still_opens_videos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """opencv-python-headless 4.11 (the Pi's pin) has no cv2.utils.logging: only FFmpeg is quietened."""
    import sys

    import cv2.utils

    from hipcam.capture.opencv_source import FFMPEG_LOGLEVEL_ENV, quiet_video_logs

    monkeypatch.delattr(cv2.utils, "logging", raising=False)
    monkeypatch.setitem(sys.modules, "cv2.utils.logging", None)  # import -> ImportError
    monkeypatch.delenv(FFMPEG_LOGLEVEL_ENV, raising=False)
    with quiet_video_logs():
        assert os.environ[FFMPEG_LOGLEVEL_ENV] == "-8"
    assert FFMPEG_LOGLEVEL_ENV not in os.environ
    path = tmp_path / "grey.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(3):
        writer.write(np.full((48, 64, 3), 128, dtype=np.uint8))
    writer.release()
    with OpenCVSource(str(path), "file") as source:
        assert len(_read_all(source)) == 3
