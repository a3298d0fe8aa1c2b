"""Helpers of scripts/arm64-check: the lock evaluated for aarch64, the pose run, and the comparison.

  arm64_check.py requirements LOCK      the lock's pins for aarch64 (markers evaluated as on a Pi), hashes kept
  arm64_check.py pose VIDEO OUT PREC N  landmarks of N frames of VIDEO in precision PREC, saved to OUT (npz)
  arm64_check.py compare X86 ARM32 ARM16  the figures, and exit 1 unless FP32 agrees within 0.5 px
                                        and FP16 engaged (differs from FP32) within 1 px (medians over
                                        the landmark positions; mean, p95 and max are printed too)

The two FP32 runs differ by more than the arithmetic: the aarch64 lock pins OpenCV 4.11 and numpy 1.26
(for apt's picamera2), x86 OpenCV 5 and numpy 2, and the crop is resampled by OpenCV, so each frame's
crop, and then the tracked region, move by a fraction of a pixel.
"""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path

import numpy as np

FP32_MAX_PX = 0.5
FP16_MAX_PX = 1.0
_PI_ENV = {"platform_machine": "aarch64", "sys_platform": "linux", "platform_system": "Linux"}


def requirements(lock: Path) -> str:
    """Each pin whose marker holds on aarch64, without the marker (pip on the host would test its own)."""
    from packaging.markers import Marker

    text = lock.read_text().replace("\\\n", " ")
    kept = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec = line.partition(" --hash=")[0]
        requirement, _, marker = spec.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate(_PI_ENV):
            continue
        hashes = re.findall(r"sha256:[0-9a-f]{64}", line)
        kept.append(requirement.strip() + " " + " ".join(f"--hash={h}" for h in hashes))
    return "\n".join(kept) + "\n"


def pose(video: Path, out: Path, precision: str, frames: int) -> None:
    from hipcam.commands.extract import extract_landmarks
    from hipcam.config import HipcamConfig
    from hipcam.records import landmarks_file

    cfg = HipcamConfig.model_validate({"pose": {"precision": precision, "threads": 2}})
    series = extract_landmarks(video, cfg, max_frames=frames)
    landmarks_file.save(out, series)
    print(f"{platform.machine()} {precision}: {int(series.found.sum())}/{len(series)} frames with a person -> {out}")


def _pixels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        lm = z["image_landmarks"][..., :2].astype(np.float64) * np.array([float(z["width"]), float(z["height"])])
        return lm, z["found"].astype(bool)


def _distance(a: Path, b: Path) -> np.ndarray:
    (pa, fa), (pb, fb) = _pixels(a), _pixels(b)
    both = fa & fb
    return np.linalg.norm(pa[both] - pb[both], axis=-1).ravel()


def compare(x86: Path, arm_fp32: Path, arm_fp16: Path) -> int:
    fp32, fp16 = _distance(x86, arm_fp32), _distance(arm_fp32, arm_fp16)
    ok = True
    for label, d, limit, must_differ in (
        ("arm64 FP32 vs x86 FP32", fp32, FP32_MAX_PX, False),
        ("arm64 FP16 vs arm64 FP32", fp16, FP16_MAX_PX, True),
    ):
        if d.size == 0:
            print(f"{label}: no frame with a person in both runs")
            ok = False
            continue
        median = float(np.median(d))
        print(
            f"{label}: median {median:.3f} px, mean {d.mean():.3f}, p95 {np.percentile(d, 95):.3f}, "
            f"max {d.max():.3f} ({d.size} landmark positions); limit: median <= {limit} px"
            + ("; must differ (FP16 engaged)" if must_differ else "")
        )
        ok &= median <= limit and (not must_differ or float(d.mean()) > 0.0)
    print("arm64 check: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["requirements"] and len(argv) == 2:
        sys.stdout.write(requirements(Path(argv[1])))
        return 0
    if argv[:1] == ["pose"] and len(argv) == 5:
        pose(Path(argv[1]), Path(argv[2]), argv[3], int(argv[4]))
        return 0
    if argv[:1] == ["compare"] and len(argv) == 4:
        return compare(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
