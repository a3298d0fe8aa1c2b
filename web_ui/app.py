"""The Flask application factory. Everything the app uses comes in one ``WebDeps``; nothing is global."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from hipcam.config import VIEWER_SPARE_THREADS
from hipcam.domain import CLASS_INFO, CLASSIFIED, LEGS, page_vocabulary
from web_ui import api, join, security, walkup
from web_ui.api.body import JSONProvider
from web_ui.deps import EXTENSION, WebDeps
from web_ui.health import install_health
from web_ui.stream import install_stream
from web_ui.views import bp as views_bp


class BoundedInt(IntegerConverter):
    """``<int:...>`` on this app: at most 2**63 - 1 (what SQLite stores), so a huge id is a 404 like
    any unknown one instead of an OverflowError deep in the store."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(deps: WebDeps) -> Flask:
    """The web app around the live state, the store and the page settings in ``deps``."""
    server = deps.cfg.server
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=deps.secret_key or secrets.token_bytes(32),
        MAX_CONTENT_LENGTH=server.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=server.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=server.tls_cert is not None,  # HTTPS only: the cookie never crosses in clear
        SESSION_COOKIE_NAME="hipcam_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=security.SESSION_HOURS),
    )
    app.extensions[EXTENSION] = deps
    app.url_map.converters["int"] = BoundedInt  # before any route is added: every id route is bounded
    app.json = JSONProvider(app)
    security.install(app, security.DeviceHosts(server.host, server.allowed_hosts))
    app.register_blueprint(views_bp)
    app.register_blueprint(join.bp)
    app.register_blueprint(walkup.bp)
    api.register(app)
    install_stream(
        app, deps.state, max(1, min(server.max_viewers, server.threads - VIEWER_SPARE_THREADS)), deps.on_viewers
    )
    install_health(app, deps)
    vocabulary = page_vocabulary()

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {
            "csrf_token": security.csrf_token,
            "logged_in": security.logged_in(),
            "pin_set": bool(server.pin_hash),
            "login_hours": security.SESSION_HOURS,
            "vocabulary": vocabulary,
            "classes": CLASS_INFO,
            "classified": CLASSIFIED,
            "legs": LEGS,
        }

    return app
