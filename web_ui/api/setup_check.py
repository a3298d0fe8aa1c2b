"""``/api/setup-check``: the guided camera set-up check on the live camera (PIN).

The service gathers ~20 s of frames and computes the checks (``WebDeps.setup_check``; the web never
sees the gait or vision code); the page starts it, polls its status and shows its picture.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from web_ui.deps import SetupCheckSource, deps
from web_ui.security import ApiError, require_pin

bp = Blueprint("api_setup_check", __name__)


def _runner() -> SetupCheckSource:
    runner = deps().setup_check
    if runner is None:
        raise ApiError(503, "the set-up check is not available on this device")
    return runner


@bp.get("/setup-check")
@require_pin
def get_setup_check() -> Response:
    return jsonify(_runner().status())


@bp.post("/setup-check")
@require_pin
def start_setup_check() -> Response:
    response = jsonify(_runner().request())
    response.status_code = 202
    return response


@bp.get("/setup-check/image.jpg")
@require_pin
def setup_check_image() -> Response:
    jpeg = _runner().image()
    if jpeg is None:
        raise ApiError(404, "no set-up check picture yet; run the check first")
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})
