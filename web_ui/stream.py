"""Live updates: Server-Sent Events of the state snapshot and the newest camera JPEG.

Each SSE viewer holds one waitress thread, so streams are capped (``ViewerGate``) below the
thread count, leaving threads for the API, and each stream ends after ``max_s`` so a vanished
tablet frees its thread; EventSource reconnects on its own. Events are at most
``MAX_EVENT_HZ`` per viewer; the JSON is the state's cached text, shared by all viewers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, request

from hipcam.service.state import LiveState
from web_ui.security import ApiError

MAX_EVENT_HZ = 10.0
HEARTBEAT_S = 10.0
RETRY_MS = 2000


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


def _events(state: LiveState, gate: ViewerGate, max_s: float) -> Iterator[bytes]:
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        version, text = state.snapshot_json(full=True)
        yield f"event: full\ndata: {text}\n\n".encode()
        end = time.monotonic() + max_s
        last_sent = time.monotonic()
        min_gap = 1.0 / MAX_EVENT_HZ
        while time.monotonic() < end and not state.closed:
            new = state.wait_for_change(version, timeout=HEARTBEAT_S)
            now = time.monotonic()
            if new == version:
                yield b": keep-alive\n\n"
                continue
            gap = min_gap - (now - last_sent)
            if gap > 0:
                time.sleep(gap)
            version, text = state.snapshot_json(full=False)
            last_sent = time.monotonic()
            yield f"event: tick\ndata: {text}\n\n".encode()
    finally:
        gate.leave()


def stream_blueprint(state: LiveState, gate: ViewerGate, max_s: float = 300.0) -> Blueprint:
    bp = Blueprint("stream", __name__)

    @bp.get("/events")
    def events() -> Response:
        if not gate.enter():
            raise ApiError(503, "too many live viewers; try again shortly", {"Retry-After": "5"})
        resp = Response(_events(state, gate, max_s), mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Accel-Buffering"] = "no"
        return resp

    @bp.get("/frame.jpg")
    def frame() -> Response:
        cam = state.latest_frame()
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
        return resp

    return bp
