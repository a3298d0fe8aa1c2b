#!/usr/bin/env python3
"""Per-frame cost of the live gait analysis, replaying a landmarks file (hipcam analyze --landmarks-out).

    .venv/bin/python scripts/bench_gait.py LANDMARKS.npz [--fps 30] [--rounds 3]

Prints the median, p95 and max of the time one LiveGait.update() takes, over all frames of each
round, and the whole offline analysis's time, so the two can be compared side by side in one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hipcam.config import HipcamConfig
from hipcam.gait.live import LiveGait
from hipcam.gait.offline import analyze, mask_matrix
from hipcam.records import landmarks_file


def _live_round(series: landmarks_file.LandmarkSeries, fps: float) -> np.ndarray:
    params = HipcamConfig().gait
    live = LiveGait(params, fps_hint=fps, frame_size=(series.width, series.height))
    lm, mask = np.asarray(series.image_landmarks), mask_matrix(series)
    times = np.empty(len(series))
    for i in range(len(series)):
        pose = lm[i] if series.found[i] else None
        t0 = time.perf_counter()
        live.update(i / fps, pose, None if mask is None else mask[i])
        times[i] = time.perf_counter() - t0
    return times * 1000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("landmarks")
    ap.add_argument("--fps", type=float, help="the true capture rate (default: the file's)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    series = landmarks_file.load(args.landmarks)
    fps = args.fps or series.fps
    for r in range(args.rounds):
        ms = _live_round(series, fps)
        t0 = time.perf_counter()
        analyze(series, HipcamConfig().gait, fps=fps)
        offline_ms = (time.perf_counter() - t0) * 1000.0
        print(f"round {r + 1}: live per frame median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, "
              f"max {ms.max():.1f} ms over {len(ms)} frames at {fps:g} fps; offline whole clip {offline_ms:.0f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
