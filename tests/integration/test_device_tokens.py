"""Read-only device tokens against the real server: they read the session list and exports and
nothing else (403), a wrong or revoked one is a 401 counted like a wrong PIN, and the command line
makes, lists and revokes them while the service runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web_server import send, serve_app

from hipcam.auth.tokens import TOKENS_FILE, TokenRegistry

pytestmark = pytest.mark.integration


def _get(port: int, path: str, token: str, method: str = "GET", source: str = "127.0.0.1") -> tuple[int, str]:
    body = b"{}" if method != "GET" else None
    status, _, text = send(port, method, path, body, source=source, Authorization=f"Bearer {token}",
                           Content_Type="application/json")  # fmt: skip
    return status, text


def test_a_token_reads_sessions_and_exports_only(tmp_path: Path) -> None:
    with serve_app(tmp_path, server={"open_viewing": False}) as served:
        session = served.deps.store.start_session("Ana")["id"]
        served.deps.store.stop_session(session)
        token = TokenRegistry(tmp_path / TOKENS_FILE).add("hub")
        status, text = _get(served.port, "/api/sessions", token)
        assert status == 200 and json.loads(text)["sessions"][0]["id"] == session  # viewing closed: still read
        status, text = _get(served.port, f"/api/sessions/{session}/export.json", token)
        assert status == 200 and json.loads(text)["session"]["runner"] == "Ana"
        for method, path in (("GET", "/api/settings"), ("POST", "/api/sessions"), ("GET", "/api/state"),
                             ("DELETE", f"/api/sessions/{session}"), ("POST", "/api/settings"), ("GET", "/")):  # fmt: skip
            status, text = _get(served.port, path, token, method)
            assert status == 403 and "device token may only read" in text, (method, path, status)
        assert served.deps.store.get_session(session) is not None


def test_wrong_and_revoked_tokens(tmp_path: Path) -> None:
    with serve_app(tmp_path) as served:
        registry = TokenRegistry(tmp_path / TOKENS_FILE)
        token = registry.add("hub")
        assert registry.revoke("hub")
        status, text = _get(served.port, "/api/sessions", token)
        assert status == 401 and "wrong or revoked" in text
        codes = [_get(served.port, "/api/sessions", f"hct_guess{i}", source="127.0.0.3")[0] for i in range(7)]
        assert codes[:4] == [401] * 4 and codes[-1] == 429, codes  # counted like wrong PINs
        status, _, text = send(served.port, "GET", "/api/sessions", Authorization="Basic eDp5")
        assert status == 401 and "Bearer" in text


def test_token_command(tmp_path: Path) -> None:
    env = {**os.environ, "HIPCAM_STORAGE__DATA_DIR": str(tmp_path)}
    run = [sys.executable, "-m", "hipcam", "token"]

    def hipcam(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*run, *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    made = hipcam("add", "hub", "--out", str(tmp_path / "hub.token"))
    assert made.returncode == 0, made.stderr
    token = (tmp_path / "hub.token").read_text().strip()
    assert (tmp_path / "hub.token").stat().st_mode & 0o777 == 0o600
    assert TokenRegistry(tmp_path / TOKENS_FILE).check(token) == "hub"
    assert "hub" in hipcam("list").stdout
    again = hipcam("add", "hub")
    assert again.returncode != 0 and "exists" in again.stderr and "Traceback" not in again.stderr
    bad = hipcam("add", "no spaces")
    assert bad.returncode != 0 and "token name" in bad.stderr
    assert hipcam("revoke", "hub").returncode == 0
    assert TokenRegistry(tmp_path / TOKENS_FILE).check(token) is None
    gone = hipcam("revoke", "hub")
    assert gone.returncode != 0 and "no token called" in gone.stderr


def test_the_session_list_pages(tmp_path: Path) -> None:
    with serve_app(tmp_path) as served:
        store = served.deps.store
        for runner in ("a", "b", "c"):
            store.stop_session(store.start_session(runner)["id"])
        token = TokenRegistry(tmp_path / TOKENS_FILE).add("hub")
        status, text = _get(served.port, "/api/sessions?limit=2&offset=1", token)
        assert status == 200 and [s["runner"] for s in json.loads(text)["sessions"]] == ["b", "a"]
        for bad in ("limit=0", "limit=201", "offset=-1", "limit=x"):
            assert _get(served.port, f"/api/sessions?{bad}", token)[0] == 400
