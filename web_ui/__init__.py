"""Flask app: the tablet page and JSON API."""

from web_ui.app import create_app

__all__ = ["create_app"]
