"""Walk-up checks on the web (docs/walkup.md): ``GET /api/walkup`` (what the runner view and the live
page show: the phase, the progress, the card and its link), ``GET /api/walkup/<token>`` and the page
``/walkup/<token>`` that the card's QR code opens on the member's phone (``/walkup/<token>/qr.svg``).

The token paths are public (no PIN, also with viewing closed): the card carries no name, and its
random link lives only link_ttl_s. A forged link is a 404, an expired one a 410, each with one sentence.
"""

from __future__ import annotations

import io
import time

import segno
from flask import Blueprint, Response, jsonify, render_template

from web_ui.deps import deps
from web_ui.join import page_url
from web_ui.security import ApiError

bp = Blueprint("walkup", __name__)
GONE = {
    "forged": (404, "This form-check link is not valid: scan the QR code on the treadmill's screen again."),
    "expired": (410, "This form-check link has expired: the card is kept only for a short time."),
}


def _card(token: str) -> dict[str, object]:
    found, card = deps().walkup_check.by_token(token, time.time())
    if card is None:
        code, message = GONE[found]
        raise ApiError(code, message)
    return card


def card_url(token: str) -> str:
    return f"{page_url()}walkup/{token}"


@bp.get("/api/walkup")
def current() -> Response:
    d = deps()
    view = d.walkup_check.view(time.time())
    view["card_url"] = card_url(view["token"]) if view["token"] else None
    results = d.walkup_check.results
    return jsonify(walkup=view, checks_by_day=results.daily_counts() if results is not None else {})


@bp.get("/api/walkup/<token>")
def card_json(token: str) -> Response:
    return jsonify(card=_card(token))


@bp.get("/walkup/<token>")
def card_page(token: str) -> str:
    return render_template("walkup.html", card=_card(token), page="walkup")


@bp.get("/walkup/<token>/qr.svg")
def card_qr(token: str) -> Response:
    _card(token)
    out = io.BytesIO()
    segno.make(card_url(token), error="m").save(out, kind="svg", scale=6, border=2, dark="#000", light="#fff")
    return Response(out.getvalue(), mimetype="image/svg+xml")
