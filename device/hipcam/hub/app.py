"""The hub's web app: every device on one page, the session archive, /healthz and /metrics.

Read-only by construction: every route is GET (HEAD), there is no login and no route that sends
anything to a device, so anyone on the gym's network who can open the page sees the devices'
status and the archive (runners' names and their sessions): put the hub on the staff network, or
behind a proxy with a login, when that is too much. The Host check (DNS rebinding), the strict CSP
and the other headers are the device's (web_ui.security); every asset is local.

The devices page polls ``/api/devices`` every 2 s. The archive (``/archive``) lists sessions
across devices, newest first, searchable by a part of the runner's name and by device; a session's
detail is ``/archive/<device>/<session>`` (its export as JSON under ``/api/archive/...``). A lost
archive database answers 503 with the reason on those pages only; the devices page keeps working.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from hipcam.config import HipcamConfig
from hipcam.domain import page_vocabulary
from hipcam.hub.archive import Archive, ArchiveError, ArchiveUnavailable
from hipcam.hub.board import DEVICE_ID, Board
from hipcam.hub.metrics import HubMetrics
from web_ui.security import DeviceHosts, security_headers

EXTENSION = "hipcam.hub"
PAGE_SIZE = 50
POLL_MS = 2000


class BoundedInt(IntegerConverter):
    """``<int:...>`` up to 2**63 - 1 (what both databases store): a huge id is a 404, not an OverflowError."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


@dataclass
class HubDeps:
    cfg: HipcamConfig
    board: Board
    archive: Archive
    pull_status: Callable[[], dict[str, dict[str, Any]]]
    metrics: HubMetrics | None = None
    broker: str = ""


def hub() -> HubDeps:
    return cast(HubDeps, current_app.extensions[EXTENSION])


bp = Blueprint("hub", __name__)


@bp.get("/")
def devices_page() -> str:
    d = hub()
    return render_template("devices.html", page="devices", devices=d.board.snapshot(), now=time.time(),
                           broker=d.broker, connected=d.board.broker_connected, poll_ms=POLL_MS)  # fmt: skip


@bp.get("/api/devices")
def devices_api() -> Response:
    d = hub()
    return jsonify(devices=d.board.snapshot(), now=time.time(),
                   broker={"address": d.broker, "connected": d.board.broker_connected})  # fmt: skip


def _search_args() -> tuple[str, str, int]:
    runner = request.args.get("runner", "")[:100].strip()
    device = request.args.get("device", "")[:63].strip()
    if device and not DEVICE_ID.fullmatch(device):
        abort(400, description="device: a device id (letters, digits, '-' and '_')")
    try:
        page = max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        abort(400, description="page: a whole number")
    return runner, device, page


@bp.get("/archive")
def archive_page() -> str:
    d = hub()
    runner, device, page = _search_args()
    rows = d.archive.search(runner, device, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template("archive.html", page="archive", sessions=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE,
                           runner=runner, device=device, page_no=page, names=_names(),
                           pulls=d.pull_status())  # fmt: skip


@bp.get("/api/archive/sessions")
def archive_api() -> Response:
    runner, device, page = _search_args()
    rows = hub().archive.search(runner, device, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return jsonify(sessions=[r.to_json() for r in rows], page=page)


def _archived(device_id: str, session_id: int) -> tuple[Any, dict[str, Any]]:
    found = hub().archive.get(device_id, session_id) if DEVICE_ID.fullmatch(device_id) else None
    if found is None:
        abort(404, description=f"session {session_id} of {device_id} is not in the archive")
    return found


@bp.get("/archive/<device_id>/<int:session_id>")
def session_page(device_id: str, session_id: int) -> str:
    row, export = _archived(device_id, session_id)
    strides = [s for s in export.get("strides") or [] if isinstance(s, dict)]
    summary = export.get("summary") if isinstance(export.get("summary"), dict) else {}
    feedback = [f for f in export.get("feedback") or [] if isinstance(f, dict)]
    return render_template("session.html", page="archive", row=row, strides=strides, summary=summary,
                           feedback=feedback, names=_names())  # fmt: skip


@bp.get("/api/archive/<device_id>/<int:session_id>")
def session_api(device_id: str, session_id: int) -> Response:
    _, export = _archived(device_id, session_id)
    resp = jsonify(export)
    if request.args.get("download"):
        resp.headers["Content-Disposition"] = f'attachment; filename="hipcam-{device_id}-session-{session_id}.json"'
    return resp


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    d = hub()
    problems, archive = [], {"backend": d.archive.backend, "status": "ok"}
    try:
        d.archive.ping()
    except ArchiveError as exc:
        archive.update(status="unreachable" if isinstance(exc, ArchiveUnavailable) else "error", detail=str(exc))
        problems.append(f"archive: {exc}")
    if not d.board.broker_connected:
        problems.append(f"MQTT broker {d.broker} not connected (retrying)")
    body: dict[str, Any] = {
        "status": "ok" if not problems else "degraded",
        "mqtt": {"broker": d.broker, "connected": d.board.broker_connected},
        "archive": archive,
        "devices": d.board.counts(),
        "pulls": d.pull_status(),
    }
    if problems:
        body["reason"] = "; ".join(problems)
    return jsonify(body), 200 if not problems else 503


@bp.get("/metrics")
def metrics() -> Response:
    m = hub().metrics
    if m is None:
        abort(404)
    payload, content_type = m.render()
    return Response(payload, content_type=content_type)


def _names() -> dict[str, str]:
    return {v["id"]: v["name"] for v in hub().board.snapshot()}


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float) or not math.isfinite(ts):
        return "–"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _duration(start: Any, end: Any) -> str:
    if not all(isinstance(t, int | float) for t in (start, end)) or end < start:
        return "–"
    minutes, seconds = divmod(round(end - start), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _number(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def _install_security(app: Flask, hosts: DeviceHosts) -> None:
    @app.before_request
    def _host_and_method() -> Response | None:
        if not hosts.allows(request.host):
            resp = jsonify(error="host not allowed: open the hub by its address or name", status=421)
            resp.status_code = 421
            return resp
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        if not request.path.startswith("/static/"):
            resp.headers["Cache-Control"] = "no-store"
        return security_headers(resp, no_store=False)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(ArchiveError)
    def _archive_error(exc: ArchiveError) -> Any:
        return _error(503, f"the archive is not available: {exc}; the hub retries on its own")


def _error(code: int, message: str) -> Response:
    if request.path.startswith("/api/"):
        resp = jsonify(error=message, status=code)
    else:
        resp = Response(render_template("error.html", page="error", code=code, message=message), mimetype="text/html")
    resp.status_code = code
    return resp


def create_hub_app(deps: HubDeps) -> Flask:
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(SECRET_KEY=secrets.token_bytes(32), MAX_CONTENT_LENGTH=16 * 1024)
    app.extensions[EXTENSION] = deps
    app.url_map.converters["int"] = BoundedInt
    _install_security(app, DeviceHosts(deps.cfg.hub.host, deps.cfg.server.allowed_hosts))
    app.register_blueprint(bp)
    app.jinja_env.filters.update(when=_when, number=_number)
    app.jinja_env.globals.update(duration=_duration, vocabulary=page_vocabulary())
    return app
