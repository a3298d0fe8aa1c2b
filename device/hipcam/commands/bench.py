"""Pose throughput benchmark on one video: in memory and end to end, per stage, against the bare model.

Two passes on the same BlazePose instance:
1. end to end: decode + pose per frame, streaming (this pass's peak RSS is what analyzing costs);
2. in memory: the first frames (up to a memory budget) decoded beforehand, then pose alone.
The bare-model bound is the landmark model's own invoke time in pass 2: frames / sum(invoke time),
for the graph actually run (its segmentation branch is cut out when nothing reads the mask).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hipcam.atomic import atomic_writer
from hipcam.capture.opencv_source import OpenCVSource
from hipcam.commands.bench_agreement import Agreement, agreement
from hipcam.config import HipcamConfig
from hipcam.pose import budget
from hipcam.pose.landmarks import OUT_SEGMENTATION
from hipcam.pose.precision import PrecisionChoice
from hipcam.pose.tracker import DETECTOR_FILE, LANDMARK_FILE, BlazePose, StageTimings

MASK_SHARE = 0.34  # pose.mask_frames = "scheduled" on a 30 fps clip (hipcam bench VIDEO --mask-schedule)
BUDGET_FPS = 30.0  # the camera rate the detector's re-checks are amortized over
MEMORY_BUDGET_MB = 192  # pre-decoded frames for the in-memory pass
STAGES = ("decode", "preprocess", "detector", "landmark", "postprocess")


@dataclass(frozen=True)
class PassStats:
    frames: int
    found: int
    fps: float
    stage_ms: dict[str, float]  # mean per frame
    latency_p50_ms: float
    latency_p95_ms: float


@dataclass(frozen=True)
class BenchReport:
    video: str
    width: int
    height: int
    threads: int
    end_to_end: PassStats
    in_memory: PassStats
    bare_model_fps: float  # 1 / landmark-model invoke time, measured in the in-memory pass
    segmentation_pruned: bool  # the landmark graph ran without its (unused) segmentation branch
    peak_rss_end_to_end_mb: float
    peak_rss_mb: float
    precision: PrecisionChoice
    agreement: Agreement | None  # with FP32 on the in-memory frames (None when FP32 ran)

    @property
    def fraction_of_bound(self) -> float:
        return self.in_memory.fps / self.bare_model_fps if self.bare_model_fps else float("nan")


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def _stats(timings: list[StageTimings], decode_ms: list[float], found: int, wall_s: float) -> PassStats:
    n = len(timings)
    per_stage = {
        "decode": np.array(decode_ms) if decode_ms else np.zeros(n),
        "preprocess": np.array([t.preprocess_ms for t in timings]),
        "detector": np.array([t.detector_ms for t in timings]),
        "landmark": np.array([t.landmark_ms for t in timings]),
        "postprocess": np.array([t.postprocess_ms for t in timings]),
    }
    latency = sum(per_stage.values())
    return PassStats(
        frames=n,
        found=found,
        fps=n / wall_s if wall_s > 0 else float("nan"),
        stage_ms={k: float(v.mean()) if n else float("nan") for k, v in per_stage.items()},
        latency_p50_ms=float(np.percentile(latency, 50)) if n else float("nan"),
        latency_p95_ms=float(np.percentile(latency, 95)) if n else float("nan"),
    )


def _end_to_end(pose: BlazePose, source: OpenCVSource, max_frames: int | None) -> PassStats:
    timings: list[StageTimings] = []
    decode_ms: list[float] = []
    found = 0
    start = time.perf_counter()
    while max_frames is None or len(timings) < max_frames:
        t0 = time.perf_counter()
        frame = source.read()
        t1 = time.perf_counter()
        if frame is None:
            break
        decode_ms.append((t1 - t0) * 1e3)
        found += pose.process(frame.image, frame.timestamp_s) is not None
        timings.append(pose.timings)
    return _stats(timings, decode_ms, found, time.perf_counter() - start)


def _in_memory(pose: BlazePose, frames: list[np.ndarray], fps: float) -> tuple[PassStats, float]:
    pose.reset()
    timings: list[StageTimings] = []
    found = 0
    start = time.perf_counter()
    for i, image in enumerate(frames):
        found += pose.process(image, i / fps) is not None
        timings.append(pose.timings)
    wall = time.perf_counter() - start
    invoke_s = sum(t.landmark_ms for t in timings) / 1e3
    bound = len(frames) / invoke_s if invoke_s > 0 else float("nan")
    return _stats(timings, [], found, wall), bound


def _decode(video: Path, cfg: HipcamConfig, limit: int) -> tuple[list[np.ndarray], float]:
    source = OpenCVSource(str(video), "file", true_fps=cfg.capture.true_fps)
    source.open()
    try:
        frames: list[np.ndarray] = []
        while len(frames) < limit and (frame := source.read()) is not None:
            frames.append(frame.image)
        return frames, source.fps
    finally:
        source.close()


def run_bench(video: Path, cfg: HipcamConfig, max_frames: int | None = None) -> BenchReport:
    """Benchmark BlazePose on ``video``; raises VideoError/AssetError with a one-line reason."""
    source = OpenCVSource(str(video), "file", true_fps=cfg.capture.true_fps)
    source.open()  # a bad video fails before the models load
    try:
        pose = BlazePose.from_config(cfg)
        width, height = source.size
        e2e = _end_to_end(pose, source, max_frames)
    finally:
        source.close()
    rss_e2e = peak_rss_mb()
    budget = max(1, int(MEMORY_BUDGET_MB * 1024 * 1024 // (width * height * 3)))
    frames, fps = _decode(video, cfg, min(e2e.frames, budget))
    in_memory, bound = _in_memory(pose, frames, fps)
    agreed = None
    if pose.precision.precision != "fp32":
        fp32 = BlazePose.from_config(cfg.model_copy(update={"pose": cfg.pose.model_copy(update={"precision": "fp32"})}))
        agreed = agreement(pose, fp32, frames, fps)
    return BenchReport(
        video=str(video),
        width=width,
        height=height,
        threads=pose.threads,
        end_to_end=e2e,
        in_memory=in_memory,
        bare_model_fps=bound,
        segmentation_pruned=OUT_SEGMENTATION not in pose.landmark_model.model.output_names,
        peak_rss_end_to_end_mb=rss_e2e,
        peak_rss_mb=peak_rss_mb(),
        precision=pose.precision,
        agreement=agreed,
    )


def format_bench(r: BenchReport) -> str:
    def row(label: str, s: PassStats) -> str:
        stages = "  ".join(f"{k} {s.stage_ms[k]:.2f}" for k in STAGES)
        return (
            f"{label:<12} {s.frames:5d} frames  {s.fps:7.1f} frames/s  latency p50 {s.latency_p50_ms:.1f} ms"
            f"  p95 {s.latency_p95_ms:.1f} ms  person in {s.found}\n{'':<12} per stage (ms/frame): {stages}"
        )

    a = r.agreement
    agreed = (
        "agreement with FP32: FP32 itself"
        if a is None
        else f"agreement with FP32 over {a.frames} frames: median {a.median_pct:.2f}% of torso "
        f"({a.median_px:.2f} px), p95 {a.p95_pct:.2f}%; pose {a.speedup:.2f}x FP32's speed on the same "
        "frames, interleaved"
    )
    return "\n".join(
        [
            f"precision {r.precision.precision} (pose.precision = {r.precision.requested}: {r.precision.reason})",
            f"{r.video}: {r.width}x{r.height}, {r.threads} interpreter threads, landmark graph "
            + ("without its segmentation branch (no mask consumer)" if r.segmentation_pruned else "complete"),
            row("end to end", r.end_to_end),
            row("in memory", r.in_memory),
            f"bare landmark model: {r.bare_model_fps:.1f} frames/s; in-memory pose = "
            f"{r.fraction_of_bound:.0%} of that bound",
            f"peak RSS: {r.peak_rss_end_to_end_mb:.0f} MB after the end-to-end pass, "
            f"{r.peak_rss_mb:.0f} MB with the in-memory frames",
            agreed,
        ]
    )


def write_json(r: BenchReport, path: Path) -> None:
    """The figures for scripts and the arm64 check (keys as documented in the README)."""
    a = r.agreement
    figures = {
        "precision": r.precision.precision,
        "precision_reason": r.precision.reason,
        "threads": r.threads,
        "fps_in_memory": round(r.in_memory.fps, 2),
        "fps_end_to_end": round(r.end_to_end.fps, 2),
        "stage_ms": {k: round(v, 3) for k, v in r.in_memory.stage_ms.items()},
        "agreement_median_pct": 0.0 if a is None else round(a.median_pct, 3),
        "agreement_p95_pct": 0.0 if a is None else round(a.p95_pct, 3),
        "speedup_vs_fp32": 1.0 if a is None else round(a.speedup, 3),
        "peak_rss_mb": round(r.peak_rss_mb, 1),
    }
    with atomic_writer(path) as f:
        f.write(json.dumps(figures, indent=2).encode())


def format_budget(cfg: HipcamConfig) -> str:
    """``hipcam bench --budget``: MACs per frame of each live configuration, counted from the graphs,
    and the frame rates they imply on a Pi 4 and a Pi 5 (README, "Frame rate on a Pi")."""
    models = cfg.paths.models()
    full = budget.count_file(models / LANDMARK_FILE)
    pruned = budget.count_file(models / LANDMARK_FILE, (OUT_SEGMENTATION,))
    detector = budget.count_file(models / DETECTOR_FILE)
    configs = budget.configurations(full, pruned, detector, BUDGET_FPS, cfg.pose.recheck_interval_s, MASK_SHARE)
    return "\n\n".join([budget.budget_table([full, pruned, detector], configs), budget.estimates_table(configs)])
