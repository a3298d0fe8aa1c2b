"""The side-view metric set (gait.side_metrics) on the synthetic runner with known values, both running
directions and a rolled camera; missing landmarks give None; strike patterns; flight time rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from synth_runner import RunnerSpec, Synth, generate

from hipcam.config.gait import GaitParams
from hipcam.domain import LEG_JOINTS
from hipcam.gait.live import replay
from hipcam.gait.offline import analyze
from hipcam.gait.report import format_table, to_dict
from hipcam.gait.side_metrics import at_event, flight_time, strike_pattern
from hipcam.gait.strides import GaitReport, Stride

P = GaitParams()
FPS = 120.0  # the foot flattens within ~30 ms of contact: the known values need a few frames per event


def _run(**kw: object) -> tuple[Synth, GaitReport]:
    spec = RunnerSpec(known_leg=True, fps=FPS, duration_s=5.0, seed=4, **kw)  # type: ignore[arg-type]
    sy = generate(spec)
    return sy, analyze(sy.series, P, roll_deg=spec.roll_deg)


def _true_strike(sy: Synth, s: Stride) -> int:
    """The first frame in contact of the true strike nearest to the stride's."""
    truth = sy.event_frames(s.leg, "foot_strike")
    return int(np.ceil(truth[np.argmin(np.abs(truth - s.foot_strike_frame))] - 1e-9))


def _within(value: float | None, truth: np.ndarray, frame: int, tol: float) -> bool:
    """`value` is within `tol` of the truth at some frame within one frame of `frame`."""
    near = truth[max(frame - 1, 0) : frame + 2]
    return value is not None and float(near.min()) - tol <= value <= float(near.max()) + tol


@pytest.mark.parametrize(("direction", "roll"), [("right", 0.0), ("left", 0.0), ("right", 7.0), ("left", -6.0)])
def test_known_values_at_strike(direction: str, roll: float) -> None:
    sy, r = _run(direction=direction, roll_deg=roll)
    strides = [s for s in r.strides if s.toe_off_frame is not None]
    assert len(strides) >= 8
    for s in strides:
        f, leg, m = _true_strike(sy, s), s.leg, s.side
        assert abs(s.foot_strike_frame - f) <= 1
        assert _within(m.foot_inclination_at_strike_deg, sy.known[f"foot_incl_{leg}"], f, 2.0)
        assert _within(m.shank_angle_at_strike_deg, sy.known[f"shank_{leg}"], f, 2.0)
        assert _within(m.knee_flexion_at_strike_deg, sy.known[f"knee_flex_{leg}"], f, 2.0)
        assert _within(m.overstride_trunk, sy.known[f"overstride_{leg}"], f, 0.03)
        assert m.foot_strike_pattern == "rearfoot"
    # The prescribed values themselves, over the strides (the truth above is the same geometry per frame).
    spec = sy.spec
    assert abs(np.median([s.side.foot_inclination_at_strike_deg for s in strides]) - spec.foot_strike_deg) < 2.0
    assert abs(np.median([s.side.shank_angle_at_strike_deg for s in strides]) - spec.shank_strike_deg) < 2.0
    assert abs(np.median([s.side.overstride_trunk for s in strides]) - 0.45) < 0.03  # the synth's heel lead


def test_known_values_over_stance_and_stride() -> None:
    sy, r = _run(bob_px=6.0)
    frame = 1.0 / FPS
    strides = [s for s in r.strides if s.toe_off_frame is not None]
    peak_errors = []
    for s in strides:
        leg, m = s.leg, s.side
        f = _true_strike(sy, s)
        to = sy.event_frames(leg, "toe_off")
        t_off = int(np.floor(to[to > f][0]))
        assert m.knee_flexion_peak_stance_deg is not None
        peak_errors.append(m.knee_flexion_peak_stance_deg - sy.known[f"knee_flex_{leg}"][f : t_off + 1].max())
        assert m.vertical_oscillation_trunk is not None
        assert abs(m.vertical_oscillation_trunk - 2 * 6.0 / 150.0) < 0.01  # the bob's range / the trunk
        # Contact time (stance_s) in its convention: first to last frame in contact.
        assert s.stance_s is not None and abs(s.stance_s - (t_off - f) * frame) <= frame + 1e-9
    # One stride's peak carries the knee angle's frame-to-frame jitter (3 noisy points, ~1.5 deg here).
    assert abs(float(np.median(peak_errors))) < 1.0 and max(map(abs, peak_errors)) < 3.0
    flights = [s.side.flight_s for s in strides if s.side.flight_s is not None]
    assert len(flights) >= len(strides) - 2  # the first and last strides may lack the other leg's events
    assert abs(float(np.median(flights)) - sy.flight_s) <= frame + 1e-9
    assert all(abs(f - sy.flight_s) <= 2 * frame + 1e-9 for f in flights)


@pytest.mark.parametrize(("angle", "pattern"), [(15.0, "rearfoot"), (3.0, "midfoot"), (-8.0, "forefoot")])
def test_strike_patterns_of_three_feet(angle: float, pattern: str) -> None:
    _, r = _run(foot_strike_deg=angle, direction="left")
    patterns = [s.side.foot_strike_pattern for s in r.strides if s.side.foot_strike_pattern is not None]
    assert len(patterns) >= 8 and all(p == pattern for p in patterns)
    got = np.median([s.side.foot_inclination_at_strike_deg for s in r.strides if s.side.foot_strike_pattern])
    assert abs(got - angle) < 2.0


