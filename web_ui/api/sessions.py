"""``/api/sessions/...``: start, stop, notes, delete, strides, exports and stride snapshots.

A write the store refuses for want of room (records.store.DiskFull) is answered, on any route, with
507 Insufficient Storage and a JSON error saying so and that nothing changed (never a 500); the
request can simply be repeated once there is room (a session that could not be stopped is still
running, and can be stopped then).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from hipcam.records.store import DiskFull, SessionConflict
from web_ui.api import body
from web_ui.api.runners import refusals
from web_ui.deps import deps
from web_ui.security import ApiError, require_pin

bp = Blueprint("api_sessions", __name__)

_NOT_DONE = {
    "api_sessions.stop_session": "the session was not stopped (it is still running)",
    "api_sessions.update_session": "the notes were not saved (nor the session moved: nothing changed)",
    "api_sessions.start_session": "no session was started",
    "api_sessions.delete_session": "the session was not deleted",
}


@bp.app_errorhandler(DiskFull)
def _disk_full(exc: DiskFull) -> tuple[Response, int]:
    what = _NOT_DONE.get(request.endpoint or "", "nothing was saved")
    message = f"disk full: {what}; free some space on the device and try again"
    return jsonify({"error": message, "status": 507, "disk_full": True}), 507


def _session_or_404(session_id: int) -> dict[str, Any]:
    found = deps().store.get_session(session_id)
    if found is None:
        raise ApiError(404, f"no session {session_id}")
    return found


def _attachment(resp: Response, session_id: int, ext: str) -> Response:
    resp.headers["Content-Disposition"] = f'attachment; filename="hipcam-session-{session_id}.{ext}"'
    return resp


@bp.get("/sessions")
def list_sessions() -> Response:
    """Newest first; ``limit`` (1-200, default 200) and ``offset`` page through older ones (the
    hub's archive pulls after a long outage)."""
    store = deps().store
    limit = body.query_int("limit", 200, 1, 200)
    offset = body.query_int("offset", 0, 0, 2**31)
    return jsonify(sessions=store.list_sessions(limit, offset), active_session_id=store.active_session_id)


@bp.post("/sessions")
@require_pin
def start_session() -> tuple[Response, int]:
    """Of runner ``runner_id``, else of the runner called ``runner`` (created if new), else unassigned."""
    data = body.json_object()
    runner, runner_id, speed = body.runner(data), body.runner_id(data), body.speed(data)
    try:
        with refusals():
            started = deps().store.start_session(runner, speed, runner_id=runner_id)
    except SessionConflict as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(started), 201


@bp.get("/sessions/<int:session_id>")
def get_session(session_id: int) -> Response:
    store = deps().store
    session = _session_or_404(session_id)
    return jsonify(session=session, summary=store.session_summary(session_id), feedback=store.feedback_runs(session_id))


@bp.post("/sessions/<int:session_id>/stop")
@require_pin
def stop_session(session_id: int) -> Response:
    _session_or_404(session_id)
    try:
        return jsonify(deps().store.stop_session(session_id))
    except SessionConflict as exc:
        raise ApiError(409, str(exc)) from None


@bp.patch("/sessions/<int:session_id>")
@require_pin
def update_session(session_id: int) -> Response:
    """``notes`` and/or ``runner_id`` (move the session to that runner); all checked before either is written."""
    data = body.json_object()
    if "notes" not in data and "runner_id" not in data:
        raise ApiError(400, "send notes or runner_id")
    notes = body.notes(data) if "notes" in data else None
    runner_id = body.runner_id(data) if "runner_id" in data else None
    if "runner_id" in data and runner_id is None:
        raise ApiError(400, "runner_id must be a runner's id (a whole number)")
    store = deps().store
    _session_or_404(session_id)
    if runner_id is not None and store.runners.get(runner_id) is None:
        raise ApiError(404, f"no runner {runner_id}")
    if notes is not None:
        store.set_notes(session_id, notes)
    if runner_id is not None:
        with refusals():
            store.runners.assign(session_id, runner_id)
    return jsonify(_session_or_404(session_id))


@bp.delete("/sessions/<int:session_id>")
@require_pin
def delete_session(session_id: int) -> tuple[str, int]:
    _session_or_404(session_id)
    try:
        deps().store.delete_session(session_id)
    except SessionConflict as exc:
        raise ApiError(409, str(exc)) from None
    return "", 204


@bp.get("/sessions/<int:session_id>/strides")
def strides(session_id: int) -> Response:
    _session_or_404(session_id)
    return jsonify(strides=[s.to_json() for s in deps().store.strides(session_id)])


@bp.get("/sessions/<int:session_id>/export.csv")
def export_csv(session_id: int) -> Response:
    text = deps().store.export_csv(session_id)
    if text is None:
        raise ApiError(404, f"no session {session_id}")
    return _attachment(Response(text, mimetype="text/csv"), session_id, "csv")


@bp.get("/sessions/<int:session_id>/export.json")
def export_json(session_id: int) -> Response:
    data = deps().store.export_json(session_id)
    if data is None:
        raise ApiError(404, f"no session {session_id}")
    return _attachment(jsonify(data), session_id, "json")


@bp.get("/sessions/<int:session_id>/strides/<int:stride_id>/snapshot.json")
def snapshot_pose(session_id: int, stride_id: int) -> Response:
    """The landmarks of a stride's snapshot frame (as BlazePose gave them), for drawing and calibrating."""
    pose = deps().store.snapshot_pose(session_id, stride_id)
    if pose is None:
        raise ApiError(404, "no landmarks saved with that stride's snapshot")
    return jsonify(pose)


@bp.get("/sessions/<int:session_id>/strides/<int:stride_id>/snapshot.jpg")
def snapshot(session_id: int, stride_id: int) -> Response:
    path = deps().store.snapshot_path(session_id, stride_id)
    if path is None:
        raise ApiError(404, "no snapshot for that stride")
    return send_file(path, mimetype="image/jpeg", max_age=3600)
