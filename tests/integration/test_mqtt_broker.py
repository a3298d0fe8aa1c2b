"""MQTT end to end: `hipcam serve` processes publishing to a real mosquitto (Debian's package, on a
free loopback port, TLS with a CA made by openssl, user and password file), read by a paho
subscriber in the test.

The slow tests share one broker and three devices (treadmill-1..3, keepalive 5 s), each on the home
treadmill clip re-encoded at 10 frames/s and 360x640 (decoded at its own rate, like a camera) with one
interpreter thread, so three of them fit the two cores of the test machine with room to spare:
their frame rate is set by the clip, not by the CPU, and an MQTT outage that slowed the frame loop
would show. In file order: every device announces itself and publishes state and strides that
conform to docs/mqtt/'s schemas, and the first (walk-up mode on) the day's count of checks; a 30 s broker outage leaves each device's frame rate as it was
(medians of /healthz's fps compared) and ends with a reconnect and the strides made during it; a
clean stop publishes ``offline``, a SIGKILL is marked ``offline`` by the broker within 1.5
keepalives, and so is a frozen device (SIGSTOP), allowing for mosquitto's sweep. Figures are
printed (-s shows them).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from mosquitto import Mosquitto, Subscriber, load_schema, schema_errors
from paths import MODELS_DIR, REPO, SHARED_DATA

pytestmark = pytest.mark.integration

WALKUP = {"HIPCAM_WALKUP__ENABLED": "true", "HIPCAM_WALKUP__SETTLE_S": "1", "HIPCAM_WALKUP__STRIDES_PER_LEG": "4"}
KEEPALIVE_S = 5
MOSQUITTO_SWEEP_S = 6.0  # mosquitto 2.0 looks for clients past their keepalive only this often
OUTAGE_S = 30.0
CLIP_FPS = 10.0
DEVICES = ("treadmill-1", "treadmill-2", "treadmill-3")
OBJECTS = {"class", "hip_extension", "cadence", "status", "fps"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return dict(json.loads(r.read()))


def _healthz(url: str) -> dict[str, Any]:
    try:
        return _get_json(url + "/healthz")
    except urllib.error.HTTPError as exc:  # 503 while starting: the body still says why
        return dict(json.loads(exc.read()))


def _clip(path: Path, source: Path, every: int = 3, width: int = 640) -> Path:
    """``source`` with one frame in ``every``, at ``width``: a 10 frames/s clip of the same motion."""
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer: Any = None
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % every == 0:
            small = cv2.resize(frame, (width, round(frame.shape[0] * width / frame.shape[1] / 2) * 2))
            if writer is None:
                size = (small.shape[1], small.shape[0])
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps / every, size)
            writer.write(small)
        i += 1
    cap.release()
    assert writer is not None, f"no frames in {source}"
    writer.release()
    return path


@dataclass
class Device:
    device_id: str
    url: str
    log: Path
    proc: subprocess.Popen[bytes]
    fps: list[float] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"hipcam/{self.device_id}"

    def healthz(self) -> dict[str, Any]:
        return _healthz(self.url)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _serve(device_id: str, clip: Path, broker: Mosquitto, folder: Path) -> Device:
    port = _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **broker.env(), "HIPCAM_STORAGE__DATA_DIR": str(folder / "data"),
           "HIPCAM_DEVICE__ID": device_id, "HIPCAM_DEVICE__NAME": device_id.replace("-", " ").title(),
           "HIPCAM_DEVICE__ADVERTISE": "false", "HIPCAM_MQTT__KEEPALIVE_S": str(KEEPALIVE_S),
           "HIPCAM_POSE__THREADS": "1", **(WALKUP if device_id == DEVICES[0] else {})}  # fmt: skip
    env.pop("HIPCAM_CONFIG", None)
    log = folder / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hipcam.commands.cli", "serve", "--source", str(clip), "--host", "127.0.0.1",
             "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    return Device(device_id, f"http://127.0.0.1:{port}", log, proc)


def _wait_ready(devices: list[Device], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(devices)
    while waiting:
        d = waiting[0]
        assert d.proc.poll() is None, f"{d.device_id} exited: {d.log_text()[-3000:]}"
        with_body = _try(d.healthz)
        if with_body and with_body.get("status") == "ok" and with_body["mqtt"].get("state") == "connected":
            waiting.pop(0)
            continue
        if time.monotonic() > deadline:
            pytest.fail(f"{d.device_id} not ready: {with_body} {d.log_text()[-3000:]}")
        time.sleep(0.5)


def _try(fn: Any) -> Any:
    try:
        return fn()
    except (OSError, ValueError):
        return None


@dataclass
class Fleet:
    broker: Mosquitto
    devices: list[Device]
    sub: Subscriber

    def alive(self) -> list[Device]:
        return [d for d in self.devices if d.proc.poll() is None]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    # A runner: the demo clip's walker makes no running strides (gait.locomotion) to publish.
    source = SHARED_DATA / "treadmill_home_side.mp4"
    if not source.is_file():
        pytest.skip(f"{source} is missing (the shared test data beside the repository)")
    if not (MODELS_DIR / "pose_landmark_full.tflite").is_file():
        pytest.skip(f"the models are not fetched into {MODELS_DIR}: run scripts/setup")
    tmp = tmp_path_factory.mktemp("mqtt-fleet")
    clip = _clip(tmp / "home-10fps.mp4", source, width=360)
    with Mosquitto(tmp, tls=True, password=True) as broker, Subscriber(broker, "#") as sub:
        devices = [_serve(i, clip, broker, tmp / i) for i in DEVICES]
        try:
            _wait_ready(devices)
            yield Fleet(broker, devices, sub)
        finally:
            for d in devices:
                if d.proc.poll() is None:
                    d.proc.kill()
                d.proc.wait(timeout=10)


def _assert_clean_log(device: Device) -> None:
    text = device.log_text()
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if '"level": "error"' in line or '"level": "critical"' in line]
    assert not errors, errors


# ---- start-up errors (fast) -------------------------------------------------------------------------
def _tiny_clip(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (64, 48))
    for _ in range(5):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"USERNAME": "u", "PASSWORD_FILE": "{tmp}/missing"}, r"mqtt\.password_file .*missing: cannot read it"),
     ({"TLS_CA_FILE": "{tmp}/ca.pem"}, r"mqtt TLS file .*ca\.pem not found")],
    ids=["password-file", "ca-file"],
)  # fmt: skip
def test_serve_refuses_unusable_credentials(settings: dict[str, str], message: str, tmp_path: Path) -> None:
    import re

    env = {**os.environ, "HIPCAM_STORAGE__DATA_DIR": str(tmp_path / "data"), "HIPCAM_MQTT__ENABLED": "true",
           **{f"HIPCAM_MQTT__{k}": v.format(tmp=tmp_path) for k, v in settings.items()}}  # fmt: skip
    env.pop("HIPCAM_CONFIG", None)
    clip = _tiny_clip(tmp_path / "tiny.mp4")
    done = subprocess.run(
        [sys.executable, "-m", "hipcam.commands.cli", "serve", "--source", str(clip), "--host", "127.0.0.1",
         "--port", str(_free_port())], env=env, capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hipcam: ") and re.search(message, lines[0]), done.stderr


# ---- three devices on one broker (slow) ----------------------------------------------------------------
@pytest.mark.slow
def test_devices_announce_and_publish_conforming_messages(fleet: Fleet) -> None:
    state_schema, stride_schema = load_schema("state"), load_schema("stride")
    devices = fleet.alive()
    assert len(devices) == 3
    with Subscriber(fleet.broker, "hipcam/+/availability", "homeassistant/#") as late:  # sees what is retained
        for d in devices:
            online = late.wait_for(rf"{d.prefix}/availability", timeout=10)
            assert (online[0].text, online[0].retain) == ("online", True)
            configs = late.wait_for(rf"homeassistant/sensor/{d.device_id}/[a-z_]+/config", count=5, timeout=10)
            assert {m.topic.split("/")[3] for m in configs} == OBJECTS and all(m.retain for m in configs)
            for m in configs:
                body = m.json()
                assert (
                    body["state_topic"] == f"{d.prefix}/state"
                    and body["availability_topic"] == f"{d.prefix}/availability"
                )
                assert (
                    body["device"]["identifiers"] == [f"hipcam_{d.device_id}"] and body["device"]["model"] == "hipcam"
                )
    for d in devices:
        states = fleet.sub.wait_for(rf"{d.prefix}/state", count=3, timeout=15)
        strides = fleet.sub.wait_for(rf"{d.prefix}/stride", count=2, timeout=60)
        for m in states + strides:
            schema = state_schema if m.topic.endswith("/state") else stride_schema
            assert schema_errors(m.json(), schema) == [], m.text
        assert all("runner" not in m.json() for m in strides)
        span = states[-1].at - states[0].at  # at most once a second (delivery may bunch two a little)
        assert span >= 0.8 * (len(states) - 1), [m.at for m in states]
        assert states[-1].json()["status"] in ("running", "no_runner")  # "starting" while the model loaded
        health = d.healthz()
        assert health["status"] == "ok" and health["mqtt"]["state"] == "connected" and health["mqtt"]["sent"] > 0
        print(f"{d.device_id}: {len(states)} state, {len(strides)} stride messages; healthz mqtt {health['mqtt']}")
    # The first device runs walk-up checks: the day's count goes out retained, without a name.
    fleet.sub.wait_for(rf"{devices[0].prefix}/walkup", count=1, timeout=90)
    with Subscriber(fleet.broker, f"{devices[0].prefix}/walkup") as late:  # a new subscriber gets it retained
        count = late.wait_for(rf"{devices[0].prefix}/walkup", timeout=10)[-1]
    assert count.retain and schema_errors(count.json(), load_schema("walkup")) == [], count.text
    assert count.json()["checks"] >= 1 and "runner" not in count.json()


def _sample_fps(devices: list[Device], seconds: float) -> dict[str, list[float]]:
    """/healthz fps of each device every 0.5 s for ``seconds``."""
    out: dict[str, list[float]] = {d.device_id: [] for d in devices}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for d in devices:
            out[d.device_id].append(float(d.healthz()["fps"]))
        time.sleep(0.5)
    return out


@pytest.mark.slow
def test_broker_outage_leaves_the_frame_rate_and_ends_in_a_reconnect(fleet: Fleet) -> None:
    devices = fleet.alive()
    before = _sample_fps(devices, 12.0)
    fleet.broker.stop()
    stopped = time.monotonic()
    stopped_wall = time.time()
    during = _sample_fps(devices, OUTAGE_S)
    health = {d.device_id: d.healthz() for d in devices}
    fleet.broker.start()
    restarted = time.monotonic()
    for d in devices:
        h = health[d.device_id]
        assert h["status"] == "ok", h  # MQTT away never makes the camera unhealthy
        assert h["mqtt"]["state"] == "disconnected" and "connect" in str(h["mqtt"]["last_error"]), h["mqtt"]
        m_before, m_during = statistics.median(before[d.device_id]), statistics.median(during[d.device_id])
        print(f"{d.device_id}: fps median before {m_before:.2f}, during the {OUTAGE_S:g} s outage {m_during:.2f}; "
              f"queued during it {h['mqtt']['queued']}")  # fmt: skip
        assert m_during >= 0.9 * m_before, (before[d.device_id], during[d.device_id])
    assert any(h["mqtt"]["queued"] > 0 for h in health.values()), health  # strides were made and held
    for d in devices:
        online = fleet.sub.wait_for(rf"{d.prefix}/availability", timeout=30, since=restarted)
        assert online[-1].text == "online"
        back = online[0].at - restarted
        fleet.sub.wait_for(rf"{d.prefix}/state", count=2, timeout=10, since=restarted)
        held = [m for m in fleet.sub.on(rf"{d.prefix}/stride", since=restarted) if _stamp(m.json()) > stopped_wall]
        h = d.healthz()
        print(f"{d.device_id}: online again {back:.1f} s after the broker came back; {len(held)} strides made "
              f"during the outage delivered; mqtt {h['mqtt']}")  # fmt: skip
        assert h["mqtt"]["state"] == "connected" and h["mqtt"]["dropped"] == 0
        assert held or health[d.device_id]["mqtt"]["queued"] == 0
        _assert_clean_log(d)
    assert time.monotonic() - stopped < OUTAGE_S + 60


def _stamp(body: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(body["timestamp"]).timestamp()


@pytest.mark.slow
def test_clean_stop_sigkill_and_a_frozen_device_go_offline(fleet: Fleet) -> None:
    """Destructive, so the last test of the file: treadmill-2 is stopped (SIGTERM: it says offline
    itself), treadmill-3 killed (SIGKILL: the kernel closes its socket and the broker publishes the
    Last Will), treadmill-1 frozen (SIGSTOP: the socket stays open and silent, as after a power cut
    or a pulled cable, so only the keepalive can tell; then killed)."""
    frozen, stop, kill = fleet.devices
    assert all(d.proc.poll() is None for d in fleet.devices)
    sub = fleet.sub
    t0 = time.monotonic()
    stop.proc.terminate()
    assert stop.proc.wait(timeout=20) == 0, stop.log_text()[-3000:]
    offline = sub.wait_for(rf"{stop.prefix}/availability", timeout=5, since=t0)
    assert offline[-1].text == "offline"
    print(f"{stop.device_id}: clean stop -> offline after {offline[-1].at - t0:.2f} s")
    _assert_clean_log(stop)

    t0 = time.monotonic()
    kill.proc.send_signal(signal.SIGKILL)
    kill.proc.wait(timeout=10)
    offline = sub.wait_for(rf"{kill.prefix}/availability", timeout=3 * KEEPALIVE_S, since=t0)
    took = offline[-1].at - t0
    print(f"{kill.device_id}: SIGKILL -> offline (the Last Will) after {took:.2f} s (keepalive {KEEPALIVE_S} s)")
    assert offline[-1].text == "offline" and took <= 1.5 * KEEPALIVE_S
    assert frozen.healthz()["mqtt"]["state"] == "connected"  # the others carry on

    sub.wait_for(rf"{frozen.prefix}/state", timeout=5, since=time.monotonic())  # it just spoke to the broker
    t0 = time.monotonic()
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        offline = sub.wait_for(rf"{frozen.prefix}/availability", timeout=3 * KEEPALIVE_S, since=t0)
        took = offline[-1].at - t0
    finally:
        frozen.proc.send_signal(signal.SIGKILL)
        frozen.proc.wait(timeout=10)
    print(f"{frozen.device_id}: frozen (SIGSTOP) -> offline by keepalive after {took:.2f} s")
    # The broker's side: 1.5 keepalives after the last packet (a state message a second ago), found by
    # mosquitto 2.0's sweep of all clients, which runs only every 6 s (keepalive.c), so up to 6 s late.
    assert offline[-1].text == "offline" and 1.5 * KEEPALIVE_S - 1.0 <= took <= 1.5 * KEEPALIVE_S + MOSQUITTO_SWEEP_S
