"""One source-spec rule: ``parse_source`` decides, and ``make_source`` and ``hipcam config check``
agree with it on every kind of spec (what each builds, what each accepts and rejects)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from hipcam.capture import OpenCVSource, PicameraSource, SourceSpec, SourceSpecError, make_source, parse_source
from hipcam.capture.spec import URL_SCHEMES, redacted
from hipcam.commands.config_check import check_config, check_source
from hipcam.config import HipcamConfig
from hipcam.errors import AssetError, VideoError

URLS = [
    "rtsp://cam.local:554/stream",
    "rtsps://cam.local/stream",
    "http://cam.local/video.mjpg",
    "https://cam.local/live.m3u8",
    "rtmp://cam.local/live/key",
    "udp://@:1234",
    "tcp://cam.local:5000",
    "rtp://239.0.0.1:5004",
    "srt://cam.local:9000?mode=caller",
    "RTSP://CAM.LOCAL/stream",  # schemes are case-insensitive
]
BAD = [
    ("ftp://cam.local/clip.mp4", "unsupported URL scheme ftp://"),
    ("mms://cam.local/stream", "unsupported URL scheme mms://"),
    ("file://otherhost/clip.mp4", "must name a local file"),
    ("file://", "no file path"),
    ("", "source is empty"),
    ("   ", "source is empty"),
]


def _cfg(tmp_path: Path, source: str = "auto") -> HipcamConfig:
    return HipcamConfig(paths={"models_dir": tmp_path}, capture={"source": source, "loop_files": False})


def _video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("auto", SourceSpec("auto")),
        ("picamera", SourceSpec("picamera")),
        (" demo ", SourceSpec("demo")),
        ("0", SourceSpec("camera", 0)),
        ("12", SourceSpec("camera", 12)),
        ("/dev/video4", SourceSpec("camera", "/dev/video4")),
        ("clip.mp4", SourceSpec("file", "clip.mp4")),
        ("/data/walk.mp4", SourceSpec("file", "/data/walk.mp4")),
        ("~/walk.mp4", SourceSpec("file", str(Path("~/walk.mp4").expanduser()))),
        ("file:///data/walk.mp4", SourceSpec("file", "/data/walk.mp4")),
        ("file://localhost/data/my%20walk.mp4", SourceSpec("file", "/data/my walk.mp4")),
        ("²", SourceSpec("file", "²")),  # a digit to str.isdigit, not a camera index
        *[(url, SourceSpec("url", url)) for url in URLS],
    ],
)
def test_parse(spec: str, parsed: SourceSpec) -> None:
    assert parse_source(spec) == parsed


def test_every_supported_scheme_is_covered() -> None:
    assert {url.split("://")[0].lower() for url in URLS} == set(URL_SCHEMES)


@pytest.mark.parametrize("url", URLS)
def test_urls_agree(url: str, tmp_path: Path) -> None:
    source = make_source(url, _cfg(tmp_path))
    assert isinstance(source, OpenCVSource) and source.kind == "url" and source.target == url
    assert check_source(_cfg(tmp_path, url)) is None


@pytest.mark.parametrize(("spec", "message"), BAD)
def test_bad_specs_are_rejected_by_both_with_the_same_line(spec: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SourceSpecError, match=message) as err:
        make_source(None, _cfg(tmp_path, spec))  # the configured source, as `hipcam serve` reads it
    assert isinstance(err.value, VideoError) and "\n" not in str(err.value)
    assert check_source(_cfg(tmp_path, spec)) == str(err.value)
    config = tmp_path / "config.toml"
    config.write_text(f'[capture]\nsource = "{spec}"\n[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    err_out = io.StringIO()
    assert check_config(config, check_port_free=False, out=io.StringIO(), err=err_out) == 2
    line = next(ln for ln in err_out.getvalue().splitlines() if "capture.source" in ln)
    assert line.endswith(f"capture.source: {err.value}")


@pytest.mark.parametrize("spec_of", [str, lambda p: f"file://{p}"], ids=["path", "file-url"])
def test_files_agree(spec_of: Callable[[Path], str], tmp_path: Path) -> None:
    clip = _video(tmp_path / "clip.avi")
    source = make_source(spec_of(clip), _cfg(tmp_path))
    assert isinstance(source, OpenCVSource) and source.kind == "file" and source.target == str(clip)
    assert check_source(_cfg(tmp_path, spec_of(clip))) is None
    source.open()  # what config check accepts does start
    try:
        assert source.read() is not None
    finally:
        source.close()
    missing = tmp_path / "gone.mp4"
    assert check_source(_cfg(tmp_path, spec_of(missing))) == f"{missing}: video file not found"
    with pytest.raises(VideoError, match="no such video file"):
        make_source(spec_of(missing), _cfg(tmp_path)).open()


@pytest.mark.parametrize(
    ("spec", "target", "node"), [("97", 97, "/dev/video97"), ("/dev/video98", "/dev/video98", None)]
)
def test_cameras_agree(spec: str, target: int | str, node: str | None, tmp_path: Path) -> None:
    source = make_source(spec, _cfg(tmp_path))
    assert isinstance(source, OpenCVSource) and source.kind == "camera" and source.target == target
    problem = check_source(_cfg(tmp_path, spec))
    assert problem is not None and problem.startswith(f"{node or spec}: no such camera device")


def test_demo_agrees(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match=r"demo\.mp4: missing; run `hipcam fetch`") as err:
        make_source("demo", _cfg(tmp_path))
    assert check_source(_cfg(tmp_path, "demo")) == str(err.value)
    (tmp_path / "demo.mp4").write_bytes(b"")
    assert check_source(_cfg(tmp_path, "demo")) is None
    source = make_source("demo", _cfg(tmp_path))
    assert isinstance(source, OpenCVSource) and source.target == str(tmp_path / "demo.mp4")


def test_named_live_sources_pass_the_check(tmp_path: Path) -> None:
    # auto and picamera are probed at start-up (auto falls back), so the check cannot fail them.
    assert check_source(_cfg(tmp_path, "auto")) is None
    assert check_source(_cfg(tmp_path, "picamera")) is None
    assert isinstance(make_source("picamera", _cfg(tmp_path)), PicameraSource)


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        ("rtsp://admin:secret@cam/stream", "rtsp://***@cam/stream"),
        ("rtsp://admin@cam:554/s", "rtsp://***@cam:554/s"),
        ("http://cam/x?user=a&password=hunter2&fps=5", "http://cam/x?user=a&password=***&fps=5"),
        ("https://cam/x?pwd=1;Token=2&apikey=3#f", "https://cam/x?pwd=***;Token=***&apikey=***#f"),
        ("rtsp://a%40b:p%40ss@[::1]:8554/x", "rtsp://***@[::1]:8554/x"),
        ("http://[::1:80/?pass=z", "http://***"),  # unparsable: only the scheme
        ("rtsp://cam/stream", "rtsp://cam/stream"),
        ("/videos/walk.mp4", "/videos/walk.mp4"),
        ("0", "0"),
    ],
)
def test_redacted_strips_credentials(spec: str, shown: str) -> None:
    assert redacted(spec) == shown


def test_source_name_and_errors_carry_no_password() -> None:
    source = OpenCVSource("rtsp://admin:secret@127.0.0.1:9/s?token=abc", "url")
    assert "secret" not in source.name and "abc" not in source.name
    with pytest.raises(SourceSpecError) as err:
        parse_source("ftp://admin:secret@cam/x")
    assert "secret" not in str(err.value)
