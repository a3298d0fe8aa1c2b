"""`hipcam bench VIDEO --mask-schedule` on the demo clip: three live analyzers on the same frames."""

from __future__ import annotations

import re
from pathlib import Path

from hipcam.commands.bench_mask import run_mask_bench
from hipcam.config import HipcamConfig


def test_the_mask_bench_compares_every_frame_scheduled_and_none(models_dir: Path, demo_clip: Path) -> None:
    cfg = HipcamConfig.model_validate({"pose": {"threads": 1}, "paths": {"models_dir": str(models_dir)}})
    out = run_mask_bench(cfg, str(demo_clip), 45)
    assert "45 frames" in out
    share = {m: int(s) for m, s in re.findall(r"mask (all|scheduled|none)\s+landmark model .*? mask on\s+(\d+)%", out)}
    assert share["all"] == 100 and share["none"] == 0
    assert 0 < share["scheduled"] < 100  # the first frame at least, never all
    ratio = float(re.search(r"scheduled / no mask: model time ([\d.]+)x", out).group(1))  # type: ignore[union-attr]
    assert ratio > 0.5
