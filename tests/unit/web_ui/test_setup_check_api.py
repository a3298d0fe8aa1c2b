"""``/setup`` and ``/api/setup-check``: behind the PIN, start / poll / picture through WebDeps.setup_check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from service_fakes import web_app

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.records.store import Store

PIN = "2468"


class FakeCheck:
    def __init__(self) -> None:
        self.started = 0
        self.jpeg: bytes | None = None

    def request(self) -> dict[str, Any]:
        self.started += 1
        return self.status()

    def status(self) -> dict[str, Any]:
        state = "running" if self.started else "idle"
        return {"state": state, "seconds": 20.0, "elapsed_s": 0.0, "started_at": None, "report": None,
                "error": None, "has_image": self.jpeg is not None}  # fmt: skip

    def image(self) -> bytes | None:
        return self.jpeg


@pytest.fixture()
def env(tmp_path: Path) -> Any:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin(PIN)}})
    store = Store(tmp_path)
    check = FakeCheck()
    app = web_app(store, cfg, setup_check=check)
    app.testing = True
    yield app, check, store
    store.close()


def _login(client: FlaskClient) -> str:
    token = str(client.get("/api/auth").get_json()["csrf_token"])
    r = client.post("/api/login", json={"pin": PIN}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    return str(r.get_json()["csrf_token"])


def test_the_check_needs_the_pin(env: Any) -> None:
    app, check, _ = env
    c = app.test_client()
    assert c.get("/api/setup-check").status_code == 401
    assert c.get("/api/setup-check/image.jpg").status_code == 401
    token = str(c.get("/api/auth").get_json()["csrf_token"])
    assert c.post("/api/setup-check", headers={"X-CSRF-Token": token}).status_code == 401
    assert check.started == 0
    page = c.get("/setup")
    assert page.status_code == 200 and b"setup-unlock" in page.data and b"setup-run" not in page.data


def test_start_poll_and_picture(env: Any) -> None:
    app, check, _ = env
    c = app.test_client()
    token = _login(c)
    assert b'id="setup-run"' in c.get("/setup").data
    assert c.get("/api/setup-check").get_json()["state"] == "idle"
    assert c.post("/api/setup-check").status_code == 403  # no CSRF token
    r = c.post("/api/setup-check", headers={"X-CSRF-Token": token})
    assert r.status_code == 202 and r.get_json()["state"] == "running" and check.started == 1
    assert c.get("/api/setup-check/image.jpg").status_code == 404
    check.jpeg = b"\xff\xd8jpeg"
    r = c.get("/api/setup-check/image.jpg")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data == check.jpeg


def test_without_a_check_the_api_says_so(tmp_path: Path) -> None:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin(PIN)}})
    store = Store(tmp_path)
    try:
        app = web_app(store, cfg)
        app.testing = True
        c = app.test_client()
        _login(c)
        assert c.get("/api/setup-check").status_code == 503
    finally:
        store.close()
