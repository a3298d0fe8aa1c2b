"""The live analysis' identity guard: notices when the tracked person changes between two frames.

The same test as the offline kinematics.identity_segments (a jump of the hip midpoint or of the body
size between consecutive frames with a pose), applied to the last pose seen and the current one.
"""

from __future__ import annotations

import numpy as np

from hipcam.domain import NUM_LANDMARKS
from hipcam.gait.kinematics import identity_segments


class IdentityGuard:
    """Remembers the last frame with a pose; `changed` compares each new pose with it."""

    def __init__(self) -> None:
        self._last_pose: tuple[np.ndarray, np.ndarray] = (
            np.full((NUM_LANDMARKS, 2), np.nan),
            np.zeros(NUM_LANDMARKS, dtype=bool),
        )
        self._last_frame = -1

    def changed(self, frame: int, xy: np.ndarray, ok: np.ndarray, max_gap: int) -> bool:
        """True when the pose (levelled xy [33, 2], joint_ok [33]) at `frame` is another person than
        the last pose seen, or when that pose is more than `max_gap` frames old (nothing to compare)."""
        gap = frame - self._last_frame
        # The two poses with the frames between them missing: identity_segments widens the allowed
        # hip jump with the gap, as offline.
        pair_xy = np.full((gap + 1, NUM_LANDMARKS, 2), np.nan)
        pair_ok = np.zeros((gap + 1, NUM_LANDMARKS), dtype=bool)
        pair_xy[0], pair_ok[0], pair_xy[-1], pair_ok[-1] = *self._last_pose, xy, ok
        self._last_pose, self._last_frame = (xy, ok), frame
        seg = identity_segments(pair_xy, pair_ok) if gap <= max_gap else np.array([0, 1])
        return bool(seg[-1] != seg[0])
