"""The live analysis' running direction: votes of the first frames with a side-view pose.

Each frame votes by kinematics.direction_votes (nose ahead of the ears, toes ahead of the heels); the
running total decides until _VOTE_FRAMES frames have voted, then the direction is locked (a runner on
a treadmill does not turn round). The configuration can fix the direction instead.
"""

from __future__ import annotations

import numpy as np

from hipcam.config.gait import GaitParams
from hipcam.gait.kinematics import direction_votes, resolve_direction

_VOTE_FRAMES = 15  # frames of votes before the running direction is locked


class DirectionVote:
    """The running direction `d` (+1 toward +x), from the votes so far."""

    def __init__(self, params: GaitParams) -> None:
        self.params = params
        self._votes = 0.0
        self._frames = 0
        self.d = resolve_direction(params, 0.0)

    def reset(self) -> None:
        """Vote afresh (another person); `d` stays until the new votes overturn it."""
        self._votes, self._frames = 0.0, 0

    def update(self, xy: np.ndarray, ok: np.ndarray) -> bool:
        """Count one frame's vote (levelled xy [33, 2], joint_ok [33]); True when `d` flipped."""
        if self.params.direction != "auto" or self._frames >= _VOTE_FRAMES:
            return False
        vote = float(np.nansum(direction_votes(xy[None], ok[None])))
        if vote == 0:
            return False
        self._votes += vote
        self._frames += 1
        d = resolve_direction(self.params, self._votes)
        flipped, self.d = d != self.d, d
        return flipped
