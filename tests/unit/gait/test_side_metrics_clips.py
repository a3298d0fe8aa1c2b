"""The side-view metric set on the shared treadmill clips, through the offline analysis of MediaPipe's
cached reference landmarks (no model run): values a biomechanist would accept, medians printed
(`pytest -s`), and the lab clip's flight against its hand-labelled events."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from paths import SHARED_DATA

from hipcam.config.gait import GaitParams
from hipcam.gait.offline import analyze
from hipcam.gait.strides import GaitReport
from hipcam.records.landmarks_file import load

P = GaitParams()
# Per metric, the range the median over a clip's strides must fall in (docs/side-view-metrics.md).
MEDIAN_RANGES = {
    "knee_flexion_at_strike_deg": (0.0, 40.0),
    "knee_flexion_peak_stance_deg": (20.0, 60.0),
    "shank_angle_at_strike_deg": (-25.0, 25.0),
    "foot_inclination_at_strike_deg": (-25.0, 30.0),
    "overstride_trunk": (-0.2, 0.8),
    "vertical_oscillation_trunk": (0.05, 0.5),
    "flight_s": (0.0, 0.35),
}


def _report(name: str, fps: float | None) -> GaitReport:
    path = SHARED_DATA / "reference" / f"{name}.mediapipe.npz"
    if not path.is_file():
        pytest.skip(f"shared reference landmarks not found at {path} (../shared/data is absent)")
    return analyze(load(path), P, fps=fps)


def _values(r: GaitReport, key: str) -> list[float]:
    return [v for s in r.strides if (v := getattr(s.side, key)) is not None and math.isfinite(v)]


# The lab clip is slow motion: 240 fps is the capture rate its cadence fits (tests/unit/gait/test_gait_units).
@pytest.mark.parametrize(("name", "fps"), [("treadmill_lab_side", 240.0), ("treadmill_home_side", None)])
def test_plausible_on_the_shared_clips(name: str, fps: float | None) -> None:
    r = _report(name, fps)
    medians = {}
    for key, (lo, hi) in MEDIAN_RANGES.items():
        values = _values(r, key)
        assert len(values) >= 5, key
        medians[key] = float(np.median(values))
        assert lo <= medians[key] <= hi, (key, medians[key])
    assert all(f >= 0.0 for f in _values(r, "flight_s"))
    patterns = [s.side.foot_strike_pattern for s in r.strides if s.side.foot_strike_pattern]
    print(name, {k: round(v, 3) for k, v in medians.items()}, {p: patterns.count(p) for p in set(patterns)})


def test_lab_clip_against_its_hand_labels() -> None:
    """The truth labels no angle at foot strike, only the events: its flight phases (13-15 slow-motion
    frames between a toe-off and the other foot's strike) bound the measured per-stride flight. The
    landing foot looks nearly flat on the frames around the labelled strikes: no rearfoot pattern."""
    truth_path = SHARED_DATA / "truth" / "treadmill_lab_side.truth.json"
    if not truth_path.is_file():
        pytest.skip(f"shared truth not found at {truth_path}")
    truth = json.loads(truth_path.read_text())["treadmill_lab_side"]["contact_and_flight_video_frames"]
    phases = [v for k, v in truth.items() if k.startswith("flight_")]
    # A stride holds two flight phases; in frames strictly in the air, each labelled gap less one frame.
    labelled = 2 * (float(np.mean(phases)) - 1)
    r = _report("treadmill_lab_side", 240.0)
    measured = np.median(_values(r, "flight_s")) * 240.0
    print("lab flight per stride, frames: labelled", labelled, "measured", measured)
    # The far foot's landings are hidden behind the near leg (found early, gait tests): +- 3 frames each.
    assert abs(measured - labelled) <= 8.0
    patterns = [s.side.foot_strike_pattern for s in r.strides if s.side.foot_strike_pattern]
    assert patterns.count("rearfoot") <= 1
