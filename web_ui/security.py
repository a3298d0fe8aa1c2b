"""PIN login, CSRF tokens, security headers and JSON errors for the web layer."""

from __future__ import annotations

import contextlib
import hmac
import html
import ipaddress
import itertools
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from functools import cache, wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, request, session
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import HTTPException

from hipcam.auth import AttemptLimiter, Refused, verify_pin
from web_ui.deps import deps

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

SESSION_HOURS = 12
DEVICE_COOKIE = "hipcam_device"  # a device that once gave the right PIN: its own wrong-PIN budget
DEVICE_COOKIE_DAYS = 365
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


# What a read-only device token may read (GET only): the hub's archive pulls.
TOKEN_ENDPOINTS = frozenset({"api_sessions.list_sessions", "api_sessions.export_json"})
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})
ADDRESS_REFRESH_S = 10.0  # an unknown address literal re-reads the interfaces at most this often (DHCP)


def host_name(host: str) -> str:
    """The name or address of a Host header value: no port, no brackets, lower case, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def interface_addresses(proc_net: Path = Path("/proc/net")) -> frozenset[str]:
    """Every address this machine has: IPv4 from the kernel's local routes (fib_trie), IPv6 from
    if_inet6 (Linux), and whatever the host name resolves to (anywhere)."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        lines = (proc_net / "fib_trie").read_text().splitlines()
        found |= {prev.split()[-1] for prev, line in itertools.pairwise(lines) if line.strip() == "/32 host LOCAL"}
    with contextlib.suppress(OSError, ValueError):
        for line in (proc_net / "if_inet6").read_text().splitlines():
            found.add(str(ipaddress.IPv6Address(int(line.split()[0], 16))))
    with contextlib.suppress(OSError, UnicodeError):
        found |= {str(info[4][0]).split("%")[0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    return frozenset(found)


class DeviceHosts:
    """The Host header values this device answers to (DNS rebinding: a page on another name that
    resolves to the device is refused): ``localhost``, loopback addresses, the machine's host name
    (and its ``.local`` name), ``extra`` (``server.allowed_hosts``) and its own
    addresses: the bound one, or with 0.0.0.0/:: every interface's (re-read when an unknown address
    comes, so a new DHCP lease works without a restart)."""

    def __init__(
        self,
        bound: str = "0.0.0.0",
        extra: Iterable[str] = (),
        addresses: Callable[[], frozenset[str]] = interface_addresses,
    ) -> None:
        hostname = socket.gethostname().lower()
        names = {"localhost", hostname, f"{hostname}.local", *extra}  # no getfqdn(): a DNS wait at start-up
        self.names = frozenset(host_name(n) for n in names if n)
        self.bound = host_name(bound)
        self._addresses = addresses
        self._known: frozenset[str] = frozenset()
        self._read_at = -ADDRESS_REFRESH_S
        self._lock = threading.Lock()

    def allows(self, host: str) -> bool:
        name = host_name(host)
        ip = _ip(name.split("%")[0])
        if ip is None:
            return name in self.names or name.endswith(".localhost")
        if ip.is_loopback or str(ip) in self.names:
            return True
        if self.bound not in ANY_ADDRESS:
            return _ip(self.bound) == ip
        return str(ip) in self._known or str(ip) in self._reread()

    def _reread(self) -> frozenset[str]:
        with self._lock:
            if time.monotonic() - self._read_at >= ADDRESS_REFRESH_S:
                self._known = frozenset(str(_ip(a) or a) for a in self._addresses())
                self._read_at = time.monotonic()
            return self._known


def host_allowed(host: str, hosts: DeviceHosts | None = None) -> bool:
    """Whether a request's Host header names this device (``hosts``: the app's, default: any of
    the machine's names and addresses). The one host check of the tablet page and `hipcam label`."""
    return (hosts or _machine_hosts()).allows(host)


@cache
def _machine_hosts() -> DeviceHosts:
    return DeviceHosts()


def origin_matches(origin: str | None, host: str) -> bool:
    """An unsafe request's Origin header, when sent, must be the page's own (scheme://Host)."""
    if origin is None:
        return True
    parts = urlsplit(origin.strip())
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.strip().lower()


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
    """Whether this request's cookie carries a login the device still holds (not logged out,
    not expired, made under the current PIN)."""
    return deps().login_registry.valid(session.get("login"))


def login_check() -> Callable[[], bool]:
    """Whether this request's login still holds, askable later outside the request (a live
    stream): false at once after a logout, "log out everywhere" or the end of the login."""
    registry, login = deps().login_registry, session.get("login")
    return lambda: registry.valid(login)


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


def attempt_login(pin: Any, limiter: AttemptLimiter) -> Callable[[Response], Response]:
    """Check a PIN (rate-limited, see hipcam.auth.limiter); on success the cookie session holds a
    new server-side login. Returns what marks the response (the trusted-device cookie)."""
    stored = pin_hash()
    if not stored:
        raise ApiError(403, NO_PIN_MESSAGE)
    device = _device_id()
    try:
        # A PIN that is not a string is a wrong PIN, and counts as one.
        ok = limiter.check(request.remote_addr or "?", device, lambda: isinstance(pin, str) and verify_pin(pin, stored))
    except Refused as exc:
        wait = max(1, round(exc.wait_s))
        raise ApiError(429, f"{exc.message}; try again in {wait} s", {"Retry-After": str(wait)}) from None
    if not ok:
        raise ApiError(401, "wrong PIN")
    session.clear()
    session.permanent = True
    session["login"] = deps().login_registry.open(request.remote_addr or "?", request.user_agent.string)
    csrf_token()  # a fresh token after login (session fixation)
    return lambda resp: _mark_device(resp, device)


def logout(everywhere: bool = False) -> int:
    """End this cookie's login (``everywhere``: every login of the device); how many ended."""
    registry = deps().login_registry
    if everywhere:
        count = registry.end_all()
        log.warning("logged out everywhere from %s: %d login(s) ended", request.remote_addr, count)
    else:
        count = int(registry.valid(session.get("login")))
        registry.end(session.get("login"))
    session.clear()
    return count


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or b"", salt="hipcam-device")


def _device_id() -> str | None:
    """The id in a genuine trusted-device cookie (signed by this device), else None."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 200:
        return None
    try:
        value = _device_serializer().loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def _mark_device(resp: Response, device: str | None) -> Response:
    if device is None:
        resp.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(secrets.token_urlsafe(12)),
                        max_age=DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="Strict",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], path="/api/login")  # fmt: skip
    return resp


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


def install(app: Flask, hosts: DeviceHosts) -> None:
    """Host and Origin checks (before anything else), CSRF check, headers and error handlers."""

    @app.before_request
    def _host_origin_csrf_viewing() -> Response | None:
        if not hosts.allows(request.host):
            return _refuse_host()
        if request.authorization is not None or "Authorization" in request.headers:
            _check_device_token()
            return None
        if request.method in UNSAFE and not origin_matches(request.headers.get("Origin"), request.host):
            raise ApiError(403, "request from another site refused (its Origin is not this page)")
        if request.method in UNSAFE:
            check_csrf()
        elif not deps().page_settings.applied().open_viewing and not _public_path() and not logged_in():
            raise ApiError(401, "viewing needs the device PIN on this device")
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        if not _public_path():
            # Guarded by the PIN or open_viewing (runner data, snapshots): no shared cache may keep it.
            resp.headers["Cache-Control"] = "private, no-store"
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


def _check_device_token() -> None:
    """A request with ``Authorization``: a read-only device token (the hub's archive pulls), good
    for reading sessions and their exports and nothing else; a wrong one counts as a wrong PIN."""
    auth = request.authorization
    token = auth.token if auth is not None and auth.type == "bearer" else None
    if not token:
        raise ApiError(401, "send a device token as Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
    if request.method != "GET" or request.endpoint not in TOKEN_ENDPOINTS:
        raise ApiError(403, "a device token may only read the session list and session exports")
    tokens, limiter = deps().token_registry, deps().limiter
    try:
        ok = limiter.check(request.remote_addr or "?", None, lambda: tokens.check(token) is not None)
    except Refused as exc:
        wait = max(1, round(exc.wait_s))
        raise ApiError(
            429, f"too many wrong device tokens; try again in {wait} s", {"Retry-After": str(wait)}
        ) from None
    if not ok:
        raise ApiError(401, "wrong or revoked device token", {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _refuse_host() -> Response:
    """421 for a Host that is not this device, built here: no template, so no session cookie and no
    CSRF token reach a page that a rebound name would let read the answer."""
    log.warning("refused a request for host %r from %s (not a name of this device)", request.host, request.remote_addr)
    message = f"host {host_name(request.host)!r} is not this device: open the page by its address"
    if request.path.startswith(("/api/", "/stream/")):
        resp = jsonify({"error": message, "status": 421})
    else:
        resp = Response(f"<!doctype html><title>421</title><p>{html.escape(message)}</p>", mimetype="text/html")
    resp.status_code = 421
    return resp


def _public_path() -> bool:
    # /healthz and /metrics hold only operational figures (no runner data): probes and Prometheus
    # read them without the PIN.
    # /walkup/<token>: a walk-up card (no name) by its short-lived random link, for a member's phone.
    return request.path.startswith(("/static/", "/walkup/", "/api/walkup/")) or request.path in (
        "/login",
        "/api/auth",
        "/healthz",
        "/metrics",
    )
