"""`hipcam setup-check` on the shared clips and on bad set-ups made from the home clip: each bad
set-up fails the right check (and only that one), the good clips fail none; bad input -> one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest
from paths import SHARED_DATA

pytestmark = [pytest.mark.slow, pytest.mark.needs_models]

HOME = SHARED_DATA / "treadmill_home_side.mp4"
LAB = SHARED_DATA / "treadmill_lab_side.mp4"
OUTDOOR = SHARED_DATA / "outdoor_walk_side.mp4"
SECONDS = 8  # of the home clip, per variant


def _need(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"shared clip not found at {path} (../shared/data beside the project)")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "hipcam", "setup-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def _check(video: Path, tmp: Path, *extra: str) -> tuple[int, dict[str, str]]:
    out = tmp / f"{video.stem}.json"
    proc = _run(str(video), "--seconds", str(SECONDS), "--json", str(out), *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    print(proc.stdout)  # the table, for the record (pytest -s)
    return proc.returncode, {c["name"]: c["status"] for c in report["checks"]}


def _variant(kind: str, out: Path) -> Path:
    """The first SECONDS of the home clip with one thing wrong with the set-up."""
    cap = cv2.VideoCapture(str(HOME))
    fps, w, h = cap.get(cv2.CAP_PROP_FPS), int(cap.get(3)), int(cap.get(4))
    size = (w, int(h * 0.85)) if kind == "crop" else (w, h)
    path = out / f"{kind}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps / 2 if kind == "decimate" else fps, size)
    rotate = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.0)
    for i in range(int(SECONDS * fps)):
        ok, frame = cap.read()
        if not ok:
            break
        if kind == "crop":  # the bottom 15 % cut off: the feet leave the frame
            frame = frame[: size[1]]
        elif kind == "rotate":
            frame = cv2.warpAffine(frame, rotate, (w, h))
        elif kind == "dark":
            frame = cv2.convertScaleAbs(frame, alpha=0.35)
        if kind != "decimate" or i % 2 == 0:
            writer.write(frame)
    writer.release()
    cap.release()
    return path


@pytest.mark.parametrize(
    ("kind", "failing"),
    [
        ("crop", "whole body in frame"),
        ("rotate", "camera roll"),
        ("decimate", "frame rate"),
        ("dark", "exposure"),
    ],
)
def test_bad_setup_fails_its_check(kind: str, failing: str, tmp_path: Path) -> None:
    _need(HOME)
    code, status = _check(_variant(kind, tmp_path), tmp_path)
    assert code == 1
    assert [name for name, s in status.items() if s == "fail"] == [failing]


def test_home_clip_passes_with_warnings(tmp_path: Path) -> None:
    _need(HOME)
    code, status = _check(HOME, tmp_path)
    assert code == 0
    assert "fail" not in status.values()
    assert status["frame rate"] == "warn"  # 30 fps: usable, below the recommended 60


def test_lab_clip_at_true_rate_passes(tmp_path: Path) -> None:
    _need(LAB)
    code, status = _check(LAB, tmp_path, "--fps", "240")
    assert code == 0
    assert "fail" not in status.values()
    assert status["frame rate"] == "pass"
    assert status["camera roll"] == "pass"


def test_outdoor_clip_flags_the_second_person(tmp_path: Path) -> None:
    _need(OUTDOOR)
    _, status = _check(OUTDOOR, tmp_path)
    assert status["other people"] in ("warn", "fail")
    assert status["side view"] == "pass"


@pytest.mark.parametrize(
    "args",
    [
        ["/nonexistent/clip.mp4"],
        ["BROKEN"],
        ["CLIP", "--seconds", "0"],
        ["CLIP", "--fps", "-3"],
        ["CLIP", "--seconds", "abc"],
    ],
)
def test_bad_input_is_one_line(args: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video at all" * 10)
    args = [str(broken) if a == "BROKEN" else str(HOME) if a == "CLIP" else a for a in args]
    proc = _run(*args)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and (len(lines) == 1 or lines[0].startswith("usage:")), proc.stderr
