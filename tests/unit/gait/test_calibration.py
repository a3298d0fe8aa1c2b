"""The hip calibration's geometry (hipcam.gait.calibration), with exact numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hipcam.config.gait import GaitParams
from hipcam.domain import LEG_JOINTS, PRESENCE, VISIBILITY, Landmark
from hipcam.gait.calibration import (
    MAX_OFFSET,
    CalibrationError,
    HipOffset,
    apply_hip_offset,
    clip_direction,
    offset_from_tap,
    pelvis_frame,
)

W, H = 1000, 800
LH, RH = Landmark.LEFT_HIP, Landmark.RIGHT_HIP
LS, RS = Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER


def _pose(lean_deg: float, trunk_px: float = 200.0, hip_mid: tuple[float, float] = (500.0, 500.0)) -> np.ndarray:
    """Landmarks in pixels [33, 5]: hips 10 px apart, the trunk tipped ``lean_deg`` toward +x."""
    px = np.zeros((33, 5))
    px[:, VISIBILITY], px[:, PRESENCE] = 0.9, 0.8
    hx, hy = hip_mid
    a = math.radians(lean_deg)
    sx, sy = hx + trunk_px * math.sin(a), hy - trunk_px * math.cos(a)
    px[LH, :2], px[RH, :2] = (hx - 5, hy), (hx + 5, hy)
    px[LS, :2], px[RS, :2] = (sx - 5, sy), (sx + 5, sy)
    for leg in ("left", "right"):
        px[LEG_JOINTS[leg]["knee"], :2] = (hx, hy + 180)
    return px


def _normalized(px: np.ndarray) -> np.ndarray:
    out = px.copy()
    out[:, 0] /= W
    out[:, 1] /= H
    return out


def test_pelvis_frame_upright_running_right_and_left() -> None:
    px = _pose(0.0)
    fwd, up, length = pelvis_frame(px, "right")
    assert length == pytest.approx(200.0)
    np.testing.assert_allclose(up, [0.0, -1.0], atol=1e-12)  # image y points down
    np.testing.assert_allclose(fwd, [1.0, 0.0], atol=1e-12)
    fwd_left, _, _ = pelvis_frame(px, "left")
    np.testing.assert_allclose(fwd_left, [-1.0, 0.0], atol=1e-12)


def test_offset_of_a_tap_below_and_ahead_of_the_hip_upright() -> None:
    px = _pose(0.0)
    hip = px[LH, :2]
    off = offset_from_tap(px, (hip[0] + 20.0, hip[1] + 30.0), "left", "right")  # 20 px ahead, 30 px down
    assert off.forward == pytest.approx(0.1) and off.up == pytest.approx(-0.15)
    off = offset_from_tap(px, (hip[0] + 20.0, hip[1] + 30.0), "left", "left")  # running left: +x is behind
    assert off.forward == pytest.approx(-0.1) and off.up == pytest.approx(-0.15)


def test_offset_rotates_with_the_trunk() -> None:
    """Leaning 30° forward: a tap along the tilted trunk axis is pure 'up', whatever the image axes."""
    px = _pose(30.0)
    hip = px[RH, :2]
    a = math.radians(30.0)
    tap = hip + 40.0 * np.array([-math.sin(a), math.cos(a)])  # 40 px down the trunk axis
    off = offset_from_tap(px, (tap[0], tap[1]), "right", "right")
    assert off.forward == pytest.approx(0.0, abs=1e-12) and off.up == pytest.approx(-0.2)


@pytest.mark.parametrize("direction", ["right", "left"])
@pytest.mark.parametrize("lean", [-12.0, 0.0, 25.0])
@pytest.mark.parametrize("near", ["left", "right"])
def test_tap_then_apply_gives_the_tap_back(direction: str, lean: float, near: str) -> None:
    px = _pose(lean if direction == "right" else -lean)
    hip = px[LEG_JOINTS[near]["hip"], :2]
    tap = (hip[0] + 17.0, hip[1] + 41.0)
    off = offset_from_tap(px, tap, near, direction)
    moved = apply_hip_offset(_normalized(px), W, H, off, near, direction)
    got = moved[LEG_JOINTS[near]["hip"], :2] * [W, H]
    np.testing.assert_allclose(got, tap, atol=1e-9)
    # The far hip moved by the same vector; visibility, presence and every other landmark are kept.
    far = LEG_JOINTS["right" if near == "left" else "left"]["hip"]
    np.testing.assert_allclose(moved[far, :2] * [W, H] - px[far, :2], np.subtract(tap, hip), atol=1e-9)
    np.testing.assert_array_equal(moved[:, 2:], _normalized(px)[:, 2:])
    others = [i for i in range(33) if i not in (LH, RH)]
    np.testing.assert_array_equal(moved[others], _normalized(px)[others])


def test_the_offset_follows_the_runner_to_another_place_and_lean() -> None:
    """Stored once, the offset lands at the same body point on a frame where the runner stands
    elsewhere, nearer the camera (longer trunk) and leans differently."""
    off = HipOffset(forward=0.05, up=-0.1)
    px = _pose(20.0, trunk_px=300.0, hip_mid=(300.0, 600.0))
    moved = apply_hip_offset(_normalized(px), W, H, off, "left", "right")
    a = math.radians(20.0)
    up = np.array([math.sin(a), -math.cos(a)])
    fwd = np.array([math.cos(a), math.sin(a)])
    expected = px[LH, :2] + 300.0 * (0.05 * fwd - 0.1 * up)
    np.testing.assert_allclose(moved[LH, :2] * [W, H], expected, atol=1e-9)


def test_apply_works_on_a_whole_clip_and_leaves_frames_without_a_trunk() -> None:
    clip = np.stack([_normalized(_pose(0.0)), _normalized(_pose(10.0))])
    clip[1, LS : RS + 1, :2] = np.nan  # no shoulders in the second frame
    moved = apply_hip_offset(clip, W, H, HipOffset(0.1, 0.0), "left", "right")
    assert moved[0, LH, 0] * W == pytest.approx(495.0 + 20.0)
    np.testing.assert_array_equal(moved[1, LH], clip[1, LH])


@pytest.mark.parametrize(("dx", "dy"), [(0.0, 120.0), (-110.0, 0.0), (300.0, -300.0)])
def test_a_tap_far_from_the_hip_is_refused(dx: float, dy: float) -> None:
    px = _pose(0.0)  # trunk 200 px: the limit is 100 px along either axis
    hip = px[LH, :2]
    with pytest.raises(CalibrationError, match="trochanter"):
        offset_from_tap(px, (hip[0] + dx, hip[1] + dy), "left", "right")
    off = offset_from_tap(px, (hip[0] + 99.0, hip[1] + 99.0), "left", "right")  # just inside
    assert max(abs(off.forward), abs(off.up)) <= MAX_OFFSET


def test_bad_frames_and_arguments_are_refused() -> None:
    px = _pose(0.0)
    px[LS, :2] = np.nan
    with pytest.raises(CalibrationError, match="no trunk"):
        offset_from_tap(px, (500.0, 510.0), "left", "right")
    good = _pose(0.0)
    with pytest.raises(CalibrationError, match="near leg"):
        offset_from_tap(good, (500.0, 510.0), "middle", "right")
    with pytest.raises(CalibrationError, match="direction"):
        offset_from_tap(good, (500.0, 510.0), "left", "up")
    with pytest.raises(CalibrationError, match="two numbers"):
        offset_from_tap(good, (math.nan, 1.0), "left", "right")
    with pytest.raises(CalibrationError):
        HipOffset(0.6, 0.0).check()
    with pytest.raises(CalibrationError):
        HipOffset(math.inf, 0.0).check()


def test_clip_direction_from_the_config_or_the_vote() -> None:
    px = _pose(0.0)
    px[Landmark.NOSE, :2] = (530.0, 250.0)
    px[Landmark.LEFT_EAR, :2] = px[Landmark.RIGHT_EAR, :2] = (505.0, 255.0)  # nose ahead of the ears: +x
    clip = np.stack([_normalized(px)] * 3)
    assert clip_direction(clip, W, H, GaitParams()) == "right"
    assert clip_direction(clip, W, H, GaitParams(direction="left")) == "left"
