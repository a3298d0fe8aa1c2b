"""The runner view's cue stream: a cue is written the moment it is posted (not on the 10 Hz tick),
the feedback status comes on connect, on change and every second, a reconnect resumes after the
cue it last saw, and the stream ends with the board, the state or its viewer's right to watch."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_server import login, serve_app

from hipcam.service.cues import CueBoard
from hipcam.service.state import LiveState
from web_ui.stream import _cue_events, _resume_after
from web_ui.viewers import Connection, Viewer

FEEDBACK = {"active": True, "finished": False, "session_id": 1, "block": {"index": 0, "feedback": True}}


def _cue(hit: bool | None = True, **more: Any) -> dict[str, Any]:
    now = time.time()
    return {"hit": hit, "show": True, "leg": "left", "value": 12.5, "measure": "hip_extension_at_toe_off_deg",
            "block": 0, "feedback": True, "captured_at": now, "posted_at": now, **more}  # fmt: skip


def _stream(state: LiveState, cues: CueBoard, may: list[bool] | None = None, after: int = 0) -> Iterator[bytes]:
    viewer = Viewer(Connection({}), lambda: (may or [True])[0], stall_s=5.0)
    return _cue_events(state, cues, 60.0, viewer, after)


def _data(event: bytes) -> dict[str, Any]:
    line = next(x for x in event.decode().splitlines() if x.startswith("data: "))
    return dict(json.loads(line[6:]))


def test_status_first_then_a_cue_at_once() -> None:
    state, cues = LiveState(), CueBoard()
    state.set_flags(feedback=FEEDBACK)
    stream = _stream(state, cues)
    assert next(stream) == b"retry: 2000\n\n"
    first = next(stream)
    assert first.startswith(b"event: status\n")
    status = _data(first)
    assert status["feedback"] == FEEDBACK and abs(status["server_time"] - time.time()) < 1
    assert status["status"] == "starting"  # whether the device sees a runner ("Waiting for the runner")
    threading.Timer(0.05, cues.post, [_cue(hit=False)]).start()
    posted = time.monotonic()
    event = next(stream)
    assert time.monotonic() - posted < 0.1 + 0.05  # woken by the post, not by a tick
    assert event.startswith(b"id: 1\nevent: cue\n")
    assert _data(event)["hit"] is False and _data(event)["seq"] == 1


def test_status_on_change_and_every_second() -> None:
    state, cues = LiveState(), CueBoard()
    stream = _stream(state, cues)
    next(stream)
    assert _data(next(stream))["feedback"] is None  # no plan: the page says so
    state.set_flags(feedback=FEEDBACK)
    start = time.monotonic()
    assert _data(next(stream))["feedback"] == FEEDBACK
    assert time.monotonic() - start < 0.5  # a new block shows within a poll
    start = time.monotonic()
    assert _data(next(stream))["feedback"] == FEEDBACK  # unchanged: still sent each second
    assert 0.7 < time.monotonic() - start < 1.5


def test_a_non_finite_value_is_sent_as_null() -> None:
    state, cues = LiveState(), CueBoard()
    stream = _stream(state, cues)
    next(stream), next(stream)
    cues.post(_cue(value=float("nan")))
    assert _data(next(stream))["value"] is None


@pytest.mark.parametrize("end", ["board", "state", "viewer"])
def test_the_stream_ends_with_the_board_the_state_or_the_viewer(end: str) -> None:
    state, cues, may = LiveState(), CueBoard(), [True]
    stream = _stream(state, cues, may)
    next(stream), next(stream)
    {"board": cues.close, "state": state.close, "viewer": lambda: may.__setitem__(0, False)}[end]()
    start = time.monotonic()
    assert all(e.startswith(b"event: status") for e in stream)
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, 5), ("", 5), ("3", 3), ("0", 0), ("5", 5), ("9", 5), ("-1", 5), ("x", 5), ("1e3", 5), (" 4 ", 4)],
)
def test_a_reconnect_resumes_after_the_cue_it_saw(header: str | None, expected: int) -> None:
    cues = CueBoard()
    for _ in range(5):
        cues.post(_cue())
    assert _resume_after(cues, header) == expected


# ---- through the app -------------------------------------------------------------------------


def _open(port: int, cookie: str = "", last_id: str | None = None) -> tuple[http.client.HTTPConnection, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Accept": "text/event-stream"}
    if cookie:
        headers["Cookie"] = cookie
    if last_id is not None:
        headers["Last-Event-ID"] = last_id
    conn.request("GET", "/stream/cues", headers=headers)
    return conn, conn.getresponse()


def _next_event(resp: Any, kind: str) -> tuple[dict[str, Any], float]:
    """The data of the next ``kind`` event and when it arrived."""
    event = None
    while line := resp.readline():
        if line.startswith(b"event: "):
            event = line[7:].strip().decode()
        elif line.startswith(b"data: ") and event == kind:
            return dict(json.loads(line[6:])), time.time()
    raise AssertionError(f"the stream ended before a {kind} event")


def test_cues_through_the_real_server(tmp_path: Path) -> None:
    cues = CueBoard()
    with serve_app(tmp_path, cues=cues) as served:
        served.deps.state.set_flags(feedback=FEEDBACK)
        conn, resp = _open(served.port)
        try:
            assert resp.status == 200 and resp.getheader("Content-Type", "").startswith("text/event-stream")
            assert _next_event(resp, "status")[0]["feedback"] == FEEDBACK
            delays = []
            for i in range(5):
                cue = _cue(hit=i % 2 == 0)
                cues.post(cue)
                got, at = _next_event(resp, "cue")
                assert got["seq"] == i + 1 and got["hit"] is cue["hit"]
                delays.append(at - cue["captured_at"])
            assert sorted(delays)[2] < 0.05, delays
        finally:
            conn.close()
        # A reconnect gets what it missed (EventSource sends the last id it saw), a new view nothing old.
        conn, resp = _open(served.port, last_id="3")
        try:
            assert [_next_event(resp, "cue")[0]["seq"] for _ in range(2)] == [4, 5]
        finally:
            conn.close()


def test_cues_need_what_the_live_view_needs(tmp_path: Path) -> None:
    with serve_app(tmp_path, server={"open_viewing": False}, cues=CueBoard()) as served:
        conn, resp = _open(served.port)
        assert resp.status == 401 and "PIN" in json.loads(resp.read())["error"]
        conn.close()
        status, cookie, _ = login(served.port)
        assert status == 200
        conn, resp = _open(served.port, cookie)
        assert resp.status == 200 and _next_event(resp, "status")[0]["feedback"] is None
        conn.close()


def test_cue_streams_take_live_view_slots(tmp_path: Path) -> None:
    with serve_app(tmp_path, server={"max_viewers_per_client": 1}, cues=CueBoard()) as served:
        first, resp = _open(served.port)
        try:
            assert resp.status == 200
            _next_event(resp, "status")
            second, refused = _open(served.port)
            assert refused.status == 503 and refused.getheader("Retry-After") == "5"
            assert "too many live views" in json.loads(refused.read())["error"]
            second.close()
        finally:
            first.close()
