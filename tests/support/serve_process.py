"""``hipcam serve`` as a real child process on a free loopback port, for the integration tests that
drive the whole service (browser, feedback, full disk): started with HIPCAM_* overrides, waited for,
and stopped with SIGTERM, which must end it cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paths import REPO

from hipcam.auth import hash_pin

START_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return dict(json.loads(r.read()))


@contextlib.contextmanager
def serve_process(
    source: Path, data_dir: Path, log_path: Path, pin: str, env: dict[str, str] | None = None, wait: bool = True
) -> Iterator[str]:
    """The service on ``source`` (its base URL); ``wait``: until its frame loop reports a status."""
    port = free_port()
    child_env = {**os.environ, "HIPCAM_STORAGE__DATA_DIR": str(data_dir), "HIPCAM_SERVER__PIN_HASH": hash_pin(pin),
                 **(env or {})}  # fmt: skip
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hipcam.commands.cli", "serve", "--source", str(source), "--host", "127.0.0.1",
         "--port", str(port)], env=child_env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        if wait:
            _wait_running(proc, base, log_path)
        yield base
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=15) == 0, "service did not exit cleanly on SIGTERM"
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


def _wait_running(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()
        with contextlib.suppress(OSError, ValueError):
            if get_json(base + "/api/state")["status"] in ("running", "no_runner"):
                return
        time.sleep(0.5)
    pytest.fail("service did not start: " + log_path.read_text()[-2000:])
