"""Metrics registry, /healthz and /metrics, board readings, and the structured log format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from service_fakes import web_app

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.logging_setup import setup_logging
from hipcam.records.store import DiskState, Store
from hipcam.service.metrics import BoardCollector, Metrics, read_throttled, throttle_flags


class _NoBoard(BoardCollector):
    def __init__(self) -> None:
        super().__init__(None, thermal_path=Path("/nonexistent"), throttled_path=None)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    yield s
    s.close()


def _client(metrics: Metrics, store: Store, max_age: float = 5.0, metrics_enabled: bool = True) -> FlaskClient:
    cfg = HipcamConfig.model_validate({"health": {"max_frame_age_s": max_age, "metrics_enabled": metrics_enabled}})
    return web_app(store, cfg, health=metrics).test_client()


def test_healthz_follows_frames(store: Store) -> None:
    now = [0.0]
    m = Metrics(board=_NoBoard(), clock=lambda: now[0], process_metrics=False)
    client = _client(m, store)
    r = client.get("/healthz")  # type: ignore[attr-defined]
    assert r.status_code == 503 and "no frame analysed yet" in r.get_json()["reason"]
    m.set_camera_state("streaming")
    for _ in range(60):
        m.frame_processed(0.03)
        now[0] += 1 / 30
    r = client.get("/healthz")  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.get_json()["status"] == "ok" and 29 < r.get_json()["fps"] < 31
    m.set_camera_state("lost")
    now[0] += 6.0
    r = client.get("/healthz")  # type: ignore[attr-defined]
    assert r.status_code == 503 and r.get_json()["reason"].startswith("camera lost")
    m.set_camera_state("streaming")
    r = client.get("/healthz")  # type: ignore[attr-defined]
    assert r.status_code == 503 and r.get_json()["reason"].startswith("pipeline stalled")


def test_metrics_exposition(tmp_path: Path) -> None:
    thermal = tmp_path / "temp"
    thermal.write_text("48312\n")
    throttled = tmp_path / "get_throttled"
    throttled.write_text("50005\n")
    m = Metrics(board=BoardCollector(tmp_path, thermal, throttled), version="9.9")
    m.observe_stage("detector", 0.012)
    m.frame_processed(0.04)
    m.frame_dropped(3)
    m.frames_skipped(5, 0.5)
    m.detector_run()
    m.mask_computed()
    m.snapshot_skipped_low_disk()
    m.set_camera_state("reconnecting")
    body, ctype = m.render()
    text = body.decode()
    assert ctype.startswith("text/plain")
    for line in (
        "hipcam_frames_processed_total 1.0",
        "hipcam_frames_dropped_total 3.0",
        "hipcam_frames_skipped_evenly_total 5.0",
        "hipcam_analysed_share 0.5",
        "hipcam_detector_runs_total 1.0",
        "hipcam_mask_frames_total 1.0",
        "hipcam_snapshots_skipped_low_disk_total 1.0",
        'hipcam_stage_seconds_count{stage="detector"} 1.0',
        'hipcam_stage_seconds_count{stage="gait"} 0.0',
        'hipcam_camera_state{state="reconnecting"} 1.0',
        'hipcam_camera_state{state="streaming"} 0.0',
        "hipcam_cpu_temperature_celsius 48.312",
        'hipcam_throttled{flag="under_voltage"} 1.0',
        'hipcam_throttled{flag="throttled"} 1.0',
        'hipcam_throttled{flag="arm_freq_capped"} 0.0',
        'hipcam_build_info{version="9.9"} 1.0',
        "process_resident_memory_bytes",
        "hipcam_data_dir_free_bytes",
    ):
        assert line in text, line
    # Two services in one process do not collide: no global registry.
    Metrics(board=_NoBoard())


def test_absent_board_readings_are_absent() -> None:
    text = Metrics(board=_NoBoard(), process_metrics=False).render()[0].decode()
    assert "hipcam_cpu_temperature_celsius" not in text and "hipcam_throttled" not in text
    assert read_throttled(None) is None
    assert throttle_flags(0x50000)["under_voltage_occurred"] and not throttle_flags(0x50000)["under_voltage"]


def test_metrics_endpoint(store: Store) -> None:
    m = Metrics(board=_NoBoard(), process_metrics=False)
    r = _client(m, store).get("/metrics")
    assert r.status_code == 200 and b"hipcam_frames_processed_total" in r.data


def test_metrics_can_be_disabled(store: Store) -> None:
    m = Metrics(board=_NoBoard(), process_metrics=False)
    client = _client(m, store, metrics_enabled=False)
    assert client.get("/metrics").status_code == 404
    assert client.get("/healthz").status_code == 503  # health stays: no frame yet


def test_ops_are_public_when_viewing_needs_the_pin(tmp_path: Path) -> None:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin("2468"), "open_viewing": False}})
    m = Metrics(board=_NoBoard(), process_metrics=False)
    store = Store(tmp_path)
    c = web_app(store, cfg, health=m).test_client()
    try:
        assert c.get("/api/state").status_code == 401  # viewing is closed ...
        r = c.get("/metrics")  # ... but Prometheus can scrape without a login
        assert r.status_code == 200 and b"hipcam_frames_processed_total" in r.data
        assert c.get("/healthz").status_code == 503 and "reason" in c.get("/healthz").get_json()
    finally:
        store.close()


def _low_disk_warnings(client: FlaskClient) -> list[str]:
    return [w for w in client.get("/healthz").get_json()["warnings"] if "disk" in w]


def test_low_disk_warning_is_the_stores_disk_state(store: Store, tmp_path: Path) -> None:
    m = Metrics(board=_NoBoard(), process_metrics=False)

    def client_for(disk_state: Callable[[], DiskState]) -> FlaskClient:
        store.disk_state = disk_state  # type: ignore[method-assign]  # the store's own verdict, faked
        return web_app(store, health=m).test_client()

    paused = DiskState(free_mb=150.4, snapshots_paused=True)
    assert _low_disk_warnings(client_for(lambda: paused)) == ["low disk: 150 MiB free, snapshots paused"]
    plenty = DiskState(free_mb=150.4, snapshots_paused=False)  # the store's threshold decides, not ours
    assert _low_disk_warnings(client_for(lambda: plenty)) == []
    # A real store: healthz warns exactly when the store pauses snapshots.
    for min_free_mb, warned in ((10**12, True), (0, False)):
        real = Store(tmp_path / str(min_free_mb), min_free_mb)
        try:
            assert real.disk_state().snapshots_paused is warned
            assert bool(_low_disk_warnings(web_app(real, health=m).test_client())) is warned
        finally:
            real.close()


def test_json_logs_for_journald() -> None:
    out = io.StringIO()
    setup_logging("debug", "json", stream=out, environ={"JOURNAL_STREAM": "8:123"})
    log = logging.getLogger("hipcam.test")
    log.warning("camera lost", extra={"source": "/dev/video0"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("frame failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # a traceback stays inside its one JSON line
    assert lines[0].startswith("<4>{") and lines[1].startswith("<3>{")
    rec = json.loads(lines[0][3:])
    assert rec["level"] == "warning" and rec["msg"] == "camera lost" and rec["source"] == "/dev/video0"
    assert "ValueError: boom" in json.loads(lines[1][3:])["exc"]


def test_logfmt_and_env_level() -> None:
    out = io.StringIO()
    setup_logging("info", "logfmt", stream=out, environ={"HIPCAM_LOG_LEVEL": "error"})
    logging.getLogger("x").warning("hidden")
    logging.getLogger("x").error('port "8080" busy')
    assert out.getvalue().count("\n") == 1
    assert 'msg="port \\"8080\\" busy"' in out.getvalue() and "level=error" in out.getvalue()
    setup_logging("info", "text", stream=io.StringIO(), environ={})


def test_the_pose_precision_is_in_healthz_and_metrics(store: Store, models_dir: Path) -> None:
    from hipcam.pose.tracker import BlazePose
    from hipcam.service.frame_analysis import describe_pose
    from hipcam.service.notify import Notifier, Watchdog
    from hipcam.service.telemetry import ServiceOps

    m = Metrics(board=_NoBoard(), process_metrics=False)
    client = _client(m, store)
    assert client.get("/healthz").get_json()["pose"] == {}  # type: ignore[attr-defined]  # not loaded yet
    cfg = HipcamConfig.model_validate({"pose": {"precision": "fp32", "threads": 1}})
    ServiceOps(m, Watchdog(Notifier({}))).pose_loaded(describe_pose(BlazePose.from_config(cfg, models_dir=models_dir)))
    pose = client.get("/healthz").get_json()["pose"]  # type: ignore[attr-defined]
    assert pose == {"precision": "fp32", "requested": "fp32", "reason": "asked for in the config", "threads": 1}
    text = client.get("/metrics").get_data(as_text=True)  # type: ignore[attr-defined]
    assert (
        'hipcam_pose_info{precision="fp32",reason="asked for in the config",requested="fp32",threads="1"} 1.0' in text
    )
