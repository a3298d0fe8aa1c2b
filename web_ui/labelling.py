"""The page of `hipcam label`: a person steps through a clip and marks gait events and joints.

The command decodes the video (hipcam.commands.label) and hands over the frames as JPEG bytes; this
app only serves them and the truth file (hipcam.records.truth), so the web never opens a video.
A local tool: one labeller, no PIN; PUT needs the page's token, and requests whose Host is not one
of the machine's own names or addresses are refused (a rebinding page cannot reach it through its
own name; web_ui.security.host_allowed, the tablet page's check).

Routes: GET / (the page), GET /api/meta, GET /frame/<n>.jpg, GET /api/truth, PUT /api/truth.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from hipcam.domain import page_vocabulary
from hipcam.errors import HipcamError
from hipcam.records.truth import Truth, clip_json, load_truth, new_truth, parse_clip, save_truth
from web_ui.security import CSRF_HEADER, host_allowed, security_headers

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024
FIXED = ("video", "fps", "true_fps", "frame_count", "frame_size_px")  # the clip's, not the labeller's


@dataclass(frozen=True)
class LabelMeta:
    """What the page needs to know of the decoded clip."""

    name: str  # the video's stem: the truth file's key
    video: str  # the file name written into the truth
    fps: float  # the file's frame rate
    frame_count: int  # frames decoded
    width: int
    height: int
    true_fps: float | None = None  # --fps when it differs from the file's rate (slow motion)


def fit_truth(truth: Truth, meta: LabelMeta, source: str) -> Truth:
    """A loaded truth checked against the decoded clip, with the clip's own name, rate and size."""
    fixed = _fixed_fields(meta, truth.true_fps)
    d = clip_json(truth) | fixed
    d["slow_motion"] = truth.slow_motion or _slow(meta.fps, fixed["true_fps"])
    return parse_clip(meta.name, d, f"{source} (against the {meta.frame_count}-frame video)")


def _fixed_fields(meta: LabelMeta, true_fps: float | None = None) -> dict[str, Any]:
    return {"video": meta.video, "fps": meta.fps, "true_fps": meta.true_fps or true_fps,
            "frame_count": meta.frame_count, "frame_size_px": [meta.width, meta.height]}  # fmt: skip


def _slow(fps: float, true_fps: float | None) -> bool:
    return true_fps is not None and abs(true_fps - fps) > 0.01


class _Labels:
    """The truth being edited and whether the file on disk holds it."""

    def __init__(self, truth: Truth, path: Path, saved: bool) -> None:
        self.truth, self.path, self.saved = truth, path, saved
        self.lock = threading.Lock()

    def view(self) -> dict[str, Any]:
        return {"truth": clip_json(self.truth), "path": str(self.path), "saved": self.saved}


def _initial(meta: LabelMeta, truth_path: Path, truth: Truth | None) -> _Labels:
    if truth is None and truth_path.is_file():
        truth = load_truth(truth_path)
    if truth is None:
        fresh = new_truth(meta.name, meta.video, meta.fps, meta.frame_count, meta.true_fps)
        return _Labels(replace(fresh, frame_size_px=(meta.width, meta.height)), truth_path, saved=False)
    return _Labels(fit_truth(truth, meta, f"truth file {truth_path}"), truth_path, saved=True)


def create_label_app(frames: Sequence[bytes], meta: LabelMeta, truth_path: Path, truth: Truth | None = None) -> Flask:
    """The labelling app over decoded JPEG frames; ``truth`` (or the file at ``truth_path``) to continue."""
    if not frames:
        raise HipcamError("no frames to label")
    labels = _initial(meta, Path(truth_path), truth)
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, CSRF_TOKEN=secrets.token_urlsafe(24))
    app.json.sort_keys = False  # type: ignore[attr-defined]
    run = secrets.token_hex(4)  # frame URLs differ per run: a cached frame of another clip is never shown
    page_meta = asdict(meta) | {"frame_count": len(frames), "run": run, "colours": page_vocabulary()["colours"]}
    _install_guards(app)

    @app.get("/")
    def page() -> str:
        return render_template("label.html", meta=page_meta, token=app.config["CSRF_TOKEN"])

    @app.get("/api/meta")
    def api_meta() -> Any:
        return jsonify(page_meta | {"truth_path": str(labels.path)})

    @app.get("/frame/<int:n>.jpg")
    def frame(n: int) -> Response:
        if not 0 <= n < len(frames):
            return Response(f"no frame {n} (0..{len(frames) - 1})", status=404, mimetype="text/plain")
        resp = Response(frames[n], mimetype="image/jpeg")
        resp.headers["Cache-Control"] = "private, max-age=86400"
        return resp

    @app.get("/api/truth")
    def get_truth() -> Any:
        with labels.lock:
            return jsonify(labels.view())

    @app.put("/api/truth")
    def put_truth() -> Any:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, app.config["CSRF_TOKEN"]):
            return _error(403, "missing or wrong page token; reload the page")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object (the clip's labels)")
        with labels.lock:
            fixed = _fixed_fields(meta, labels.truth.true_fps)
            body = {**body, **fixed, "slow_motion": labels.truth.slow_motion}
            try:
                truth = parse_clip(meta.name, body, "labels").recomputed()
            except HipcamError as exc:
                return _error(400, str(exc))
            try:
                save_truth(labels.path, truth)
            except OSError as exc:
                return _error(500, f"cannot write {labels.path}: {exc.strerror or exc}")
            labels.truth, labels.saved = truth, True
            log.info("saved %s", labels.path)
            return jsonify(labels.view())

    return app


def _error(code: int, message: str) -> Any:
    resp = jsonify({"error": message, "status": code})
    resp.status_code = code
    return resp


def _install_guards(app: Flask) -> None:
    """Host check, security headers (the main app's CSP), JSON errors without tracebacks."""

    @app.before_request
    def _host() -> Any:
        if not host_allowed(request.host):
            return _error(403, f"host {request.host!r} refused: open the page by its address")
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        return security_headers(resp, no_store=True)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Any:
        log.exception("labelling page error")
        return _error(500, f"internal error: {type(exc).__name__}")
