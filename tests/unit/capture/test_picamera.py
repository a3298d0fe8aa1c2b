"""The Pi camera adapter against a fake picamera2 (tests/fakes/picamera2): the configuration call,
one ``captured_request()`` per frame released after it, sensor timestamps converted from ns, a
missing timestamp, a camera that fails, and ``auto`` choosing the Pi camera."""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hipcam.capture import OpenCVSource, PicameraSource, make_source
from hipcam.capture.picamera import INSTALL_HINT, picamera_available
from hipcam.config import HipcamConfig
from hipcam.errors import VideoError


def _open(width: int = 640, height: int = 480, fps: float = 30.0) -> PicameraSource:
    source = PicameraSource(width, height, fps)
    source.open()
    return source


def test_available_when_libcamera_lists_a_camera(fake_picamera2: ModuleType) -> None:
    assert picamera_available()
    assert fake_picamera2.state.names() == ["global_camera_info"]
    fake_picamera2.state.cameras = []
    assert not picamera_available()


def test_not_available_when_libcamera_fails_or_picamera2_is_missing(
    fake_picamera2: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        fake_picamera2.Picamera2, "global_camera_info", staticmethod(lambda: (_ for _ in ()).throw(RuntimeError("x")))
    )
    assert not picamera_available()
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    assert not picamera_available()
    with pytest.raises(VideoError, match="picamera2 is not installed") as err:
        PicameraSource(640, 480, 30.0).open()
    assert INSTALL_HINT in str(err.value)


def test_open_pins_the_configuration(fake_picamera2: ModuleType) -> None:
    source = _open(800, 600, 50.0)
    calls = fake_picamera2.state.calls
    assert [name for name, _, _ in calls] == ["__init__", "create_video_configuration", "configure", "start"]
    # One RGB main stream ("BGR888" is R, G, B in memory) of the configured size, a fixed frame rate.
    assert calls[1][1:] == ((), {"main": {"size": (800, 600), "format": "BGR888"}, "controls": {"FrameRate": 50.0}})
    configured = calls[2][1][0]
    assert configured["main"] == {"size": (800, 600), "format": "BGR888"}
    assert source.size == (800, 600) and source.fps == 50.0
    source.close()


def test_frames_release_their_request_and_carry_sensor_time(fake_picamera2: ModuleType) -> None:
    source = _open(320, 240)
    frames = []
    for n in range(4):
        frame = source.read()
        assert frame is not None
        requests = fake_picamera2.state.requests
        assert len(requests) == n + 1 and all(r.released for r in requests)  # released before the next
        frames.append(frame)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    first = frames[0].image
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 1, 2, 3]  # each frame is its own request's array
    expected = [(fake_picamera2.FIRST_STAMP_NS + n * fake_picamera2.FRAME_NS) / 1e9 for n in range(4)]
    assert [f.timestamp_s for f in frames] == expected  # ns -> s, sensor clock kept
    reads = [name for name in fake_picamera2.state.names() if name in ("captured_request", "make_array")]
    assert reads == ["captured_request", "make_array"] * 4
    assert all(args == ("main",) for name, args, _ in fake_picamera2.state.calls if name == "make_array")
    source.close()


def test_missing_sensor_timestamp_falls_back_to_the_monotonic_clock(
    fake_picamera2: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    stamped = fake_picamera2.state.metadata
    # Frames 0-2 come without SensorTimestamp (as from a driver that does not set it), 3-4 with it.
    fake_picamera2.state.metadata = lambda n: {"FrameDuration": 33333} if n < 3 else stamped(n)
    source = _open()
    with caplog.at_level(logging.WARNING, logger="hipcam.capture.picamera"):
        before = time.monotonic()
        stamps = [frame.timestamp_s for frame in (source.read() for _ in range(5)) if frame is not None]
        after = time.monotonic()
    source.close()
    assert len(stamps) == 5 and all(math.isfinite(t) for t in stamps)
    # One clock for the source's life: no step back to the sensor's epoch when stamps reappear.
    assert all(before <= t <= after for t in stamps)
    assert stamps == sorted(stamps)
    warnings = [r for r in caplog.records if "SensorTimestamp" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("step", "exc"),
    [
        ("__init__", RuntimeError("Failed to acquire camera: Device or resource busy")),
        ("configure", ValueError("bad configuration")),
        ("start", OSError(5, "Input/output error")),
        ("start", Exception("Camera frontend has timed out!")),
    ],
)
def test_a_camera_that_fails_to_start_is_a_one_line_video_error(
    fake_picamera2: ModuleType, step: str, exc: BaseException
) -> None:
    fake_picamera2.state.fail[step] = exc
    with pytest.raises(VideoError, match=r"^picamera: cannot start the camera \(.+\)$") as err:
        _open()
    assert "\n" not in str(err.value) and str(exc.args[-1]) in str(err.value)
    names = fake_picamera2.state.names()
    if step != "__init__":  # acquired, so it must be given back (a retry would find it busy)
        assert names[-1] == "close"


def test_no_camera_is_a_video_error(fake_picamera2: ModuleType) -> None:
    fake_picamera2.state.cameras = []
    with pytest.raises(VideoError, match="cannot start the camera"):
        _open()


@pytest.mark.parametrize(
    ("step", "exc"),
    [
        ("captured_request", TimeoutError("no frame in 1 s")),
        ("make_array", RuntimeError("dequeue failed")),
        ("get_metadata", Exception("camera gone")),
    ],
)
def test_a_camera_that_fails_mid_stream_is_a_video_error(
    fake_picamera2: ModuleType, step: str, exc: BaseException
) -> None:
    source = _open()
    assert source.read() is not None
    fake_picamera2.state.fail[step] = exc
    with pytest.raises(VideoError, match=r"^picamera: capture failed \(.+\)$"):
        source.read()
    assert all(r.released for r in fake_picamera2.state.requests)  # also the one whose body raised
    source.close()
    assert fake_picamera2.state.names()[-2:] == ["stop", "close"]


def test_close_stops_once_and_reads_after_close_fail(fake_picamera2: ModuleType) -> None:
    source = _open()
    fake_picamera2.state.fail["stop"] = RuntimeError("already stopped")
    source.close()  # a failing stop still closes
    source.close()
    names = fake_picamera2.state.names()
    assert names.count("stop") == 1 and names.count("close") == 1
    with pytest.raises(VideoError, match="before open"):
        source.read()


def test_auto_chooses_the_pi_camera_when_libcamera_lists_one(fake_picamera2: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "demo.mp4").write_bytes(b"")  # make_source only builds, it does not open
    cfg = HipcamConfig(paths={"models_dir": tmp_path}, capture={"width": 1280, "height": 720, "fps": 60.0})
    source = make_source("auto", cfg)
    assert isinstance(source, PicameraSource) and source.size == (1280, 720) and source.fps == 60.0
    assert isinstance(make_source(None, cfg), PicameraSource)  # capture.source defaults to auto
    fake_picamera2.state.cameras = []
    fallback = make_source("auto", cfg)
    assert isinstance(fallback, OpenCVSource)
    if Path("/dev/video0").exists():
        assert fallback.kind == "camera" and fallback.target == 0
    else:
        assert fallback.kind == "file" and fallback.target == str(tmp_path / "demo.mp4")
