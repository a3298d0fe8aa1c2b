"""The systemd unit lints clean, and sd_notify/watchdog speak the real datagram protocol."""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from paths import REPO

from hipcam.service.notify import Notifier, Watchdog

UNIT = REPO / "systemd" / "hipcam.service"
EXEC = "/opt/hipcam/venv/bin/hipcam"


def _unit_items() -> list[tuple[str, str, str]]:
    """(section, key, value) for every line, keeping repeated keys such as DeviceAllow."""
    items: list[tuple[str, str, str]] = []
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        items.append((section, key.strip(), value.strip()))
    return items


def _get(section: str, key: str) -> list[str]:
    return [v for s, k, v in _unit_items() if s == section and k == key]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt install systemd)"
)
def test_unit_verifies(tmp_path: Path) -> None:
    # verify insists that ExecStart's binary exists: point it at a stand-in in a temp dir.
    fake = tmp_path / "hipcam"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    unit = tmp_path / "hipcam.service"
    text = UNIT.read_text()
    assert EXEC in text
    unit.write_text(text.replace(EXEC, str(fake)))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    # verify also reports unrelated units on the host; keep only lines about ours.
    ours = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "hipcam" in ln]
    assert proc.returncode == 0 and not ours, "\n".join(ours) or proc.stderr


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt install systemd)"
)
def test_unit_security_exposure_is_low(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=30", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "Unknown option" in proc.stderr or "unrecognized option" in proc.stderr:
        pytest.skip("this systemd-analyze has no offline security mode")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


def test_unit_essentials() -> None:
    # The spelling matters: systemd silently ignores an unknown target such as network.online.target.
    assert _get("Unit", "After") == ["network-online.target"]
    assert _get("Unit", "Wants") == ["network-online.target"]
    assert _get("Service", "Type") == ["notify"]
    assert _get("Service", "NotifyAccess") == ["main"]
    assert _get("Service", "ExecStart") == [f"{EXEC} serve --config /etc/hipcam/config.toml"]
    assert _get("Service", "User") == ["hipcam"]
    assert "video" in _get("Service", "SupplementaryGroups")[0].split()
    assert _get("Service", "Restart") == ["on-failure"]
    assert int(_get("Service", "WatchdogSec")[0]) >= 10
    assert _get("Service", "StateDirectory") == ["hipcam"]
    assert _get("Service", "ProtectSystem") == ["strict"]
    assert _get("Service", "CapabilityBoundingSet") == [""]
    assert _get("Service", "UMask") == ["0027"]
    assert _get("Service", "DevicePolicy") == ["closed"]
    allowed = {v.split()[0] for v in _get("Service", "DeviceAllow")}
    assert {"char-video4linux", "char-media", "char-dma_heap"} <= allowed
    families = set(_get("Service", "RestrictAddressFamilies")[0].split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert _get("Install", "WantedBy") == ["multi-user.target"]
    # And the file parses as INI (no stray continuation lines).
    configparser.ConfigParser(strict=False, interpolation=None).read_string(UNIT.read_text())


# --- sd_notify protocol against a real AF_UNIX datagram socket ---------------------------------


def _listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2.0)
    return sock


def _recv_all(sock: socket.socket) -> list[str]:
    out: list[str] = []
    sock.settimeout(0.2)
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


@pytest.fixture(params=["path", "abstract"])
def notify_env(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[socket.socket, dict[str, str]]:
    if request.param == "path":
        addr = str(tmp_path / "notify.sock")
        sock = _listener(addr)
        env_value = addr
    else:
        name = f"hipcam-test-{uuid.uuid4().hex}"
        sock = _listener("\0" + name)
        env_value = "@" + name
    request.addfinalizer(sock.close)
    return sock, {"NOTIFY_SOCKET": env_value, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}


def test_notify_messages(notify_env: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = notify_env
    n = Notifier(env)
    assert n.enabled and n.watchdog_usec == 2_000_000
    assert n.ready("serving on :8080")
    msg = sock.recv(4096).decode().split("\n")
    assert msg[0] == "READY=1" and f"MAINPID={os.getpid()}" in msg and "STATUS=serving on :8080" in msg
    assert n.status("camera lost:\nretrying")
    assert sock.recv(4096).decode() == "STATUS=camera lost: retrying"  # one line, always
    assert n.watchdog()
    assert sock.recv(4096).decode() == "WATCHDOG=1"
    assert n.stopping()
    assert sock.recv(4096).decode() == "STOPPING=1"
    n.close()


def test_watchdog_rate_limited_and_frame_driven(
    notify_env: tuple[socket.socket, dict[str, str]], request: pytest.FixtureRequest
) -> None:
    sock, env = notify_env
    now = [100.0]
    notifier = Notifier(env)
    request.addfinalizer(notifier.close)
    wd = Watchdog(notifier, clock=lambda: now[0])
    assert wd.enabled
    # 30 frames/s for 3 s with WATCHDOG_USEC=2 s -> a ping at most every 1 s.
    for _ in range(90):
        wd.frame_processed()
        now[0] += 1 / 30
    pings = _recv_all(sock)
    assert pings == ["WATCHDOG=1"] * 3 and wd.pings == 3
    # A stalled pipeline calls nothing, so nothing is sent however long we wait.
    now[0] += 60
    assert _recv_all(sock) == []
    # The camera-retry loop keeps the process alive without frames.
    wd.loop_alive()
    assert _recv_all(sock) == ["WATCHDOG=1"]


def test_noop_outside_systemd(tmp_path: Path) -> None:
    n = Notifier({})
    assert not n.enabled and n.watchdog_usec is None
    assert not n.ready() and not n.watchdog()
    wd = Watchdog(n)
    wd.frame_processed()
    assert not wd.enabled and wd.pings == 0


def test_watchdog_pid_for_someone_else() -> None:
    n = Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert n.watchdog_usec is None


def test_dead_socket_does_not_raise(tmp_path: Path) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    try:
        assert n.enabled
        assert n.ready() is False  # logged once, never raised
        assert n.watchdog() is False
    finally:
        n.close()


def test_notify_from_subprocess_real_protocol(tmp_path: Path) -> None:
    """A separate process (as systemd sees it) sends READY then STOPPING to an abstract socket."""
    name = f"hipcam-test-{uuid.uuid4().hex}"
    sock = _listener("\0" + name)
    try:
        code = "from hipcam.service.notify import Notifier; n = Notifier(); n.ready('up'); n.watchdog(); n.stopping()"
        env = {**os.environ, "NOTIFY_SOCKET": "@" + name}
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
        msgs = _recv_all(sock)
    finally:
        sock.close()
    assert msgs[0].startswith("READY=1\n") and msgs[1:] == ["WATCHDOG=1", "STOPPING=1"]
