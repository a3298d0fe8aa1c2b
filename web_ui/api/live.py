"""``/api/state`` (the live snapshot); ``/api/auth``, login, logout (here or everywhere) and the open logins."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from web_ui.api.body import json_object
from web_ui.deps import deps
from web_ui.security import attempt_login, csrf_token, logged_in, logout, require_pin

bp = Blueprint("api_live", __name__)


@bp.get("/state")
def live_state() -> Response:
    return Response(deps().state.snapshot_json(full=True)[1], mimetype="application/json")


@bp.get("/auth")
def auth() -> Response:
    d = deps()
    return jsonify(
        logged_in=logged_in(),
        pin_set=bool(d.cfg.server.pin_hash),
        open_viewing=d.page_settings.applied().open_viewing,
        csrf_token=csrf_token(),
    )


@bp.post("/login")
def login() -> Response:
    mark = attempt_login(json_object().get("pin"), deps().limiter)
    return mark(jsonify(logged_in=True, csrf_token=csrf_token()))


@bp.post("/logout")
def log_out() -> Response:
    logout()
    return jsonify(logged_in=False, csrf_token=csrf_token())


@bp.post("/logout-everywhere")
@require_pin
def log_out_everywhere() -> Response:
    ended = logout(everywhere=True)
    return jsonify(logged_in=False, ended=ended, csrf_token=csrf_token())


@bp.get("/logins")
@require_pin
def open_logins() -> Response:
    logins = deps().login_registry.open_logins()
    return jsonify(logins=[{"address": v.address, "agent": v.agent, "since": round(v.created)} for v in logins])
