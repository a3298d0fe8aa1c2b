"""A video file that decodes fewer frames than its container claims: every decodable frame is handed
out and the shortfall reported (once), not refused; only a file with no decodable frame is an error.
Made here with cv2.VideoWriter (no model, no shared data: always runs)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from hipcam.capture import Frame, OpenCVSource
from hipcam.capture.opencv_source import TRUNCATION_SLACK
from hipcam.errors import VideoError

FRAMES = 40


def _write_avi(path: Path, frames: int = FRAMES) -> Path:
    """MJPG in AVI: the header says how many frames, each frame is a JPEG, the index comes last."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (160, 120))
    rng = np.random.default_rng(0)
    for i in range(frames):
        img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        cv2.putText(img, str(i), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        writer.write(img)
    writer.release()
    return path


def _cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def _read_all(source: OpenCVSource) -> list[Frame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def test_complete_file_is_not_short(tmp_path: Path) -> None:
    with OpenCVSource(str(_write_avi(tmp_path / "whole.avi")), "file") as source:
        frames = _read_all(source)
        assert source.frame_count == FRAMES and len(frames) == FRAMES and source.short_read is None


def test_truncated_file_yields_what_decodes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cut = _cut(_write_avi(tmp_path / "whole.avi"), tmp_path / "cut.avi", 0.5)
    with caplog.at_level(logging.WARNING), OpenCVSource(str(cut), "file") as source:
        assert source.frame_count == FRAMES  # the header still claims them all
        frames = _read_all(source)
        assert source.read() is None  # stays at the end
    decoded = len(frames)
    assert 5 < decoded < FRAMES - TRUNCATION_SLACK
    assert [f.index for f in frames] == list(range(decoded))
    assert np.allclose([f.timestamp_s for f in frames], np.arange(decoded) / 25.0)
    assert source.short_read == (FRAMES, decoded)
    assert not caplog.records  # a single pass leaves the reporting to its caller (hipcam analyze)


def test_truncated_file_loops_and_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The live service replaying a short demo clip: it loops over what decodes, one warning in all."""
    cut = _cut(_write_avi(tmp_path / "whole.avi"), tmp_path / "cut.avi", 0.5)
    with caplog.at_level(logging.WARNING), OpenCVSource(str(cut), "file", loop=True) as source:
        frames = [source.read() for _ in range(3 * FRAMES)]
        decoded = source.short_read[1] if source.short_read else 0
    assert all(f is not None for f in frames) and 5 < decoded < FRAMES - TRUNCATION_SLACK
    assert [f.index for f in frames if f is not None] == list(range(3 * FRAMES))
    stamps = np.array([f.timestamp_s for f in frames if f is not None])
    assert (np.diff(stamps) > 0).all()  # replays keep time moving forward
    # Frame `decoded` is the first of the second pass: the same picture as frame 0.
    first, again = frames[0], frames[decoded]
    assert first is not None and again is not None and np.array_equal(first.image, again.image)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"{cut}: the container claims {FRAMES} frames, {decoded} decoded; replaying those"]


def test_no_decodable_frame_is_an_error(tmp_path: Path) -> None:
    stub = tmp_path / "stub.avi"
    stub.write_bytes(_write_avi(tmp_path / "whole.avi").read_bytes()[:2048])  # a header, no frame
    with pytest.raises(VideoError, match=r"not a video|no decodable frame") as err:
        OpenCVSource(str(stub), "file").open()
    assert "\n" not in str(err.value)
