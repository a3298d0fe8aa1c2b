"""The Flask application factory. Everything the app uses is passed in; nothing is global."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask

from hipcam.auth import AttemptLimiter
from hipcam.config import HipcamConfig
from hipcam.domain import CLASS_INFO, CLASSIFIED, page_vocabulary
from hipcam.records.store import Store
from hipcam.service.settings import Settings
from hipcam.service.state import LiveState
from web_ui import security
from web_ui.api import api_blueprint
from web_ui.stream import ViewerGate, stream_blueprint
from web_ui.views import views_blueprint


def create_app(
    state: LiveState,
    store: Store,
    cfg: HipcamConfig,
    *,
    secret_key: bytes | None = None,
    extra_blueprints: tuple[Blueprint, ...] = (),
    on_viewers: Callable[[int], None] | None = None,
    limiter: AttemptLimiter | None = None,
    stream_max_s: float = 300.0,
    settings: Settings | None = None,
) -> Flask:
    """Build the web app around a live state and a store.

    secret_key signs the login cookie; pass a persisted key so logins survive a restart (a random
    one is used otherwise). extra_blueprints lets the composition root add ops (/healthz,
    /metrics). on_viewers is told how many live streams are open (for metrics). settings holds the
    page-editable part of cfg (by default saved in the store's data dir).
    """
    settings = settings or Settings(cfg, store.data_dir)
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_bytes(32),
        MAX_CONTENT_LENGTH=cfg.server.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=cfg.server.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="hipcam_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=security.SESSION_HOURS),
        HIPCAM_CFG=cfg,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    viewer_limit = max(1, min(cfg.server.max_viewers, cfg.server.threads - 2))
    gate = ViewerGate(viewer_limit, on_viewers)
    security.install(app)
    app.register_blueprint(views_blueprint(state, store, settings))
    app.register_blueprint(api_blueprint(state, store, settings, limiter or AttemptLimiter()), url_prefix="/api")
    app.register_blueprint(stream_blueprint(state, gate, stream_max_s), url_prefix="/stream")
    for bp in extra_blueprints:
        app.register_blueprint(bp)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {
            "csrf_token": security.csrf_token,
            "logged_in": security.logged_in(),
            "pin_set": bool(cfg.server.pin_hash),
            "vocabulary": page_vocabulary(),
            "classes": CLASS_INFO,
            "classified": CLASSIFIED,
        }

    return app
