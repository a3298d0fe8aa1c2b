"""`hipcam analyze` on bad videos, through the installed console script: one line on stderr, no
traceback, no FFmpeg/OpenCV/TFLite chatter, a non-zero exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.integration  # each test runs the installed console script

HIPCAM = Path(sys.executable).parent / "hipcam"
# Variables that would change what gets printed (debug switches, a config file, log levels).
UNSET = ("HIPCAM_CONFIG", "HIPCAM_DEBUG", "OPENCV_FFMPEG_LOGLEVEL", "OPENCV_FFMPEG_DEBUG", "OPENCV_LOG_LEVEL")


def _missing(tmp_path: Path, demo_clip: Path) -> Path:
    return tmp_path / "nonexistent.mp4"


def _text(tmp_path: Path, demo_clip: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    return path


def _header_only(tmp_path: Path, demo_clip: Path) -> Path:
    path = tmp_path / "cut.mp4"
    with demo_clip.open("rb") as fh:
        path.write_bytes(fh.read(4096))  # the container's header, not one frame
    return path


def _no_person(tmp_path: Path, demo_clip: Path) -> Path:
    path = tmp_path / "gradient.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (320, 240))
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    for i in range(30):
        writer.write(cv2.merge([ramp, np.roll(ramp, 4 * i, axis=1), ramp[::-1]]))
    writer.release()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_missing, "no such video file"),
        (_text, "not a video file"),
        (_header_only, "no decodable frame"),
        (_no_person, "no person found"),
    ],
    ids=["missing", "text-file", "header-only", "no-person"],
)
def test_analyze_bad_video_prints_one_line(
    make: Callable[[Path, Path], Path], message: str, tmp_path: Path, demo_clip: Path, models_dir: Path
) -> None:
    if not HIPCAM.is_file():
        pytest.skip(f"console script not installed at {HIPCAM}")
    video = make(tmp_path, demo_clip)
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["HIPCAM_PATHS__MODELS_DIR"] = str(models_dir)
    proc = subprocess.run(
        [str(HIPCAM), "analyze", str(video)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"hipcam: {video}: ") and message in lines[0], lines[0]


def _short_clip(tmp_path: Path, demo_clip: Path, frames: int = 60) -> tuple[Path, int]:
    """The demo's first frames (a person walking) as MJPG in AVI, cut half-way: the header still
    claims them all. Returns the file and how many frames its header claims."""
    whole = tmp_path / "whole.avi"
    cap = cv2.VideoCapture(str(demo_clip))
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (640, 360))
    for _ in range(frames):
        ok, bgr = cap.read()
        assert ok
        writer.write(cv2.resize(bgr, (640, 360), interpolation=cv2.INTER_AREA))
    writer.release()
    cap.release()
    cut = tmp_path / "video.avi"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return cut, frames


@pytest.mark.needs_models
def test_analyze_short_video_warns_once(tmp_path: Path, demo_clip: Path, models_dir: Path) -> None:
    """A file that ends before the frames its container claims is analysed as far as it decodes,
    with one warning line giving both counts (it used to be refused as a truncated video)."""
    if not HIPCAM.is_file():
        pytest.skip(f"console script not installed at {HIPCAM}")
    video, claimed = _short_clip(tmp_path, demo_clip)
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["HIPCAM_PATHS__MODELS_DIR"] = str(models_dir)
    proc = subprocess.run(
        [str(HIPCAM), "analyze", str(video)], capture_output=True, text=True, env=env, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    match = re.fullmatch(
        rf"hipcam: warning: {re.escape(str(video))}: the container claims {claimed} frames, (\d+) decoded; analysed those",
        lines[0],
    )
    assert match is not None, lines[0]
    decoded = int(match.group(1))
    assert 0 < decoded < claimed
    assert f"frames {decoded} " in proc.stdout  # the report covers every decoded frame


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/dev/video99", "no such camera device"),
        ("/dev/null", "cannot be opened"),
        ("42", "no such camera device"),
        ("ftp://cam.local/walk.mp4", "unsupported URL scheme ftp://"),
    ],
    ids=["absent-device", "not-a-camera", "absent-index", "unsupported-url"],
)
def test_serve_unreadable_camera_prints_one_line(source: str, message: str, tmp_path: Path, models_dir: Path) -> None:
    # At start-up an unusable camera is an error; a camera lost once running is retried instead.
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(HIPCAM_PATHS__MODELS_DIR=str(models_dir), HIPCAM_STORAGE__DATA_DIR=str(tmp_path))
    proc = subprocess.run(
        [str(HIPCAM), "serve", "--source", source, "--host", "127.0.0.1", "--port", "18097"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_serve_bad_port_prints_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    proc = subprocess.run(
        [str(HIPCAM), "serve", "--source", "demo", "--port", "99999"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "server.port" in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["soak", "--minutes", "-1"], "--minutes -1"),
        (["soak", "--minutes", "nan"], "--minutes nan"),
        (["soak", "--viewers", "-1"], "--viewers -1"),
        (["soak", "--every", "0"], "--every 0"),
        (["bench-service", "--seconds", "-5"], "--seconds -5"),
        (["bench-service", "--viewers", "0"], "--viewers 0"),
    ],
)
def test_benchmark_commands_reject_bad_numbers(args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    proc = subprocess.run([str(HIPCAM), *args], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
