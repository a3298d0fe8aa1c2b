"""``/api/sessions/{id}/report.pdf``, ``export.trc`` and ``landmarks.zip``: the session's PDF report
for the patient file and its landmarks for researchers (docs/report.md). Read-only, open like the
CSV/JSON exports; an unknown session is 404, a session without stored landmarks 409 for the two
exports (a session without strides still gets a PDF that says so)."""

from __future__ import annotations

from flask import Blueprint, Response

from hipcam.records import pdf_report, research_export
from hipcam.records.research_export import NothingToExport
from web_ui.deps import deps
from web_ui.security import ApiError

bp = Blueprint("api_reports", __name__)


def _known(session_id: int) -> None:
    if deps().store.get_session(session_id) is None:
        raise ApiError(404, f"no session {session_id}")


def _attachment(body: bytes | str, mimetype: str, session_id: int, name: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    # The CSV/JSON exports' naming (web_ui/api/sessions.py).
    resp.headers["Content-Disposition"] = f'attachment; filename="hipcam-session-{session_id}{name}"'
    return resp


@bp.get("/sessions/<int:session_id>/report.pdf")
def report_pdf(session_id: int) -> Response:
    _known(session_id)
    try:
        pdf = pdf_report.session_pdf(deps().store, session_id)
    except LookupError:  # deleted between the check and the read
        raise ApiError(404, f"no session {session_id}") from None
    return _attachment(pdf, "application/pdf", session_id, ".pdf")


@bp.get("/sessions/<int:session_id>/export.trc")
def export_trc(session_id: int) -> Response:
    _known(session_id)
    try:
        text = research_export.session_trc(deps().store, session_id)
    except NothingToExport as exc:
        raise ApiError(409, str(exc)) from None
    return _attachment(text, "text/plain", session_id, ".trc")


@bp.get("/sessions/<int:session_id>/landmarks.zip")
def landmarks_zip(session_id: int) -> Response:
    _known(session_id)
    try:
        data = research_export.landmarks_zip(deps().store, session_id)
    except NothingToExport as exc:
        raise ApiError(409, str(exc)) from None
    return _attachment(data, "application/zip", session_id, "-landmarks.zip")
