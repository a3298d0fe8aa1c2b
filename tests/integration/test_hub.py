"""The hub for real: its archive on SQLite and on a real PostgreSQL (tests/support/postgres.py), pulling
over HTTP from a fake device and from the device's own web app with a real read-only token; a real
Mosquitto broker (tests/support/mosquitto.py) with publishers that come and go; the `hipcam hub`
process (start-up errors in one line, PostgreSQL away at start, SIGTERM); the systemd unit."""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_device import TOKEN, FakeDevice
from paths import REPO
from postgres import Postgres, free_port, postgres  # noqa: F401  (the fixture)

from hipcam.config import MqttConfig
from hipcam.hub.archive import ArchiveUnavailable, PostgresArchive, SqlArchive, SqliteArchive
from hipcam.hub.board import Board
from hipcam.hub.puller import DeviceLink, Puller, PullResult
from hipcam.hub.subscriber import Subscriber

pytestmark = pytest.mark.integration

UNIT = REPO / "systemd" / "hipcam-hub.service"
EXEC = "/opt/hipcam/venv/bin/hipcam"
# A device on the broker, as a process of its own: its Last Will is "offline"; SIGKILL is a power cut.
PUBLISHER = """
import json, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, device, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device)
c.will_set(f"hipcam/{device}/availability", "offline", qos=1, retain=True)
c.on_connect = lambda c, u, f, r, p: c.publish(f"hipcam/{device}/availability", "online", qos=1, retain=True)
c.connect("127.0.0.1", port, keepalive=5)
c.loop_start()
n = 0
while True:
    state = {"device_id": device, "device_name": name, "status": "running", "fps": 25.0 + n % 5,
             "current_class": "ABCD"[n % 4], "hip_extension_at_toe_off_deg": 10.0 + n % 7,
             "cadence_spm": 160 + n % 9, "session_active": n % 2 == 0, "page_url": f"http://{device}.local:8080/",
             "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}
    c.publish(f"hipcam/{device}/state", json.dumps(state), retain=True)
    n += 1
    time.sleep(0.5)
"""


def wait_for(check: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError, urllib.error.URLError):
            if found := check():
                return found
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def get(url: str, timeout: float = 5) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        with exc:
            body, status = exc.read(), exc.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


def broker(tmp_path: Path) -> Any:
    mosquitto = pytest.importorskip("mosquitto", reason="tests/support/mosquitto.py (the broker fixture) is missing")
    return mosquitto.Mosquitto(tmp_path)


@contextlib.contextmanager
def publisher(port: int, device: str, name: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(port), device, name])
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)


# ---- the archive on both databases, pulling over HTTP -----------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlArchive]:
    if request.param == "sqlite":
        store: SqlArchive = SqliteArchive(tmp_path / "hub.sqlite3")
    else:
        store = PostgresArchive(request.getfixturevalue("postgres").url)
    yield store
    store.close()


def _link(tmp_path: Path, url: str, token: str = TOKEN, device_id: str = "t1") -> DeviceLink:
    (tmp_path / f"{device_id}.token").write_text(token + "\n")
    return DeviceLink(device_id, url, tmp_path / f"{device_id}.token")


