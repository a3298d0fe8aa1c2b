"""``/api/calibration``: a runner's hip calibration (read; set from a tap, or clear, with the PIN).

The tap is turned into an offset by the service (``WebDeps.calibrator``; the web never sees the
gait code); reading and clearing go to the store.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, Response, jsonify, request

from hipcam.records.store import HipCalibration
from web_ui.api import body
from web_ui.deps import deps
from web_ui.security import ApiError, require_pin

bp = Blueprint("api_calibration", __name__)


def _known_runner(value: Any) -> str:
    runner = body.required_runner(value)
    if not deps().store.runner_known(runner):
        raise ApiError(404, f"no session of a runner named {runner!r}; start a session with that name first")
    return runner


def _answer(runner: str, calibration: HipCalibration | None, **extra: Any) -> Response:
    return jsonify(runner=runner, calibration=calibration.to_json() if calibration else None, **extra)


@bp.get("/calibration")
def get_calibration() -> Response:
    runner = _known_runner(request.args.get("runner"))
    return _answer(runner, deps().store.hip_calibration(runner))


@bp.put("/calibration")
@require_pin
def set_calibration() -> Response:
    data = body.json_object()
    runner = _known_runner(data.get("runner"))
    tap = body.tap(data)
    kind, frame = body.calibration_frame(data)
    calibrator = deps().calibrator
    if calibrator is None:
        raise ApiError(503, "hip calibration is not available on this device")
    try:
        if kind == "live":
            saved = calibrator.from_live(runner, frame["seq"], tap)
        else:
            saved = calibrator.from_stride(runner, frame["session_id"], frame["stride_id"], tap)
    except LookupError as exc:
        raise ApiError(404, str(exc).strip("'\"")) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    except (OSError, sqlite3.Error) as exc:
        raise ApiError(503, f"could not save the calibration ({exc}); nothing changed") from None
    return _answer(runner, saved)


@bp.delete("/calibration")
@require_pin
def clear_calibration() -> Response:
    runner = _known_runner(request.args.get("runner"))
    removed = deps().store.clear_hip_calibration(runner)
    return _answer(runner, None, removed=removed)
