"""The clinician's hip calibration: where the greater trochanter sits relative to BlazePose's hip.

Loose shorts and hoodies pull BlazePose's hip landmark up toward the waistband. On a paused frame
the clinician taps the greater trochanter (or a marker on it); the offset from the near-side hip
landmark is kept in the pelvis's own frame, so it holds however the runner leans or where they
stand, and is applied to every later frame of that runner.

The pelvis frame at a frame (image pixels, y down):
- origin: the near-side hip landmark;
- ``up``: the unit vector from the hip midpoint to the shoulder midpoint;
- ``forward``: perpendicular to ``up``, pointing in the running direction;
- unit: the trunk length (hip midpoint to shoulder midpoint).

``apply_hip_offset`` moves the near hip by the offset and the far hip by the same vector, so the
hip midpoint (the trunk line) and both thighs follow. The vector depends only on the midpoints,
not on which hip is the origin, so a near-leg guess that flips does not move the point.

Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipcam.config.gait import GaitParams
from hipcam.domain import HIPS, LEG_JOINTS, LEGS, SHOULDERS
from hipcam.errors import HipcamError
from hipcam.gait.kinematics import direction_name, direction_votes, joint_ok, resolve_direction

MAX_OFFSET = 0.5  # trunk lengths, per axis: a tap farther from the hip landmark is a mis-tap
MIN_TRUNK_PX = 4.0  # a shorter trunk cannot define a frame


class CalibrationError(HipcamError, ValueError):
    """A tap that cannot calibrate the hip (a mis-tap, or no usable trunk in the frame)."""


@dataclass(frozen=True)
class HipOffset:
    """Greater trochanter minus the near-side hip landmark, in trunk lengths of the pelvis frame."""

    forward: float
    up: float

    def check(self) -> HipOffset:
        """Itself, or CalibrationError when a component is not a number or beyond MAX_OFFSET."""
        for name, value in (("forward", self.forward), ("up", self.up)):
            if not math.isfinite(value):
                raise CalibrationError(f"hip offset {name} is not a number")
            if abs(value) > MAX_OFFSET:
                raise CalibrationError(
                    f"the tap is {abs(value):.2f} trunk lengths {_axis(name, value)} the hip landmark "
                    f"(at most {MAX_OFFSET:g}): tap the greater trochanter"
                )
        return self


def _axis(name: str, value: float) -> str:
    if name == "forward":
        return "ahead of" if value > 0 else "behind"
    return "above" if value > 0 else "below"


def _sign(direction: str) -> int:
    if direction not in ("left", "right"):
        raise CalibrationError(f"running direction must be left or right, not {direction!r}")
    return 1 if direction == "right" else -1


def pelvis_frame(px: np.ndarray, direction: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward [..., 2], up [..., 2], trunk length [...]) from landmarks in pixels [..., 33, >=2].

    NaN where the shoulders or hips are missing."""
    p = np.asarray(px, dtype=np.float64)[..., :2]
    hip_mid = p[..., list(HIPS), :].mean(axis=-2)
    shoulder_mid = p[..., list(SHOULDERS), :].mean(axis=-2)
    trunk = shoulder_mid - hip_mid
    length = np.hypot(trunk[..., 0], trunk[..., 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        up = trunk / np.where(length > 0, length, np.nan)[..., None]
    d = _sign(direction)
    # Image y points down: turning `up` a quarter turn gives the runner's forward (d: +1 toward +x).
    forward = d * np.stack([-up[..., 1], up[..., 0]], axis=-1)
    return forward, up, length


def offset_from_tap(landmarks_px: np.ndarray, tap_px: tuple[float, float], near_leg: str, direction: str) -> HipOffset:
    """The offset of a tap from the near-side hip landmark, in the pelvis frame of that frame.

    ``landmarks_px``: [33, >=2] x, y in pixels (the same pixels as the tap). Raises CalibrationError
    for a tap farther than MAX_OFFSET trunk lengths from the hip along either axis, or a frame
    without a usable trunk."""
    if near_leg not in LEGS:
        raise CalibrationError(f"near leg must be one of {', '.join(LEGS)}, not {near_leg!r}")
    p = np.asarray(landmarks_px, dtype=np.float64)
    tap = np.asarray(tap_px, dtype=np.float64)
    if tap.shape != (2,) or not np.isfinite(tap).all():
        raise CalibrationError("the tap must be two numbers (x, y) in image pixels")
    forward, up, length = pelvis_frame(p, direction)
    hip = p[LEG_JOINTS[near_leg]["hip"], :2]
    if not (np.isfinite(length) and length >= MIN_TRUNK_PX and np.isfinite(hip).all()):
        raise CalibrationError("no trunk (shoulders and hips) was found in that frame")
    rel = tap - hip
    return HipOffset(float(rel @ forward / length), float(rel @ up / length)).check()


def apply_hip_offset(
    landmarks: np.ndarray, width: int, height: int, offset: HipOffset, near_leg: str, direction: str
) -> np.ndarray:
    """A copy of ``landmarks`` ([33, 5] or [N, 33, 5], x/y normalized to width/height) with the near
    hip at the calibrated point and the far hip moved by the same vector. Visibility and presence
    are kept; frames without a usable trunk are left as they are."""
    if near_leg not in LEGS:
        raise CalibrationError(f"near leg must be one of {', '.join(LEGS)}, not {near_leg!r}")
    out = np.array(landmarks, copy=True)
    if out.dtype.kind != "f":
        out = out.astype(np.float64)
    scale = np.array([float(width), float(height)])
    px = out[..., :2] * scale
    forward, up, length = pelvis_frame(px, direction)
    shift = length[..., None] * (offset.forward * forward + offset.up * up)  # [..., 2] pixels
    usable = np.isfinite(shift).all(axis=-1) & (length >= MIN_TRUNK_PX)
    shift = np.where(usable[..., None], shift, 0.0)
    for hip in HIPS:
        out[..., hip, :2] = (px[..., hip, :] + shift) / scale
    return out


def clip_direction(landmarks: np.ndarray, width: int, height: int, params: GaitParams) -> str:
    """The running direction of a whole clip ([N, 33, 5] normalized): the config's, else the vote."""
    lm = np.asarray(landmarks, dtype=np.float64)
    xy = lm[..., :2] * np.array([float(width), float(height)])
    votes = direction_votes(xy, joint_ok(lm, params))
    return direction_name(resolve_direction(params, float(np.nansum(votes))))
