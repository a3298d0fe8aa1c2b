"""The web app behind the real waitress server on a free loopback port, for the integration tests
that attack or load it (security, buffers, streams), and a raw HTTP/1.1 client for them."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps
from web_ui.server import make_server

PIN = "2468"
PIN_HASH = hash_pin(PIN)  # one hash: a restart of the same config keeps its logins


@dataclass
class Served:
    port: int
    deps: WebDeps
    server: Any  # the waitress server


@contextmanager
def serve_app(data_dir: Path, server: dict[str, Any] | None = None, **deps_kwargs: Any) -> Iterator[Served]:
    """Serve a fresh app with PIN ``PIN`` on 127.0.0.1 (``server``: more ``[server]`` keys;
    ``deps_kwargs``: more WebDeps fields). Stops the server and closes the store afterwards."""
    keys = {"pin_hash": PIN_HASH, "host": "127.0.0.1", **(server or {})}
    cfg = HipcamConfig.model_validate({"server": keys})
    state, store = LiveState(), Store(data_dir)
    deps_kwargs.setdefault("secret_key", b"k" * 32)
    deps = WebDeps(state, store, cfg, **deps_kwargs)
    wsgi: Any = make_server(create_app(deps), cfg, "127.0.0.1", 0)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    try:
        yield Served(int(wsgi.effective_port), deps, wsgi)
    finally:
        state.close()
        wsgi.task_dispatcher.shutdown(timeout=5)
        wsgi.close()
        thread.join(timeout=5)
        store.close()


def send(
    port: int, method: str, path: str, body: bytes | None = None, *, source: str = "127.0.0.1", **headers: str
) -> tuple[int, dict[str, str], str]:
    """One request from ``source`` (another 127.x address stands in for another host on the LAN);
    header names are written with ``_`` for ``-``. Returns status, headers and the body text."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.putrequest(method, path, skip_host=True)
        headers.setdefault("Host", f"127.0.0.1:{port}")
        for key, value in headers.items():
            conn.putheader(key.replace("_", "-"), value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        headers = dict(resp.getheaders())
        if cookies := resp.headers.get_all("Set-Cookie"):
            headers["Set-Cookie"] = "\n".join(cookies)  # one line per cookie
        return resp.status, headers, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def cookie_of(headers: dict[str, str], name: str = "hipcam_session") -> str:
    """The ``name=value`` of a response's cookie ``name`` ("" if it sets none)."""
    lines = headers.get("Set-Cookie", "").splitlines()
    return next((c.split(";", 1)[0] for c in lines if c.startswith(f"{name}=")), "")


def fresh_session(port: int, source: str = "127.0.0.1") -> tuple[str, str]:
    """A new (not logged-in) cookie and its CSRF token."""
    _, headers, text = send(port, "GET", "/api/auth", source=source)
    return cookie_of(headers), json.loads(text)["csrf_token"]


def login(port: int, pin: str = PIN, source: str = "127.0.0.1") -> tuple[int, str, str]:
    """Log in from ``source``: the status, and the new cookie and CSRF token (old ones on failure)."""
    cookie, token = fresh_session(port, source)
    status, headers, text = send(port, "POST", "/api/login", json.dumps({"pin": pin}).encode(), source=source,
                                 Cookie=cookie, Content_Type="application/json", X_CSRF_Token=token)  # fmt: skip
    if status == 200:
        return status, cookie_of(headers), json.loads(text)["csrf_token"]
    return status, cookie, token
