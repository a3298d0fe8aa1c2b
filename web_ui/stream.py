"""Live updates: Server-Sent Events of the state snapshot and the newest camera JPEG.

Each SSE viewer holds one waitress thread, so streams are capped (``ViewerGate``) below the
thread count, leaving threads for the API, and each stream ends after ``max_s`` so a vanished
tablet frees its thread; EventSource reconnects on its own. Events are at most
``MAX_EVENT_HZ``, on shared tick boundaries, and the JSON is serialized once per tick for all
viewers (``TickCache``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

from flask import Blueprint, Flask, Response, current_app, request

from hipcam.domain import HIPS
from hipcam.service.state import LiveState
from web_ui.deps import deps
from web_ui.security import ApiError

MAX_EVENT_HZ = 10.0
HEARTBEAT_S = 10.0
RETRY_MS = 2000
STREAM_EXTENSION = "hipcam.stream"


class ViewerGate:
    def __init__(self, limit: int, on_change: Callable[[int], None] | None = None) -> None:
        self.limit = limit
        self._on_change = on_change
        self._lock = threading.Lock()
        self.count = 0

    def enter(self) -> bool:
        with self._lock:
            if self.count >= self.limit:
                return False
            self.count += 1
            n = self.count
        if self._on_change:
            self._on_change(n)
        return True

    def leave(self) -> None:
        with self._lock:
            self.count -= 1
            n = self.count
        if self._on_change:
            self._on_change(n)


class TickCache:
    """The tail snapshot, serialized at most once per tick (1 / MAX_EVENT_HZ s) for all viewers.

    Viewers wake on the same tick boundaries instead of on every published frame, so N viewers
    cost one serialization and N socket writes per tick, and the frame loop is not woken into a
    GIL convoy of N threads ~30 times a second.
    """

    def __init__(self, state: LiveState, hz: float = MAX_EVENT_HZ) -> None:
        self._state = state
        self.period = 1.0 / hz
        self._lock = threading.Lock()
        self._tick = -1
        self._entry: tuple[int, str] = (-1, "")

    def next_tick_in(self) -> float:
        now = time.time()
        return (math.floor(now / self.period) + 1) * self.period - now

    def get(self) -> tuple[int, str]:
        tick = math.floor(time.time() / self.period)
        with self._lock:
            if tick != self._tick:
                self._tick, self._entry = tick, self._state.snapshot_json(full=False)
            return self._entry


def _events(state: LiveState, cache: TickCache, max_s: float) -> Iterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    version, text = state.snapshot_json(full=True)
    yield f"event: full\ndata: {text}\n\n".encode()
    end = time.monotonic() + max_s
    quiet_since = time.monotonic()
    while time.monotonic() < end and not state.closed:
        time.sleep(cache.next_tick_in())
        if state.version == version:
            if time.monotonic() - quiet_since >= HEARTBEAT_S:
                quiet_since = time.monotonic()
                yield b": keep-alive\n\n"
            continue
        version, text = cache.get()
        quiet_since = time.monotonic()
        yield f"event: tick\ndata: {text}\n\n".encode()


def _release_once(gate: ViewerGate) -> Callable[[], None]:
    """``gate.leave`` that acts on its first call only, so one viewer frees exactly one slot."""
    lock = threading.Lock()
    left = False

    def release() -> None:
        nonlocal left
        with lock:
            if left:
                return
            left = True
        gate.leave()

    return release


bp = Blueprint("stream", __name__)


@bp.get("/events")
def events() -> Response:
    d, live = deps(), stream_parts()
    if not live.gate.enter():
        raise ApiError(503, "too many live viewers; try again shortly", {"Retry-After": "5"})
    # The slot is freed when the server closes the response: after the stream ends, when the
    # client goes away, and also for HEAD, where werkzeug never starts the generator at all
    # (a ``finally`` inside the generator would never run and the slot would leak).
    resp = Response(_events(d.state, live.ticks, d.stream_max_s), mimetype="text/event-stream")
    resp.call_on_close(_release_once(live.gate))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


@bp.get("/frame.jpg")
def frame() -> Response:
    cam = deps().state.latest_frame()
    if cam is None:
        return Response(status=204)
    etag = f'"{cam.seq}"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304)
    resp = Response(cam.jpeg, mimetype="image/jpeg")
    resp.headers["ETag"] = etag
    resp.headers["X-Frame-Seq"] = str(cam.seq)
    resp.headers["X-Captured-At"] = f"{cam.captured_at:.3f}"
    # The landmarks of exactly this frame, so the skeleton never drifts from the image.
    resp.headers["X-Landmarks"] = json.dumps(cam.landmarks, separators=(",", ":")) if cam.landmarks else ""
    # Whether its hips are the runner's calibrated ones; then also where BlazePose put them.
    resp.headers["X-Hip-Calibrated"] = "1" if cam.hip_calibrated else "0"
    if cam.hip_calibrated and cam.pose is not None:
        raw = [[round(float(v), 4) for v in cam.pose.landmarks[hip, :2]] for hip in HIPS]
        resp.headers["X-Hip-Landmarks"] = json.dumps(raw, separators=(",", ":"))
    return resp


@dataclass
class StreamParts:
    """The app's viewer slots and shared tick cache (kept in ``app.extensions``)."""

    gate: ViewerGate
    ticks: TickCache


def install_stream(app: Flask, state: LiveState, limit: int, on_change: Callable[[int], None] | None) -> None:
    app.extensions[STREAM_EXTENSION] = StreamParts(ViewerGate(limit, on_change), TickCache(state))
    app.register_blueprint(bp, url_prefix="/stream")


def stream_parts() -> StreamParts:
    return cast(StreamParts, current_app.extensions[STREAM_EXTENSION])
