"""``/api/settings``: the page-editable settings (read; change or reset with the PIN). A key the
config file or environment locks (viewing closed there) is refused with 409 and the reason."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from hipcam.service.settings import SettingLocked, SettingsError
from web_ui.api.body import json_object
from web_ui.deps import deps
from web_ui.security import ApiError, require_pin

bp = Blueprint("api_settings", __name__)


@bp.get("/settings")
def get_settings() -> Response:
    return jsonify(deps().page_settings.current())


@bp.post("/settings")
@require_pin
def set_settings() -> Response:
    settings = deps().page_settings
    try:
        settings.update(json_object())
    except SettingLocked as exc:
        raise ApiError(409, str(exc)) from None
    except SettingsError as exc:
        raise ApiError(400, str(exc)) from None
    except OSError as exc:
        raise ApiError(503, f"could not save the settings ({exc.strerror or exc}); nothing changed") from None
    return jsonify(settings.current())


@bp.delete("/settings")
@require_pin
def reset_settings() -> Response:
    settings = deps().page_settings
    try:
        settings.reset()
    except OSError as exc:
        raise ApiError(503, f"could not remove the saved settings ({exc.strerror or exc})") from None
    return jsonify(settings.current())
