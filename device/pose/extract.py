"""Run BlazePose over a video file and collect a LandmarkSeries (the reference .npz format).

Frames are streamed (never all held in memory). When ``hipcam.gait.mask_features`` is installed, its
``measure(mask_in_image, landmarks_px)`` runs on every frame with a person and fills mask_features.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from hipcam.capture.opencv_source import OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.landmarks_file import LandmarkSeries
from hipcam.pose.pipeline import BlazePose, PoseResult
from hipcam.skeleton import NUM_LANDMARKS


def _mask_features_module() -> ModuleType | None:
    try:
        module = importlib.import_module("hipcam.gait.mask_features")
    except ImportError:
        return None
    has_api = callable(getattr(module, "measure", None)) and hasattr(module, "FEATURE_NAMES")
    return module if has_api else None


def _mask_row(module: ModuleType, result: PoseResult) -> np.ndarray:
    mask = result.mask_image()
    landmarks_px = result.landmarks.astype(np.float64)
    landmarks_px[:, 0] *= result.width
    landmarks_px[:, 1] *= result.height
    row: np.ndarray = np.asarray(module.measure(mask, landmarks_px), dtype=np.float32)
    return row


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
    """
    source = OpenCVSource(str(video), "file", true_fps=cfg.capture.true_fps, loop=False)
    source.open()  # a bad video fails before the models load
    try:
        # A caller's BlazePose built without the mask gets no mask features.
        mask_module = _mask_features_module() if pose is None or pose.keep_mask else None
        pose = pose or BlazePose.from_config(cfg, keep_mask=mask_module is not None)
        total = source.frame_count if max_frames is None else min(source.frame_count, max_frames)
        bar = _progress_bar(total, video.name) if progress else None
        try:
            results = _collect(source, pose, mask_module, max_frames, bar)
        finally:
            if bar is not None:
                bar.close()
    finally:
        source.close()
    image = np.stack(results[0]).astype(np.float32)
    names: tuple[str, ...] = tuple(mask_module.FEATURE_NAMES) if mask_module is not None else ()
    return LandmarkSeries(
        image_landmarks=image,
        found=np.isfinite(image[:, 0, 0]),
        fps=source.fps,
        width=source.size[0],
        height=source.size[1],
        world_landmarks=np.stack(results[1]).astype(np.float32),
        mask_features=np.stack(results[2]).astype(np.float32) if mask_module is not None else None,
        mask_feature_names=names,
    )


def _collect(
    source: OpenCVSource, pose: BlazePose, mask_module: ModuleType | None, max_frames: int | None, bar: Any
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per frame: image landmarks [33, 5], world landmarks [33, 4], mask features [K] (NaN: nobody)."""
    image_rows: list[np.ndarray] = []
    world_rows: list[np.ndarray] = []
    mask_rows: list[np.ndarray] = []
    no_image = np.full((NUM_LANDMARKS, 5), np.nan, np.float32)
    no_world = np.full((NUM_LANDMARKS, 4), np.nan, np.float32)
    no_mask = np.full(len(mask_module.FEATURE_NAMES) if mask_module is not None else 0, np.nan, np.float32)
    while max_frames is None or len(image_rows) < max_frames:
        frame = source.read()
        if frame is None:
            break
        result = pose.process(frame.image, frame.timestamp_s)
        image_rows.append(result.landmarks if result is not None else no_image)
        world_rows.append(result.world_landmarks if result is not None else no_world)
        if mask_module is not None:
            mask_rows.append(_mask_row(mask_module, result) if result is not None else no_mask)
        if bar is not None:
            bar.update(1)
    return image_rows, world_rows, mask_rows


def _progress_bar(total: int, label: str) -> Any:
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal (logs, pipes), where it would be noise.
    return tqdm(total=total or None, unit="frame", desc=label, leave=False, disable=None)
