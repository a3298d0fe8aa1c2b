"""The web app behind the real waitress server on a loopback port, attacked as a laptop on the gym
Wi-Fi would: a foreign Host (DNS rebinding) refused first, an off-site ``next`` ignored, huge ids
and deeply nested JSON answered 404/400 with one log line and no traceback."""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps
from web_ui.server import make_server

pytestmark = pytest.mark.integration
PIN = "2468"


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin(PIN), "host": "127.0.0.1"}})
    state, store = LiveState(), Store(tmp_path)
    server: Any = make_server(create_app(WebDeps(state, store, cfg, secret_key=b"k" * 32)), cfg, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        state.close()
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        store.close()


def _send(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True)
        headers.setdefault("Host", f"127.0.0.1:{port}")
        for key, value in headers.items():
            conn.putheader(key.replace("_", "-"), value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _session(port: int) -> tuple[str, str]:
    """A logged-in cookie and its CSRF token."""
    status, headers, text = _send(port, "GET", "/api/auth")
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    token = json.loads(text)["csrf_token"]
    status, headers, text = _send(port, "POST", "/api/login", json.dumps({"pin": PIN}).encode(), Cookie=cookie,
                                  Content_Type="application/json", X_CSRF_Token=token)  # fmt: skip
    assert status == 200, text
    return headers["Set-Cookie"].split(";", 1)[0], json.loads(text)["csrf_token"]


def test_rebound_name_refused_before_login_and_csrf(port: int) -> None:
    rebound = f"attacker.example:{port}"
    for method, path, body in (("GET", "/api/sessions", None), ("GET", "/", None), ("GET", "/api/auth", None),
                               ("POST", "/api/login", json.dumps({"pin": PIN}).encode())):  # fmt: skip
        status, headers, text = _send(port, method, path, body, Host=rebound, Content_Type="application/json")
        assert status == 421 and "not this device" in text, (path, status, text)
        assert "Set-Cookie" not in headers and "csrf" not in text.lower()
    # Even a logged-in cookie does not help a foreign Host.
    cookie, token = _session(port)
    status, _, _ = _send(port, "POST", "/api/settings", b"{}", Host=rebound, Cookie=cookie, X_CSRF_Token=token,
                         Content_Type="application/json")  # fmt: skip
    assert status == 421
    status, _, text = _send(port, "POST", "/api/settings", b"{}", Cookie=cookie, X_CSRF_Token=token,
                            Content_Type="application/json", Origin="http://attacker.example")  # fmt: skip
    assert status == 403 and "another site" in text


@pytest.mark.parametrize("target", ["/\\127.0.0.2:8080/x", "//127.0.0.2", "/%5C127.0.0.2", "https://127.0.0.2/"])
def test_login_next_never_leaves_the_device(port: int, target: str) -> None:
    from urllib.parse import quote

    status, _, text = _send(port, "GET", "/login?next=" + quote(target, safe=""))
    assert status == 200 and 'data-next="/"' in text and "127.0.0.2" not in text


def test_huge_id_and_deep_json_are_4xx_with_one_log_line(port: int, caplog: pytest.LogCaptureFixture) -> None:
    cookie, token = _session(port)
    with caplog.at_level(logging.INFO):
        caplog.clear()
        status, _, text = _send(port, "GET", "/api/sessions/99999999999999999999")
        assert status == 404 and "Traceback" not in text
        assert len(caplog.records) <= 1
        caplog.clear()
        deep = b'{"runner": "x", "a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
        status, _, text = _send(port, "POST", "/api/sessions", deep, Cookie=cookie, X_CSRF_Token=token,
                                Content_Type="application/json")  # fmt: skip
        assert status == 400 and "nested too deeply" in text and "Traceback" not in text
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
        assert not any(r.exc_info for r in caplog.records)
