"""The frame loop with fake capture/pose/gait: camera loss and recovery, missing model, drops."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from service_fakes import FakeGait, FakePose, FakeSource
from service_fakes import wait_until as _wait

from hipcam.config import HipcamConfig
from hipcam.config.gait import GaitParams
from hipcam.errors import AssetError, VideoError
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.capture_worker import CapturedFrame, FreshestSlot, Pacer, shrink
from hipcam.service.pipeline import Pipeline, RecentCadence, StrideWriter, _Pending
from hipcam.service.snapshots import SnapshotRing
from hipcam.service.state import LiveState
from hipcam.service.telemetry import NullOps

CFG = HipcamConfig.model_validate({"capture": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.5}})


class ReconnectingSource(FakeSource):
    """Refuses the first two opens, fails after 40 frames on the third, then works."""

    def __init__(self) -> None:
        super().__init__()
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens <= 2:
            raise VideoError("no camera")
        self.fail_after = 40 if self.opens == 3 else None
        super().open()


def test_camera_loss_recovers_in_process() -> None:
    src = ReconnectingSource()
    state = LiveState()
    pipe = Pipeline(CFG, src, state, None, pose_loader=lambda c: FakePose(), gait_factory=lambda *a: FakeGait())
    pipe.start()
    try:
        assert _wait(lambda: state.status == "camera_lost")
        assert _wait(lambda: src.opens >= 4 and state.status == "running", 10)
        assert pipe.capture.reconnects >= 3
    finally:
        pipe.stop()


def test_missing_model_is_a_status_and_camera_view_still_works() -> None:
    def loader(cfg: HipcamConfig) -> FakePose:
        raise AssetError("model x missing; run `hipcam fetch`")

    state = LiveState()
    pipe = Pipeline(CFG, FakeSource(), state, None, pose_loader=loader, gait_factory=lambda *a: FakeGait())
    pipe.start()
    try:
        assert _wait(lambda: state.status == "model_missing")
        assert "hipcam fetch" in state.snapshot()["message"]
        assert _wait(lambda: state.latest_frame() is not None)
        assert pipe.alive
    finally:
        pipe.stop()


def test_live_source_drops_and_strides_stored(tmp_path: Path) -> None:
    store = Store(tmp_path)
    session = store.start_session("x")
    state = LiveState()
    pipe = Pipeline(CFG, FakeSource(fps=300), state, store, pose_loader=lambda c: FakePose(0.02),
                    gait_factory=lambda *a: FakeGait())  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: len(store.strides(session["id"])) >= 2, 10)
        snap = state.snapshot()
        assert snap["live"]["frames_dropped"] > 0 and snap["current_class"] == "B"
        assert snap["flags"]["session_id"] == session["id"]
        assert snap["live"]["hip_extension_deg"] == 7.0 and snap["strides"][0]["t_end"] is not None
        cam = state.latest_frame()
        assert cam is not None and cam.landmarks is not None and len(cam.landmarks) == 33
    finally:
        pipe.stop()
        store.close()


class CountingOps(NullOps):
    def __init__(self) -> None:
        self.recorded = self.skipped = 0

    def stride_recorded(self) -> None:
        self.recorded += 1

    def snapshot_skipped_low_disk(self) -> None:
        self.skipped += 1


@pytest.mark.parametrize(("min_free_mb", "low_disk"), [(10, False), (10**9, True)])
def test_stride_writer_counts_a_snapshot_only_when_the_store_did_not_save_it(
    tmp_path: Path, min_free_mb: int, low_disk: bool
) -> None:
    store = Store(tmp_path, min_free_mb=min_free_mb)
    session = store.start_session()["id"]
    ops = CountingOps()
    writer = StrideWriter(store, LiveState(), ops)
    writer.start()
    writer.submit(_Pending(session, StrideRecord.from_json({"leg": "left", "class": "B"}), b"\xff\xd8jpeg"))
    writer.submit(_Pending(session, StrideRecord.from_json({"leg": "right", "class": "C"}), None))
    writer.stop()
    try:
        rows = store.strides(session)
        assert ops.recorded == 2 and ops.skipped == int(low_disk)  # a stride without a snapshot is no skip
        assert [r.snapshot is not None for r in rows] == [not low_disk, False]
    finally:
        store.close()


def test_nobody_in_view_gives_no_runner_and_gait_gets_no_landmarks() -> None:
    seen: list[object] = []

    class Recorder(FakeGait):
        def update(self, t_s, landmarks, mask_features=None):  # type: ignore[no-untyped-def]
            seen.append(landmarks)
            return super().update(t_s, landmarks, mask_features)

    state = LiveState()
    pipe = Pipeline(CFG, FakeSource(fps=60), state, None, pose_loader=lambda c: FakePose(found=False),
                    gait_factory=lambda *a: Recorder(every=0))  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: state.status == "no_runner", 5)
        assert seen and all(lm is None for lm in seen)
        assert state.snapshot()["live"]["thigh_deg"] is None  # NaN from the gait code -> null
    finally:
        pipe.stop()


def test_gait_gets_the_work_frame_size_and_roll() -> None:
    got: list[tuple[float, float, tuple[int, int]]] = []

    def factory(params: GaitParams, fps: float, roll: float, size: tuple[int, int]) -> FakeGait:
        got.append((fps, roll, size))
        return FakeGait()

    cfg = HipcamConfig.model_validate({"level": {"mode": "manual", "roll_deg": 2.5}})
    state = LiveState()
    pipe = Pipeline(cfg, FakeSource(), state, None, pose_loader=lambda c: FakePose(), gait_factory=factory)
    pipe.start()
    try:
        assert _wait(lambda: pipe.frames_processed > 3)
        assert got == [(30.0, 2.5, (64, 48))]
    finally:
        pipe.stop()


def test_slot_keeps_only_the_freshest_frame() -> None:
    slot = FreshestSlot()
    for i in range(3):
        slot.put(CapturedFrame(np.zeros((2, 2, 3), np.uint8), i, i / 30, time.time()))
    item = slot.get(0.1)
    assert item is not None and item.index == 2 and slot.dropped == 2
    assert slot.get(0.01) is None


def test_shrink_fits_the_work_size_once() -> None:
    big = np.zeros((994, 1768, 3), np.uint8)
    assert shrink(big).shape == (497, 884, 3)
    small = np.zeros((480, 640, 3), np.uint8)
    assert shrink(small) is small  # never upscaled, never copied


def test_shrink_writes_into_a_given_array() -> None:
    big = np.random.default_rng(0).integers(0, 255, (994, 1768, 3), dtype=np.uint8)
    out = np.zeros((497, 884, 3), np.uint8)
    assert np.shares_memory(shrink(big, out=out), out)
    assert np.array_equal(out, shrink(big))
    fits = big[:400, :600]
    same = np.zeros_like(fits)
    shrink(fits, out=same)
    assert np.array_equal(same, fits)


def _solid(value: int, h: int = 360, w: int = 640) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def _decoded_value(jpeg: bytes | None) -> float:
    assert jpeg is not None
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return float(image.mean())


def test_snapshot_ring_keeps_the_last_frames_by_number() -> None:
    ring = SnapshotRing(capacity=3, width=320)
    assert ring.jpeg(0) is None and len(ring) == 0
    for n in range(5):  # frames 2, 3, 4 stay
        ring.keep(n, n / 30, _solid(40 * n))
    assert len(ring) == 3
    assert ring.time_of(3, default=-1.0) == 3 / 30
    assert ring.time_of(1, default=-1.0) == -1.0
    assert abs(_decoded_value(ring.jpeg(2)) - 80) < 3
    assert abs(_decoded_value(ring.jpeg(1)) - 160) < 3  # no longer kept: the newest frame instead
    assert abs(_decoded_value(ring.jpeg(None)) - 160) < 3
    ring.clear()
    assert len(ring) == 0 and ring.jpeg(4) is None


def test_snapshot_ring_follows_a_change_of_frame_size() -> None:
    ring = SnapshotRing(capacity=4, width=320)
    ring.keep(0, 0.0, _solid(50))
    ring.keep(1, 0.1, _solid(200, 720, 960))  # e.g. a camera reconnected at another resolution
    assert len(ring) == 1 and ring.time_of(0, -1.0) == -1.0
    jpeg = ring.jpeg(1)
    assert jpeg is not None
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)


def test_pacer_plays_a_file_at_its_rate_without_bursting() -> None:
    import threading

    pacer = Pacer(50.0, threading.Event())
    t0 = time.monotonic()
    for _ in range(11):
        pacer.wait()
    assert 0.18 <= time.monotonic() - t0 < 0.5
    time.sleep(1.2)  # fell far behind (a stall): the clock restarts instead of bursting
    t1 = time.monotonic()
    for _ in range(6):
        pacer.wait()
    assert time.monotonic() - t1 >= 0.09


def _stride(t_start: float, t_end: float, cls: str = "B") -> StrideRecord:
    return StrideRecord(
        "left", cls, 0.9, hip_extension_deg=20.0, thigh_peak_deg=20.0, trunk_lean_deg=0.0, t_start=t_start, t_end=t_end
    )


def test_cadence_from_stride_durations_ignores_pauses() -> None:
    cadence = RecentCadence()
    assert cadence.update((_stride(0.0, 0.7),)) is None  # one stride is not a rate yet
    assert cadence.update((_stride(0.35, 1.05),)) == 120.0 / 0.7
    # The runner steps off for a minute and comes back: the rate is still the runner's, not diluted.
    assert abs(cadence.update((_stride(61.0, 61.7),)) - 120.0 / 0.7) < 1e-9
    # A split stride (unknown) does not count.
    assert abs(cadence.update((_stride(62.0, 62.3, "unknown"), _stride(62.3, 62.6, "unknown"))) - 120.0 / 0.7) < 1e-9


def test_changed_level_or_direction_restarts_the_gait_tracker() -> None:
    from hipcam.service.settings import Settings

    got: list[tuple[float, str]] = []

    def factory(params: GaitParams, fps: float, roll: float, size: tuple[int, int]) -> FakeGait:
        got.append((roll, params.direction))
        return FakeGait()

    cfg = HipcamConfig.model_validate({"level": {"mode": "off"}})
    settings = Settings(cfg, None)
    state = LiveState()
    pipe = Pipeline(
        cfg, FakeSource(), state, None, pose_loader=lambda c: FakePose(), gait_factory=factory, settings=settings
    )
    pipe.start()
    try:
        assert _wait(lambda: pipe.frames_processed > 3)
        assert state.snapshot()["level"]["text"] == "off: no correction"
        settings.update({"level": {"mode": "manual", "roll_deg": -3.0}})
        assert _wait(lambda: state.snapshot()["level"]["roll_deg"] == -3.0)
        settings.update({"gait": {"direction": "left"}})
        assert _wait(lambda: len(got) == 3)
        settings.update({"server": {"open_viewing": False}})  # nothing the tracker uses
        time.sleep(0.1)
        assert got == [(0.0, "auto"), (-3.0, "auto"), (-3.0, "left")]  # one tracker per setting, no extra restarts
        assert cfg.level.mode == "off" and cfg.gait.direction == "auto"  # the start-up config is never changed
    finally:
        pipe.stop()
