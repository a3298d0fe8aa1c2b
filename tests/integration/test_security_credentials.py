"""A camera URL's credentials never leave the device: `hipcam serve` on a real loopback port with an
rtsp source carrying a password (and a token in its query) that cannot be opened, so the service
reports the camera lost, naming the source. Neither secret may appear in /api/state, the event
stream, the live page or any line the service logs.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from paths import REPO

pytestmark = [pytest.mark.integration, pytest.mark.needs_models]

PASSWORD = "s3cretPW"
TOKEN = "t0kenXYZ"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _first_event(port: int) -> str:
    """The event stream up to its first full snapshot (the stream itself never ends)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/stream/events")
        resp = conn.getresponse()
        lines: list[str] = []
        while not any(line.startswith("data:") for line in lines):
            lines.append(resp.readline().decode("utf-8", "replace"))
        return "".join(lines)
    finally:
        conn.close()


def _camera_lost(port: int) -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        state = json.loads(_get(port, "/api/state")[1])
        return state if state["status"] == "camera_lost" else None
    return None


def test_source_credentials_never_shown_or_logged(tmp_path: Path, models_dir: Path) -> None:
    closed = _free_port()  # nothing listens there: the stream cannot be opened
    source = f"rtsp://admin:{PASSWORD}@127.0.0.1:{closed}/stream?token={TOKEN}"
    port = _free_port()
    env = {**os.environ, "HIPCAM_STORAGE__DATA_DIR": str(tmp_path), "HIPCAM_PATHS__MODELS_DIR": str(models_dir),
           "HIPCAM_LOGGING__LEVEL": "debug"}  # fmt: skip
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hipcam.commands.cli", "serve", "--source", source, "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            state = None
            while state is None and time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text()
                state = _camera_lost(port)
                time.sleep(0.3)
            assert state is not None, "the service never reported the camera lost: " + log_path.read_text()[-2000:]
            answers = {
                "state": json.dumps(state),
                "stream": _first_event(port),
                "page": _get(port, "/")[1],
                "healthz": _get(port, "/healthz")[1],
            }
            assert "127.0.0.1" in answers["state"], answers["state"]  # the source is named, without its secrets
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(
                    "hipcam serve did not stop on SIGTERM within 30 s: " + log_path.read_text()[-2000:]
                ) from None
    answers["log"] = log_path.read_text()
    for where, text in answers.items():
        assert PASSWORD not in text and TOKEN not in text, f"{where} leaks the camera's credentials: {text[-1500:]}"
