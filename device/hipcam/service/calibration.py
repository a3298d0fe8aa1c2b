"""The clinician's hip calibration from a tap on a paused frame: the live camera view's or a
stride's snapshot. The web calls this through ``WebDeps.calibrator`` (it may not import the gait
code); the geometry is hipcam.gait.calibration's, the storage hipcam.records.store's.

The tap comes in the pixels of the image the page showed (the camera-view JPEG or the snapshot
JPEG). It is measured against that frame's pose as BlazePose gave it, before any calibration (the
state keeps it for recent camera frames; a snapshot keeps it in the JSON beside its JPEG), so a
second calibration replaces the first rather than stacking on it.

Errors: ``CalibrationError`` (a ValueError: a mis-tap, a tap outside the image, a frame without
a trunk, a stride of another runner's session) and ``FrameGone`` (a LookupError: the frame or the
stride is no longer known, or has no pose).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hipcam.domain import LEG_JOINTS, LEGS, NUM_LANDMARKS, VISIBILITY
from hipcam.gait.calibration import CalibrationError, offset_from_tap
from hipcam.records.store import HipCalibration, Store
from hipcam.service.state import LiveState

__all__ = ["CalibrationError", "FrameGone", "HipCalibrator"]


class FrameGone(LookupError):
    """The frame a tap refers to is no longer kept, or has no pose to measure the tap against."""


class HipCalibrator:
    """Turns a tap into a stored calibration for a runner (thread-safe: reads and one store write)."""

    def __init__(self, store: Store, state: LiveState) -> None:
        self._store, self._state = store, state

    def from_live(self, runner: str, seq: int, tap: tuple[float, float]) -> HipCalibration:
        """A tap on camera frame ``seq`` of the live view (pixels of its JPEG)."""
        cam = self._state.camera_frame(seq)
        if cam is None or cam.pose is None:
            raise FrameGone(f"camera frame {seq} is no longer kept or had nobody in it; pause the view again")
        p = cam.pose
        near = p.near_leg or _more_visible_hip(p.landmarks)
        return self._save(runner, p.landmarks, (p.width, p.height), (cam.width, cam.height), tap, near, p.direction,
                          f"live camera frame {seq}")  # fmt: skip

    def from_stride(self, runner: str, session_id: int, stride_id: int, tap: tuple[float, float]) -> HipCalibration:
        """A tap on a stride's snapshot (pixels of the snapshot JPEG)."""
        session = self._store.get_session(session_id)
        if session is None:
            raise FrameGone(f"no session {session_id}")
        if session["runner"] != runner:
            raise CalibrationError(
                f"stride {stride_id} is from a session of {session['runner'] or 'an unnamed runner'}"
            )
        pose = self._store.snapshot_pose(session_id, stride_id)
        if pose is None:
            raise FrameGone(f"stride {stride_id} of session {session_id} has no snapshot with landmarks")
        try:
            lm, frame, image, near, direction = _stored_pose(pose)
        except (KeyError, TypeError, ValueError):
            raise FrameGone(f"the landmarks saved with stride {stride_id}'s snapshot are unreadable") from None
        return self._save(runner, lm, frame, image, tap, near, direction, f"session {session_id} stride {stride_id}")

    def _save(
        self,
        runner: str,
        landmarks: np.ndarray,
        frame_size: tuple[int, int],
        image_size: tuple[int, int],
        tap: tuple[float, float],
        near_leg: str,
        direction: str,
        source: str,
    ) -> HipCalibration:
        (fw, fh), (iw, ih) = frame_size, image_size
        x, y = float(tap[0]), float(tap[1])
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= iw and 0 <= y <= ih):
            raise CalibrationError(f"the tap ({x:g}, {y:g}) is outside the {iw}x{ih} image")
        px = np.asarray(landmarks, dtype=np.float64)[:, :2] * (fw, fh)
        offset = offset_from_tap(px, (x / iw * fw, y / ih * fh), near_leg, direction)
        return self._store.set_hip_calibration(runner, offset.forward, offset.up, near_leg, source)


def _more_visible_hip(landmarks: np.ndarray) -> str:
    vis = {leg: float(landmarks[LEG_JOINTS[leg]["hip"], VISIBILITY]) for leg in LEGS}
    return max(LEGS, key=lambda leg: vis[leg] if math.isfinite(vis[leg]) else -1.0)


def _stored_pose(pose: Mapping[str, Any]) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], str, str]:
    """(landmarks [33, >=3], frame size, snapshot size, near leg, direction) of a stored pose."""
    rows: Sequence[Sequence[float | None]] = pose["landmarks"]
    lm = np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] != NUM_LANDMARKS or lm.shape[1] < 2:
        raise ValueError("landmarks must be [33, >=2]")
    if lm.shape[1] < 4:  # x, y, visibility as stored -> the [33, 5] layout's visibility column
        lm = np.concatenate([lm[:, :2], np.zeros((NUM_LANDMARKS, 1)), lm[:, 2:3], lm[:, 2:3]], axis=1)
    frame = (int(pose["width"]), int(pose["height"]))
    image = (int(pose.get("image_width") or frame[0]), int(pose.get("image_height") or frame[1]))
    if min(*frame, *image) <= 0:
        raise ValueError("sizes must be positive")
    direction = str(pose["direction"])
    near = pose.get("near_leg")
    return lm, frame, image, str(near) if near in LEGS else _more_visible_hip(lm), direction
