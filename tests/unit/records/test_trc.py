"""The TRC writer and reader (hipcam.records.trc): the OpenSim / Pose2Sim header, HALPE marker names
mapped from BlazePose, the side view's axes (X forward along the running direction, Y up, Z 0)."""

from __future__ import annotations

import numpy as np
import pytest
from synth_runner import RunnerSpec, generate

from hipcam.domain import Landmark as L
from hipcam.records import trc


def _synth(direction: str = "right") -> trc.Trc:
    sy = generate(RunnerSpec(duration_s=1.0, direction=direction, seed=3, drop_frame_prob=0.1))
    s = sy.series
    lm = s.image_landmarks.astype(np.float64)
    lm[~s.found] = np.nan
    xyz = trc.markers_from_landmarks(lm, s.width, s.height, direction)
    times = np.arange(len(s)) / s.fps
    return trc.Trc("run.trc", s.fps, "px", trc.MARKER_NAMES, times, xyz)


def test_header_is_pose2sims_and_counts_match() -> None:
    t = _synth()
    lines = trc.write(t).split("\n")
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\trun.trc"
    assert lines[1].split("\t") == list(trc.HEADER_KEYS)
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t"), strict=True))
    assert header == {"DataRate": "60", "CameraRate": "60", "NumFrames": "60", "NumMarkers": "23", "Units": "px",
                      "OrigDataRate": "60", "OrigDataStartFrame": "1", "OrigNumFrames": "60"}  # fmt: skip
    names = lines[3].split("\t")
    assert names[:2] == ["Frame#", "Time"] and [n for n in names[2:] if n] == list(trc.MARKER_NAMES)
    assert names.index("RHip") == 2 + 3 * trc.MARKER_NAMES.index("RHip")  # each name heads its X column
    assert lines[4].split("\t")[2:5] == ["X1", "Y1", "Z1"] and lines[4].split("\t")[-1] == "Z23"
    assert lines[5] == ""
    data = [line for line in lines[6:] if line]
    assert len(data) == 60 and all(len(r.split("\t")) == 2 + 3 * 23 for r in data)
    assert data[0].split("\t")[:2] == ["1", "0.000000"] and data[-1].split("\t")[0] == "60"


def test_halpe_names_for_blazepose_points() -> None:
    names = dict(trc.MARKERS)
    assert names["RBigToe"] == (L.RIGHT_FOOT_INDEX,) and names["LHeel"] == (L.LEFT_HEEL,)
    assert names["Hip"] == (L.LEFT_HIP, L.RIGHT_HIP) and names["Neck"] == (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    assert len(set(trc.MARKER_NAMES)) == len(trc.MARKER_NAMES) == 23


def test_parse_back_gives_the_same_trajectories() -> None:
    t = _synth()
    back = trc.parse(trc.write(t))
    assert back.markers == t.markers and back.units == "px" and back.rate == 60.0 and back.name == "run.trc"
    assert np.allclose(back.times, t.times, atol=1e-6)
    assert np.array_equal(np.isnan(back.xyz), np.isnan(t.xyz))  # unseen frames stay empty, not 0
    assert np.isnan(t.xyz).any()  # the synthetic runner drops frames: the empty fields are exercised
    assert np.allclose(back.xyz, t.xyz, atol=0.006, equal_nan=True)


def test_axes_x_forward_y_up_z_zero_either_direction() -> None:
    for direction in ("right", "left"):
        t = _synth(direction)
        seen = ~np.isnan(t.xyz[:, 0, 0])
        m = {n: t.xyz[seen, i] for i, n in enumerate(t.markers)}
        # Running forward: the toes are ahead of the heels and the nose ahead of the ears, Y up: head above hips.
        assert np.median(m["RBigToe"][:, 0] - m["RHeel"][:, 0]) > 0, direction
        assert np.median(m["Nose"][:, 0] - m["REar"][:, 0]) > 0, direction
        assert np.all(m["Nose"][:, 1] > m["Hip"][:, 1]) and np.all(m["Hip"][:, 1] > m["RAnkle"][:, 1])
        assert np.all(t.xyz[seen, :, 2] == 0.0)
        hip = (m["LHip"] + m["RHip"]) / 2
        assert np.allclose(m["Hip"], hip)


def test_roll_is_levelled_and_the_trunk_measured() -> None:
    flat = generate(RunnerSpec(duration_s=0.5, noise_px=0.0, drop_landmark_prob=0.0, drop_frame_prob=0.0))
    rolled = generate(
        RunnerSpec(duration_s=0.5, noise_px=0.0, drop_landmark_prob=0.0, drop_frame_prob=0.0, roll_deg=4.0)
    )
    s = flat.series
    a = trc.markers_from_landmarks(flat.series.image_landmarks, s.width, s.height, "right")
    b = trc.markers_from_landmarks(rolled.series.image_landmarks, s.width, s.height, "right", roll_deg=4.0)
    assert np.allclose(a, b, atol=0.05)  # the camera roll undone: the same runner, px
    names = list(trc.MARKER_NAMES)
    trunk = np.linalg.norm(a[:, names.index("Neck"), :2] - a[:, names.index("Hip"), :2], axis=1)
    assert trc.trunk_px(a) == pytest.approx(float(np.median(trunk)))
    assert trc.trunk_px(np.full_like(a, np.nan)) is None


@pytest.mark.parametrize(
    "text",
    ["", "not a trc\n\n\n\n\n", "PathFileType\t4\t(X/Y/Z)\tx\nDataRate\nx\n\n\n\n",
     "PathFileType\t4\t(X/Y/Z)\tx\n" + "\t".join(trc.HEADER_KEYS) + "\n60\t60\t2\t1\tpx\t60\t1\t2\nFrame#\tTime\tHip\n\t\tX1\tY1\tZ1\n\n1\t0\t1\t2\t0\n"],
)  # fmt: skip
def test_parse_refuses_what_is_not_a_whole_trc(text: str) -> None:
    with pytest.raises(ValueError):
        trc.parse(text)


def test_write_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        trc.write(trc.Trc("x.trc", 30.0, "px", ("Hip",), np.zeros(3), np.zeros((2, 1, 3))))
