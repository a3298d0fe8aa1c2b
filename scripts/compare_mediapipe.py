#!/usr/bin/env python3
"""Throughput of hipcam's BlazePose against Google's MediaPipe Pose, same machine, same frames.

MediaPipe is never a hipcam dependency: this script builds a throwaway venv under /tmp with
mediapipe==0.10.14 plus hipcam (editable, for this comparison only), then re-runs itself there.
The clip is decoded into memory once; each round runs MediaPipe (Pose solution, video mode,
model_complexity=1, smoothing on) and hipcam over the same frames, taking turns every --chunk
frames, and the bare landmark-model bound is hipcam's own landmark-model invoke time in the same
round. MediaPipe's desktop build runs XNNPACK on 1 thread (GetXnnpackDefaultNumThreads); hipcam uses
pose.threads (2 by default); --threads 1 gives the like-for-like comparison. Medians over rounds are printed.

    python3 scripts/compare_mediapipe.py [--video CLIP] [--rounds 3] [--frames N] [--chunk 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "treadmill_lab_side.mp4"
VENV = Path(os.environ.get("HIPCAM_MP_VENV", "/tmp/hipcam-mediapipe-venv"))
PACKAGES = ["mediapipe==0.10.14", "ai-edge-litert>=1.2", "scipy", "pydantic>=2.5", "tqdm"]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / ".hipcam-ready"
    if not marker.exists():
        print(f"creating throwaway venv {VENV} (mediapipe==0.10.14) ...", file=sys.stderr)
        venv.create(VENV, with_pip=True, clear=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *PACKAGES], check=True)
        subprocess.run([*pip, "--no-deps", "-e", str(REPO)], check=True)
        marker.touch()
    return python


def decode(video: Path, limit: int | None) -> tuple[list[Any], float]:
    """The clip's frames (RGB) and its frame rate (30 when the file does not say)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames: list[Any] = []
    while limit is None or len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise SystemExit(f"{video}: no frames decoded")
    return frames, fps


def run_round(pose: Any, frames: list[Any], fps: float, chunk: int) -> tuple[float, float, float]:
    """One pass over the clip by both pipelines, interleaved chunk by chunk so background load hits
    both alike; each keeps its own tracking state across chunks. Returns frames/s for MediaPipe,
    hipcam and hipcam's bare landmark-model bound."""
    import mediapipe as mp

    pose.reset()
    mp_s = hc_s = invoke_ms = 0.0
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True) as mp_pose:
        for k, first in enumerate(range(0, len(frames), chunk)):
            part = frames[first : first + chunk]
            for who in ("mediapipe", "hipcam") if k % 2 == 0 else ("hipcam", "mediapipe"):
                start = time.perf_counter()
                if who == "mediapipe":
                    for image in part:
                        mp_pose.process(image)
                    mp_s += time.perf_counter() - start
                else:
                    for i, image in enumerate(part, first):
                        pose.process(image, i / fps)
                        invoke_ms += pose.timings.landmark_ms
                    hc_s += time.perf_counter() - start
    n = len(frames)
    return n / mp_s, n / hc_s, n / (invoke_ms / 1e3)


def worker(args: argparse.Namespace) -> None:
    from hipcam.config import HipcamConfig
    from hipcam.pose.tracker import BlazePose

    cfg = HipcamConfig(pose={"threads": args.threads}) if args.threads else HipcamConfig()
    frames, fps = decode(args.video, args.frames)
    h, w = frames[0].shape[:2]
    print(
        f"{args.video.name}: {len(frames)} frames {w}x{h} in memory; hipcam threads={cfg.pose.threads}; "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; chunks of {args.chunk} frames; "
        f"segmentation {'kept' if args.keep_mask else 'pruned'}"
    )
    # --keep-mask: the full landmark model with its segmentation branch, as the live service runs it.
    pose = BlazePose.from_config(cfg, keep_mask=args.keep_mask)
    run_round(pose, frames[:30], fps, args.chunk)  # warm-up: first invokes pack weights, load graphs
    mp_fps, hc_fps, bound = [], [], []
    for r in range(args.rounds):
        m, h_, b = run_round(pose, frames, fps, args.chunk)
        mp_fps.append(m)
        hc_fps.append(h_)
        bound.append(b)
        print(f"round {r + 1}: mediapipe {m:6.1f} fps | hipcam {h_:6.1f} fps | bare landmark model {b:6.1f} fps")
    m, h_, b = statistics.median(mp_fps), statistics.median(hc_fps), statistics.median(bound)
    ratios = [x / y for x, y in zip(hc_fps, mp_fps, strict=True)]
    bounds = [x / y for x, y in zip(hc_fps, bound, strict=True)]
    print(f"median over {args.rounds} rounds: mediapipe {m:.1f} fps, hipcam {h_:.1f} fps, bare model {b:.1f} fps")
    print(
        f"hipcam / mediapipe = {statistics.median(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)}); "
        f"hipcam / bare-model bound = {statistics.median(bounds):.0%} (rounds: "
        f"{', '.join(f'{x:.0%}' for x in bounds)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames")
    parser.add_argument("--chunk", type=int, default=50, help="frames per interleaved turn")
    parser.add_argument("--threads", type=int, default=None, help="hipcam interpreter threads (default: config)")
    parser.add_argument("--keep-mask", action="store_true", help="keep the segmentation output (as live)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if not args.video.is_file():
        raise SystemExit(f"{args.video}: no such video")
    python = ensure_venv()
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", "--video", str(args.video)]
    for flag in ("rounds", "frames", "chunk", "threads"):
        if getattr(args, flag) is not None:
            cmd += [f"--{flag}", str(getattr(args, flag))]
    if args.keep_mask:
        cmd.append("--keep-mask")
    env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="2")
    raise SystemExit(subprocess.run(cmd, env=env, check=False).returncode)


if __name__ == "__main__":
    main()
