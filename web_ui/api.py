"""JSON API (described in web_ui/openapi.yaml). Reads the live state and the store only."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file, session

from hipcam.auth import AttemptLimiter
from hipcam.records.store import SessionConflict, Store
from hipcam.service.settings import Settings, SettingsError
from hipcam.service.state import LiveState
from web_ui.security import ApiError, attempt_login, csrf_token, logged_in, require_pin

MAX_RUNNER = 80
MAX_NOTES = 20_000
MAX_SPEED_KMH = 40.0


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a clean 400 (415 for another content type)."""
    if not request.is_json:
        if not request.get_data(cache=True):
            return {}
        raise ApiError(415, "send JSON with Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _runner(body: dict[str, Any]) -> str:
    runner = body.get("runner", "")
    if runner is None:
        return ""
    if not isinstance(runner, str) or len(runner) > MAX_RUNNER:
        raise ApiError(400, f"runner must be text of at most {MAX_RUNNER} characters")
    return runner.strip()


def _speed(body: dict[str, Any]) -> float | None:
    speed = body.get("treadmill_speed")
    if speed in (None, ""):
        return None
    if isinstance(speed, str):
        try:
            speed = float(speed.replace(",", "."))
        except ValueError:
            raise ApiError(400, "treadmill_speed must be a number (km/h)") from None
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
        raise ApiError(400, "treadmill_speed must be a number (km/h)")
    if not 0.0 <= float(speed) <= MAX_SPEED_KMH:
        raise ApiError(400, f"treadmill_speed must be between 0 and {MAX_SPEED_KMH:g} km/h")
    return float(speed)


def api_blueprint(state: LiveState, store: Store, settings: Settings, limiter: AttemptLimiter) -> Blueprint:
    bp = Blueprint("api", __name__)
    cfg = settings.cfg  # page settings replace its sections in place, so reads here see them

    def _session_or_404(session_id: int) -> dict[str, Any]:
        found = store.get_session(session_id)
        if found is None:
            raise ApiError(404, f"no session {session_id}")
        return found

    @bp.get("/state")
    def live_state() -> Response:
        return Response(state.snapshot_json(full=True)[1], mimetype="application/json")

    @bp.get("/auth")
    def auth() -> Response:
        return jsonify(
            logged_in=logged_in(),
            pin_set=bool(cfg.server.pin_hash),
            open_viewing=cfg.server.open_viewing,
            csrf_token=csrf_token(),
        )

    @bp.post("/login")
    def login() -> Response:
        body = _json_object()
        attempt_login(body.get("pin"), limiter)
        return jsonify(logged_in=True, csrf_token=csrf_token())

    @bp.post("/logout")
    def logout() -> Response:
        session.clear()
        return jsonify(logged_in=False, csrf_token=csrf_token())

    @bp.get("/sessions")
    def list_sessions() -> Response:
        return jsonify(sessions=store.list_sessions(), active_session_id=store.active_session_id)

    @bp.post("/sessions")
    @require_pin
    def start_session() -> tuple[Response, int]:
        body = _json_object()
        runner, speed = _runner(body), _speed(body)
        try:
            started = store.start_session(runner, speed)
        except SessionConflict as exc:
            raise ApiError(409, str(exc)) from None
        return jsonify(started), 201

    @bp.get("/sessions/<int:session_id>")
    def get_session(session_id: int) -> Response:
        found = _session_or_404(session_id)
        return jsonify(session=found, summary=store.session_summary(session_id))

    @bp.post("/sessions/<int:session_id>/stop")
    @require_pin
    def stop_session(session_id: int) -> Response:
        _session_or_404(session_id)
        try:
            return jsonify(store.stop_session(session_id))
        except SessionConflict as exc:
            raise ApiError(409, str(exc)) from None

    @bp.patch("/sessions/<int:session_id>")
    @require_pin
    def update_session(session_id: int) -> Response:
        body = _json_object()
        notes = body.get("notes")
        if not isinstance(notes, str) or len(notes) > MAX_NOTES:
            raise ApiError(400, f"notes must be text of at most {MAX_NOTES} characters")
        _session_or_404(session_id)
        store.set_notes(session_id, notes)
        return jsonify(_session_or_404(session_id))

    @bp.delete("/sessions/<int:session_id>")
    @require_pin
    def delete_session(session_id: int) -> tuple[str, int]:
        _session_or_404(session_id)
        try:
            store.delete_session(session_id)
        except SessionConflict as exc:
            raise ApiError(409, str(exc)) from None
        return "", 204

    @bp.get("/sessions/<int:session_id>/strides")
    def strides(session_id: int) -> Response:
        _session_or_404(session_id)
        return jsonify(strides=[s.to_json() for s in store.strides(session_id)])

    @bp.get("/sessions/<int:session_id>/export.csv")
    def export_csv(session_id: int) -> Response:
        text = store.export_csv(session_id)
        if text is None:
            raise ApiError(404, f"no session {session_id}")
        resp = Response(text, mimetype="text/csv")
        resp.headers["Content-Disposition"] = f'attachment; filename="hipcam-session-{session_id}.csv"'
        return resp

    @bp.get("/sessions/<int:session_id>/export.json")
    def export_json(session_id: int) -> Response:
        data = store.export_json(session_id)
        if data is None:
            raise ApiError(404, f"no session {session_id}")
        resp = jsonify(data)
        resp.headers["Content-Disposition"] = f'attachment; filename="hipcam-session-{session_id}.json"'
        return resp

    @bp.get("/sessions/<int:session_id>/strides/<int:stride_id>/snapshot.jpg")
    def snapshot(session_id: int, stride_id: int) -> Response:
        path = store.snapshot_path(session_id, stride_id)
        if path is None:
            raise ApiError(404, "no snapshot for that stride")
        return send_file(path, mimetype="image/jpeg", max_age=3600)

    @bp.get("/settings")
    def get_settings() -> Response:
        return jsonify(settings.current())

    @bp.post("/settings")
    @require_pin
    def set_settings() -> Response:
        try:
            settings.update(_json_object())
        except SettingsError as exc:
            raise ApiError(400, str(exc)) from None
        except OSError as exc:
            raise ApiError(503, f"could not save the settings ({exc.strerror or exc}); nothing changed") from None
        return jsonify(settings.current())

    @bp.delete("/settings")
    @require_pin
    def reset_settings() -> Response:
        try:
            settings.reset()
        except OSError as exc:
            raise ApiError(503, f"could not remove the saved settings ({exc.strerror or exc})") from None
        return jsonify(settings.current())

    return bp
