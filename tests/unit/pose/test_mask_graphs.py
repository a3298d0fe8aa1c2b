"""BlazePose with the mask scheduled: the segmentation branch split off, the same landmarks and masks
as the complete graph."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from hipcam.capture.opencv_source import OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.pose.tracker import BlazePose


def test_the_split_branch_gives_the_complete_graphs_landmarks_and_masks(models_dir: Path, demo_clip: Path) -> None:
    cfg = HipcamConfig.model_validate({"pose": {"threads": 1}})
    every = BlazePose.from_config(cfg, keep_mask=True, models_dir=models_dir)
    scheduled = BlazePose.from_config(cfg, keep_mask=True, models_dir=models_dir, scheduled_mask=True)
    assert every.mask_branch is None and scheduled.mask_branch is not None
    source = OpenCVSource(str(demo_clip), "file")
    source.open()
    try:
        frames = list(itertools.islice(iter(source.read, None), 12))
    finally:
        source.close()
    compared = 0
    for i, frame in enumerate(frames):
        want = i % 3 == 0
        a = every.process(frame.image, frame.timestamp_s)
        b = scheduled.process(frame.image, frame.timestamp_s, mask=want)
        assert (a is None) == (b is None)
        if a is None or b is None:
            continue
        # The same ops and weights in two graphs: the same numbers.
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        assert a.mask_logits is not None and scheduled.masked == want
        assert (b.mask_logits is not None) == want
        if want:
            np.testing.assert_array_equal(a.mask_logits, b.mask_logits)
        compared += 1
    assert compared >= 8
    assert every.process(frames[0].image, 99.0, mask=False) is not None and every.masked  # one graph: always the mask
