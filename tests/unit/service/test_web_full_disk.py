"""The web on a full disk (the store's pages capped: SQLite answers SQLITE_FULL as on a full disk):
stop and notes answer 507 with a clear JSON error, never 500, and work once there is room; /healthz
is 503 "degraded" while the stride writer holds strides, with the storage figures in its body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_fakes import web_app

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.records.store import DiskFull, Store
from hipcam.records.stride import StrideRecord
from hipcam.service.metrics import BoardCollector, Metrics
from hipcam.service.state import LiveState

PIN = "2468"


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[tuple[Any, Store, LiveState]]:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin(PIN)}})
    store, state = Store(tmp_path / "data", min_free_mb=0), LiveState()
    board = BoardCollector(None, thermal_path=Path("/nonexistent"), throttled_path=None)
    metrics = Metrics(board=board, process_metrics=False)
    metrics.set_camera_state("streaming")
    metrics.frame_processed(0.03)
    client = web_app(store, cfg, state, health=metrics, board=list).test_client()
    token = client.get("/api/auth").get_json()["csrf_token"]
    r = client.post("/api/login", json={"pin": PIN}, headers={"X-CSRF-Token": token})
    client.environ_base["HTTP_X_CSRF_TOKEN"] = r.get_json()["csrf_token"]
    yield client, store, state
    store.close()


def _fill(store: Store, session: int) -> None:
    store.cap_pages(store.page_count())
    stride = StrideRecord.from_json({"leg": "left", "class": "B", "hip_extension_deg": 10.0})
    while True:
        try:
            store.add_stride(session, stride)
        except DiskFull:
            return


def test_notes_and_stop_on_a_full_disk_answer_507_then_work(env: tuple[Any, Store, LiveState]) -> None:
    client, store, _ = env
    session = client.post("/api/sessions", json={"runner": "Ann"}).get_json()["id"]
    _fill(store, session)
    r = client.patch(f"/api/sessions/{session}", json={"notes": "n" * 9000})
    assert r.status_code == 507, r.get_data(as_text=True)
    body = r.get_json()
    assert (
        body["disk_full"] and body["status"] == 507 and body["error"].startswith("disk full: the notes were not saved")
    )
    store.cap_pages(0)  # the cap at the database's size now: not one more page
    original = store.stop_session

    def full_stop(session_id: int | None = None) -> dict[str, Any]:
        raise DiskFull("disk full: nothing was saved")

    store.stop_session = full_stop  # type: ignore[method-assign]  # a WAL that cannot grow
    r = client.post(f"/api/sessions/{session}/stop")
    assert r.status_code == 507 and "not stopped (it is still running)" in r.get_json()["error"]
    assert store.active_session_id == session
    store.stop_session = original  # type: ignore[method-assign]
    store.cap_pages(1_000_000)  # room again
    assert client.patch(f"/api/sessions/{session}", json={"notes": "n" * 9000}).status_code == 200
    r = client.post(f"/api/sessions/{session}/stop")
    assert r.status_code == 200 and r.get_json()["ended_at"] is not None


def test_any_route_refused_by_a_full_disk_is_507_not_500(env: tuple[Any, Store, LiveState]) -> None:
    client, store, _ = env

    def full(*args: Any, **kwargs: Any) -> Any:
        raise DiskFull("disk full: nothing was saved")

    store.start_session = full  # type: ignore[method-assign]
    r = client.post("/api/sessions", json={"runner": "Ann"})
    assert r.status_code == 507 and r.get_json()["error"].startswith("disk full: no session was started")


def test_healthz_is_degraded_while_strides_wait(env: tuple[Any, Store, LiveState]) -> None:
    client, _, state = env
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"
    assert r.get_json()["storage"]["disk_full"] is False
    state.set_flags(store={"disk_full": True, "pending": 17, "lost": 0, "written_after_full": 0,
                           "snapshots_skipped": {"disk_full": 3}})  # fmt: skip
    r = client.get("/healthz")
    body = r.get_json()
    assert r.status_code == 503 and body["status"] == "degraded"
    assert body["reason"].startswith("disk full: strides are not being saved — 17 waiting")
    assert body["storage"]["pending"] == 17
    state.set_flags(store={"disk_full": False, "pending": 0, "lost": 4, "written_after_full": 17,
                           "snapshots_skipped": {"disk_full": 3}})  # fmt: skip
    r = client.get("/healthz")
    assert r.status_code == 200 and "4 strides lost while the disk was full" in r.get_json()["warnings"]
