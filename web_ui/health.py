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
/metrics holds only operational figures; [health] metrics_enabled = false removes it. Both exist
only when the app is given a health source (the service's metrics).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from web_ui.deps import WebDeps, deps

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
    reason = _reason(age, state, d.cfg.health.max_frame_age_s)
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


def install_health(app: Flask, d: WebDeps) -> None:
    if d.health is None:
        return
    app.register_blueprint(bp)
    if d.cfg.health.metrics_enabled:
        app.register_blueprint(metrics_bp)
