"""The real models on the lab clip against MediaPipe Pose 0.10.14's landmarks (issue 2 targets).

Slow (the whole 949-frame clip) but part of the normal suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hipcam import landmarks_file
from hipcam.compare import compare, format_comparison
from hipcam.config import HipcamConfig
from hipcam.pose.extract import extract_landmarks

CLIP = "treadmill_lab_side"
MEDIAN_MAX = 0.03  # of the reference torso length
P95_MAX = 0.10


@pytest.mark.slow
def test_lab_clip_matches_mediapipe(shared_data: Path, models_dir: Path) -> None:
    reference = landmarks_file.load(shared_data / "reference" / f"{CLIP}.mediapipe.npz")
    cfg = HipcamConfig(paths={"models_dir": models_dir})
    ours = extract_landmarks(shared_data / f"{CLIP}.mp4", cfg)
    assert (ours.width, ours.height, len(ours)) == (reference.width, reference.height, len(reference))
    assert ours.world_landmarks is not None and ours.world_landmarks.shape == (len(ours), 33, 4)
    result = compare(reference, ours)
    report = format_comparison(result)
    assert not result.missed, report  # found on every frame where the reference found the runner
    assert result.median <= MEDIAN_MAX, report
    assert result.p95 <= P95_MAX, report
