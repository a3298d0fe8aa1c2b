"""web_ui.connections: the per-client connection count and the header clock of a channel."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from waitress.adjustments import Adjustments

from web_ui.connections import ClientCounter, GuardedChannel


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_address_may_hold_cap_connections() -> None:
    clients = ClientCounter(cap=2)
    assert clients.admit("10.0.0.5") and clients.admit("10.0.0.5")
    assert not clients.admit("10.0.0.5")  # the third, while two are open
    assert clients.admit("10.0.0.6")  # another host is not affected
    assert clients.open_from("10.0.0.5") == 2  # a refusal is not counted
    clients.release("10.0.0.5")
    assert clients.admit("10.0.0.5")
    for _ in range(3):
        clients.release("10.0.0.5")  # one more release than admissions: no negative count, no entry left
    assert clients.open_from("10.0.0.5") == 0
    assert clients._open == {"10.0.0.6": 1}


def test_refusals_are_logged_with_the_address_once_a_period(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    clients = ClientCounter(cap=1, log_every_s=60.0, clock=clock)
    caplog.set_level(logging.WARNING, logger="web_ui.connections")
    clients.admit("10.0.0.5")
    for _ in range(5):
        assert not clients.admit("10.0.0.5")
    clock.now = 61.0
    assert clients.admit("10.0.0.7")  # another address: admitted, no line
    assert not clients.admit("10.0.0.5")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "from 10.0.0.5: it has 1 open" in lines[0] and "more refused" not in lines[0]
    assert "from 10.0.0.5" in lines[1] and "; 4 more refused in the last 60 s" in lines[1]


class _Server:
    """What a channel needs of its server."""

    def __init__(self) -> None:
        self.active_channels: dict[int, Any] = {}
        self.clients = ClientCounter(cap=4)
        self.tasks: list[Any] = []

    def add_task(self, channel: Any) -> None:
        self.tasks.append(channel)


@pytest.fixture
def channel() -> Iterator[GuardedChannel]:
    ours, theirs = socket.socketpair()
    server = _Server()
    assert server.clients.admit("10.0.0.5")
    ch = GuardedChannel(server, ours, ("10.0.0.5", 40000), Adjustments(), map={})  # type: ignore[arg-type]
    try:
        yield ch
    finally:
        ch.close()
        theirs.close()


def test_the_header_clock_runs_from_the_opening_then_from_each_request_s_first_byte(channel: GuardedChannel) -> None:
    assert channel.header_since == channel.creation_time  # nothing sent yet: the clock runs
    channel.received(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert channel.header_since == channel.creation_time  # still inside the first request's headers
    channel.received(b"\r\n")
    assert channel.header_since is None  # complete: between requests the idle timeout applies
    channel.requests.clear()  # as if served
    channel.received(b"GE")
    assert channel.header_since is not None and channel.header_since > channel.creation_time
    channel.received(b"T / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
    assert channel.header_since is None  # headers done; a body's pace is the idle timeout's business


def test_closing_gives_the_place_back_once(channel: GuardedChannel) -> None:
    clients = channel.server.clients
    assert clients.open_from("10.0.0.5") == 1
    channel.close()
    channel.close()
    assert clients.open_from("10.0.0.5") == 0
