"""The web app behind the real waitress server on a loopback port, attacked as a laptop on the gym
Wi-Fi would: a foreign Host (DNS rebinding) refused first, an off-site ``next`` ignored, huge ids
and deeply nested JSON answered 404/400 with one log line and no traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_server import PIN, send, serve_app
from web_server import login as _login

pytestmark = pytest.mark.integration


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    with serve_app(tmp_path) as served:
        yield served.port


def _send(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, dict, str]:
    return send(port, method, path, body, **headers)


def _session(port: int) -> tuple[str, str]:
    """A logged-in cookie and its CSRF token."""
    status, cookie, token = _login(port)
    assert status == 200
    return cookie, token


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
