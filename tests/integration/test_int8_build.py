"""The int8 landmark model build (hipcam.pose.int8_build, `hipcam build-int8`) on the real model and
the demo clip: the graph edits change no output, the build is deterministic, and what it writes
loads and runs exactly where the float model does."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipcam.capture.opencv_source import OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.pose import int8_build, int8_graph, precision
from hipcam.pose.landmarks import OUT_LANDMARKS, OUT_SEGMENTATION
from hipcam.pose.runtime import TfliteModel
from hipcam.pose.tracker import LANDMARK_FILE, BlazePose


def _frames(clip: Path, n: int) -> list[tuple[np.ndarray, float]]:
    source = OpenCVSource(str(clip), "file")
    source.open()
    try:
        return [(f.image, f.timestamp_s) for f in itertools.islice(iter(source.read, None), n)]
    finally:
        source.close()


@pytest.fixture(scope="module")
def crops(models_dir: Path, demo_clip: Path) -> np.ndarray:
    cfg = HipcamConfig()
    cfg = cfg.model_copy(update={"pose": cfg.pose.model_copy(update={"precision": "fp32", "threads": 2})})
    return int8_build.collect_crops(BlazePose.from_config(cfg, models_dir=models_dir), [_frames(demo_clip, 48)])


def test_crops_are_the_landmark_models_input_from_both_directions(crops: np.ndarray) -> None:
    assert crops.shape[1:] == (256, 256, 3) and crops.dtype == np.float32
    assert len(crops) >= 20  # 48 frames, every 4th, as filmed and mirrored: 24 where the walker is found
    assert crops.min() >= 0.0 and crops.max() <= 1.0


def test_folding_the_fp16_constants_changes_no_output(models_dir: Path, crops: np.ndarray) -> None:
    source = (models_dir / LANDMARK_FILE).read_bytes()
    prepared = int8_graph.prepare_for_quantizer(source)
    original, folded = TfliteModel(models_dir / LANDMARK_FILE, 1), TfliteModel("prepared", 1, content=prepared)
    a, b = original.run(crops[0]), folded.run(crops[0])
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])  # FP16 -> FP32 is exact: the same arithmetic
    heads = int8_graph.head_ops(prepared, (OUT_LANDMARKS,))
    assert len(heads) == 2  # the regression conv and its reshape
    assert int8_graph.op_scopes(prepared)[heads[-1]] == f"{OUT_LANDMARKS};"


@pytest.mark.slow
def test_the_build_is_deterministic_and_runs_like_the_float_model(
    models_dir: Path, crops: np.ndarray, tmp_path: Path
) -> None:
    shas = []
    for run in ("first", "second"):
        out = tmp_path / run
        out.mkdir()
        record = int8_build.build(out, models_dir / LANDMARK_FILE, crops, {"demo.mp4": "x"}, progress=lambda _: None)
        built = (out / precision.INT8_FILE).read_bytes()
        assert hashlib.sha256(built).hexdigest() == record.sha256
        shas.append(record.sha256)
    assert shas[0] == shas[1]
    saved = json.loads((tmp_path / "first" / precision.INT8_RECORD).read_text())
    assert saved["validated"] == (saved["median_pct"] <= 1.5 and saved["p95_pct"] <= 5.0)
    assert saved["calibration_crops"] + saved["holdout_crops"] == len(crops)
    assert any(op.startswith("Identity;") for op in saved["float_ops"])
    # Loads by the same output names, and the live path can still cut the segmentation branch out.
    int8 = TfliteModel(tmp_path / "first" / precision.INT8_FILE, 1, drop_outputs=(OUT_SEGMENTATION,))
    assert OUT_SEGMENTATION not in int8.output_names and OUT_LANDMARKS in int8.output_names
    assert np.isfinite(int8.run(crops[0])[OUT_LANDMARKS]).all()
    choice = precision.choose("auto", tmp_path / "first", has_fp16=False)
    assert choice.precision == ("int8" if saved["validated"] else "fp32")
    assert f"median {saved['median_pct']:.2f}%" in choice.reason


def test_build_int8_names_a_missing_clip_without_a_traceback(models_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hipcam",
            "build-int8",
            "--models-dir",
            str(models_dir),
            "--clip",
            str(tmp_path / "no.mp4"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "no.mp4: no such file" in proc.stderr and "Traceback" not in proc.stderr
