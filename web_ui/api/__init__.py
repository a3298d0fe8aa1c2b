"""The JSON API (described in web_ui/openapi.yaml), one blueprint per resource, under ``/api``."""

from __future__ import annotations

from flask import Flask

from web_ui.api import calibration, feedback, live, replay, reports, runners, sessions, settings, setup_check


def register(app: Flask) -> None:
    for module in (live, sessions, settings, calibration, feedback, setup_check, runners, reports, replay):
        app.register_blueprint(module.bp, url_prefix="/api")
