"""``/join``: the page's own address as a QR code, so a tablet joins by scanning it (segno: pure
Python QR codes, no image library). The address is the one this page was opened by, unless that is
loopback (the page opened on the device itself): then the device's LAN address."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import segno
from flask import Blueprint, Response, render_template, request

from hipcam.service.advertise import lan_addresses
from web_ui.deps import deps
from web_ui.security import host_name

bp = Blueprint("join", __name__)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def page_url() -> str:
    """The address a tablet on the network opens this page by."""
    parts = urlsplit(request.host_url)
    name = host_name(request.host)
    if name in LOOPBACK_NAMES or name.startswith("127.") or name.endswith(".localhost"):
        lan = lan_addresses(deps().cfg.server.host)
        if lan:
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{lan[0]}{port}/"
    return request.host_url


@bp.get("/join")
def join() -> str:
    return render_template("join.html", url=page_url(), page="join")


@bp.get("/join/qr.svg")
def qr_svg() -> Response:
    out = io.BytesIO()
    segno.make(page_url(), error="m").save(out, kind="svg", scale=8, border=2, dark="#000", light="#fff")
    return Response(out.getvalue(), mimetype="image/svg+xml")
