"""Live streams through the real waitress server, as a hostile laptop on the gym Wi-Fi would hold
them: one address cannot take every viewer slot, a stream nobody reads gives its slot back after
``server.idle_timeout_s``, and closing viewing on the page ends the open anonymous streams.

Each client is a raw socket from its own loopback address (127.0.0.x stands in for a host on the LAN).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from web_server import Served, login, send, serve_app

from hipcam.service.state import LiveState
from web_ui.viewers import Viewer

pytestmark = pytest.mark.integration

TICK_BYTES = 20_000  # a large tick: ~200 KB/s per stream, so a reader that stops falls behind at once
STALL_S = 5.0  # server.idle_timeout_s (its lowest allowed value)


def _open_stream(port: int, source: str = "127.0.0.1", cookie: str | None = None, rcvbuf: int | None = None) -> tuple[socket.socket, int, str]:  # fmt: skip
    """GET /stream/events on a raw socket: the socket (left open), the status and the response head."""
    sock = socket.socket()
    if rcvbuf is not None:  # before connect, so the window the server sees is small from the start
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    sock.sendall(f"GET /stream/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, f"closed before the response head: {head!r}"
        head += chunk
    text = head.decode("latin-1")
    return sock, int(text.split()[1]), text


def _body_of(sock: socket.socket, head: str) -> dict[str, Any]:
    """The JSON body of a refused (Content-Length) response."""
    length = int(
        next(line.split(":", 1)[1] for line in head.split("\r\n") if line.lower().startswith("content-length"))
    )
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return dict(json.loads(body))


def _read_until_closed(sock: socket.socket, timeout: float) -> tuple[bool, int]:
    """Read until the server ends the stream: (ended, bytes read)."""
    sock.settimeout(timeout)
    got, end = 0, time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            chunk = sock.recv(65536)
            if not chunk or chunk.endswith(b"0\r\n\r\n"):  # closed, or the last chunk of the response
                return True, got + len(chunk)
            got += len(chunk)
    except ConnectionResetError:
        return True, got
    except TimeoutError:
        pass
    return False, got


def _tag(page: str, marker: str) -> str:
    """The whole HTML start tag holding ``marker``."""
    at = page.index(marker)
    return page[page.rindex("<", 0, at) : page.index(">", at) + 1]


def _wait(pred: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until ``pred`` held (polled every 50 ms), or None if it did not within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


@contextmanager
def _publishing(state: LiveState) -> Iterator[None]:
    """A new, large state version 30 times a second (the frame loop, with a big snapshot)."""
    stop = threading.Event()

    def run() -> None:
        n = 0
        while not stop.wait(1 / 30):
            n += 1
            state.set_status("running", f"{n:08d}" + "x" * TICK_BYTES)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@contextmanager
def _served(tmp_path: Path, **server: Any) -> Iterator[tuple[Served, list[int]]]:
    counts = [0]
    with serve_app(tmp_path, server=server, on_viewers=counts.append) as served:
        yield served, counts


def test_one_address_cannot_take_every_viewer_slot(tmp_path: Path) -> None:
    with _served(tmp_path, max_viewers=5, max_viewers_per_client=2, threads=8) as (served, counts):
        held = [_open_stream(served.port)[:2] for _ in range(2)]
        assert [status for _, status in held] == [200, 200] and counts[-1] == 2
        sock, status, head = _open_stream(served.port)
        body = _body_of(sock, head)
        sock.close()
        assert status == 503 and "Retry-After: 5" in head, head
        assert "this address (127.0.0.1) has too many live views open" in body["error"], body
        # Another host still gets a stream: the slots left are not the first address's to take.
        other, status, _ = _open_stream(served.port, source="127.0.0.2")
        assert status == 200 and counts[-1] == 3
        # A view the first address closes (a reloaded page) frees its slot at the next tick.
        held.pop()[0].close()
        freed = _wait(lambda: counts[-1] == 2, 3.0)
        assert freed is not None, "a closed stream kept its slot"
        again, status, _ = _open_stream(served.port)
        assert status == 200
        for s in [again, other, *(s for s, _ in held)]:
            s.close()
        assert _wait(lambda: counts[-1] == 0, 3.0) is not None


def test_a_client_that_stops_reading_gives_its_slot_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with _served(tmp_path, idle_timeout_s=STALL_S) as (served, counts), _publishing(served.deps.state):
        reader, status, _ = _open_stream(served.port, source="127.0.0.2")  # a tablet that reads all along
        assert status == 200
        read = [0]
        done = threading.Event()

        def keep_reading() -> None:
            reader.settimeout(1)
            while not done.is_set():
                try:
                    chunk = reader.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                read[0] += len(chunk)

        thread = threading.Thread(target=keep_reading, daemon=True)
        thread.start()
        stalled, status, _ = _open_stream(served.port, rcvbuf=4096)  # then never reads again
        started = time.monotonic()
        assert status == 200 and counts[-1] == 2
        freed = _wait(lambda: counts[-1] == 1, STALL_S + 5.0)
        assert freed is not None, f"the stalled stream still holds its slot after {STALL_S + 5:.0f} s"
        elapsed = time.monotonic() - started
        print(f"stalled stream freed its slot after {elapsed:.1f} s (idle_timeout_s {STALL_S:g})")
        assert STALL_S - 0.5 <= elapsed <= STALL_S + 4.0
        # Its connection is closed too (not only the slot): what it holds drains, then the end.
        assert _read_until_closed(stalled, 10.0)[0], "the stalled connection was left open"
        stalled.close()
        # The reader kept its stream all along and still gets ticks.
        before = read[0]
        assert _wait(lambda: read[0] > before + 3 * TICK_BYTES, 3.0) is not None
        assert counts[-1] == 1 and thread.is_alive()
        done.set()
        thread.join(5)
        reader.close()
    closed = [r for r in caplog.records if "closed a live view" in r.getMessage()]
    assert len(closed) == 1 and "127.0.0.1" in closed[0].getMessage() and closed[0].exc_info is None


@pytest.mark.slow
def test_waitress_channel_timeout_alone_does_not_free_a_stalled_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the stream watches its own writes: waitress's channel_timeout (server.idle_timeout_s,
    web_ui.server) skips a connection whose request is still running, so without the stream's own
    stall check a stream to a client that does not read is never closed."""
    monkeypatch.setattr(Viewer, "stalled", lambda self: False)
    with _served(tmp_path, idle_timeout_s=STALL_S) as (served, counts), _publishing(served.deps.state):
        stalled, status, _ = _open_stream(served.port, rcvbuf=4096)
        assert status == 200
        assert _wait(lambda: counts[-1] == 0, STALL_S + 4.0) is None, "waitress closed the stalled stream itself"
        stalled.close()


