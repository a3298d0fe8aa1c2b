"""MQTT on the device without a broker: topics and bodies (checked against docs/mqtt/'s schemas),
the bounded queue, credentials and TLS at start-up, the publisher with a fake paho client (the
frame loop's offer never reaches paho), the pipeline's hook, /healthz and /metrics."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mosquitto import load_schema, schema_errors
from paho.mqtt.enums import MQTTErrorCode
from pydantic import ValidationError
from service_fakes import FakeGait, FakePose, FakeSource, web_app
from service_fakes import wait_until as _wait

from hipcam.config import DeviceConfig, HipcamConfig, MqttConfig, ServerConfig
from hipcam.errors import ConfigError
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.metrics import Metrics
from hipcam.service.mqtt import (
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    MqttPublisher,
    PendingStride,
    StrideQueue,
    make_client,
    page_url,
    read_password,
)
from hipcam.service.mqtt_messages import DeviceInfo, discovery_messages, state_message, stride_message, topics_for
from hipcam.service.pipeline import Pipeline
from hipcam.service.state import LiveMetrics, LiveState

DEVICE = DeviceInfo("treadmill-3", "Treadmill 3", "1.2.3", "http://treadmill-3.local:8080/")
STATE_SCHEMA, STRIDE_SCHEMA = load_schema("state"), load_schema("stride")
OK = SimpleNamespace(is_failure=False)


def _stride(cls: str = "B", ext: float | None = 12.345, **kw: Any) -> StrideRecord:
    values: dict[str, Any] = {"leg": "left", "cls": cls, "hip_extension_at_toe_off_deg": ext,
                              "trunk_lean_at_toe_off_deg": 4.0, "thigh_at_toe_off_deg": 21.06, "stance_s": 0.2514,
                              "duration_s": 0.7, **kw}  # fmt: skip
    return StrideRecord(**values)


# ---- messages -----------------------------------------------------------------------------------
def test_topics_default_to_the_device_id() -> None:
    t = topics_for(None, "homeassistant", "treadmill-3")
    assert (t.availability, t.state, t.stride) == ("hipcam/treadmill-3/availability", "hipcam/treadmill-3/state",
                                                   "hipcam/treadmill-3/stride")  # fmt: skip
    assert t.discovery("fps") == "homeassistant/sensor/treadmill-3/fps/config"
    assert topics_for("gym/floor2/t3", "ha", "treadmill-3").state == "gym/floor2/t3/state"


def test_state_from_the_live_snapshot_conforms() -> None:
    state = LiveState()
    state.set_flags(session_id=7, runner="Ada Lovelace")
    state.publish(t_s=1.0, frame_index=30, captured_at=time.time(), metrics=LiveMetrics(cadence_spm=171.4, fps=29.7),
                  strides=[_stride("C")], status="running")  # fmt: skip
    body = state_message(DEVICE, state.snapshot(full=False), 29.66, _stride("B", 12.345), 1_700_000_000.5)
    assert schema_errors(body, STATE_SCHEMA) == []
    assert body["status"] == "running" and body["current_class"] == "C" and body["session_active"] is True
    assert body["hip_extension_at_toe_off_deg"] == 12.3 and body["cadence_spm"] == 171.0 and body["fps"] == 29.7
    assert body["timestamp"] == "2023-11-14T22:13:20.500+00:00"
    assert "Ada" not in json.dumps(body)  # the state never names the runner


def test_state_before_anything_happened_conforms() -> None:
    body = state_message(DeviceInfo("t1", "t1", "0"), LiveState().snapshot(full=False), 0.0, None, 0.0)
    assert schema_errors(body, STATE_SCHEMA) == []
    assert body["current_class"] is None and body["page_url"] is None and body["session_active"] is False


def test_stride_has_no_runner_unless_asked() -> None:
    body = stride_message(DEVICE, _stride(ext=math.nan, stance_s=None), 1_700_000_000.0, 4)
    assert schema_errors(body, STRIDE_SCHEMA) == []
    assert "runner" not in body and body["hip_extension_at_toe_off_deg"] is None and body["stance_s"] is None
    assert body["thigh_at_toe_off_deg"] == 21.1 and body["class"] == "B" and body["session_id"] == 4
    named = stride_message(DEVICE, _stride("unknown"), 0.0, None, runner="Ada")
    assert schema_errors(named, STRIDE_SCHEMA) == [] and named["runner"] == "Ada"


def test_schema_checker_reports_what_is_wrong() -> None:
    body = stride_message(DEVICE, _stride(), 0.0, 1)
    body.update(leg="middle", extra=1, duration_s="long")
    del body["class"]
    errors = schema_errors(body, STRIDE_SCHEMA)
    assert any("'class' is required" in e for e in errors) and any("'extra' is not allowed" in e for e in errors)
    assert any("$.leg" in e for e in errors) and any("$.duration_s" in e for e in errors)
    assert schema_errors(True, {"type": "integer"}) != []  # a bool is no number


def test_discovery_configs_read_the_state() -> None:
    topics = topics_for(None, "homeassistant", DEVICE.device_id)
    configs = dict(discovery_messages(topics, DEVICE))
    objects = {t.split("/")[3] for t in configs}
    assert objects == {"class", "hip_extension", "cadence", "status", "fps"}
    state = state_message(DEVICE, LiveState().snapshot(full=False), 1.0, None, 0.0)
    unique = set()
    for topic, config in configs.items():
        assert topic.startswith("homeassistant/sensor/treadmill-3/") and topic.endswith("/config")
        assert config["state_topic"] == "hipcam/treadmill-3/state"
        assert config["availability_topic"] == "hipcam/treadmill-3/availability"
        key = config["value_template"].removeprefix("{{ value_json.").removesuffix(" }}")
        assert key in state, config["value_template"]
        device = config["device"]
        assert device["identifiers"] == ["hipcam_treadmill-3"] and device["model"] == "hipcam"
        assert device["name"] == "Treadmill 3" and device["sw_version"] == "1.2.3"
        assert device["configuration_url"] == DEVICE.page_url
        unique.add(config["unique_id"])
    assert len(unique) == 5
    assert configs["homeassistant/sensor/treadmill-3/hip_extension/config"]["unit_of_measurement"] == "°"


@pytest.mark.parametrize(
    ("host", "advertise", "tls", "expected"),
    [("0.0.0.0", True, False, "http://t1.local:8080/"), ("0.0.0.0", False, False, None),
     ("127.0.0.1", True, False, None), ("192.168.1.20", True, True, "https://192.168.1.20:8080/"),
     ("fd00::5", False, False, "http://[fd00::5]:8080/")],
)  # fmt: skip
def test_page_url(host: str, advertise: bool, tls: bool, expected: str | None, tmp_path: Path) -> None:
    server = ServerConfig.model_validate({"host": host, "port": 8080})
    if tls:
        server = server.model_copy(update={"tls_cert": tmp_path / "c.pem"})
    assert page_url(server, DeviceConfig(id="t1", advertise=advertise), 8080) == expected


# ---- the queue ----------------------------------------------------------------------------------
def _pending(i: int) -> PendingStride:
    return PendingStride(_stride(), float(i), None, None)


def test_queue_drops_the_oldest_and_counts() -> None:
    q = StrideQueue(3)
    for i in range(5):
        q.offer(_pending(i))
    assert len(q) == 3 and q.dropped == 2
    first = q.take()
    assert first is not None and first.at == 2.0
    q.put_back(first)
    assert [getattr(q.take(), "at", None) for _ in range(3)] == [2.0, 3.0, 4.0]
    assert q.take() is None
    for i in range(3):
        q.offer(_pending(i))
    q.put_back(_pending(9))  # full again: the one handed back is the one that goes
    assert len(q) == 3 and q.dropped == 3


# ---- credentials and TLS at start-up ----------------------------------------------------------
def test_password_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "pw"
    with pytest.raises(ConfigError, match=r"mqtt.password_file .*pw: cannot read it \(No such file or directory\)"):
        read_password(f)
    f.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        read_password(f)
    f.write_text("s3cret\nignored\n")
    f.chmod(0o600)
    assert read_password(f) == "s3cret" and not caplog.records
    f.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert read_password(f) == "s3cret"
    assert "can be read by others" in caplog.text
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="cannot read it"):
        read_password(f)


def test_client_refuses_unusable_credentials(tmp_path: Path) -> None:
    def client(**mqtt: Any) -> Any:
        return make_client(MqttConfig.model_validate(mqtt), "id", "t/availability")

    with pytest.raises(ValidationError, match=r"mqtt\.password_file needs mqtt\.username"):
        client(password_file=tmp_path / "pw")  # refused by the config itself (config check sees it)
    with pytest.raises(ConfigError, match="cannot read it"):
        client(username="u", password_file=tmp_path / "pw")
    with pytest.raises(ConfigError, match="not found"):
        client(tls_ca_file=tmp_path / "ca.pem")
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="cannot be used"):
        client(tls_ca_file=tmp_path / "ca.pem")
    assert client(username="u") is not None  # a user name alone is fine (a broker may not ask for more)


# ---- the publisher with a fake paho client --------------------------------------------------------
class FakeClient:
    """Records publishes (and the threads they came from); ``rc`` is what publish answers."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, int, bool]] = []
        self.threads: set[str] = set()
        self.subscribed: list[str] = []
        self.rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        self.gate = threading.Event()
        self.gate.set()
        self.on_connect: Any = None
        self.on_connect_fail: Any = None
        self.on_disconnect: Any = None
        self.on_message: Any = None
        self.loop_stopped = False

    def connect_async(self, host: str, port: int, keepalive: int) -> None:
        self.keepalive = keepalive

    def loop_start(self) -> None:
        pass

    def loop_stop(self) -> None:
        self.loop_stopped = True

    def disconnect(self) -> None:
        pass

    def subscribe(self, topic: str, qos: int = 0) -> None:
        self.subscribed.append(topic)

    def publish(self, topic: str, payload: str, qos: int = 0, retain: bool = False) -> Any:
        self.threads.add(threading.current_thread().name)
        self.gate.wait()
        if self.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.published.append((topic, payload, qos, retain))
        return SimpleNamespace(rc=self.rc, wait_for_publish=lambda timeout: None)

    def on(self, suffix: str) -> list[tuple[str, str, int, bool]]:
        return [p for p in self.published if p[0].endswith(suffix)]


