"""``hipcam bench VIDEO --mask-schedule``: the live analysis with the mask scheduled, against the mask
on every frame and against no mask at all, on the same frames.

Three live analyzers (hipcam.service.frame_analysis.Analyzer, each with its own BlazePose and gait
tracker) are fed the same decoded frames, interleaved frame by frame, so the machine's noise hits
them alike. Printed: the landmark model's time per frame of each, the share of frames that ran the
mask, the scheduled path's model time over the maskless one's, and stride by stride whether the
scheduled path classifies as the mask-every-frame one does.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

import numpy as np

from hipcam.capture.opencv_source import OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.gait.strides import Stride
from hipcam.pose.tracker import BlazePose
from hipcam.service.capture_worker import CapturedFrame
from hipcam.service.frame_analysis import Analyzer, make_gait

MODES = ("all", "scheduled", "none")


@dataclass
class _Run:
    analyzer: Analyzer
    pose: BlazePose
    landmark_ms: list[float] = field(default_factory=list)
    masked: int = 0
    strides: list[Stride] = field(default_factory=list)


def _runs(cfg: HipcamConfig) -> dict[str, _Run]:
    runs = {}
    for mode in MODES:
        pose_cfg = cfg.pose.model_copy(update={"mask_frames": "all" if mode == "all" else "scheduled"})
        mode_cfg = cfg.model_copy(update={"pose": pose_cfg})
        # "none" is the graph with the segmentation branch cut out (what runs without a mask consumer).
        pose = BlazePose.from_config(mode_cfg, keep_mask=mode != "none", scheduled_mask=mode == "scheduled")
        runs[mode] = _Run(Analyzer(mode_cfg, pose, make_gait), pose)
    return runs


def _paired(reference: list[Stride], candidate: list[Stride]) -> list[tuple[Stride, Stride]]:
    pairs = []
    for r in reference:
        same_leg = [c for c in candidate if c.leg == r.leg]
        if same_leg:
            c = min(same_leg, key=lambda c: abs(c.foot_strike_frame - r.foot_strike_frame))
            if abs(c.foot_strike_frame - r.foot_strike_frame) <= 0.5 * (r.end_frame - r.foot_strike_frame):
                pairs.append((r, c))
    return pairs


def run_mask_bench(cfg: HipcamConfig, video: str, max_frames: int | None) -> str:
    runs = _runs(cfg)
    source = OpenCVSource(video, "file", true_fps=cfg.capture.true_fps)
    source.open()
    try:
        for frame in iter(source.read, None):
            if max_frames is not None and _frames_seen(runs) >= max_frames:
                break
            captured = CapturedFrame(frame.image, frame.index, frame.timestamp_s, 0.0)
            for run in runs.values():
                analysis = run.analyzer.run(captured)
                run.landmark_ms.append(run.pose.timings.landmark_ms)
                run.masked += run.pose.masked
                run.strides += analysis.update.strides
    finally:
        source.close()
    return _format(video, runs)


def _frames_seen(runs: dict[str, _Run]) -> int:
    return len(runs["all"].landmark_ms)


def _format(video: str, runs: dict[str, _Run]) -> str:
    frames = _frames_seen(runs)
    mean = {m: float(np.mean(r.landmark_ms)) if r.landmark_ms else float("nan") for m, r in runs.items()}
    lines = [f"{video}: {frames} frames, the live analysis three ways, interleaved frame by frame"]
    for mode, run in runs.items():
        classes = "".join(s.cls for s in run.strides) or "-"
        lines.append(
            f"mask {mode:<9} landmark model {mean[mode]:6.2f} ms/frame (median {np.median(run.landmark_ms):.2f}), "
            f"mask on {run.masked / max(frames, 1):4.0%} of frames, {len(run.strides)} strides: {classes}"
        )
    lines.append(f"scheduled / no mask: model time {mean['scheduled'] / mean['none']:.3f}x (target <= 1.15)")
    lines.append(f"all / no mask: model time {mean['all'] / mean['none']:.3f}x")
    pairs = _paired(runs["all"].strides, runs["scheduled"].strides)
    same = sum(a.cls == b.cls for a, b in pairs)
    lines.append(
        f"classes, scheduled vs every frame: {same}/{len(pairs)} paired strides the same "
        f"({len(runs['all'].strides)} and {len(runs['scheduled'].strides)} strides)"
    )
    lines.append(
        f"peak RSS (the three analyzers together): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    return "\n".join(lines)
