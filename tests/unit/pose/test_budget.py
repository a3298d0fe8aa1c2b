"""The compute budget is counted from the graphs (hipcam.pose.budget), not typed in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hipcam.errors import AssetError
from hipcam.pose import budget
from hipcam.pose.landmarks import OUT_SEGMENTATION
from hipcam.pose.tracker import DETECTOR_FILE, LANDMARK_FILE


def test_the_landmark_and_detector_graphs_count_to_their_known_size(models_dir: Path) -> None:
    full = budget.count_file(models_dir / LANDMARK_FILE)
    pruned = budget.count_file(models_dir / LANDMARK_FILE, (OUT_SEGMENTATION,))
    detector = budget.count_file(models_dir / DETECTOR_FILE)
    # MediaPipe 0.10.14's graphs (SHA-256 pinned): 0.386 / 0.351 / 0.430 GMAC per invoke.
    assert full.gmac == pytest.approx(0.386, abs=0.002)
    assert pruned.gmac == pytest.approx(0.351, abs=0.002)
    assert detector.gmac == pytest.approx(0.430, abs=0.002)
    assert pruned.operators < full.operators  # the segmentation branch's operators are gone


def test_macs_of_each_operator_kind_follow_their_shapes() -> None:
    out = [1, 8, 8, 16]
    assert budget._macs("CONV_2D", [[1, 16, 16, 4], [16, 3, 3, 4]], out) == 8 * 8 * 16 * 3 * 3 * 4
    assert budget._macs("DEPTHWISE_CONV_2D", [[1, 16, 16, 16], [1, 3, 3, 16]], out) == 8 * 8 * 16 * 9
    assert budget._macs("FULLY_CONNECTED", [[1, 32], [10, 32]], [1, 10]) == 320
    assert budget._macs("ADD", [out, out], out) is None


def test_configurations_amortize_the_detector_and_mix_the_mask() -> None:
    g = budget.GraphBudget
    full, pruned, det = g("f", 400_000_000, 0, 1), g("p", 300_000_000, 0, 1), g("d", 450_000_000, 0, 1)
    every, never, mixed = budget.configurations(full, pruned, det, fps=30.0, recheck_interval_s=1.0, mask_share=0.5)
    assert every.detector_gmac_per_frame == pytest.approx(0.015)
    assert never.landmark_gmac == pytest.approx(0.3)
    assert mixed.landmark_gmac == pytest.approx(0.35)
    assert budget.estimated_fps(never, budget.ANCHORS[0], "int8") > budget.estimated_fps(
        never, budget.ANCHORS[0], "fp32"
    )


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(AssetError, match="not a TFLite"):
        budget.count_file(bad)


def test_bench_budget_prints_the_table_and_the_board_estimates(models_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hipcam", "bench", "--budget"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pose_landmark_full.tflite without Identity_2" in done.stdout
    assert "Pi 4" in done.stdout and "Pi 5" in done.stdout and "XNNPACK README" in done.stdout