def test_sessions_archived_once_updated_and_resumed(archive: SqlArchive, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    device = FakeDevice().serve()
    try:
        first = device.add_session("Ana")
        device.add_session("Bo", ended=False)
        puller = Puller([_link(tmp_path, device.url)], archive, 60)
        assert puller.pull_all()["t1"] == PullResult(new=1, running=1)
        assert puller.pull_all()["t1"] == PullResult(unchanged=1, running=1)
        assert archive.count() == 1 and archive.known("t1").keys() == {first}

        device.set_notes(first, "knee fine")
        assert puller.pull_all()["t1"] == PullResult(updated=1, running=1)
        assert archive.get("t1", first)[0].notes == "knee fine"  # type: ignore[index]

        device.stop()  # the device goes away: one warning however many rounds fail
        with caplog.at_level(logging.INFO, logger="hipcam.hub.puller"):
            for _ in range(3):
                assert puller.pull_all()["t1"].error
            warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(warnings) == 1 and "device t1" in warnings[0].getMessage()
            device.end(2)
            device.add_session("Cy")
            device.start()  # back on the same port, with two more finished sessions
            assert puller.pull_all()["t1"] == PullResult(new=2, unchanged=1)
            assert any("back" in r.getMessage() for r in caplog.records)
    finally:
        device.stop()
    assert sorted(r.runner for r in archive.search()) == ["Ana", "Bo", "Cy"]
    assert [r.runner for r in archive.search("b")] == ["Bo"]


def test_postgres_away_and_back(postgres: Postgres, tmp_path: Path,  # noqa: F811
                                caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    device = FakeDevice().serve()
    archive = PostgresArchive(postgres.url)
    try:
        device.add_session("Ana")
        puller = Puller([_link(tmp_path, device.url)], archive, 60)
        assert puller.pull_all()["t1"].new == 1
        postgres.stop()
        device.add_session("Bo")
        with caplog.at_level(logging.WARNING, logger="hipcam.hub.puller"):
            for _ in range(2):
                assert "archive unreachable" in (puller.pull_all()["t1"].error or "")
        assert len(caplog.records) == 1 and "PostgreSQL at 127.0.0.1:" in caplog.records[0].getMessage()
        with pytest.raises(ArchiveUnavailable):
            archive.count()
        postgres.start()
        assert puller.pull_all()["t1"] == PullResult(new=1, unchanged=1)  # reconnected by itself
        assert archive.count() == 2
    finally:
        device.stop()
        archive.close()


def test_pull_from_the_device_app_with_a_real_token(tmp_path: Path) -> None:
    """The device's own web app (waitress, tokens, the store) answers the puller as the contract says."""
    from web_server import serve_app

    from hipcam.records.stride import StrideRecord

    archive = SqliteArchive(tmp_path / "hub.sqlite3")
    with serve_app(tmp_path / "device") as served:
        store = served.deps.store
        token = served.deps.token_registry.add("hub")
        session = store.start_session("Dana")
        for leg, cls in (("left", "B"), ("right", "C")):
            store.add_stride(session["id"], StrideRecord(leg=leg, cls=cls, hip_extension_at_toe_off_deg=11.5))
        store.stop_session()
        store.start_session("Eli")  # still running: not pulled
        url = f"http://127.0.0.1:{served.port}"
        puller = Puller([_link(tmp_path, url, token)], archive, 60)
        assert puller.pull_all()["t1"] == PullResult(new=1, running=1)
        row, export = archive.get("t1", session["id"])  # type: ignore[misc]
        assert row.runner == "Dana" and row.stride_count == 2 and [s["class"] for s in export["strides"]] == ["B", "C"]
        store.set_notes(session["id"], "good form")
        assert puller.pull_all()["t1"] == PullResult(updated=1, running=1)
        served.deps.token_registry.revoke("hub")
        assert "HTTP 401" in (puller.pull_all()["t1"].error or "")
    archive.close()


# ---- the broker -------------------------------------------------------------------------------------


def test_devices_online_offline_through_a_real_broker(tmp_path: Path) -> None:
    mqtt_broker = broker(tmp_path)
    with mqtt_broker:
        board = Board()
        sub = Subscriber(MqttConfig(host="127.0.0.1", port=mqtt_broker.port, keepalive_s=5), board)
        sub.start()
        try:
            wait_for(lambda: board.broker_connected, what="the hub's connection")
            with publisher(mqtt_broker.port, "t1", "Treadmill 1") as one, publisher(mqtt_broker.port, "t2", "Two"):
                views = wait_for(lambda: _online(board, 2), what="two devices online")
                assert {v["name"] for v in views} == {"Treadmill 1", "Two"} and all(v["fps"] for v in views)
                one.kill()  # a power cut: the broker sends its Last Will
                wait_for(lambda: _state(board, "t1") is False, what="t1 offline")
                assert _state(board, "t2") is True
                mqtt_broker.stop()  # the broker goes away; the hub says so and reconnects when it is back
                wait_for(lambda: not board.broker_connected, what="the hub to see the broker gone")
                mqtt_broker.start()
                wait_for(lambda: board.broker_connected, timeout_s=40, what="the hub to reconnect")
                wait_for(lambda: _state(board, "t2") is True, what="t2 online again after the broker's restart")
        finally:
            sub.stop()


def _online(board: Board, n: int) -> list[dict[str, Any]] | None:
    views = [v for v in board.snapshot() if v["online"]]
    return views if len(views) == n and all(v["status"] for v in views) else None


def _state(board: Board, device_id: str) -> bool | None:
    return next((v["online"] for v in board.snapshot() if v["id"] == device_id), None)


# ---- the hipcam hub process -------------------------------------------------------------------------


def _hub_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIPCAM_")}
    return {**env, "HIPCAM_STORAGE__DATA_DIR": str(tmp_path / "hub-data"), "HIPCAM_LOGGING__FORMAT": "text", **extra}


@contextlib.contextmanager
def hub_process(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = (tmp_path / "hub.log").open("wb")
    cmd = [sys.executable, "-m", "hipcam.commands.cli", "hub", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: (proc.poll() is None and get(base + "/api/devices")[0] == 200) or proc.poll() is not None,
                 timeout_s=30, what="the hub to listen")  # fmt: skip
        assert proc.poll() is None, (tmp_path / "hub.log").read_text()
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


def test_hub_process_end_to_end_and_sigterm(tmp_path: Path) -> None:
    mqtt_broker = broker(tmp_path)
    device = FakeDevice().serve()
    try:
        device.add_session("Ana", notes="first run")
        devices = json.dumps(
            [{"id": "t1", "url": device.url, "token_file": str(_link(tmp_path, device.url).token_file)}]
        )
        with mqtt_broker, publisher(mqtt_broker.port, "t1", "Treadmill 1"):
            env = _hub_env(tmp_path, HIPCAM_MQTT__HOST="127.0.0.1", HIPCAM_MQTT__PORT=str(mqtt_broker.port),
                           HIPCAM_HUB__DEVICES=devices, HIPCAM_HUB__PULL_INTERVAL_S="2")  # fmt: skip
            with hub_process(tmp_path, env) as (base, proc):
                health = wait_for(lambda: (h := get(base + "/healthz"))[0] == 200 and h[1], what="/healthz ok")
                assert health["archive"]["backend"] == "sqlite" and health["mqtt"]["connected"]
                wait_for(lambda: get(base + "/api/devices")[1]["devices"][0]["online"], what="t1 online")
                rows = wait_for(lambda: get(base + "/api/archive/sessions")[1]["sessions"], what="a session archived")
                assert [(r["device_id"], r["runner"], r["notes"]) for r in rows] == [("t1", "Ana", "first run")]
                assert get(base + "/archive/t1/1")[0] == 200
                assert "hipcam_hub_sessions_archived_total" in get(base + "/metrics")[1]
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(15) == 0
    finally:
        device.stop()
    log = (tmp_path / "hub.log").read_text()
    assert "Traceback" not in log and "stopping" in log


def test_hub_start_up_errors_are_one_line(tmp_path: Path) -> None:
    cases = {
        "missing": ([{"id": "t1", "url": "http://t1.local:8080", "token_file": str(tmp_path / "nope")}],
                    "hub.devices[0].token_file (t1) " + str(tmp_path / "nope") + ": file not found"),
        "twice": ([{"id": "t1", "url": "http://a:8080", "token_file": str(tmp_path / "tok")},
                   {"id": "t1", "url": "http://b:8080", "token_file": str(tmp_path / "tok")}], "listed twice"),
    }  # fmt: skip
    (tmp_path / "tok").write_text("x\n")
    for devices, message in cases.values():
        env = _hub_env(tmp_path, HIPCAM_HUB__DEVICES=json.dumps(devices))
        proc = subprocess.run([sys.executable, "-m", "hipcam.commands.cli", "hub", "--port", str(free_port())],
                              env=env, capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    env = _hub_env(tmp_path, HIPCAM_HUB__DATABASE_URL="mysql://x")
    proc = subprocess.run([sys.executable, "-m", "hipcam.commands.cli", "hub"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert proc.returncode == 2 and "hub.database_url" in proc.stderr and "Traceback" not in proc.stderr


def test_hub_runs_while_postgres_is_away_then_uses_it(postgres: Postgres, tmp_path: Path) -> None:  # noqa: F811
    postgres.stop()
    env = _hub_env(tmp_path, HIPCAM_HUB__DATABASE_URL=postgres.url, HIPCAM_MQTT__PORT=str(free_port()),
                   HIPCAM_HUB__PULL_INTERVAL_S="2")  # fmt: skip
    with hub_process(tmp_path, env) as (base, _):
        status, body = get(base + "/healthz")
        assert status == 503 and body["archive"]["status"] == "unreachable"
        status, text = get(base + "/archive")
        assert status == 503 and "the archive is not available" in text and "Traceback" not in text
        assert get(base + "/")[0] == 200
        postgres.start()
        wait_for(lambda: get(base + "/api/archive/sessions")[0] == 200, what="the archive back")
    log = (tmp_path / "hub.log").read_text()
    assert log.count("unreachable") >= 1 and "Traceback" not in log


# ---- the systemd unit -------------------------------------------------------------------------------


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt install systemd)"
)
def test_hub_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    fake = tmp_path / "hipcam"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    unit = tmp_path / "hipcam-hub.service"
    unit.write_text(UNIT.read_text().replace(EXEC, str(fake)))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    ours = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "hipcam" in ln]
    assert proc.returncode == 0 and not ours, "\n".join(ours) or proc.stderr
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=30", str(UNIT)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    if "Unknown option" not in proc.stderr and "unrecognized option" not in proc.stderr:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


def test_hub_unit_essentials() -> None:
    service = _unit()["Service"]
    assert service["ExecStart"] == f"{EXEC} hub --config /etc/hipcam/config.toml"
    assert service["Type"] == "notify" and service["User"] == "hipcam" and service["Restart"] == "on-failure"
    assert service["StateDirectory"] == "hipcam" and service["ProtectSystem"] == "strict"
    assert set(service["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert service["DevicePolicy"] == "closed" and "DeviceAllow" not in service  # no camera
    assert "SupplementaryGroups" not in service
    assert "network-online.target" in _unit()["Unit"]["After"].split()


# ---- a real device: hipcam serve publishing over MQTT (TLS, password) and serving its archive -------


@pytest.mark.slow
@pytest.mark.needs_models
def test_hub_with_a_real_hipcam_serve(tmp_path: Path) -> None:
    """`hipcam serve` on the demo clip with [mqtt] on a TLS broker with a password, and a read-only
    token made by `hipcam token add`: the hub (same broker, same login) shows it online with its name
    and readings and archives its finished session; the device's clean stop shows it offline."""
    from paths import MODELS_DIR

    from hipcam.records.store import Store

    mosquitto = pytest.importorskip("mosquitto", reason="tests/support/mosquitto.py (the broker fixture) is missing")
    device_data, token_file = tmp_path / "device-data", tmp_path / "t1.token"
    store = Store(device_data)  # a session the device finished before (the hub pulls it once it is up)
    store.start_session("Rita")
    store.stop_session()
    store.set_notes(1, "from the real device")
    store.close()
    cli = [sys.executable, "-m", "hipcam.commands.cli"]
    env = {**_hub_env(tmp_path), "HIPCAM_STORAGE__DATA_DIR": str(device_data)}
    subprocess.run([*cli, "token", "add", "hub", "--out", str(token_file)], env=env, check=True, timeout=60,
                   capture_output=True, cwd=REPO)  # fmt: skip
    with mosquitto.Mosquitto(tmp_path, tls=True, password=True) as mqtt_broker:
        port = free_port()
        device_env = {**env, **mqtt_broker.env(), "HIPCAM_DEVICE__ID": "t1", "HIPCAM_DEVICE__NAME": "Real Treadmill",
                      "HIPCAM_DEVICE__ADVERTISE": "false", "HIPCAM_POSE__THREADS": "1"}  # fmt: skip
        with (tmp_path / "serve.log").open("wb") as log:
            serve = subprocess.Popen([*cli, "serve", "--source", str(MODELS_DIR / "demo.mp4"), "--host", "127.0.0.1",
                                      "--port", str(port)], env=device_env, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=REPO)  # fmt: skip
        try:
            devices = json.dumps([{"id": "t1", "url": f"http://127.0.0.1:{port}", "token_file": str(token_file)}])
            hub_env = _hub_env(tmp_path, **mqtt_broker.env(), HIPCAM_HUB__DEVICES=devices,
                               HIPCAM_HUB__PULL_INTERVAL_S="2")  # fmt: skip
            with hub_process(tmp_path, hub_env) as (base, _):
                view = wait_for(lambda: (v := get(base + "/api/devices")[1]["devices"][0])["online"] and v["fps"] and v,
                                timeout_s=120, what="the real device online with readings")  # fmt: skip
                assert view["name"] == "Real Treadmill" and view["status"] and view["session_active"] is False
                assert view["url"] == f"http://127.0.0.1:{port}"
                rows = wait_for(lambda: get(base + "/api/archive/sessions")[1]["sessions"], timeout_s=30,
                                what="the device's session archived")  # fmt: skip
                assert [(r["runner"], r["notes"]) for r in rows] == [("Rita", "from the real device")]
                serve.send_signal(signal.SIGTERM)
                assert serve.wait(30) == 0
                wait_for(lambda: get(base + "/api/devices")[1]["devices"][0]["online"] is False, what="offline")
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait(10)
    assert "Traceback" not in (tmp_path / "hub.log").read_text()
