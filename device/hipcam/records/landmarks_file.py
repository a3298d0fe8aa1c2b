"""The landmarks file: the format of MediaPipe's reference .npz, read and written by hipcam.

Keys: ``image_landmarks`` float32 [N, 33, 5] (x, y normalized, z, visibility, presence; NaN where
no person was found), optional ``world_landmarks`` float32 [N, 33, 4], ``found`` bool [N], and the
scalars ``fps``, ``width``, ``height``. hipcam may add ``mask_features`` float32 [N, K] with
``mask_feature_names`` (per-frame measures taken from the segmentation mask); readers that do not
know them ignore them.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from hipcam.atomic import atomic_writer
from hipcam.domain import NUM_LANDMARKS
from hipcam.errors import LandmarksFileError


@dataclass
class LandmarkSeries:
    image_landmarks: np.ndarray  # float32 [N, 33, 5]
    found: np.ndarray  # bool [N]
    fps: float
    width: int
    height: int
    world_landmarks: np.ndarray | None = None  # float32 [N, 33, 4]
    mask_features: np.ndarray | None = None  # float32 [N, K]
    mask_feature_names: tuple[str, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return int(self.image_landmarks.shape[0])


def validate(series: LandmarkSeries, source: str = "landmarks") -> LandmarkSeries:
    """Check shapes and values; raise LandmarksFileError naming what is wrong."""
    lm = series.image_landmarks
    if lm.ndim != 3 or lm.shape[1:] != (NUM_LANDMARKS, 5):
        raise LandmarksFileError(
            f"{source}: image_landmarks has shape {lm.shape}, expected [frames, {NUM_LANDMARKS}, 5]"
        )
    n = lm.shape[0]
    if n == 0:
        raise LandmarksFileError(f"{source}: holds no frames")
    if series.found.shape != (n,):
        raise LandmarksFileError(f"{source}: 'found' has shape {series.found.shape}, expected [{n}]")
    if not (np.isfinite(series.fps) and 1.0 <= series.fps <= 10000.0):
        raise LandmarksFileError(f"{source}: fps is {series.fps}, expected a number from 1 to 10000")
    if series.width <= 0 or series.height <= 0:
        raise LandmarksFileError(f"{source}: width/height must be positive, got {series.width}x{series.height}")
    wl = series.world_landmarks
    if wl is not None and wl.shape != (n, NUM_LANDMARKS, 4):
        raise LandmarksFileError(f"{source}: world_landmarks has shape {wl.shape}, expected [{n}, 33, 4]")
    mf = series.mask_features
    if mf is not None and (mf.ndim != 2 or mf.shape[0] != n or mf.shape[1] != len(series.mask_feature_names)):
        raise LandmarksFileError(f"{source}: mask_features has shape {mf.shape}, not [{n}, names]")
    return series


def load(path: str | os.PathLike[str]) -> LandmarkSeries:
    """Read a landmarks file, raising LandmarksFileError with a one-line reason if it is unusable."""
    p = Path(path)
    if not p.is_file():
        raise LandmarksFileError(f"{p}: no such landmarks file")
    try:
        with np.load(p, allow_pickle=False) as data:
            keys = set(data.files)
            missing = {"image_landmarks", "found", "fps", "width", "height"} - keys
            if missing:
                raise LandmarksFileError(f"{p}: not a landmarks file (missing {', '.join(sorted(missing))})")
            names = tuple(str(s) for s in data["mask_feature_names"]) if "mask_feature_names" in keys else ()
            series = LandmarkSeries(
                image_landmarks=np.asarray(data["image_landmarks"], dtype=np.float32),
                found=np.asarray(data["found"]).astype(bool).reshape(-1),
                fps=float(data["fps"]),
                width=int(data["width"]),
                height=int(data["height"]),
                world_landmarks=(
                    np.asarray(data["world_landmarks"], dtype=np.float32) if "world_landmarks" in keys else None
                ),
                mask_features=(
                    np.asarray(data["mask_features"], dtype=np.float32) if "mask_features" in keys else None
                ),
                mask_feature_names=names,
            )
    except LandmarksFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, KeyError, TypeError) as exc:
        raise LandmarksFileError(f"{p}: cannot read landmarks file ({exc.__class__.__name__}: {exc})") from None
    return validate(series, str(p))


def save(path: str | os.PathLike[str], series: LandmarkSeries) -> None:
    """Write atomically so an interrupted write never leaves a broken file."""
    validate(series)  # before anything touches the disk
    with atomic_writer(Path(path)) as fh:
        write_npz(fh, series)


def write_npz(fh: IO[bytes], series: LandmarkSeries) -> None:
    """The file's bytes into an open binary file (a member of a zip: hipcam.records.research_export)."""
    validate(series)
    arrays: dict[str, Any] = {
        "image_landmarks": series.image_landmarks.astype(np.float32),
        "found": series.found.astype(bool),
        "fps": np.float64(series.fps),
        "width": np.int64(series.width),
        "height": np.int64(series.height),
    }
    if series.world_landmarks is not None:
        arrays["world_landmarks"] = series.world_landmarks.astype(np.float32)
    if series.mask_features is not None:
        arrays["mask_features"] = series.mask_features.astype(np.float32)
        arrays["mask_feature_names"] = np.array(series.mask_feature_names, dtype=str)
    np.savez_compressed(fh, **arrays)
