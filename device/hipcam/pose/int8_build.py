"""Build the int8 landmark model on the machine itself (``hipcam build-int8``; docs/int8-model.md).

1. Calibration crops come from hipcam's own FP32 pipeline: every ``CROP_EVERY``-th frame of each
   clip, as filmed and mirrored (both running directions), exactly the 256x256 input the landmark
   model sees live. Every ``HOLDOUT_EVERY``-th crop is kept out of calibration to validate with.
2. The fetched model's FP16 constants are folded and a signature added (``int8_graph``).
3. ai-edge-quantizer's static int8 recipe (int8 weights per channel, int8 activations per tensor,
   min/max with a moving average) quantizes it, with float kept where int8 measurably breaks it:
   the graph's input and outputs, the stem (the first ``FLOAT_STEM_OPS`` ops, at 128x128, where
   per-layer error was largest) and the regression, world and pose-flag heads.
4. The result is checked against FP32 on the held-out crops (landmark distance in % of torso) and
   written atomically with a record: its SHA-256, the source model's, the clips', the recipe and
   the figures. ``validated`` says whether it meets the agreement the issue asks for.

Deterministic: the same model, clips and thread count give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hipcam.atomic import atomic_writer
from hipcam.domain import Landmark
from hipcam.pose import int8_graph
from hipcam.pose.landmarks import INPUT_SIZE, OUT_FLAG, OUT_HEATMAP, OUT_LANDMARKS, OUT_WORLD, refine_from_heatmap
from hipcam.pose.precision import INT8_FILE, INT8_RECORD
from hipcam.pose.runtime import TfliteModel
from hipcam.pose.tracker import BlazePose

CROP_EVERY = 4  # frames apart: neighbouring frames add little to a calibration set
HOLDOUT_EVERY = 5
FLOAT_STEM_OPS = 10
MAX_MEDIAN_PCT = 1.5  # agreement with FP32 that counts as validated (issue 12)
MAX_P95_PCT = 5.0
MIN_FLAG = 0.5  # crops FP32 itself sees no pose in are not scored

Progress = Callable[[str], None]


@dataclass
class Int8Record:
    """What is written next to the int8 model: how to make it again and how good it is."""

    sha256: str
    source_model: str
    source_sha256: str
    clips: dict[str, str]  # file name -> SHA-256
    calibration_crops: int
    holdout_crops: int
    float_ops: list[str]  # the op scopes kept in float
    quantizer: str
    recipe: list[dict[str, Any]]
    median_pct: float  # held-out landmark distance to FP32, % of torso
    p95_pct: float
    validated: bool
    thresholds: dict[str, float] = field(default_factory=lambda: {"median_pct": MAX_MEDIAN_PCT, "p95_pct": MAX_P95_PCT})


def record_path(models_dir: Path) -> Path:
    return models_dir / INT8_RECORD


def read_record(models_dir: Path) -> Int8Record | None:
    try:
        return Int8Record(**json.loads(record_path(models_dir).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def collect_crops(pose: BlazePose, clips: Iterable[Iterable[tuple[np.ndarray, float]]]) -> np.ndarray:
    """The landmark model's input on every ``CROP_EVERY``-th frame of each clip, filmed and mirrored.

    Each clip is an iterable of (RGB frame, timestamp) that can be iterated twice.
    """
    crops: list[np.ndarray] = []
    model = pose.landmark_model.model
    for clip in clips:
        for mirrored in (False, True):
            pose.reset()
            for i, (image, timestamp_s) in enumerate(clip):
                frame = np.ascontiguousarray(image[:, ::-1]) if mirrored else image
                found = pose.process(frame, timestamp_s) is not None
                if found and i % CROP_EVERY == 0:  # the input tensor still holds this frame's crop
                    crops.append(np.array(model.input_view()[0], dtype=np.float32))
    if not crops:
        raise ValueError("no person was found in the calibration clips")
    return np.stack(crops)


def _recipe(float_scopes: list[str]) -> list[dict[str, Any]]:
    from ai_edge_quantizer import recipe

    steps: list[dict[str, Any]] = list(recipe.static_wi8_ai8())
    steps += [{"regex": ".*", "operation": op, "algorithm_key": "no_quantize"} for op in ("INPUT", "OUTPUT")]
    steps += [{"regex": f"^{re.escape(s)}$", "operation": "*", "algorithm_key": "no_quantize"} for s in float_scopes]
    return steps


def float_scopes(prepared: bytes) -> list[str]:
    scopes = int8_graph.op_scopes(prepared)
    heads = int8_graph.head_ops(prepared, (OUT_LANDMARKS, OUT_FLAG, OUT_WORLD))
    return [scopes[k] for k in sorted({*range(FLOAT_STEM_OPS), *heads})]


def quantize(prepared: bytes, calibration: np.ndarray, scopes: list[str], progress: Progress) -> bytes:
    from ai_edge_quantizer import quantizer

    qt = quantizer.Quantizer(bytearray(prepared))
    qt.load_quantization_recipe(_recipe(scopes))
    with warnings.catch_warnings():
        # The quantizer reads every intermediate tensor, which LiteRT warns is "for debugging": here
        # it is the point.
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors", category=UserWarning)
        progress(f"calibrating on {len(calibration)} crops …")
        stats = qt.calibrate({int8_graph.SIGNATURE: [{"input_1": c[None]} for c in calibration]}, num_threads=1)
        progress("quantizing …")
        result = qt.quantize(stats, enable_progress_bar=False, enable_progress_report=False)
    return int8_graph.restore_output_names(bytes(result.quantized_model))


def _landmarks(model: TfliteModel, crop: np.ndarray) -> tuple[np.ndarray, float]:
    out = model.run(crop[None])
    xy = out[OUT_LANDMARKS].reshape(-1, 5)[: len(Landmark), :2].astype(np.float64) / INPUT_SIZE
    return refine_from_heatmap(xy, out[OUT_HEATMAP][0]) * INPUT_SIZE, float(out[OUT_FLAG].ravel()[0])


def agreement_pct(reference: TfliteModel, candidate: TfliteModel, crops: np.ndarray) -> tuple[float, float]:
    """Median and p95 landmark distance between two models on the same crops, in % of torso."""
    shoulders, hips = [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER], [Landmark.LEFT_HIP, Landmark.RIGHT_HIP]
    pct: list[np.ndarray] = []
    for crop in crops:
        (ref, flag), (cand, _) = _landmarks(reference, crop), _landmarks(candidate, crop)
        torso = float(np.linalg.norm(ref[shoulders].mean(0) - ref[hips].mean(0)))
        if flag >= MIN_FLAG and torso > 1.0:
            pct.append(100.0 * np.linalg.norm(cand - ref, axis=1) / torso)
    if not pct:
        return float("nan"), float("nan")
    every = np.concatenate(pct)
    return float(np.median(every)), float(np.percentile(every, 95))


def build(
    models_dir: Path,
    float_model: Path,
    crops: np.ndarray,
    clips: dict[str, str],
    progress: Progress = print,
) -> Int8Record:
    """Quantize, validate and write ``INT8_FILE`` and its record into ``models_dir``."""
    from importlib.metadata import version

    source = float_model.read_bytes()
    holdout = crops[::HOLDOUT_EVERY]
    calibration = np.delete(crops, np.s_[::HOLDOUT_EVERY], axis=0)
    progress("folding the FP16 constants and adding a signature …")
    prepared = int8_graph.prepare_for_quantizer(source)
    scopes = float_scopes(prepared)
    model = quantize(prepared, calibration, scopes, progress)
    progress(f"checking against FP32 on {len(holdout)} held-out crops …")
    median, p95 = agreement_pct(TfliteModel(float_model, 1), TfliteModel(float_model, 1, content=model), holdout)
    record = Int8Record(
        sha256=hashlib.sha256(model).hexdigest(),
        source_model=float_model.name,
        source_sha256=hashlib.sha256(source).hexdigest(),
        clips=clips,
        calibration_crops=len(calibration),
        holdout_crops=len(holdout),
        float_ops=scopes,
        quantizer=f"ai-edge-quantizer {version('ai-edge-quantizer')}",
        recipe=_recipe(scopes),
        median_pct=round(median, 3),
        p95_pct=round(p95, 3),
        validated=bool(median <= MAX_MEDIAN_PCT and p95 <= MAX_P95_PCT),
    )
    with atomic_writer(models_dir / INT8_FILE) as fh:
        fh.write(model)
    with atomic_writer(record_path(models_dir)) as fh:
        fh.write((json.dumps(asdict(record), indent=1) + "\n").encode())
    return record