def _publisher(state: LiveState | None = None, **mqtt: Any) -> tuple[MqttPublisher, FakeClient]:
    fake = FakeClient()
    cfg = MqttConfig.model_validate({"enabled": True, "queue_max": 10, **mqtt})
    pub = MqttPublisher(cfg, DEVICE, state or LiveState(), lambda: 14.5, client_factory=lambda *a: fake)
    return pub, fake


def test_announces_on_connect_and_sends_strides_and_state() -> None:
    state = LiveState()
    state.set_flags(runner="Ada")
    pub, fake = _publisher(state)
    pub.start()
    try:
        assert pub.connection == CONNECTING
        pub.offer_strides((_stride("A"), _stride("unknown", 30.0)), 1_700_000_000.0, 3)  # before the connection
        assert fake.published == []
        fake.on_connect(fake, None, None, OK, None)
        assert _wait(lambda: len(fake.on("/stride")) == 2 and fake.on("/state"))
        assert fake.subscribed == ["homeassistant/status"]
        assert fake.published[0] == ("hipcam/treadmill-3/availability", "online", 1, True)
        assert len(fake.on("/config")) == 5 and all(p[2:] == (1, True) for p in fake.on("/config"))
        strides = [json.loads(p[1]) for p in fake.on("/stride")]
        assert [s["class"] for s in strides] == ["A", "unknown"] and all("runner" not in s for s in strides)
        assert all(schema_errors(s, STRIDE_SCHEMA) == [] for s in strides)
        body = json.loads(fake.on("/state")[-1][1])
        assert schema_errors(body, STATE_SCHEMA) == [] and body["fps"] == 14.5
        assert body["hip_extension_at_toe_off_deg"] == 12.3  # the last classified stride's, not the unknown one's
        assert fake.on("/state")[-1][2:] == (0, True)
        assert pub.status().sent >= 9 and pub.status().state == CONNECTED
        assert fake.threads == {"hipcam-mqtt"}  # the caller of offer_strides never reached paho
    finally:
        pub.stop()
    assert fake.published[-1] == ("hipcam/treadmill-3/availability", "offline", 1, True) and fake.loop_stopped


