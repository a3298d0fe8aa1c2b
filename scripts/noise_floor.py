#!/usr/bin/env python3
"""How much a stride's figures move when the video changes imperceptibly: the FP32 model's own floor.

Writes a lossless (FFV1) copy of VIDEO with uniform noise of +-N/255 on every pixel (seeded), runs
`hipcam analyze --json` on the clip and on the copy in FP32, and compares them stride by stride as
scripts/compare_strides.py does (hip extension at toe-off, same class). Any other model (int8, lite)
can only be judged against FP32 relative to this floor. The copy is large (about 1 GB per minute of
720p): it goes to a temporary folder that is removed.
    scripts/noise_floor.py VIDEO [--fps F] [--noise 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_strides  # the sibling script (its folder is put on sys.path above)


def noisy_copy(video: Path, out: Path, noise: int, seed: int) -> int:
    """Frames written: VIDEO's frames with +-noise/255 uniform noise, lossless."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f"noise_floor: cannot open {video}")
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"FFV1"), cap.get(cv2.CAP_PROP_FPS) or 30.0, size)
    rng = np.random.default_rng(seed)
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        shaken = frame.astype(np.int16) + rng.integers(-noise, noise + 1, frame.shape, dtype=np.int16)
        writer.write(np.clip(shaken, 0, 255).astype(np.uint8))
        n += 1
    cap.release()
    writer.release()
    if n == 0:
        raise SystemExit(f"noise_floor: {video} has no readable frames")
    return n


def analyze(video: Path, json_out: Path, fps: float | None) -> None:
    cmd = [sys.executable, "-m", "hipcam.commands.cli", "analyze", str(video), "--json", str(json_out)]
    if fps is not None:
        cmd += ["--fps", str(fps)]
    env = {**os.environ, "HIPCAM_POSE__PRECISION": "fp32"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"noise_floor: hipcam analyze {video.name} failed:\n{done.stderr.strip()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--fps", type=float, default=None, help="the true capture rate (slow-motion clips)")
    ap.add_argument("--noise", type=int, default=2, choices=range(1, 17), metavar="N", help="+-N/255 (1-16)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hipcam-noise-") as tmp:
        work = Path(tmp)
        frames = noisy_copy(args.video, work / "noisy.mkv", args.noise, args.seed)
        print(f"{args.video.name}: {frames} frames, +-{args.noise}/255 noise (seed {args.seed}); FP32 on both")
        analyze(args.video, work / "clean.json", args.fps)
        analyze(work / "noisy.mkv", work / "noisy.json", args.fps)
        return compare_strides.main(str(work / "clean.json"), str(work / "noisy.json"))


if __name__ == "__main__":
    sys.exit(main())
