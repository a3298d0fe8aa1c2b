"""A small stand-in for a device's read-only archive API, for the hub's puller tests.

``FakeDevice`` keeps sessions in memory and answers what a device answers a read-only token:
``GET /api/sessions`` (the list, newest first, at most 200 like the device) and
``GET /api/sessions/<id>/export.json``; 401 for a missing, wrong or revoked token and 403 for any
other route with a token. ``requests`` counts the paths asked. ``transport()`` is a puller
transport that calls the app in-process (Flask's test client); ``serve()`` runs it on a real
loopback port that ``stop()`` closes and ``start()`` opens again (the device went away and came back).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

TOKEN = "t0k3n-for-the-hub"
LIST_LIMIT = 200


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeDevice:
    def __init__(self, token: str = TOKEN) -> None:
        self.tokens = {token}
        self.sessions: dict[int, dict[str, Any]] = {}
        self.strides: dict[int, list[dict[str, Any]]] = {}
        self.requests: Counter[str] = Counter()
        self.broken = False  # answer 500 to everything
        self.app = self._make_app()
        self.port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ---- the device's sessions ----------------------------------------------------------------
    def add_session(self, runner: str = "Ana", ended: bool = True, notes: str = "", strides: int = 3) -> int:
        sid = max(self.sessions, default=0) + 1
        start = 1_700_000_000.0 + sid * 3600
        self.sessions[sid] = {"id": sid, "runner": runner, "treadmill_speed": 10.0, "started_at": start,
                              "ended_at": start + 600 if ended else None, "notes": notes}  # fmt: skip
        self.strides[sid] = [
            {"stride_id": i + 1, "leg": "left" if i % 2 else "right", "class": "ABCD"[i % 4],
             "hip_extension_at_toe_off_deg": 10.0 + i, "trunk_lean_at_toe_off_deg": 4.0, "duration_s": 0.71}
            for i in range(strides)
        ]  # fmt: skip
        return sid

    def end(self, sid: int) -> None:
        self.sessions[sid]["ended_at"] = self.sessions[sid]["started_at"] + 900

    def set_notes(self, sid: int, notes: str) -> None:
        self.sessions[sid]["notes"] = notes

    def listing(self, sid: int) -> dict[str, Any]:
        return {**self.sessions[sid], "stride_count": len(self.strides[sid]), "active": False}

    def export(self, sid: int) -> dict[str, Any]:
        counts = Counter(s["class"] for s in self.strides[sid])
        legs = {leg: {"strides": sum(1 for s in self.strides[sid] if s["leg"] == leg), "counts": dict(counts),
                      "hip_extension_mean_deg": 11.0, "hip_extension_max_deg": 12.0} for leg in ("left", "right")}  # fmt: skip
        return {"schema_version": 5, "session": self.listing(sid), "summary": {"legs": legs},
                "strides": self.strides[sid], "feedback": []}  # fmt: skip

    # ---- the API --------------------------------------------------------------------------------
    def _make_app(self) -> Flask:
        app = Flask("fake_device")

        @app.before_request
        def _token() -> Any:
            self.requests[request.path] += 1
            if self.broken:
                return jsonify(error="internal error", status=500), 500
            auth = request.authorization
            token = auth.token if auth is not None and auth.type == "bearer" else None
            if not token:
                return jsonify(error="send a device token", status=401), 401
            if request.endpoint not in ("sessions", "export"):
                return jsonify(error="a device token may only read sessions", status=403), 403
            if token not in self.tokens:
                return jsonify(error="wrong or revoked device token", status=401), 401
            return None

        @app.get("/api/sessions")
        def sessions() -> Response:
            newest = sorted(self.sessions, reverse=True)[:LIST_LIMIT]
            return jsonify(sessions=[self.listing(s) for s in newest], active_session_id=None)

        @app.get("/api/sessions/<int:sid>/export.json")
        def export(sid: int) -> Any:
            if sid not in self.sessions:
                return jsonify(error=f"no session {sid}", status=404), 404
            return jsonify(self.export(sid))

        @app.get("/api/settings")
        def settings() -> Response:
            return jsonify(ok=True)

        return app

    # ---- ways to reach it -----------------------------------------------------------------------
    def transport(self) -> Any:
        """A puller transport that calls the app in this process."""
        client = self.app.test_client()

        def call(url: str, headers: Mapping[str, str], timeout_s: float, max_bytes: int) -> tuple[int, bytes]:
            parts = urlsplit(url)
            resp = client.get(parts.path, query_string=parts.query, headers=dict(headers))
            return resp.status_code, resp.data[:max_bytes]

        return call

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> FakeDevice:
        self.start()
        return self

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=_Quiet)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
        time.sleep(0.05)
