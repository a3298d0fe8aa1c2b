"""``/api/feedback``: the running session's live feedback (read; start or stop with the PIN).
A plan outside its ranges is a 400 naming the field, and nothing running changes."""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify
from pydantic import ValidationError

from hipcam.feedback import Plan
from web_ui.api.body import json_object
from web_ui.deps import deps
from web_ui.security import ApiError, require_pin

bp = Blueprint("api_feedback", __name__)


@bp.get("/feedback")
def get_feedback() -> Response:
    # server_time: the pages count a block's time left on the device's clock, not the tablet's.
    return jsonify(feedback=deps().live_feedback.status(), server_time=time.time())


@bp.put("/feedback")
@require_pin
def start_feedback() -> Response:
    d = deps()
    plan = _plan(json_object())
    session_id = d.store.active_session_id
    if session_id is None:
        raise ApiError(409, "start a session first: feedback results are kept in the session")
    return jsonify(feedback=d.live_feedback.start(plan, session_id))


@bp.delete("/feedback")
@require_pin
def stop_feedback() -> Response:
    return jsonify(feedback=deps().live_feedback.stop())


def _plan(body: dict[str, object]) -> Plan:
    try:
        return Plan.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(400, f"{where}: {first['msg']}") from None