def test_runner_only_with_include_runner() -> None:
    state = LiveState()
    state.set_flags(runner="Ada")
    pub, fake = _publisher(state, include_runner=True)
    pub.start()
    try:
        fake.on_connect(fake, None, None, OK, None)
        pub.offer_strides((_stride(),), 0.0, 1)
        assert _wait(lambda: fake.on("/stride"))
        assert json.loads(fake.on("/stride")[0][1])["runner"] == "Ada"
    finally:
        pub.stop()


def test_state_at_most_once_a_second() -> None:
    pub, fake = _publisher()
    pub.start()
    try:
        fake.on_connect(fake, None, None, OK, None)
        started = time.monotonic()
        for _ in range(30):
            pub.offer_strides((_stride(),), 0.0, None)  # every offer wakes the publisher
            time.sleep(0.04)
        elapsed = time.monotonic() - started
    finally:
        pub.stop()
    assert 1 <= len(fake.on("/state")) <= math.ceil(elapsed) + 1
    stamps = [json.loads(p[1])["timestamp"] for p in fake.on("/state")]
    assert len(set(stamps)) == len(stamps)


def test_a_blocked_client_never_blocks_the_offer() -> None:
    pub, fake = _publisher(queue_max=10)
    fake.gate.clear()  # publish hangs, like a socket to a broker that stopped reading
    pub.start()
    fake.on_connect(fake, None, None, OK, None)
    assert _wait(lambda: fake.threads == {"hipcam-mqtt"})  # the publisher thread is stuck in publish
    offered = threading.Event()

    def frame_loop() -> None:
        for i in range(100):
            pub.offer_strides((_stride(),), float(i), None)
        offered.set()

    threading.Thread(target=frame_loop, daemon=True).start()
    assert offered.wait(5), "offer_strides blocked behind a hung publish"
    status = pub.status()
    assert status.queued == 10 and status.dropped == 90
    fake.gate.set()
    pub.stop()


