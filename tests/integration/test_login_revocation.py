"""Logins are held by the device, not only signed into the cookie: a copied cookie stops working
after a logout, after "log out everywhere" and after a PIN change, and survives a plain restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web_server import login, send, serve_app

from hipcam.auth import hash_pin

pytestmark = pytest.mark.integration


def _can_act(port: int, cookie: str) -> bool:
    """Whether ``cookie`` passes a PIN-guarded read (the open logins)."""
    status, _, _ = send(port, "GET", "/api/logins", Cookie=cookie)
    assert status in (200, 401), status
    return status == 200


def _post(port: int, path: str, cookie: str, token: str) -> int:
    return send(port, "POST", path, b"{}", Cookie=cookie, Content_Type="application/json", X_CSRF_Token=token)[0]


def test_copied_cookie_refused_after_logout(tmp_path: Path) -> None:
    with serve_app(tmp_path) as served:
        status, cookie, token = login(served.port)
        copy = cookie  # what an attacker who saw the cookie keeps
        assert status == 200 and _can_act(served.port, copy)
        assert _post(served.port, "/api/logout", cookie, token) == 200
        assert not _can_act(served.port, copy)
        _, _, text = send(served.port, "GET", "/api/auth", Cookie=copy)
        assert json.loads(text)["logged_in"] is False


def test_log_out_everywhere_ends_every_login(tmp_path: Path) -> None:
    with serve_app(tmp_path) as served:
        tablets = [login(served.port, source=f"127.0.0.{i}") for i in (2, 3, 4)]
        assert all(_can_act(served.port, cookie) for _, cookie, _ in tablets)
        _, text = send(served.port, "GET", "/api/logins", Cookie=tablets[0][1])[1:]
        assert len(json.loads(text)["logins"]) == 3
        _, cookie, token = tablets[0]
        status, _, text = send(served.port, "POST", "/api/logout-everywhere", b"{}", Cookie=cookie,
                               Content_Type="application/json", X_CSRF_Token=token)  # fmt: skip
        assert status == 200 and json.loads(text)["ended"] == 3
        assert not any(_can_act(served.port, cookie) for _, cookie, _ in tablets)
        # Anonymous callers cannot do it.
        assert _post(served.port, "/api/logout-everywhere", "", "x") == 403  # no CSRF token, no login


def test_logins_survive_a_restart_but_not_a_pin_change(tmp_path: Path) -> None:
    with serve_app(tmp_path) as served:
        _, cookie, _ = login(served.port)
    with serve_app(tmp_path) as served:  # same PIN, same data dir: a restart
        assert _can_act(served.port, cookie)
    with serve_app(tmp_path, server={"pin_hash": hash_pin("97531")}) as served:  # the PIN was changed
        assert not _can_act(served.port, cookie)
        assert login(served.port, "97531")[0] == 200
