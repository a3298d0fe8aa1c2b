"""Run BlazePose over a video file and collect a LandmarkSeries (the reference .npz format).

Frames are streamed (never all held in memory). ``hipcam.vision.mask_features`` measures every
frame with a person and fills mask_features (unless the caller's BlazePose was built without the mask).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hipcam.capture.opencv_source import OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.domain import NUM_LANDMARKS
from hipcam.gait.kinematics import frame_direction
from hipcam.pose.tracker import BlazePose, PoseResult
from hipcam.records.landmarks_file import LandmarkSeries
from hipcam.vision.mask_features import FEATURE_NAMES, measure_normalized

log = logging.getLogger(__name__)


def extract_landmarks(
    video: Path,
    cfg: HipcamConfig,
    *,
    progress: bool = False,
    max_frames: int | None = None,
    pose: BlazePose | None = None,
) -> LandmarkSeries:
    """Landmarks of every frame of ``video`` (NaN where nobody is found).

    Timestamps (for smoothing) are frame index / fps, fps being capture.true_fps when set, else the
    file's rate; the series records that fps. Raises VideoError/AssetError with a one-line reason.
    A file that decodes fewer frames than its container claims is analysed as far as it decodes, with
    one warning line (on stderr for the commands, which leave logging to Python's last-resort handler).
    """
    source = OpenCVSource(str(video), "file", true_fps=cfg.capture.true_fps, loop=False)
    source.open()  # a bad video fails before the models load
    try:
        # A caller's BlazePose built without the mask gets no mask features.
        with_mask = pose is None or pose.keep_mask
        pose = pose or BlazePose.from_config(cfg, keep_mask=True)
        total = source.frame_count if max_frames is None else min(source.frame_count, max_frames)
        bar = _progress_bar(total, video.name) if progress else None
        try:
            results = _collect(source, pose, with_mask, max_frames, bar)
        finally:
            if bar is not None:
                bar.close()
    finally:
        source.close()
    if source.short_read is not None:
        claimed, decoded = source.short_read
        log.warning(
            "hipcam: warning: %s: the container claims %d frames, %d decoded; analysed those",
            source.name,
            claimed,
            decoded,
        )
    image = np.stack(results[0]).astype(np.float32)
    return LandmarkSeries(
        image_landmarks=image,
        found=np.isfinite(image[:, 0, 0]),
        fps=source.fps,
        width=source.size[0],
        height=source.size[1],
        world_landmarks=np.stack(results[1]).astype(np.float32),
        mask_features=np.stack(results[2]).astype(np.float32) if with_mask else None,
        mask_feature_names=FEATURE_NAMES if with_mask else (),
    )


def _collect(
    source: OpenCVSource, pose: BlazePose, with_mask: bool, max_frames: int | None, bar: Any
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per frame: image landmarks [33, 5], world landmarks [33, 4], mask features [K] (NaN: nobody)."""
    image_rows: list[np.ndarray] = []
    world_rows: list[np.ndarray] = []
    mask_rows: list[np.ndarray] = []
    no_image = np.full((NUM_LANDMARKS, 5), np.nan, np.float32)
    no_world = np.full((NUM_LANDMARKS, 4), np.nan, np.float32)
    no_mask = np.full(len(FEATURE_NAMES), np.nan, np.float32)
    while max_frames is None or len(image_rows) < max_frames:
        frame = source.read()
        if frame is None:
            break
        result = pose.process(frame.image, frame.timestamp_s)
        image_rows.append(result.landmarks if result is not None else no_image)
        world_rows.append(result.world_landmarks if result is not None else no_world)
        if with_mask:
            row = _mask_row(result) if result is not None else None
            mask_rows.append(no_mask if row is None else row)
        if bar is not None:
            bar.update(1)
    return image_rows, world_rows, mask_rows


def _mask_row(result: PoseResult) -> np.ndarray | None:
    """The mask measures of one frame, running direction taken from that frame's own landmarks."""
    mask = result.mask_image()
    if mask is None:
        return None
    d = frame_direction(result.landmarks[:, :2] * [result.width, result.height])
    return measure_normalized(mask, result.landmarks, d)


def _progress_bar(total: int, label: str) -> Any:
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal (logs, pipes), where it would be noise.
    return tqdm(total=total or None, unit="frame", desc=label, leave=False, disable=None)
