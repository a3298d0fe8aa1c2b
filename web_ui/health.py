"""Operations endpoints: /healthz for probes and humans, /metrics for Prometheus.

/healthz is 200 only while frames are actually being analysed (the last one is younger than
``health.max_frame_age_s``); otherwise 503 with a one-line reason a technician can act on. Board
warnings (under-voltage, heat, low disk) are reported in the body but do not fail the check: the
device is still doing its job, and restarting it would not fix the power supply. The low-disk
warning is the store's own disk state, so it shows exactly while snapshots are paused.

A full disk is the one exception: while the store refuses strides for want of room (the stride
writer's ``store`` flag in the live state), /healthz answers 503 with ``status: "degraded"`` and a
reason ("disk full: strides are not being saved — N waiting"), because the device is no longer doing
its job. ``storage`` is always in the body (disk_full, pending, lost, written_after_full, snapshots
skipped by reason). Do not restart the service on "degraded": it holds the waiting strides in memory
and writes them when space returns; a restart would lose them and not free the disk.
``mqtt`` is the MQTT connection (``{"enabled": false}`` when off; else state, broker, last_error,
queued, dropped, sent): a broker that is away never fails the check, the camera still does its job.
/metrics holds only operational figures; [health] metrics_enabled = false removes it. Both exist
only when the app is given a health source (the service's metrics).

A damaged session database (SQLite's "database disk image is malformed" / "file is not a
database", hipcam.records.integrity) is answered on any route with 503 and a message that says so
and points at the README's recovery section, in JSON under /api/ and /stream/ and as a page
elsewhere, with one log line and no traceback (``install_database_errors``; every other SQLite
error stays a 500). From then on /healthz is 503 with ``database: {"status": "corrupt"}``: the
damage is sticky (``DatabaseHealth``), because a damaged file does not mend itself. /healthz also
starts SQLite's ``quick_check`` in the background at most every ``DB_CHECK_EVERY_S``, on a read-only
connection of its own, so damage no request has touched yet is found too. The file is never
written, moved or deleted here: recovery is the technician's (a copy first, then the README's steps).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from hipcam.records.integrity import is_corruption, quick_check
from hipcam.records.schema import DB_NAME
from web_ui.deps import WebDeps, deps

log = logging.getLogger(__name__)

DB_EXTENSION = "hipcam.database"
DB_CHECK_EVERY_S = 300.0
RECOVERY = "see the README's recovery section (If the database is damaged)"


class DatabaseHealth:
    """Whether the session database is known to be damaged: by a request that hit the damage or by
    the periodic ``quick_check``. Sticky once seen; thread-safe."""

    def __init__(
        self,
        path: Path,
        every_s: float = DB_CHECK_EVERY_S,
        check: Callable[[Path], str | None] = quick_check,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path, self.every_s = path, every_s
        self._check_fn, self._clock = check, clock
        self._lock = threading.Lock()
        self.damage: str | None = None
        self.checked_at: float | None = None  # wall time of the last finished quick_check
        self._next = -math.inf
        self._running = False

    def saw(self, exc: BaseException) -> bool:
        """Record ``exc`` if it is SQLite reporting damage; whether it was."""
        if not is_corruption(exc):
            return False
        self._damaged(str(exc))
        return True

    def _damaged(self, detail: str) -> None:
        with self._lock:
            first = self.damage is None
            if first:
                self.damage = detail
        if first:
            log.error("the session database %s is damaged: %s; answering 503 and leaving the file as it is; %s",
                      self.path, detail, RECOVERY)  # fmt: skip

    def check_soon(self) -> None:
        """Start a quick_check in the background when none ran for ``every_s`` (none once damaged)."""
        with self._lock:
            now = self._clock()
            if self.damage is not None or self._running or now < self._next:
                return
            self._running, self._next = True, now + self.every_s
        threading.Thread(target=self._check, name="hipcam-db-check", daemon=True).start()

    def _check(self) -> None:
        try:
            found = self._check_fn(self.path)
        except Exception as exc:  # a check that cannot run says nothing about the file
            log.debug("could not check %s: %s", self.path, exc)
            found = None
        with self._lock:
            self._running, self.checked_at = False, time.time()
        if found is not None:
            self._damaged(found)

    def report(self) -> dict[str, Any]:
        """The ``database`` check of /healthz."""
        if self.damage is not None:
            return {"status": "corrupt", "detail": self.damage}
        checked = None if self.checked_at is None else round(self.checked_at, 3)
        return {"status": "ok" if checked is not None else "not checked yet", "checked_at": checked}

    def reason(self) -> str | None:
        if self.damage is None:
            return None
        return f"session database corrupt: {self.damage}; {RECOVERY}"


def database_health() -> DatabaseHealth:
    return cast(DatabaseHealth, current_app.extensions[DB_EXTENSION])


def damaged_message(detail: str) -> str:
    return (
        f"the session database is damaged: {detail}. Sessions cannot be read reliably until it is "
        f"repaired; the device leaves the file as it is: {RECOVERY}"
    )


def _database_error(exc: sqlite3.DatabaseError) -> Response:
    db = database_health()
    if not db.saw(exc):
        raise exc  # any other SQLite error: the usual 500, with its traceback in the log
    message = damaged_message(db.damage or str(exc))
    if request.path.startswith(("/api/", "/stream/")) or request.is_json:
        resp = jsonify({"error": message, "status": 503, "database": "corrupt"})
    else:
        resp = Response(render_template("error.html", code=503, message=message), mimetype="text/html")
    resp.status_code = 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


bp = Blueprint("health", __name__)
metrics_bp = Blueprint("metrics", __name__)


def _reason(age: float | None, camera_state: str, max_age: float) -> str | None:
    if age is None:
        return f"no frame analysed yet (camera {camera_state})"
    if age > max_age:
        if camera_state in ("lost", "reconnecting"):
            return f"camera lost: no frame for {age:.1f} s; check the camera cable/connection"
        return f"pipeline stalled: no frame analysed for {age:.1f} s (camera {camera_state})"
    return None


def _warnings(d: WebDeps, storage: dict[str, Any]) -> list[str]:
    warnings = d.board() if d.board is not None else []
    disk = d.store.disk_state()
    if disk.snapshots_paused:
        warnings.append(f"low disk: {disk.free_mb:.0f} MiB free, snapshots paused")
    if storage.get("lost"):
        warnings.append(f"{storage['lost']} strides lost while the disk was full")
    return warnings


def _storage(d: WebDeps) -> dict[str, Any]:
    flag = d.state.flag("store")
    return dict(flag) if isinstance(flag, dict) else {"disk_full": False, "pending": 0, "lost": 0}


def _disk_reason(storage: dict[str, Any]) -> str | None:
    if not storage.get("disk_full"):
        return None
    lost = f", {storage['lost']} lost" if storage.get("lost") else ""
    return f"disk full: strides are not being saved — {storage.get('pending', 0)} waiting{lost}; free some space"


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    d = deps()
    assert d.health is not None  # registered only with a health source
    age, state = d.health.last_frame_age_s(), d.health.camera_state
    db = database_health()
    db.check_soon()
    reason = db.reason() or _reason(age, state, d.cfg.health.max_frame_age_s)
    storage = _storage(d)
    status = "ok" if reason is None else "unhealthy"
    if reason is None and (reason := _disk_reason(storage)) is not None:
        status = "degraded"
    body: dict[str, Any] = {
        "status": status,
        "camera_state": state,
        "last_frame_age_s": None if age is None else round(age, 3),
        "fps": round(d.health.fps(), 2),
        "warnings": _warnings(d, storage),
        "storage": storage,
        "database": db.report(),
        "mqtt": dict(d.mqtt()) if d.mqtt is not None else {"enabled": False},  # never fails the check
        "pose": d.health.pose(),  # precision (pose.precision: fp32 | fp16 | int8), why, threads
    }
    if reason is not None:
        body["reason"] = reason
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp, 200 if reason is None else 503


@metrics_bp.get("/metrics")
def prometheus() -> Response:
    health = deps().health
    assert health is not None
    payload, content_type = health.render()
    resp = Response(payload, content_type=content_type)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def install_database_errors(app: Flask, d: WebDeps) -> DatabaseHealth:
    """A damaged session database answered 503 on every route (not a 500), and remembered."""
    db = DatabaseHealth(d.store.data_dir / DB_NAME)
    app.extensions[DB_EXTENSION] = db
    app.register_error_handler(sqlite3.DatabaseError, _database_error)
    return db


def install_health(app: Flask, d: WebDeps) -> None:
    install_database_errors(app, d)
    if d.health is None:
        return
    app.register_blueprint(bp)
    if d.cfg.health.metrics_enabled:
        app.register_blueprint(metrics_bp)
