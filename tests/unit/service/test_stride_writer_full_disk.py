"""The stride writer on a full disk, produced for real (the store's pages capped with
``PRAGMA max_page_count``: SQLite answers SQLITE_FULL as on a full disk): strides are held in order,
retried, written once there is room, and the live state says so; the bound counts the oldest lost."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hipcam.records.store import DiskFull, Store
from hipcam.records.stride import StrideRecord
from hipcam.service import stride_writer
from hipcam.service.metrics import Metrics
from hipcam.service.state import LiveState
from hipcam.service.stride_writer import StrideWriter, _Pending
from hipcam.service.telemetry import NullOps

JPEG = b"\xff\xd8" + bytes(800) + b"\xff\xd9"


def _stride(i: int) -> StrideRecord:
    return StrideRecord.from_json(
        {"leg": "left" if i % 2 else "right", "class": "B", "hip_extension_deg": 10.0, "confidence": 0.8,
         "foot_strike_frame": 1000 + i, "end_frame": 1029 + i, "t_start": float(i), "t_end": i + 0.9}
    )  # fmt: skip


def _wait(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


@pytest.fixture()
def full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, int]]:
    """A store whose database is full, with a running session."""
    monkeypatch.setattr(stride_writer, "RETRY_S", 0.2)
    store = Store(tmp_path / "data", min_free_mb=0)
    session = store.start_session("Ann")["id"]
    store.cap_pages(store.page_count())
    for i in range(10_000):
        try:
            store.add_stride(session, _stride(-i - 1))
        except DiskFull:
            break
    yield store, session
    store.close()


def _frames(store: Store, session: int) -> list[int | None]:
    return [r.foot_strike_frame for r in store.strides(session) if (r.foot_strike_frame or 0) >= 1000]


def test_held_while_full_then_written_in_order(full: tuple[Store, int]) -> None:
    store, session = full
    state, metrics = LiveState(), Metrics(process_metrics=False)
    writer = StrideWriter(store, state, NullOps(), metrics.store_health)
    writer.start()
    try:
        for i in range(40):
            writer.submit(_Pending(session, _stride(i), JPEG if i % 4 == 0 else None))
        assert _wait(lambda: state.flag("store")["pending"] == 40)
        flag = state.flag("store")
        assert flag["disk_full"] and flag["lost"] == 0
        assert flag["snapshots_skipped"]["disk_full"] == 0  # counted when written
        assert b"hipcam_strides_pending 40.0" in metrics.render()[0]
        assert b"hipcam_store_disk_full 1.0" in metrics.render()[0]
        assert _frames(store, session) == []
        time.sleep(0.5)  # retried and refused again: still held, nothing lost
        assert state.flag("store")["pending"] == 40
        store.cap_pages(1_000_000)  # room again
        assert _wait(lambda: state.flag("store")["pending"] == 0)
        flag = state.flag("store")
        assert not flag["disk_full"] and flag["lost"] == 0 and flag["written_after_full"] == 40
        assert flag["snapshots_skipped"]["disk_full"] == 10  # a full disk takes no snapshot; the stride is kept
        assert _frames(store, session) == [1000 + i for i in range(40)]  # every one, in order
        assert b"hipcam_strides_pending 0.0" in metrics.render()[0]
    finally:
        writer.stop()


def test_the_bound_drops_the_oldest_and_counts_them(full: tuple[Store, int], monkeypatch: pytest.MonkeyPatch) -> None:
    store, session = full
    monkeypatch.setattr(stride_writer, "HOLD_MAX", 10)
    state = LiveState()
    writer = StrideWriter(store, state, NullOps())
    writer.start()
    try:
        for i in range(25):
            writer.submit(_Pending(session, _stride(i), None))
        assert _wait(lambda: state.flag("store")["lost"] == 15)
        assert state.flag("store")["pending"] == 10 and state.flag("store")["disk_full"]
        store.cap_pages(1_000_000)
        assert _wait(lambda: state.flag("store")["pending"] == 0)
        assert _frames(store, session) == [1000 + i for i in range(15, 25)]  # the newest ten
        assert state.flag("store")["lost"] == 15
    finally:
        writer.stop()


def test_a_stride_keeps_the_time_it_was_handed_over(full: tuple[Store, int]) -> None:
    store, session = full
    state = LiveState()
    writer = StrideWriter(store, state, NullOps())
    writer.start()
    try:
        before = time.time()
        writer.submit(_Pending(session, _stride(0), None))
        assert _wait(lambda: state.flag("store")["pending"] == 1)
        time.sleep(0.5)
        store.cap_pages(1_000_000)
        assert _wait(lambda: state.flag("store")["pending"] == 0)
        row = next(r for r in store.strides(session) if r.foot_strike_frame == 1000)
        assert row.recorded_at is not None and before <= row.recorded_at < before + 0.4
    finally:
        writer.stop()


def test_stopping_while_full_says_how_many_are_lost(full: tuple[Store, int], caplog: pytest.LogCaptureFixture) -> None:
    store, session = full
    state = LiveState()
    writer = StrideWriter(store, state, NullOps())
    writer.start()
    for i in range(3):
        writer.submit(_Pending(session, _stride(i), None))
    assert _wait(lambda: state.flag("store")["pending"] == 3)
    writer.stop()
    assert "stopping with 3 strides not saved" in caplog.text
    assert "disk full: strides are not being saved" in caplog.text
