"""`hipcam analyze`: video (or landmarks file) -> landmarks -> strides -> table and JSON.

The same gait code runs live in the service; this is its offline, zero-lag use over a whole clip.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from hipcam.atomic import write_text
from hipcam.capture.opencv_source import OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.errors import HipcamError, VideoError
from hipcam.gait import offline, report
from hipcam.gait.calibration import HipOffset, apply_hip_offset, clip_direction
from hipcam.records import landmarks_file
from hipcam.vision.roll import resolve_level


def _first_gray_frame(video: Path) -> np.ndarray | None:
    source = OpenCVSource(str(video), "file", loop=False)
    try:
        source.open()
        frame = source.read()
    finally:
        source.close()
    return None if frame is None else cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)


def _landmarks_from_video(video: Path, cfg: HipcamConfig, progress: bool) -> landmarks_file.LandmarkSeries:
    from hipcam.commands.extract import extract_landmarks  # the model is loaded only when a video is given

    series = extract_landmarks(video, cfg, progress=progress)
    if not series.found.any():
        raise VideoError(f"{video}: no person found in any of its {len(series)} frames")
    return series


def run_analyze(
    cfg: HipcamConfig,
    *,
    video: Path | None,
    landmarks: Path | None,
    fps: float | None,
    landmarks_out: Path | None,
    json_out: Path | None,
    progress: bool = True,
    hip_offset: tuple[float, float] | None = None,
) -> int:
    """``hip_offset``: (forward, up) in trunk lengths, a clinician's hip calibration applied to every
    frame before the analysis (the landmarks written by --landmarks-out stay BlazePose's own)."""
    if fps is not None and not 1.0 <= fps <= 10000.0:
        raise HipcamError(f"--fps {fps}: expected the true capture rate, from 1 to 10000 frames/s")
    offset = HipOffset(*hip_offset).check() if hip_offset is not None else None
    level = cfg.level
    if video is not None:
        series = _landmarks_from_video(video, cfg, progress)
        gray = _first_gray_frame(video) if level.mode == "auto" else None
        roll = resolve_level(level, gray).roll_deg
    else:
        assert landmarks is not None
        series = landmarks_file.load(landmarks)
        roll = resolve_level(level, None).roll_deg  # no image: auto falls back to roll_deg
    if landmarks_out is not None:
        landmarks_file.save(landmarks_out, series)
    if offset is not None:
        series = _calibrated(series, offset, cfg)
    result = offline.analyze(series, cfg.gait, fps=fps or cfg.capture.true_fps, roll_deg=roll)
    print(report.format_table(result))
    if json_out is not None:
        write_text(json_out, json.dumps(report.to_dict(result), indent=2) + "\n")
    return 0


def _calibrated(
    series: landmarks_file.LandmarkSeries, offset: HipOffset, cfg: HipcamConfig
) -> landmarks_file.LandmarkSeries:
    """The series with the hip calibration applied (the clip's running direction; both hips move by
    the same vector, so the near leg does not matter here)."""
    lm = series.image_landmarks
    direction = clip_direction(lm, series.width, series.height, cfg.gait)
    moved = apply_hip_offset(lm, series.width, series.height, offset, "left", direction).astype(lm.dtype)
    return replace(series, image_landmarks=moved)
