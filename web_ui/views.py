"""HTML pages: live view, runner view, session list, session report, settings, PIN login."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WResponse

from hipcam.domain import CLASSIFIED, LEGS
from hipcam.records import export, progress, side_lengths
from web_ui.deps import deps
from web_ui.security import ApiError


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "–"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "running"
    s = int(end - start)
    return f"{s // 60}:{s % 60:02d}"


bp = Blueprint("views", __name__)


@bp.app_template_filter("when")
def _when(ts: float | None) -> str:
    return _fmt_time(ts)


@bp.app_template_filter("num")
def _num(v: Any, digits: int = 1) -> str:
    return "–" if v is None else f"{float(v):.{digits}f}"


@bp.get("/")
def live() -> str:
    return render_template("live.html", page="live")


@bp.get("/runner")
def runner() -> str:
    """The screen in front of the treadmill: the feedback target and a cue per stride, no navigation."""
    return render_template("runner.html", page="runner")


@bp.get("/sessions")
def sessions() -> str:
    return render_template("sessions.html", sessions=deps().store.list_sessions(), duration=_duration, page="sessions")


@bp.get("/sessions/<int:session_id>")
def session_page(session_id: int) -> str:
    store = deps().store
    found = store.get_session(session_id)
    if found is None:
        raise ApiError(404, f"There is no session {session_id}.")
    records = store.strides(session_id)
    summary = export.session_summary(records)
    runner = store.runners.get(found["runner_id"]) if found.get("runner_id") is not None else None
    height = runner.get("height_cm") if runner is not None else None  # cm values where it is known
    strides = [side_lengths.in_cm(r.to_json(), height) for r in records]
    by_id = {s["stride_id"]: s for s in strides}
    return render_template(
        "session.html",
        s=found,
        strides=strides,
        summary=summary,
        toe_off=_toe_off_means(strides),
        calibration=store.hip_calibration(found["runner"]),
        snaps=_snaps(
            _extreme(strides, max) or by_id.get(summary["best_stride_id"]),
            _extreme(strides, min) or by_id.get(summary["worst_stride_id"]),
        ),
        duration=_duration,
        page="sessions",
    )


def _snaps(best: dict[str, Any] | None, worst: dict[str, Any] | None) -> list[tuple[str, dict[str, Any] | None]]:
    """The snapshot figures: best and worst, or one "Stride" when they are the same stride (one
    classified stride: shown twice, its tap-to-calibrate controls would share element ids)."""
    if best is not None and worst is not None and best["stride_id"] == worst["stride_id"]:
        return [("Stride", best)]
    return [("Best stride", best), ("Worst stride", worst)]


def _extreme(strides: list[dict[str, Any]], pick: Any) -> dict[str, Any] | None:
    """The classified stride with the most (max) or least (min) hip extension at toe-off, the
    clinical measure (strides recorded before it existed: None, and the peak-based choice is used)."""
    rated = [s for s in strides if s["class"] in CLASSIFIED and s["hip_extension_at_toe_off_deg"] is not None]
    return pick(rated, key=lambda s: s["hip_extension_at_toe_off_deg"]) if rated else None


def _toe_off_means(strides: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per leg, the mean hip extension at toe-off of the classified strides (the clinical measure)."""
    out: dict[str, float | None] = {}
    for leg in LEGS:
        values = [s["hip_extension_at_toe_off_deg"] for s in strides if s["leg"] == leg and s["class"] in CLASSIFIED]
        values = [v for v in values if v is not None]
        out[leg] = round(sum(values) / len(values), 1) if values else None
    return out


@bp.get("/runners")
def runners_page() -> str:
    return render_template("runners.html", runners=deps().store.runners.list(), page="runners")


@bp.get("/runners/<int:runner_id>")
def runner_record(runner_id: int) -> str:
    """A runner's record: details, sessions and progress with hipcam's SDD (hipcam.records.progress)."""
    store = deps().store
    found = store.runners.get(runner_id)
    if found is None:
        raise ApiError(404, f"There is no runner {runner_id}.")
    prog = progress.runner_progress(store, runner_id)
    assert prog is not None
    trend = {
        leg: [
            [i + 1, s["stats"][leg][_TREND]["mean"], s["stats"][leg][_TREND]["sd"]]
            for i, s in enumerate(prog["sessions"])
        ]
        for leg in LEGS
    }
    return render_template(
        "runner_record.html", r=found, sessions=store.runners.sessions(runner_id), progress=prog,
        metrics=progress.METRICS, legs=LEGS, runners=store.runners.list(), trend=trend, digits=_DIGITS,
        units=_UNITS, duration=_duration, page="runners",
    )  # fmt: skip


_TREND = "hip_extension_at_toe_off_deg"
_DIGITS = {"deg": 1, "%": 0, "s": 3, "steps/min": 0, "trunk lengths": 3}
_UNITS = {"deg": "°", "%": " %", "s": " s", "steps/min": "/min", "trunk lengths": " TL"}


@bp.get("/settings")
def settings_page() -> str:
    d = deps()
    level = d.state.snapshot(full=False)["level"]
    return render_template("settings.html", s=d.page_settings.current(), level=level, page="settings")


@bp.get("/setup")
def setup_page() -> str:
    """The installer's guided camera set-up check (runs and shows it with the PIN)."""
    return render_template("setup.html", page="setup")


@bp.get("/login")
def login() -> str:
    return render_template("login.html", next=_safe_next(request.args.get("next")), page="login")


@bp.get("/favicon.ico")
def favicon() -> WResponse:
    return redirect(url_for("static", filename="icon.svg"))


@bp.get("/robots.txt")
def robots() -> Response:
    return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")


_PLAIN_PATH = re.compile(r"/(?:[A-Za-z0-9_.~-]+(?:/[A-Za-z0-9_.~-]+)*)?")


def _safe_next(target: str | None) -> str:
    """Where to go after login: ``target`` only when it is the path of one of the app's own pages
    (a GET route of its url_map, not a static file), else ``/``. Nothing else is ever honoured: no
    scheme, host, backslash, doubled slash, query or encoded trick can name another site."""
    if not target or not _PLAIN_PATH.fullmatch(target):
        return "/"
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(target, method="GET")
    except HTTPException:  # no such page (RequestRedirect is one too)
        return "/"
    return "/" if endpoint == "static" else target