def test_strike_pattern_thresholds() -> None:
    assert strike_pattern(8.1) == "rearfoot" and strike_pattern(8.0) == "midfoot"
    assert strike_pattern(-1.6) == "midfoot" and strike_pattern(-1.7) == "forefoot"
    assert strike_pattern(None) is None and strike_pattern(math.nan) is None


def test_missing_foot_at_strike_gives_none() -> None:
    sy = generate(RunnerSpec(known_leg=True, fps=FPS, duration_s=5.0, seed=4))
    clean = analyze(sy.series, P)
    target = next(
        s for s in clean.strides if s.leg == "right" and s.toe_off_frame is not None and s.foot_strike_frame > 60
    )
    f = target.foot_strike_frame
    lm = sy.series.image_landmarks
    # The heel's visibility drops for the three frames around the strike: no inclination, overstride
    # or strike pattern, but the shank and the knee (still visible) are measured.
    lm[f - 1 : f + 2, LEG_JOINTS["right"]["heel"], 3] = 0.1
    r = analyze(sy.series, P)
    hit = [s for s in r.strides if s.leg == "right" and abs(s.foot_strike_frame - f) <= 1]
    assert hit, "the strike is still found from the foot tip"
    m = hit[0].side
    if hit[0].foot_strike_frame in range(f - 1, f + 2):
        assert m.foot_inclination_at_strike_deg is None and m.foot_strike_pattern is None
        assert m.overstride_trunk is None
    assert m.shank_angle_at_strike_deg is not None and m.knee_flexion_at_strike_deg is not None
    # The knee missing over most of the stance: no peak; the pelvis missing: no oscillation.
    assert target.toe_off_frame is not None
    lm[f : target.toe_off_frame, LEG_JOINTS["right"]["knee"], 3] = 0.1
    lm[f : target.end_frame, LEG_JOINTS["right"]["hip"], 3] = 0.1
    lm[f : target.end_frame, LEG_JOINTS["left"]["hip"], 3] = 0.1
    r = analyze(sy.series, P)
    for s in r.strides:
        if s.leg == "right" and abs(s.foot_strike_frame - f) <= 1:
            assert s.side.knee_flexion_peak_stance_deg is None and s.side.vertical_oscillation_trunk is None


def test_at_event_needs_the_frame_itself() -> None:
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    assert at_event(x, 2, 30.0) is None
    assert at_event(x, 1, 30.0) == 1.5  # median of the measured neighbours
    assert at_event(x, 9, 30.0) is None


def test_flight_time_rules() -> None:
    fps = 100.0
    # Running: toe-off 30, other strike 41, other toe-off 70, own next strike 81 -> 10 + 10 frames in the air.
    assert flight_time(0, 30, 81, (41,), (70,), fps) == pytest.approx(0.2)
    # Walking: the other foot lands (25) before this one leaves (30), leaves (90) after the next strike.
    assert flight_time(0, 30, 80, (25,), (90,), fps) == 0.0
    assert flight_time(0, None, 81, (41,), (70,), fps) is None  # no toe-off
    assert flight_time(0, 30, 81, (), (70,), fps) is None  # the other leg's strike missed
    assert flight_time(0, 30, 81, (41, 60), (70,), fps) is None  # split contact
    assert flight_time(0, 30, 81, (41,), (), fps) is None  # its toe-off not known
    assert flight_time(0, 30, 81, None, None, fps) is None


def test_report_carries_the_metrics() -> None:
    _, r = _run()
    d = to_dict(r)
    measured = [s for s in d["strides"] if s["foot_strike_pattern"] is not None]
    assert len(measured) >= 8
    for key in ("foot_inclination_at_strike_deg", "shank_angle_at_strike_deg", "overstride_trunk",
                "knee_flexion_at_strike_deg", "knee_flexion_peak_stance_deg", "vertical_oscillation_trunk"):  # fmt: skip
        assert all(isinstance(s[key], float) for s in measured)
    assert all(s["stride_length_m"] is None for s in d["strides"])  # no belt speed offline
    table = format_table(r)
    assert " pat " in table.splitlines()[0] and "R" in table


def test_live_matches_offline() -> None:
    """The live path (its own buffer, events as they settle) measures the same metric set, flight too."""
    sy, off = _run()
    by_strike = {(s.leg, s.foot_strike_frame): s.side for s in off.strides}
    live = replay(sy.series, P, fps=FPS)
    compared = 0
    for s in live:
        o = by_strike.get((s.leg, s.foot_strike_frame))
        if o is None or s.side.flight_s is None:
            continue
        compared += 1
        assert s.side.flight_s == o.flight_s and s.side.foot_strike_pattern == o.foot_strike_pattern
        for key in ("foot_inclination_at_strike_deg", "knee_flexion_at_strike_deg", "vertical_oscillation_trunk"):
            assert abs(getattr(s.side, key) - getattr(o, key)) < 0.5, key
    assert compared >= 8
