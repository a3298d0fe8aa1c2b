"""``/api/state`` (the live snapshot) and ``/api/auth``, ``/api/login``, ``/api/logout``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, session

from web_ui.api.body import json_object
from web_ui.deps import deps
from web_ui.security import attempt_login, csrf_token, logged_in

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
    attempt_login(json_object().get("pin"), deps().limiter)
    return jsonify(logged_in=True, csrf_token=csrf_token())


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return jsonify(logged_in=False, csrf_token=csrf_token())
