"""The frame ring and the replay recorder: the ring's memory bound and its torn-frame check, and the
real frame loop (fake camera, pose and gait; a real store) writing each stride's landmarks, overlaid
key frame and clip, within the budget; a low disk pauses the clips and keeps the strides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from service_fakes import FakeGait, FakePose, FakeSource, wait_until

from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from hipcam.service.clip_recorder import LandmarkRing, ring_frames
from hipcam.service.pipeline import Pipeline
from hipcam.service.snapshots import SnapshotRing
from hipcam.service.state import LiveState


def test_ring_is_bounded_by_memory_and_notices_an_overwritten_frame() -> None:
    ring = SnapshotRing(500, 64, max_bytes=10 * 48 * 64 * 3)
    image = np.zeros((48, 64, 3), np.uint8)
    for n in range(25):
        ring.keep(n, n / 30, image)
    assert ring.slots == 10 and len(ring) == 10 and ring.frame_size == (64, 48)
    assert [n for n, _ in ring.held(0, 100)] == list(range(15, 25))
    assert ring.jpeg_checked(20) is not None and ring.jpeg_checked(3) is None
    ring.keep(25, 1.0, image)  # overwrites frame 15's slot
    assert ring.jpeg_checked(15) is None and ring.image(15) is None and ring.image(25) is not None


def test_ring_frames_follow_the_analysed_rate() -> None:
    assert ring_frames(HipcamConfig()) == 90
    slow_motion = HipcamConfig.model_validate({"capture": {"true_fps": 240}, "storage": {"clip_ring_s": 2}})
    assert ring_frames(slow_motion) == 480


def test_landmark_ring_cuts_a_stride() -> None:
    ring = LandmarkRing(8)
    for n in range(12):
        ring.keep(n, n / 30, np.full((33, 5), n / 20, np.float32) if n != 6 else None, (64, 48))
    lm = ring.cut(5, 9, 1.0, "right", "left")
    assert lm is not None and lm.numbers.tolist() == [5, 6, 7, 8, 9]
    assert lm.series.found.tolist() == [True, False, True, True, True] and round(lm.series.fps) == 30
    assert ring.cut(0, 3, 0.0, "right", None) is None  # scrolled out
    assert ring.get(6) is None and ring.get(7) is not None


def _run(tmp_path: Path, cfg: HipcamConfig, min_free_mb: int, strides: int) -> tuple[Store, int, LiveState]:
    store = Store(tmp_path, min_free_mb=min_free_mb)
    sid = store.start_session("x")["id"]
    state = LiveState()
    pipe = Pipeline(cfg, FakeSource(fps=120), state, store, pose_loader=lambda c: FakePose(),
                    gait_factory=lambda *a: FakeGait(every=12))  # fmt: skip
    pipe.start()
    try:
        assert wait_until(lambda: len(store.strides(sid)) >= strides, 20)
    finally:
        pipe.stop()
    return store, sid, state


def test_frame_loop_stores_landmarks_overlay_and_clips_within_budget(tmp_path: Path) -> None:
    cfg = HipcamConfig.model_validate({"storage": {"clip_budget_mb": 1, "clip_keep_recent": 2}})
    store, sid, _ = _run(tmp_path, cfg, 10, 12)
    try:
        rows = store.strides(sid)
        with_lm = [r for r in rows if store.replay.landmarks(sid, r.stride_id or 0) is not None]
        assert len(with_lm) >= len(rows) - 1  # every stride but maybe the first (its start before the loop)
        series, times = store.replay.landmarks(sid, with_lm[-1].stride_id or 0)  # type: ignore[misc]
        assert series.image_landmarks.shape[1:] == (33, 5) and len(times) == len(series) >= 10
        kept = store.replay.kept(sid)
        assert kept and store.replay.clips_bytes(sid) <= 1024 * 1024
        assert store.replay.clip(sid, kept[-1]) is not None
        assert store.replay.clip_frame(sid, kept[-1], 0)[:2] == b"\xff\xd8"  # type: ignore[index]
        over = store.replay.overlay_snapshot_path(sid, rows[-1].stride_id or 0)
        assert over is not None and over.name.endswith(".overlay.jpg")
    finally:
        store.close()


def test_low_disk_pauses_clips_and_keeps_strides(tmp_path: Path) -> None:
    store, sid, state = _run(tmp_path, HipcamConfig(), 10**9, 3)
    try:
        assert len(store.strides(sid)) >= 3 and store.replay.kept(sid) == []
        assert state.flag("clips_paused") is True and state.flag("snapshots_paused") is True
    finally:
        store.close()
