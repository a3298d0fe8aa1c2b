"""Live updates: Server-Sent Events of the state snapshot and the newest camera JPEG.

Each SSE viewer holds one waitress thread, so streams are capped (``ViewerGate``) below the
thread count, leaving threads for the API: ``server.max_viewers`` in all and
``server.max_viewers_per_client`` per client address, so one host cannot take every slot. Each
stream ends after ``max_s`` so a vanished tablet frees its thread; EventSource reconnects on its own.
Events are at most ``MAX_EVENT_HZ``, on shared tick boundaries, and the JSON is serialized once per
tick for all viewers (``TickCache``).

A client that stops reading, closes its connection or may no longer watch ends its stream
(web_ui.viewers: ``Viewer``).

The runner view's ``/stream/cues`` is the one stream not on the tick: a stride's cue is written the
moment the frame loop posts it (``CueBoard.wait``), since a cue that lags its stride cannot be
trained with; the feedback status beside it is sent on change and every second.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, request

from hipcam.domain import HIPS
from hipcam.service.cues import CueBoard
from hipcam.service.state import LiveState
from web_ui.deps import EXTENSION, WebDeps, deps
from web_ui.security import ApiError, login_check
from web_ui.viewers import CLIENT_FULL, Connection, Viewer, ViewerGate

log = logging.getLogger(__name__)

MAX_EVENT_HZ = 10.0
HEARTBEAT_S = 10.0
RETRY_MS = 2000
RETRY_AFTER_S = "5"
STREAM_EXTENSION = "hipcam.stream"
CUE_POLL_S = 0.2  # how soon a changed feedback status (a new block) follows when no cue comes
STATUS_EVERY_S = 1.0  # the runner view's "time left" and its reconnect watchdog live on this


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


def _events(state: LiveState, cache: TickCache, max_s: float, viewer: Viewer) -> Iterator[bytes]:
    yield viewer.wrote(f"retry: {RETRY_MS}\n\n".encode())
    version, text = state.snapshot_json(full=True)
    yield viewer.wrote(f"event: full\ndata: {text}\n\n".encode())
    end = time.monotonic() + max_s
    quiet_since = time.monotonic()
    while time.monotonic() < end and not state.closed:
        time.sleep(cache.next_tick_in())
        if viewer.must_end():
            return
        if viewer.conn.would_block():
            continue  # a slow reader: skip ticks (each is a whole snapshot) until it catches up
        if state.version == version:
            if time.monotonic() - quiet_since >= HEARTBEAT_S:
                quiet_since = time.monotonic()
                yield viewer.wrote(b": keep-alive\n\n")
            continue
        version, text = cache.get()
        quiet_since = time.monotonic()
        yield viewer.wrote(f"event: tick\ndata: {text}\n\n".encode())


def _json(value: Any) -> str:
    """Compact JSON; a non-finite number (never expected from the back end) is sent as null
    rather than ending the stream with a ValueError."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _status_of(state: LiveState) -> str:
    """The runner view's status, as JSON text (compared as text: a status changed in place still
    differs): the feedback status and whether the device sees a runner."""
    return _json({"feedback": state.flag("feedback"), "status": state.status})


def _status_event(status_json: str) -> bytes:
    # The device's clock spliced into the object: the runner view counts a block's time left on its
    # own clock, which need not agree with the Pi's.
    return f'event: status\ndata: {{"server_time":{time.time():.3f},{status_json[1:]}\n\n'.encode()


def _cue_event(cue: dict[str, Any]) -> bytes:
    # ``id:`` lets a reconnecting EventSource say what it last saw (Last-Event-ID).
    return f"id: {cue['seq']}\nevent: cue\ndata: {_json(cue)}\n\n".encode()


def _cue_events(state: LiveState, cues: CueBoard, max_s: float, viewer: Viewer, after: int) -> Iterator[bytes]:
    """The runner view's stream: ``retry``, the feedback status, then every cue newer than
    ``after`` as it is posted and the status on change or at least every STATUS_EVERY_S."""
    yield viewer.wrote(f"retry: {RETRY_MS}\n\n".encode())
    sent = _status_of(state)
    yield viewer.wrote(_status_event(sent))
    end = time.monotonic() + max_s
    sent_at = time.monotonic()
    while time.monotonic() < end and not state.closed and not cues.closed:
        new = cues.wait(after, CUE_POLL_S)
        if viewer.must_end():
            return
        if viewer.conn.would_block():
            time.sleep(CUE_POLL_S)  # a slow reader: the cues wait on the board (the newest are kept)
            continue
        for cue in new:
            after = cue["seq"]
            yield viewer.wrote(_cue_event(cue))
        status = _status_of(state)
        if status != sent or time.monotonic() - sent_at >= STATUS_EVERY_S:  # each second: also the keep-alive
            sent, sent_at = status, time.monotonic()
            yield viewer.wrote(_status_event(status))


