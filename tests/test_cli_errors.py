"""`hipcam analyze` on bad videos, through the installed console script: one line on stderr, no
traceback, no FFmpeg/OpenCV/TFLite chatter, a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

HIPCAM = Path(sys.executable).parent / "hipcam"
# Variables that would change what gets printed (debug switches, a config file, log levels).
UNSET = ("HIPCAM_CONFIG", "HIPCAM_DEBUG", "OPENCV_FFMPEG_LOGLEVEL", "OPENCV_FFMPEG_DEBUG", "OPENCV_LOG_LEVEL")


def _missing(tmp_path: Path, demo_clip: Path) -> Path:
    return tmp_path / "nonexistent.mp4"


def _text(tmp_path: Path, demo_clip: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    return path


def _truncated(tmp_path: Path, demo_clip: Path) -> Path:
    path = tmp_path / "cut.mp4"
    with demo_clip.open("rb") as fh:
        path.write_bytes(fh.read(500_000))  # the header and ~15 frames of 230
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
        (_truncated, "truncated video"),
        (_no_person, "no person found"),
    ],
    ids=["missing", "text-file", "truncated", "no-person"],
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
