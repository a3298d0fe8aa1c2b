"""``hipcam build-int8``: make the int8 landmark model from the fetched one, on this machine.

The calibration footage is what ``hipcam fetch`` put in the models folder (the demo clip and
Pose2Sim's eight demo videos), plus any ``--clip`` a clinic adds of its own runners. The build is
skipped when the model already there was made from the same source model, clips and quantizer
(``--force`` rebuilds). See hipcam.pose.int8_build for the recipe.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from hipcam.assets import load_manifest, sha256_of
from hipcam.capture.opencv_source import OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.errors import AssetError, HipcamError
from hipcam.pose import int8_build
from hipcam.pose.precision import INT8_FILE
from hipcam.pose.tracker import LANDMARK_FILE, BlazePose

BUILD_THREADS = 2  # fixed, so that the crops (and so the model) do not depend on the machine's cores
CALIBRATION_PREFIXES = ("demo", "calibration_")


class _Clip:
    """A video file's frames as (RGB image, timestamp), readable more than once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        source = OpenCVSource(str(self.path), "file")
        source.open()
        try:
            while (frame := source.read()) is not None:
                yield frame.image, frame.timestamp_s
        finally:
            source.close()


def default_clips(models_dir: Path) -> list[Path]:
    """The fetched footage meant for calibration, in the manifest's order."""
    files = [a.file for a in load_manifest() if a.file.endswith(".mp4") and a.file.startswith(CALIBRATION_PREFIXES)]
    missing = [f for f in files if not (models_dir / f).is_file()]
    if missing:
        raise AssetError(f"{models_dir / missing[0]}: missing; run `hipcam fetch` first")
    return [models_dir / f for f in files]


def _quantizer_version() -> str:
    try:
        return f"ai-edge-quantizer {version('ai-edge-quantizer')}"
    except PackageNotFoundError:
        raise HipcamError("build-int8 needs ai-edge-quantizer (pyproject.toml); run scripts/setup") from None


def _up_to_date(models_dir: Path, source_sha: str, clips: dict[str, str]) -> bool:
    record = int8_build.read_record(models_dir)
    built = models_dir / INT8_FILE
    return (
        record is not None
        and built.is_file()
        and sha256_of(built) == record.sha256
        and record.source_sha256 == source_sha
        and record.clips == clips
        and record.quantizer == _quantizer_version()
    )


def run_build_int8(cfg: HipcamConfig, models_dir: Path, extra_clips: list[Path], force: bool = False) -> int:
    float_model = models_dir / LANDMARK_FILE
    if not float_model.is_file():
        raise AssetError(f"{float_model}: missing; run `hipcam fetch` first")
    _quantizer_version()
    paths = default_clips(models_dir) + extra_clips
    for path in extra_clips:
        if not path.is_file():
            raise HipcamError(f"--clip {path}: no such file")
    clips = {p.name: sha256_of(p) for p in paths}
    if not force and _up_to_date(models_dir, sha256_of(float_model), clips):
        print(f"ok       {INT8_FILE} (built from these clips and this model; --force rebuilds)")
        return 0
    started = time.monotonic()
    fp32 = cfg.model_copy(update={"pose": cfg.pose.model_copy(update={"precision": "fp32", "threads": BUILD_THREADS})})
    pose = BlazePose.from_config(fp32, models_dir=models_dir)
    crops = []
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] crops from {path.name} (as filmed and mirrored) …", flush=True)
        crops.append(int8_build.collect_crops(pose, [_Clip(path)]))
    record = int8_build.build(models_dir, float_model, np.concatenate(crops), clips, progress=_say)
    verdict = "validated" if record.validated else "NOT validated: pose.precision = auto will not pick it"
    print(
        f"ok       {INT8_FILE} sha256 {record.sha256[:16]}… in {time.monotonic() - started:.0f} s, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB\n"
        f"         held-out agreement with FP32: median {record.median_pct:.2f}% of torso, "
        f"p95 {record.p95_pct:.2f}% (limits {int8_build.MAX_MEDIAN_PCT}% / {int8_build.MAX_P95_PCT}%): {verdict}"
    )
    return 0


def _say(message: str) -> None:
    print(f"         {message}", flush=True)
