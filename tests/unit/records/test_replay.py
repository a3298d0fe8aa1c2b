"""records.replay on a real SQLite store: landmarks round trip, stars, the clip budget and the kept
set (best, worst, typical per leg, starred, recent), clip files, overlays and the baseline session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hipcam.records.clip_files import ClipFrame
from hipcam.records.landmarks_file import LandmarkSeries
from hipcam.records.replay import StrideLandmarks, decode_landmarks, encode_landmarks
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord

KB = 1024


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data", min_free_mb=10)
    yield s
    s.close()


def _lm(n: int = 12, first: int = 100) -> StrideLandmarks:
    rng = np.random.default_rng(n)
    lm = rng.random((n, 33, 5)).astype(np.float32)
    lm[3] = np.nan
    found = ~np.isnan(lm[:, 0, 0])
    series = LandmarkSeries(lm, found, 30.0, 320, 240)
    return StrideLandmarks(series, np.arange(first, first + n), np.arange(n) / 30.0 + 5.0, 1.5, "left", "right")


def _stride(store: Store, sid: int, leg: str, ext: float | None, cls: str = "B") -> int:
    rec = StrideRecord(leg=leg, cls=cls, hip_extension_at_toe_off_deg=ext, foot_strike_frame=0, end_frame=10)
    return store.add_stride(sid, rec, b"\xff\xd8snap").id


def _frames(size: int, n: int = 4) -> list[ClipFrame]:
    return [ClipFrame(100 + i, i / 30, bytes([i % 256]) * (size // n)) for i in range(n)]


def test_landmarks_round_trip_in_the_shared_format(store: Store) -> None:
    sid = store.start_session("a")["id"]
    stride = _stride(store, sid, "left", 10.0)
    lm = _lm()
    store.replay.save_landmarks(stride, lm)
    series, times = store.replay.landmarks(sid, stride)  # type: ignore[misc]
    np.testing.assert_array_equal(series.image_landmarks, lm.series.image_landmarks)
    np.testing.assert_array_equal(series.found, lm.series.found)
    assert (series.fps, series.width, series.height) == (30.0, 320, 240)
    np.testing.assert_allclose(times, lm.times)
    full = store.replay.stride_landmarks(sid, stride)
    assert full is not None and full.roll_deg == 1.5 and full.direction == "left" and full.near_leg == "right"
    np.testing.assert_array_equal(full.numbers, lm.numbers)
    assert store.replay.landmarks(sid + 1, stride) is None  # another session's stride: nothing
    assert decode_landmarks(b"not an npz") is None
    assert decode_landmarks(encode_landmarks(lm)) is not None


def test_stars_only_on_the_sessions_own_strides(store: Store) -> None:
    a, b = store.start_session("a")["id"], None
    stride = _stride(store, a, "left", 10.0)
    store.stop_session()
    b = store.start_session("b")["id"]
    assert store.replay.set_star(a, stride, True)
    assert not store.replay.set_star(b, stride, True)  # a stride of another session
    assert not store.replay.set_star(a, stride + 99, True)
    assert [s.starred for s in store.strides(a)] == [True]
    assert store.replay.set_star(a, stride, False) and not store.strides(a)[0].starred


def test_clip_budget_holds_and_keeps_picks_stars_and_recent(store: Store) -> None:
    sid = store.start_session("a")["id"]
    budget, keep_recent = 100 * KB, 2
    exts = [5.0, 9.0, 1.0, 7.0, 3.0, 8.0, 2.0, 6.0, 4.0, 0.5, 4.5, 5.5]
    ids = []
    for i, ext in enumerate(exts):
        ids.append(_stride(store, sid, "left", ext))
        if i == 4:
            assert store.replay.set_star(sid, ids[1], False) is True
            assert store.replay.set_star(sid, ids[4], True)  # starred early: must survive the pruning
        store.replay.add_clip(sid, ids[-1], _frames(12 * KB), (320, 240), budget, keep_recent)
        assert store.replay.clips_bytes(sid) <= budget  # after every clip
    kept = set(store.replay.kept(sid))
    picks = store.replay.picks(sid)["left"]
    ordered = sorted(zip(exts, ids, strict=True))
    assert picks == {"best": ordered[-1][1], "worst": ordered[0][1], "typical": ordered[(len(ids) - 1) // 2][1]}
    assert ids[4] in kept and set(picks.values()) <= kept and set(ids[-keep_recent:]) <= kept
    assert len(kept) < len(ids)  # something was pruned
    files = list((store.data_dir / "snapshots" / str(sid) / "clips").glob("*.clip"))
    assert len(files) == len(kept)  # a pruned clip's file went with its row
    assert sum(f.stat().st_size for f in files) == store.replay.clips_bytes(sid) <= budget


def test_clip_frames_read_back_and_a_clip_that_cannot_fit_is_not_written(store: Store) -> None:
    sid = store.start_session("a")["id"]
    stride = _stride(store, sid, "right", 3.0)
    frames = _frames(8 * KB, 3)
    assert store.replay.add_clip(sid, stride, frames, (320, 240), 50 * KB, 3)
    _path, index = store.replay.clip(sid, stride)  # type: ignore[misc]
    assert index.numbers == (100, 101, 102) and (index.width, index.height) == (320, 240)
    assert [store.replay.clip_frame(sid, stride, k) for k in range(3)] == [f.jpeg for f in frames]
    assert store.replay.clip_frame(sid, stride, 3) is None and store.replay.clip_frame(sid + 1, stride, 0) is None
    big = _stride(store, sid, "right", 1.0)
    assert not store.replay.add_clip(sid, big, _frames(80 * KB), (320, 240), 50 * KB, 3)  # larger than the budget
    assert store.replay.kept(sid) == [stride]


def test_overlay_falls_back_to_the_plain_snapshot_and_goes_with_the_session(store: Store) -> None:
    sid = store.start_session("a")["id"]
    stride = _stride(store, sid, "left", 3.0)
    plain = store.snapshot_path(sid, stride)
    assert store.replay.overlay_snapshot_path(sid, stride) == plain
    assert store.replay.save_overlay(sid, stride, b"\xff\xd8overlay")
    over = store.replay.overlay_snapshot_path(sid, stride)
    assert over is not None and over != plain and over.read_bytes() == b"\xff\xd8overlay"
    store.replay.add_clip(sid, stride, _frames(4 * KB), (320, 240), 1 << 20, 3)
    store.stop_session()
    assert store.delete_session(sid)
    assert not (store.data_dir / "snapshots" / str(sid)).exists()
    assert store.replay.overlay_snapshot_path(sid, stride) is None and store.replay.clip(sid, stride) is None


def test_unreferenced_clip_files_are_tidied_at_open(tmp_path: Path) -> None:
    s = Store(tmp_path, min_free_mb=10)
    sid = s.start_session("a")["id"]
    stride = _stride(s, sid, "left", 3.0)
    s.replay.add_clip(sid, stride, _frames(4 * KB), (320, 240), 1 << 20, 3)
    stray = s.replay.clips.write(sid, b"HIPCLIP1 no row names it")
    s.close()
    s = Store(tmp_path, min_free_mb=10)
    try:
        assert s.replay.clips.path(stray) is None and s.replay.clip(sid, stride) is not None
    finally:
        s.close()


def test_baseline_is_the_runners_first_session(store: Store) -> None:
    first = store.start_session("Ann")["id"]
    store.stop_session()
    other = store.start_session("Bob")["id"]
    store.stop_session()
    later = store.start_session("Ann")["id"]
    store.stop_session()
    unassigned = store.start_session()["id"]
    assert store.replay.baseline_session(later) == first
    assert store.replay.baseline_session(first) is None and store.replay.baseline_session(other) is None
    assert store.replay.baseline_session(unassigned) is None and store.replay.baseline_session(9999) is None
    assert store.replay.overview(later)["baseline"]["session_id"] == first
