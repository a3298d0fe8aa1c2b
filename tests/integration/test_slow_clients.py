"""Slow clients cannot take the web UI offline.

One host keeps 110 sockets open to the real server, each sending a request's headers one byte a
second and reopened as soon as the server closes it (more than waitress's whole connection limit
of 100). Meanwhile the page and /healthz from another address must answer within a second, every
time; the attacker must never hold more than its per-client share; and each of its sockets that
got in must be closed by the header timeout, not left to dribble on.
"""

from __future__ import annotations

import http.client
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web_server import Served, send, serve_app

ATTACKER = "127.0.0.2"
SOCKETS = 110
HEADER_TIMEOUT_S = 2.0
PER_CLIENT = 16
ATTACK_S = 7.0
ANSWER_WITHIN_S = 1.0


class _Health:
    """A health source whose camera is always running (the HealthSource protocol of web_ui.deps)."""

    camera_state = "running"

    def last_frame_age_s(self) -> float | None:
        return 0.0

    def fps(self) -> float:
        return 30.0

    def pose(self) -> dict[str, Any]:
        return {"precision": "fp32", "requested": "auto", "reason": "a test double", "threads": 1}

    def render(self) -> tuple[bytes, str]:
        return b"", "text/plain; version=0.0.4"


@dataclass
class _Slot:
    sock: socket.socket
    opened: float


@dataclass
class Dribblers:
    """``count`` sockets from ``source`` sending header bytes, one a second each; a socket the
    server closes is recorded with how long it lived and reopened on the next tick."""

    port: int
    count: int = SOCKETS
    source: str = ATTACKER
    lifetimes: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        slots: list[_Slot | None] = [None] * self.count
        next_tick = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + 1.0
                    slots = [self._dribble(slot) for slot in slots]
                self._reap(slots)
        finally:
            for slot in slots:
                if slot is not None:
                    slot.sock.close()

    def _open(self) -> _Slot | None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.source, 0))
            sock.settimeout(1.0)
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            sock.setblocking(False)
        except OSError:
            sock.close()
            return None
        return _Slot(sock, time.monotonic())

    def _dribble(self, slot: _Slot | None) -> _Slot | None:
        if slot is None:
            return self._open()
        try:
            slot.sock.send(b"a")
        except OSError:
            self._closed(slot)
            return None
        return slot

    def _reap(self, slots: list[_Slot | None]) -> None:
        """Notice within 0.1 s when the server closes a socket (end of stream or a reset)."""
        live = {slot.sock: i for i, slot in enumerate(slots) if slot is not None}
        ready, _, _ = select.select(list(live), [], [], 0.1) if live else ([], [], [])
        for sock in ready:
            try:
                if sock.recv(4096):
                    continue  # an answer (e.g. a 400) before the close
            except BlockingIOError:
                continue
            except OSError:
                pass
            slot = slots[live[sock]]
            assert slot is not None
            self._closed(slot)
            slots[live[sock]] = None

    def _closed(self, slot: _Slot) -> None:
        self.lifetimes.append(time.monotonic() - slot.opened)
        slot.sock.close()


def _probe(port: int, path: str) -> float:
    """Seconds one GET from 127.0.0.1 takes (it must succeed)."""
    start = time.monotonic()
    status, _, _ = send(port, "GET", path)
    took = time.monotonic() - start
    assert status == 200, f"{path}: {status}"
    return took


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    keys = {"header_timeout_s": HEADER_TIMEOUT_S, "max_connections_per_client": PER_CLIENT}
    with serve_app(tmp_path, server=keys, health=_Health()) as served:
        yield served


def test_slow_sockets_from_one_host_do_not_block_others(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="web_ui.connections")
    attack = Dribblers(served.port)
    attacker = threading.Thread(target=attack.run, daemon=True)
    attacker.start()
    took: dict[str, list[float]] = {"/healthz": [], "/": []}
    held: list[int] = []
    try:
        time.sleep(0.5)  # the attacker's first round is in
        end = time.monotonic() + ATTACK_S
        while time.monotonic() < end:
            for path, times in took.items():
                times.append(_probe(served.port, path))
            held.append(served.server.clients.open_from(ATTACKER))
            time.sleep(0.25)
    finally:
        attack.stop.set()
        attacker.join(5)
    print({path: f"max {max(t):.3f} s, median {sorted(t)[len(t) // 2]:.3f} s, n={len(t)}" for path, t in took.items()})
    print(f"attacker held at most {max(held)} connections; {len(attack.lifetimes)} closed by the server")
    for path, times in took.items():
        assert max(times) < ANSWER_WITHIN_S, f"{path} took {max(times):.2f} s under the attack: {times}"
    assert 0 < max(held) <= PER_CLIENT
    # The sockets that got in lived until the header timeout and no longer (maintenance runs every second).
    admitted = [t for t in attack.lifetimes if t >= HEADER_TIMEOUT_S - 0.1]
    assert len(admitted) >= PER_CLIENT, sorted(attack.lifetimes)[-20:]
    assert max(attack.lifetimes) < HEADER_TIMEOUT_S + 2.5, sorted(attack.lifetimes)[-5:]
    # The rest were refused at once, and the log says so with the address, a line per minute at most.
    refused_lines = [r.getMessage() for r in caplog.records if "refused a connection" in r.getMessage()]
    assert len(refused_lines) == 1 and ATTACKER in refused_lines[0] and f"has {PER_CLIENT} open" in refused_lines[0]


def _response_status(sock: socket.socket) -> int:
    """Read one whole response from ``sock`` (keep-alive: the connection stays usable)."""
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    resp.read()
    return resp.status


def test_a_complete_request_is_not_cut_by_the_header_timeout(served: Served) -> None:
    """Keep-alive: a connection idle between requests (shorter than the idle timeout) stays open
    past the header timeout, and a request sent slowly but within it is answered."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        sock.sendall(request)
        assert _response_status(sock) == 200
        time.sleep(HEADER_TIMEOUT_S + 1.5)  # idle, not inside a request: the header clock is not running
        for i in range(0, len(request), 8):  # a request spread over about a second
            sock.sendall(request[i : i + 8])
            time.sleep(0.1)
        assert _response_status(sock) == 200
