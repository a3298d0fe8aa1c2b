"""Operations endpoints: /healthz for probes and humans, /metrics for Prometheus.

/healthz is 200 only while frames are actually being analysed (the last one is younger than
``max_frame_age_s``); otherwise 503 with a one-line reason a technician can act on. Board
warnings (under-voltage, low disk) are reported in the body but do not fail the check: the
device is still doing its job, and restarting it would not fix the power supply. The low-disk
warning is the store's own disk state, so it shows exactly while snapshots are paused.
/metrics holds only operational figures; [health] metrics_enabled = false removes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Blueprint, Response, jsonify

from hipcam.records.store import DiskState
from hipcam.service.metrics import find_throttled_file, read_cpu_temp_c, read_throttled, throttle_flags

DEFAULT_MAX_FRAME_AGE_S = 5.0


class HealthSource(Protocol):
    """What /healthz needs to know. ``hipcam.service.metrics.Metrics`` satisfies it."""

    def last_frame_age_s(self) -> float | None: ...

    @property
    def camera_state(self) -> str: ...


class MetricsSource(Protocol):
    def render(self) -> tuple[bytes, str]: ...

    def fps(self) -> float: ...


def _reason(age: float | None, camera_state: str, max_age: float) -> str | None:
    if age is None:
        return f"no frame analysed yet (camera {camera_state})"
    if age > max_age:
        if camera_state in ("lost", "reconnecting"):
            return f"camera lost: no frame for {age:.1f} s; check the camera cable/connection"
        return f"pipeline stalled: no frame analysed for {age:.1f} s (camera {camera_state})"
    return None


def board_warnings(disk_state: Callable[[], DiskState] | None = None) -> list[str]:
    """Cheap, human-readable hardware warnings; empty when all is well or unknown."""
    warnings: list[str] = []
    word = read_throttled(find_throttled_file())
    if word is not None:
        flags = throttle_flags(word)
        if flags["under_voltage"]:
            warnings.append("under-voltage: use the official 5 V power supply")
        elif flags["under_voltage_occurred"]:
            warnings.append("under-voltage occurred since boot: check the power supply")
        if flags["throttled"] or flags["soft_temp_limit"]:
            warnings.append("CPU is throttled: the board is too hot; give it air or a heatsink")
    temp = read_cpu_temp_c()
    if temp is not None and temp >= 80.0:
        warnings.append(f"CPU temperature {temp:.0f} °C")
    disk = disk_state() if disk_state is not None else None
    if disk is not None and disk.snapshots_paused:
        warnings.append(f"low disk: {disk.free_mb:.0f} MiB free, snapshots paused")
    return warnings


def ops_blueprint(
    health_source: HealthSource,
    metrics: MetricsSource,
    max_frame_age_s: float = DEFAULT_MAX_FRAME_AGE_S,
    disk_state: Callable[[], DiskState] | None = None,
    metrics_enabled: bool = True,
) -> Blueprint:
    """Blueprint with /healthz and /metrics; register it on the app with no URL prefix.

    disk_state is the store's ``Store.disk_state`` (cached; the same figure that pauses the
    snapshots). With metrics_enabled false there is no /metrics route (404).
    """
    bp = Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        age = health_source.last_frame_age_s()
        state = health_source.camera_state
        reason = _reason(age, state, max_frame_age_s)
        body: dict[str, Any] = {
            "status": "ok" if reason is None else "unhealthy",
            "camera_state": state,
            "last_frame_age_s": None if age is None else round(age, 3),
            "fps": round(metrics.fps(), 2),
            "warnings": board_warnings(disk_state),
        }
        if reason is not None:
            body["reason"] = reason
        resp = jsonify(body)
        resp.headers["Cache-Control"] = "no-store"
        return resp, 200 if reason is None else 503

    if metrics_enabled:

        @bp.get("/metrics")
        def prometheus() -> Response:
            payload, content_type = metrics.render()
            resp = Response(payload, content_type=content_type)
            resp.headers["Cache-Control"] = "no-store"
            return resp

    return bp
