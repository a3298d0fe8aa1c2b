"""PIN login, CSRF tokens, security headers and JSON errors for the web layer."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, jsonify, request, session
from werkzeug.exceptions import HTTPException

from hipcam.auth import AttemptLimiter, verify_pin
from web_ui.deps import deps

F = TypeVar("F", bound=Callable[..., Any])

SESSION_HOURS = 12
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_PIN_MESSAGE = (
    "No device PIN is set, so sessions cannot be started or changed. "
    "Run `hipcam pin-hash` and put the line it prints under [server] in the config file."
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class ApiError(HTTPException):
    """An HTTP error with a message meant for the person using the page."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description=message)
        self.code = code
        self.extra_headers = headers or {}


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(sent, expected):
        raise ApiError(403, "missing or invalid CSRF token; reload the page and try again")


def logged_in() -> bool:
    at = session.get("auth_at")
    return isinstance(at, int | float) and time.time() - at < SESSION_HOURS * 3600


def pin_hash() -> str | None:
    return deps().cfg.server.pin_hash


def require_pin(fn: F) -> F:
    """Acting endpoints: PIN login needed, and refused outright when no PIN is configured."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not pin_hash():
            raise ApiError(403, NO_PIN_MESSAGE)
        if not logged_in():
            raise ApiError(401, "enter the device PIN first")
        return fn(*args, **kwargs)

    return cast(F, wrapper)


def attempt_login(pin: Any, limiter: AttemptLimiter) -> None:
    """Check a PIN (rate-limited per client); on success mark the cookie session as logged in."""
    stored = pin_hash()
    if not stored:
        raise ApiError(403, NO_PIN_MESSAGE)
    client = request.remote_addr or "?"
    wait = limiter.retry_after(client)
    if wait > 0:
        raise ApiError(429, f"too many wrong PINs; try again in {wait:.0f} s", {"Retry-After": f"{wait:.0f}"})
    if not isinstance(pin, str) or not verify_pin(pin, stored):
        limiter.failure(client)
        raise ApiError(401, "wrong PIN")
    limiter.success(client)
    session.clear()
    session.permanent = True
    session["auth_at"] = time.time()
    csrf_token()  # a fresh token after login (session fixation)


def security_headers(resp: Response, no_store: bool) -> Response:
    """The headers every page of the device sends (the tablet page and `hipcam label`'s)."""
    h = resp.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if no_store:
        h.setdefault("Cache-Control", "no-store")
    return resp


def install(app: Flask) -> None:
    """Headers, CSRF check and error handlers."""

    @app.before_request
    def _csrf_and_viewing() -> None:
        if request.method in UNSAFE:
            check_csrf()
        elif not deps().page_settings.applied().open_viewing and not _public_path() and not logged_in():
            raise ApiError(401, "viewing needs the device PIN on this device")

    @app.after_request
    def _headers(resp: Response) -> Response:
        return security_headers(resp, request.path.startswith(("/api/", "/stream/")) or resp.mimetype == "text/html")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        message = exc.description or exc.name
        if code == 413:
            message = f"request body too large (limit {app.config['MAX_CONTENT_LENGTH']} bytes)"
        headers = getattr(exc, "extra_headers", {})
        if request.path.startswith(("/api/", "/stream/")) or request.is_json:
            resp = jsonify({"error": message, "status": code})
        else:
            from flask import render_template

            resp = Response(render_template("error.html", code=code, message=message), mimetype="text/html")
        resp.status_code = code
        for key, value in headers.items():
            resp.headers[key] = value
        return resp


def _public_path() -> bool:
    # /healthz and /metrics hold only operational figures (no runner data): probes and Prometheus
    # read them without the PIN.
    return request.path.startswith("/static/") or request.path in ("/login", "/api/auth", "/healthz", "/metrics")
