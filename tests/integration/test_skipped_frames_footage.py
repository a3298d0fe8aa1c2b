"""Live strides on real footage when the frame loop analyses only part of the camera's frames.

MediaPipe's landmarks of the home treadmill clip (the shared reference) fed to the live gait with
frames skipped evenly, as hipcam.service.decimation keeps them. At 2 of 3 the intervals are half 1
and half 2 frames; with a median-only rate estimate each flip of the median restarted the buffer
and 9 of the clip's 30 strides were lost (on hipcam's own landmarks all of them).
"""

from __future__ import annotations

import numpy as np
import pytest
from paths import SHARED_DATA

from hipcam.config import HipcamConfig
from hipcam.gait.live import LiveGait
from hipcam.gait.offline import mask_matrix
from hipcam.records import landmarks_file

REFERENCE = SHARED_DATA / "reference" / "treadmill_home_side.mediapipe.npz"
FPS = 30.0


def _strides(series: landmarks_file.LandmarkSeries, share: float) -> list[str]:
    credit = np.floor(np.cumsum(np.full(len(series), share)) + 1e-9)
    keep = np.diff(credit, prepend=0.0) > 0  # the decimator's Bresenham pattern
    live = LiveGait(HipcamConfig.model_validate({}).gait, fps_hint=FPS, frame_size=(series.width, series.height))
    lm, mask = np.asarray(series.image_landmarks, dtype=np.float64), mask_matrix(series)
    classes = []
    for i in np.flatnonzero(keep):
        pose = lm[i] if series.found[i] and np.isfinite(lm[i, :, :2]).any() else None
        classes += [s.cls for s in live.update(i / FPS, pose, None if mask is None else mask[i]).strides]
    return classes


@pytest.mark.parametrize("share", [2 / 3, 0.55, 0.43])
def test_strides_survive_frames_skipped_in_a_pattern(share: float) -> None:
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} is missing (the shared test data beside the repository)")
    series = landmarks_file.load(REFERENCE)
    full = _strides(series, 1.0)
    assert len(full) >= 28
    assert len(_strides(series, share)) >= len(full) - 3
