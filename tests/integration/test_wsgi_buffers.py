"""A live stream through the real waitress server must not pin the data it has already sent.

With waitress's default outbuf_high_watermark (16 MiB) every Server-Sent-Event connection kept all
its sent ticks in memory until 16 MiB had gone by; this streams well over a mebibyte and checks how
much memory waitress's buffers hold meanwhile (tracemalloc, by allocating file).
"""

from __future__ import annotations

import http.client
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps
from web_ui.server import OUTBUF_HIGH_WATERMARK, make_server

TICK_BYTES = 40_000  # a large tick, so a few seconds of stream are well over a mebibyte
STREAM_BYTES = 1_500_000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LiveState, int]]:
    cfg = HipcamConfig()
    state, store = LiveState(), Store(tmp_path)
    server: Any = make_server(create_app(WebDeps(state, store, cfg, secret_key=b"k" * 32)), cfg, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield state, int(server.effective_port)
    finally:
        state.close()
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        store.close()


def _publisher(state: LiveState, stop: threading.Event) -> None:
    n = 0
    while not stop.wait(1 / 30):
        n += 1
        state.set_status("running", f"{n:08d}" + "x" * TICK_BYTES)  # a new version every frame


def _waitress_buffer_bytes() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*waitress/buffers.py")])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_sse_stream_does_not_hold_sent_data(served: tuple[LiveState, int]) -> None:
    state, port = served
    stop = threading.Event()
    publisher = threading.Thread(target=_publisher, args=(state, stop), daemon=True)
    tracemalloc.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        publisher.start()
        conn.request("GET", "/stream/events")
        resp = conn.getresponse()
        assert resp.status == 200
        received, held = 0, []
        while received < STREAM_BYTES:
            chunk = resp.readline()
            assert chunk, "the stream ended early"
            received += len(chunk)
            if received > STREAM_BYTES / 2:
                held.append(_waitress_buffer_bytes())
    finally:
        stop.set()
        publisher.join(5)
        conn.close()
        tracemalloc.stop()
    # What a connection holds is bounded by the watermark plus one write (and the buffer's slack),
    # not by how much it has sent.
    assert max(held) < OUTBUF_HIGH_WATERMARK + 4 * TICK_BYTES, f"waitress holds {max(held)} bytes"
    assert max(held) < received / 2