def test_strides_wait_while_disconnected_and_follow_on_reconnect(caplog: pytest.LogCaptureFixture) -> None:
    pub, fake = _publisher()
    pub.start()
    try:
        fake.on_connect(fake, None, None, OK, None)
        assert _wait(lambda: fake.on("/state"))
        with caplog.at_level(logging.WARNING):
            fake.rc = MQTTErrorCode.MQTT_ERR_NO_CONN  # the broker went: publish fails, the strides stay queued
            fake.on_disconnect(fake, None, None, "Unspecified error", None)
            for _ in range(3):
                fake.on_connect_fail(fake, None)
        pub.offer_strides((_stride("A"), _stride("D")), 0.0, 2)
        time.sleep(0.2)
        status = pub.status()
        assert status.state == DISCONNECTED and status.queued == 2 and "connect" in str(status.last_error)
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 2, warnings  # one line when it was lost, one for the first failed retry
        fake.rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        fake.on_connect(fake, None, None, OK, None)
        assert _wait(lambda: [json.loads(p[1])["class"] for p in fake.on("/stride")] == ["A", "D"])
        assert pub.status().queued == 0 and len(fake.on("availability")) == 2  # announced again
    finally:
        pub.stop()


def test_a_refused_connection_is_an_error_not_a_crash() -> None:
    pub, fake = _publisher()
    pub.start()
    try:
        fake.on_connect(fake, None, None, SimpleNamespace(is_failure=True, text="Not authorized"), None)
        status = pub.status()
        assert status.state == CONNECTING and "refused" in str(status.last_error)
        assert pub.health()["enabled"] is True and pub.health()["state"] == CONNECTING
    finally:
        pub.stop()