def _resume_after(cues: CueBoard, last_event_id: str | None) -> int:
    """Where a stream starts on the board: after the cue a reconnecting view last saw (its
    Last-Event-ID) if the board still knows it, else after the newest (no old cue is replayed to
    a view that just opened, or across a restart that began the numbering again)."""
    try:
        seen = int(last_event_id or "")
    except ValueError:
        return cues.seq
    return seen if 0 <= seen <= cues.seq else cues.seq


def _release_once(gate: ViewerGate, client: str) -> Callable[[], None]:
    """``gate.leave`` that acts on its first call only, so one viewer frees exactly one slot."""
    lock = threading.Lock()
    left = False

    def release() -> None:
        nonlocal left
        with lock:
            if left:
                return
            left = True
        gate.leave(client)

    return release


bp = Blueprint("stream", __name__)


def _refusal(why: str, client: str, live: StreamParts) -> ApiError:
    if why == CLIENT_FULL:
        message = (
            f"this address ({client}) has too many live views open (at most {live.gate.per_client}); "
            "close one (another tab or tablet) and try again"
        )
    else:
        message = "too many live viewers; try again shortly"
    return ApiError(503, message, {"Retry-After": RETRY_AFTER_S})


def _viewer(d: WebDeps, live: StreamParts, client: str) -> Viewer:
    """The stream's viewer, with what it needs from the request taken now (its login, its connection)."""
    settings, logged_in = d.page_settings, login_check()

    def may_watch() -> bool:
        return settings.applied().open_viewing or logged_in()

    return Viewer(Connection(request.environ), may_watch, live.stall_s, client)


@bp.get("/events")
def events() -> Response:
    d, live, client = deps(), stream_parts(), request.remote_addr or "?"
    viewer = _viewer(d, live, client)
    if (why := live.gate.enter(client)) is not None:
        raise _refusal(why, client, live)
    # The slot is freed when the server closes the response: after the stream ends, when the
    # client goes away, and also for HEAD, where werkzeug never starts the generator at all
    # (a ``finally`` inside the generator would never run and the slot would leak).
    resp = Response(_events(d.state, live.ticks, d.stream_max_s, viewer), mimetype="text/event-stream")
    resp.call_on_close(_release_once(live.gate, client))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


@bp.get("/cues")
def cue_stream() -> Response:
    d, live, client = deps(), stream_parts(), request.remote_addr or "?"
    viewer = _viewer(d, live, client)
    after = _resume_after(d.cues, request.headers.get("Last-Event-ID"))
    if (why := live.gate.enter(client)) is not None:
        raise _refusal(why, client, live)
    resp = Response(_cue_events(d.state, d.cues, d.stream_max_s, viewer, after), mimetype="text/event-stream")
    resp.call_on_close(_release_once(live.gate, client))  # as /events: also for HEAD
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
    """The app's viewer slots, shared tick cache and stall limit (kept in ``app.extensions``)."""

    gate: ViewerGate
    ticks: TickCache
    stall_s: float


def install_stream(
    app: Flask,
    state: LiveState,
    limit: int,
    on_change: Callable[[int], None] | None,
    per_client: int | None = None,
    stall_s: float | None = None,
) -> None:
    """``per_client`` and ``stall_s`` default to the app's ``server.max_viewers_per_client`` and
    ``server.idle_timeout_s``."""
    server = cast(WebDeps, app.extensions[EXTENSION]).cfg.server
    per_client = min(limit, server.max_viewers_per_client if per_client is None else per_client)
    stall = server.idle_timeout_s if stall_s is None else stall_s
    app.extensions[STREAM_EXTENSION] = StreamParts(ViewerGate(limit, on_change, per_client), TickCache(state), stall)
    app.register_blueprint(bp, url_prefix="/stream")


def stream_parts() -> StreamParts:
    return cast(StreamParts, current_app.extensions[STREAM_EXTENSION])