def test_closing_viewing_ends_the_anonymous_streams(tmp_path: Path) -> None:
    with _served(tmp_path) as (served, counts):
        status, cookie, token = login(served.port)
        assert status == 200
        anonymous, status, _ = _open_stream(served.port, source="127.0.0.2")
        assert status == 200
        staff, status, _ = _open_stream(served.port, cookie=cookie)
        assert status == 200 and counts[-1] == 2
        body = json.dumps({"server": {"open_viewing": False}}).encode()
        closed_at = time.monotonic()
        status, _, text = send(served.port, "POST", "/api/settings", body, Cookie=cookie, X_CSRF_Token=token,
                               Content_Type="application/json")  # fmt: skip
        assert status == 200 and json.loads(text)["server"]["open_viewing"] is False
        ended, _ = _read_until_closed(anonymous, 3.0)
        took = time.monotonic() - closed_at
        print(f"the anonymous stream ended {took:.2f} s after viewing was closed")
        assert ended and took < 2.0
        # The logged-in viewer keeps watching; a new anonymous stream is refused.
        assert _wait(lambda: counts[-1] == 1, 2.0) is not None
        again, status, _ = _open_stream(served.port, source="127.0.0.2")
        assert status == 401
        # With viewing closed, locking the tablet ends its stream too (its login is gone).
        status, _, _ = send(served.port, "POST", "/api/logout", b"{}", Cookie=cookie, X_CSRF_Token=token,
                            Content_Type="application/json")  # fmt: skip
        assert status == 200
        ended, _ = _read_until_closed(staff, 3.0)
        assert ended and _wait(lambda: counts[-1] == 0, 2.0) is not None
        for s in (again, anonymous, staff):
            s.close()


def test_config_closed_viewing_cannot_be_opened_from_the_page(tmp_path: Path) -> None:
    with _served(tmp_path, open_viewing=False) as (served, _):
        status, cookie, token = login(served.port)
        assert status == 200
        body = json.dumps({"server": {"open_viewing": True}}).encode()
        status, _, text = send(served.port, "POST", "/api/settings", body, Cookie=cookie, X_CSRF_Token=token,
                               Content_Type="application/json")  # fmt: skip
        assert status == 409, text
        assert "closed in the config file / environment by the administrator" in json.loads(text)["error"]
        assert served.deps.page_settings.applied().open_viewing is False
        status, _, text = send(served.port, "GET", "/api/settings", Cookie=cookie)
        assert json.loads(text)["locked"]["server"]["open_viewing"].startswith("closed in the config file")
        status, _, page = send(served.port, "GET", "/settings", Cookie=cookie)
        assert status == 200 and "disabled" in _tag(page, 'id="open-viewing"')
        assert "hidden" not in _tag(page, 'id="open-viewing-lock"') and "by the administrator" in page
        sock, status, _ = _open_stream(served.port, source="127.0.0.2")
        sock.close()
        assert status == 401
