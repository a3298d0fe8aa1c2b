"""What makes a live figure unreliable right now, said beside that figure on the page.

Two set-up faults change the numbers without the page showing it otherwise:
- Too few analysed frames per second for toe-off timing. The angles at toe-off are read at the most
  extended frame within ±67 ms of the toe-off; below 25 frames/s a frame is over 40 ms, a stance of
  ~200 ms spans under 5 frames, and a toe-off a frame off moves the thigh 3-4 deg (docs/gait.md). The
  same limit fails `hipcam setup-check` (docs/setup-check.md). 2D running protocols ask for at least
  60 (Souza 2016, Phys Med Rehabil Clin N Am 27:217); 30 is usable with the stated error.
- Feet out of frame: foot strike and toe-off come from the feet; cut off, they are guessed.
The frame rate is the analysis's own (the timestamps of the frames it was given: frames the loop
dropped do not count), the feet are judged over the last few seconds with a person. When the frame
loop skips camera frames (hipcam.service.decimation), the reason says so: the camera is fast
enough, the analysis is not.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from hipcam.gait.setup_check import FEET, FPS_FAIL, IN_FRAME_WARN, inside

MIN_FPS = FPS_FAIL  # as the set-up check's, applied to the frames analysed
FEET_IN_FRAME_SHARE = IN_FRAME_WARN  # of the frames with a person: below it the set-up check fails
WINDOW_FRAMES = 150  # 5 s at 30 frames/s
MIN_FRAMES = 30  # with a person, before the feet are judged

TIMED_FIGURES = ("hip_extension", "trunk_lean", "cadence")  # what the toe-off and strike timing sets


@dataclass(frozen=True)
class Limit:
    figures: tuple[str, ...]  # TIMED_FIGURES members the page marks
    short: str  # a few words, beside each figure
    reason: str  # one sentence with the fix, once on the page

    def to_json(self) -> dict[str, object]:
        return {"figures": list(self.figures), "short": self.short, "reason": self.reason}


def feet_in_frame(landmarks: np.ndarray) -> bool:
    """Both heels and foot tips inside the image, as the set-up check judges it (landmarks [33, >=2])."""
    return bool(inside(landmarks, FEET))


class LiveLimits:
    """Fed every analysed frame by the frame loop; `current()` is what the page should say."""

    def __init__(self, window_frames: int = WINDOW_FRAMES) -> None:
        self._feet: deque[bool] = deque(maxlen=window_frames)
        self._fps = math.nan
        self._share = 1.0

    def update(self, landmarks: np.ndarray | None, fps: float, analysed_share: float = 1.0) -> tuple[Limit, ...]:
        """analysed_share: of the camera's frames, the share analysed (the rest skipped evenly)."""
        if landmarks is not None:
            self._feet.append(feet_in_frame(landmarks))
        self._fps, self._share = fps, analysed_share
        return self.current()

    def _fps_fix(self) -> str:
        if self._share < 1.0:
            return (
                f"the analysis keeps up with only {self._share:.0%} of the camera's frames: "
                "lower the load (fewer viewers, pose.precision, a faster board)"
            )
        return "raise the camera's frame rate or lower the load"

    def current(self) -> tuple[Limit, ...]:
        out = []
        if math.isfinite(self._fps) and self._fps < MIN_FPS:
            out.append(
                Limit(
                    TIMED_FIGURES,
                    f"{self._fps:.0f} frames/s, too few",
                    f"{self._fps:.0f} frames/s is too few for toe-off timing (25 at least, 60 recommended): "
                    + self._fps_fix(),
                )
            )
        if len(self._feet) >= MIN_FRAMES and (share := sum(self._feet) / len(self._feet)) < FEET_IN_FRAME_SHARE:
            out.append(
                Limit(
                    TIMED_FIGURES,
                    "feet out of frame",
                    f"the feet are out of frame in {1 - share:.0%} of frames, so strikes and toe-offs are guessed: "
                    "move the camera back or lower it until both feet stay in view",
                )
            )
        return tuple(out)
