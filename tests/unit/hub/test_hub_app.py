"""The hub's pages and JSON: every device on the treadmills page, the archive with its search and a
session's detail, /healthz and /metrics; read-only (no method but GET), the device's Host check,
CSP and headers, and one-line errors (no traceback) for bad input or the archive being away."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_device import FakeDevice
from flask import Flask
from flask.testing import FlaskClient

from hipcam.config import HipcamConfig
from hipcam.hub.app import HubDeps, create_hub_app
from hipcam.hub.archive import ArchiveUnavailable, Hashes, SqliteArchive
from hipcam.hub.board import Board
from hipcam.hub.metrics import HubMetrics
from web_ui.security import CSP

HOST = {"Host": "127.0.0.1:8090"}


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Board, SqliteArchive]:
    board = Board([("t1", "http://t1.local:8080")])
    board.handle("hipcam/t1/availability", b"online")
    board.handle("hipcam/t1/state", json.dumps({"device_name": "Treadmill <1>", "status": "running",
                                                "current_class": "B", "session_active": True}).encode())  # fmt: skip
    board.handle("hipcam/t2/availability", b"offline")
    board.broker_connected = True
    archive = SqliteArchive(tmp_path / "hub.sqlite3")
    device = FakeDevice()
    for runner, notes in (("Ana Silva", "easy <b>day</b>"), ("Bo", ""), ("anabel", "")):
        sid = device.add_session(runner, notes=notes)
        archive.save("t1" if runner != "Bo" else "t2", device.export(sid), Hashes("l", "e"))
    return board, archive


def _app(board: Board, archive: Any, **cfg: Any) -> Flask:
    config = HipcamConfig.model_validate({"hub": {"host": "127.0.0.1"}, **cfg})
    status = {"t1": {"last_ok_at": 1.7e9, "error": None}, "t2": {"last_ok_at": None, "error": "HTTP 401: refused"}}
    deps = HubDeps(config, board, archive, lambda: status, HubMetrics(board, archive, "9.9"), broker="localhost:1883")
    return create_hub_app(deps)


@pytest.fixture
def client(parts: tuple[Board, SqliteArchive]) -> FlaskClient:
    return _app(*parts).test_client()


def test_treadmills_page_and_json(client: FlaskClient) -> None:
    resp = client.get("/", headers=HOST)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="devices"' in text and "Treadmill &lt;1&gt;" in text  # escaped
    assert resp.headers["Content-Security-Policy"] == CSP and resp.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in text and "http" not in text.split("<body", 1)[0].replace("http-equiv", "")  # no CDN
    data = client.get("/api/devices", headers=HOST).get_json()
    assert [d["id"] for d in data["devices"]] == ["t1", "t2"] and data["broker"]["connected"] is True
    t1 = data["devices"][0]
    assert t1["online"] is True and t1["session_active"] is True and t1["url"] == "http://t1.local:8080"
    assert data["devices"][1]["online"] is False and isinstance(data["now"], float)


def test_static_assets_are_local(client: FlaskClient) -> None:
    for name in ("hub.js", "hub.css", "icon.svg"):
        with client.get(f"/static/{name}", headers=HOST) as resp:
            assert resp.status_code == 200 and resp.data


def test_archive_search_and_detail(client: FlaskClient) -> None:
    text = client.get("/archive", headers=HOST).get_data(as_text=True)
    assert text.count('class="runner"') == 3 and "HTTP 401: refused" in text  # the pulls table
    found = client.get("/archive?runner=ANA", headers=HOST).get_data(as_text=True)
    assert "Ana Silva" in found and "anabel" in found and ">Bo<" not in found
    assert "No archived session matches" in client.get("/archive?runner=zed", headers=HOST).get_data(as_text=True)
    only_t2 = client.get("/api/archive/sessions?device=t2", headers=HOST).get_json()
    assert [s["runner"] for s in only_t2["sessions"]] == ["Bo"]
    detail = client.get("/archive/t1/1", headers=HOST)
    page = detail.get_data(as_text=True)
    assert detail.status_code == 200 and "Ana Silva" in page and "easy &lt;b&gt;day&lt;/b&gt;" in page
    assert page.count("<tr>") >= 3 + 2  # three strides, two legs
    export = client.get("/api/archive/t1/1?download=1", headers=HOST)
    assert export.get_json()["session"]["runner"] == "Ana Silva"
    assert "attachment" in export.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "path, code",
    [
        ("/archive/t1/99", 404),
        ("/archive/NOT_AN_ID/1", 404),
        ("/archive/t1/99999999999999999999999", 404),
        ("/api/archive/t1/99", 404),
        ("/archive?page=abc", 400),
        ("/archive?device=../../etc", 400),
        ("/nowhere", 404),
    ],
)
def test_bad_input_is_a_short_answer(client: FlaskClient, path: str, code: int) -> None:
    resp = client.get(path, headers=HOST)
    assert resp.status_code == code and "Traceback" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_nothing_can_act(client: FlaskClient, method: str) -> None:
    for path in ("/", "/api/devices", "/archive", "/api/archive/t1/1"):
        assert client.open(path, method=method, headers=HOST).status_code == 405


def test_foreign_host_refused(client: FlaskClient) -> None:
    resp = client.get("/api/devices", headers={"Host": "attacker.example"})
    assert resp.status_code == 421 and "host not allowed" in resp.get_json()["error"]


def test_healthz_and_metrics(parts: tuple[Board, SqliteArchive]) -> None:
    board, archive = parts
    client = _app(board, archive).test_client()
    health = client.get("/healthz", headers=HOST)
    body = health.get_json()
    assert (
        health.status_code == 200
        and body["status"] == "ok"
        and body["devices"] == {"online": 1, "offline": 1, "not_seen": 0}
    )
    assert body["archive"] == {"backend": "sqlite", "status": "ok"} and body["pulls"]["t2"]["error"]
    metrics = client.get("/metrics", headers=HOST).get_data(as_text=True)
    assert 'hipcam_hub_devices{state="online"} 1.0' in metrics and "hipcam_hub_archived_sessions 3.0" in metrics
    assert "hipcam_hub_mqtt_connected 1.0" in metrics and 'hipcam_hub_info{version="9.9"} 1.0' in metrics
    board.broker_connected = False
    body = client.get("/healthz", headers=HOST).get_json()
    assert body["status"] == "degraded" and "MQTT broker localhost:1883 not connected" in body["reason"]


def test_archive_away_is_503_on_its_pages_only(parts: tuple[Board, SqliteArchive]) -> None:
    class Away:
        backend, where = "postgresql", "db:5432/hub"

        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise ArchiveUnavailable("PostgreSQL at db:5432/hub unreachable: connection refused")

            return fail

    client = _app(parts[0], Away()).test_client()
    page = client.get("/archive", headers=HOST)
    assert page.status_code == 503 and "the archive is not available" in page.get_data(as_text=True)
    assert client.get("/api/archive/sessions", headers=HOST).get_json()["status"] == 503
    assert client.get("/", headers=HOST).status_code == 200
    health = client.get("/healthz", headers=HOST).get_json()
    assert health["archive"]["status"] == "unreachable" and "archive" in health["reason"]
    metrics = client.get("/metrics", headers=HOST).get_data(as_text=True)
    assert "hipcam_hub_archive_up 0.0" in metrics
