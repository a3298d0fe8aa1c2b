"""scripts/noise_floor.py's noisy copy: lossless, within +-N/255, the same for the same seed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
from paths import REPO


def _script() -> ModuleType:
    sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location("noise_floor", REPO / "scripts" / "noise_floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while (got := cap.read())[0]:
        out.append(got[1])
    cap.release()
    return out


def _clip(path: Path) -> list[np.ndarray]:
    """A lossless 6-frame clip (FFV1) with a gradient, so the noise is measured exactly."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), 30.0, (64, 48))
    frames = [np.clip(np.indices((48, 64)).sum(0) * 2 + i, 0, 255).astype(np.uint8) for i in range(6)]
    for f in frames:
        writer.write(np.dstack([f, f, f]))
    writer.release()
    return _frames(path)


def test_noisy_copy_is_within_the_noise_and_repeatable(tmp_path: Path) -> None:
    noise_floor = _script()
    clean = _clip(tmp_path / "clean.mkv")
    assert noise_floor.noisy_copy(tmp_path / "clean.mkv", tmp_path / "a.mkv", 2, 1) == 6
    noise_floor.noisy_copy(tmp_path / "clean.mkv", tmp_path / "b.mkv", 2, 1)
    noise_floor.noisy_copy(tmp_path / "clean.mkv", tmp_path / "c.mkv", 2, 2)
    a, b, c = (_frames(tmp_path / f"{n}.mkv") for n in "abc")
    diff = np.stack(a).astype(int) - np.stack(clean).astype(int)
    assert np.abs(diff).max() == 2 and set(np.unique(diff)) <= {-2, -1, 0, 1, 2}
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # the seed fixes the noise
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_unreadable_video_is_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(SystemExit, match=r"noise_floor: .*bad\.mp4"):
        _script().noisy_copy(bad, tmp_path / "out.mkv", 2, 1)
