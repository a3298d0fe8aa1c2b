"""Which arithmetic the landmark model runs in, per board (``pose.precision``), and how many threads.

- ``fp32``: the float16-stored weights are widened at load and everything runs in FP32 (today's path).
- ``fp16``: the model's ``reduced_precision_support`` metadata is rewritten from ``fp16accfp32`` to
  ``fp16accfp16``, which lets XNNPACK run FP16 arithmetic, but only on a CPU that has it (ARMv8.2
  ``asimdhp``: the Pi 5's Cortex-A76; not the Pi 4's A72, not x86). Elsewhere the same bytes run FP32,
  so the hint is safe everywhere and never fails to load.
- ``int8``: a quantized landmark model built on the machine (``hipcam build-int8``: ``INT8_FILE`` in
  the models folder, with its record ``INT8_RECORD``); not shipped, and refused with the reason when
  it is not there.
- ``auto``: FP16 where the CPU has it; int8 where the CPU has no FP16 and the built int8 model's
  record says it passed its check against FP32 (``validated``); else FP32. The choice and why are logged, and shown by /healthz, /metrics and ``hipcam bench``.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from hipcam.errors import AssetError

PRECISIONS = ("auto", "fp32", "fp16", "int8")
INT8_FILE = "pose_landmark_full.int8.tflite"
INT8_RECORD = INT8_FILE + ".json"  # written by hipcam.pose.int8_build next to the model
_FP16_ACC_FP32 = b"fp16accfp32"
_FP16_ACC_FP16 = b"fp16accfp16"
MAX_AUTO_THREADS = 4  # XNNPACK gains little past 4 on these boards


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # fp32 | fp16 | int8: what the landmark model runs in
    requested: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"precision": self.precision, "requested": self.requested, "reason": self.reason}


def cpu_has_fp16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """ARM's half-precision SIMD arithmetic (``asimdhp``, ARMv8.2), which XNNPACK's FP16 kernels need."""
    if platform.machine().lower() not in ("aarch64", "arm64"):
        return False
    try:
        return any(
            "asimdhp" in line.split(":", 1)[-1].split()
            for line in cpuinfo.read_text().splitlines()
            if line.lower().startswith("features")
        )
    except OSError:
        return False


def int8_check(models_dir: Path) -> tuple[bool, str]:
    """Whether the built int8 model passed its check against FP32, and its figures in words."""
    try:
        record = json.loads((models_dir / INT8_RECORD).read_text())
        figures = f"median {record['median_pct']:.2f}%, p95 {record['p95_pct']:.2f}% of torso from FP32"
        return bool(record["validated"]), figures
    except (OSError, ValueError, KeyError, TypeError):
        return False, f"no readable {INT8_RECORD}"


def choose(requested: str, models_dir: Path, has_fp16: bool | None = None) -> PrecisionChoice:
    """The precision to run for ``pose.precision = requested`` on this machine."""
    fp16 = cpu_has_fp16() if has_fp16 is None else has_fp16
    int8_built = (models_dir / INT8_FILE).is_file()
    if requested == "fp32":
        return PrecisionChoice("fp32", requested, "asked for in the config")
    if requested == "fp16":
        why = "this CPU has FP16 arithmetic" if fp16 else "this CPU has no FP16 arithmetic: XNNPACK runs it in FP32"
        return PrecisionChoice("fp16", requested, why)
    if requested == "int8":
        if not int8_built:
            raise AssetError(f"pose.precision = int8, but {models_dir / INT8_FILE} is not built")
        return PrecisionChoice("int8", requested, "asked for in the config")
    if fp16:
        return PrecisionChoice("fp16", requested, "the CPU has FP16 arithmetic (ARMv8.2 asimdhp)")
    if not int8_built:
        return PrecisionChoice("fp32", requested, "no FP16 arithmetic on this CPU and no int8 model built")
    validated, figures = int8_check(models_dir)
    if validated:
        return PrecisionChoice(
            "int8", requested, f"no FP16 arithmetic on this CPU; the int8 model is validated ({figures})"
        )
    return PrecisionChoice(
        "fp32", requested, f"no FP16 arithmetic on this CPU; the int8 model is not validated ({figures})"
    )


def with_fp16_hint(model: bytes) -> bytes:
    """The model with FP16 accumulation allowed (same length: the metadata string is swapped in place)."""
    if model.count(_FP16_ACC_FP32) != 1:
        return model  # no such metadata (another model): nothing to allow
    return model.replace(_FP16_ACC_FP32, _FP16_ACC_FP16)


def landmark_model_bytes(choice: PrecisionChoice, float_model: Path, models_dir: Path) -> bytes:
    path = models_dir / INT8_FILE if choice.precision == "int8" else float_model
    if not path.is_file():
        raise AssetError(f"{path}: missing; run `hipcam fetch`")
    content = path.read_bytes()
    return with_fp16_hint(content) if choice.precision == "fp16" else content


def inference_threads(configured: int | str) -> int:
    """``pose.threads``; ``auto`` leaves one core for capture and the web server (3 on a 4-core Pi)."""
    if isinstance(configured, int):
        return configured
    return max(1, min(MAX_AUTO_THREADS, (os.cpu_count() or 2) - 1))
