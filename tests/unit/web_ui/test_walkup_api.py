"""Walk-up over HTTP: the settings behind the PIN refuse out-of-range values (400, nothing changed),
the card's link answers 404 when forged and 410 when expired, and works without a login."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_api import PIN_HASH, _login

from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps


@pytest.fixture()
def app(tmp_path: Path) -> Any:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH}})
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, cfg, secret_key=b"k" * 32))
    app.testing = True
    yield app
    store.close()


def test_walkup_settings_need_the_pin_and_ranges(app: Any) -> None:
    c = app.test_client()
    assert c.get("/api/settings").get_json()["walkup"]["enabled"] is False
    token = _login(c)
    h = {"X-CSRF-Token": token}
    for bad in ({"strides_per_leg": 2}, {"keep_hours": 0}, {"keep_hours": 721}, {"settle_s": "soon"}, {"bogus": 1}):
        r = c.post("/api/settings", json={"walkup": bad}, headers=h)
        assert r.status_code == 400 and "walkup." in r.get_json()["error"], (bad, r.get_json())
    assert c.get("/api/settings").get_json()["walkup"]["strides_per_leg"] == 20  # nothing changed
    r = c.post("/api/settings", json={"walkup": {"enabled": True, "strides_per_leg": 8}}, headers=h)
    assert r.status_code == 200 and r.get_json()["walkup"]["strides_per_leg"] == 8
    assert c.get("/api/walkup").get_json()["walkup"]["phase"] == "idle"
    anon = app.test_client()
    assert anon.post("/api/settings", json={"walkup": {"enabled": False}}).status_code in (401, 403)


def test_forged_and_expired_links(app: Any) -> None:
    c = app.test_client()
    for path in ("/walkup/forged-token-1234567890", "/api/walkup/forged-token-1234567890", "/walkup/x/qr.svg"):
        r = c.get(path)
        assert r.status_code == 404 and b"Traceback" not in r.data, path
    check = app.extensions["hipcam"].walkup_check
    check._links["t" * 24] = type("L", (), {"card": {"class": "B"}, "expires_at": 0.0})()
    r = c.get("/walkup/" + "t" * 24)
    assert r.status_code == 410 and b"expired" in r.data
    assert c.get("/api/walkup/" + "t" * 24).get_json()["status"] == 410


def test_card_link_is_public_with_viewing_closed(tmp_path: Path) -> None:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH, "open_viewing": False}})
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, cfg, secret_key=b"k" * 32))
    c = app.test_client()
    check = app.extensions["hipcam"].walkup_check
    check._links["p" * 24] = type("L", (), {"card": {"class": "B"}, "expires_at": 1e12})()
    assert c.get("/api/walkup/" + "p" * 24).get_json()["card"]["class"] == "B"
    assert c.get("/walkup/" + "p" * 24 + "/qr.svg").mimetype == "image/svg+xml"
    assert c.get("/api/walkup").status_code == 401  # the current check: a viewer's, like the live page
    store.close()