def test_home_assistant_online_reannounces() -> None:
    pub, fake = _publisher()
    pub.start()
    try:
        fake.on_connect(fake, None, None, OK, None)
        assert _wait(lambda: len(fake.on("/config")) == 5)
        fake.on_message(fake, None, SimpleNamespace(topic="homeassistant/status", payload=b"offline"))
        fake.on_message(fake, None, SimpleNamespace(topic="homeassistant/status", payload=b"online"))
        assert _wait(lambda: len(fake.on("/config")) == 10)
    finally:
        pub.stop()


# ---- the pipeline's hook, /healthz, /metrics -------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.offers: list[tuple[tuple[StrideRecord, ...], float, int | None, str]] = []

    def offer_strides(self, strides: tuple[StrideRecord, ...], at: float, session_id: int | None) -> None:
        self.offers.append((strides, at, session_id, threading.current_thread().name))


def test_the_pipeline_offers_completed_strides() -> None:
    rec = Recorder()
    state = LiveState()
    pipe = Pipeline(HipcamConfig(), FakeSource(fps=200), state, None, pose_loader=lambda c: FakePose(),
                    gait_factory=lambda *a: FakeGait(every=5), mqtt=rec)  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: len(rec.offers) >= 3)
    finally:
        pipe.stop()
    assert all(len(s) == 1 and name == "hipcam-pipeline" and sid is None for s, _, sid, name in rec.offers)
    assert all(at > 1_600_000_000 for _, at, _, _ in rec.offers)  # wall-clock capture times


def test_healthz_shows_mqtt_without_failing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        metrics = Metrics(process_metrics=False)
        metrics.set_camera_state("streaming")
        for _ in range(3):
            metrics.frame_processed(0.01)
        pub, _ = _publisher()
        client = web_app(store, health=metrics, mqtt=pub.health).test_client()
        r = client.get("/healthz")
        assert r.status_code == 200 and r.get_json()["status"] == "ok"
        mqtt = r.get_json()["mqtt"]
        assert mqtt == {"enabled": True, "state": "connecting", "broker": "localhost:1883", "last_error": None,
                        "queued": 0, "dropped": 0, "sent": 0}  # fmt: skip
        off = web_app(store, health=metrics).test_client().get("/healthz")
        assert off.get_json()["mqtt"] == {"enabled": False}
        metrics.watch_mqtt(pub.status)
        text = metrics.render()[0].decode()
        assert "hipcam_mqtt_connected 0.0" in text and 'hipcam_mqtt_state{state="connecting"} 1.0' in text
        assert "hipcam_mqtt_queued 0.0" in text and "hipcam_mqtt_dropped_total 0.0" in text
        assert "hipcam_mqtt_sent_total 0.0" in text
    finally:
        store.close()


def test_a_failing_cycle_is_logged_once_and_the_thread_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeClient()

    def broken_fps() -> float:
        raise RuntimeError("no fps today")

    cfg = MqttConfig.model_validate({"enabled": True})
    pub = MqttPublisher(cfg, DEVICE, LiveState(), broken_fps, client_factory=lambda *a: fake)
    pub.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="hipcam.service.mqtt"):
            fake.on_connect(fake, None, None, OK, None)
            time.sleep(1.3)  # two state attempts fail
            pub.offer_strides((_stride(),), 0.0, None)
            assert _wait(lambda: fake.on("/stride"))  # strides still go
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and errors[0].exc_info is not None
        assert any("failed again" in r.getMessage() for r in caplog.records)
    finally:
        pub.stop()
