"""``/api/sessions/{id}/...``: a stride's replay (landmarks and clip frames), its overlaid key frame,
stars, and what the session page's replay needs (records.replay; docs/replay.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, send_file

from hipcam.domain import EDGES
from hipcam.records.stride import StrideRecord, json_number
from web_ui.api import body
from web_ui.deps import deps
from web_ui.security import ApiError, require_pin

bp = Blueprint("api_replay", __name__)

# The joints the page draws (the skeleton's), in this order in every frame's landmarks.
JOINTS: tuple[int, ...] = tuple(sorted({j for edge in EDGES for j in edge}))


def _stride_or_404(session_id: int, stride_id: int) -> StrideRecord:
    store = deps().store
    if store.get_session(session_id) is None:
        raise ApiError(404, f"no session {session_id}")
    for stride in store.strides(session_id):
        if stride.stride_id == stride_id:
            return stride
    raise ApiError(404, f"session {session_id} has no stride {stride_id}")


def _frame_landmarks(row: np.ndarray) -> list[list[float | None]] | None:
    if not np.isfinite(row[JOINTS, :2]).any():
        return None
    return [[json_number(row[j, 0], 4), json_number(row[j, 1], 4), json_number(row[j, 3], 2)] for j in JOINTS]


@bp.get("/sessions/<int:session_id>/replay")
def overview(session_id: int) -> Response:
    """The kept clips, the per-leg picks, the starred strides and the runner's baseline session."""
    if deps().store.get_session(session_id) is None:
        raise ApiError(404, f"no session {session_id}")
    return jsonify(deps().store.replay.overview(session_id))


@bp.get("/sessions/<int:session_id>/strides/<int:stride_id>/clip")
def clip(session_id: int, stride_id: int) -> Response:
    """The stride's frames: times, landmarks and, when its clip is kept, an image URL per frame."""
    stride = _stride_or_404(session_id, stride_id)
    replay = deps().store.replay
    lm = replay.stride_landmarks(session_id, stride_id)
    kept = replay.clip(session_id, stride_id)
    if lm is None and kept is None:
        raise ApiError(404, "no landmarks or clip stored for that stride")
    image_of = {n: k for k, n in enumerate(kept[1].numbers)} if kept is not None else {}
    base = f"/api/sessions/{session_id}/strides/{stride_id}/clip"
    frames: list[dict[str, Any]] = []
    if lm is not None:
        for i, number in enumerate(lm.numbers.tolist()):
            k = image_of.get(int(number))
            frames.append({"number": int(number), "t": json_number(lm.times[i], 4), "image": k,
                           "landmarks": _frame_landmarks(lm.series.image_landmarks[i])})  # fmt: skip
    elif kept is not None:  # a clip without landmarks (none stored): frames to show, nothing to draw
        frames = [{"number": n, "t": json_number(t, 4), "image": k, "landmarks": None}
                  for k, (n, t) in enumerate(zip(kept[1].numbers, kept[1].times, strict=True))]  # fmt: skip
    size = (lm.series.width, lm.series.height) if lm is not None else (kept[1].width, kept[1].height)  # type: ignore[index]
    return jsonify(
        session_id=session_id,
        stride=stride.to_json(),
        fps=json_number(lm.series.fps, 2) if lm is not None else None,
        width=size[0],
        height=size[1],
        roll_deg=json_number(lm.roll_deg, 2) if lm is not None else 0.0,
        direction=lm.direction if lm is not None else None,
        near_leg=lm.near_leg if lm is not None else None,
        joints=list(JOINTS),
        frames=frames,
        images=[f"{base}/{k}.jpg" for k in range(len(kept[1].numbers))] if kept is not None else [],
        clip=kept is not None,
    )


@bp.get("/sessions/<int:session_id>/strides/<int:stride_id>/clip/<int:k>.jpg")
def clip_frame(session_id: int, stride_id: int, k: int) -> Response:
    jpeg = deps().store.replay.clip_frame(session_id, stride_id, k)
    if jpeg is None:
        raise ApiError(404, "no such frame of a kept clip")
    return Response(jpeg, mimetype="image/jpeg")


@bp.get("/sessions/<int:session_id>/strides/<int:stride_id>/overlay.jpg")
def overlay(session_id: int, stride_id: int) -> Response:
    """The key frame with the thigh and trunk lines, the angles and the class (else the plain snapshot)."""
    path = deps().store.replay.overlay_snapshot_path(session_id, stride_id)
    if path is None:
        raise ApiError(404, "no snapshot for that stride")
    return send_file(path, mimetype="image/jpeg", max_age=3600)


@bp.post("/sessions/<int:session_id>/strides/<int:stride_id>/star")
@require_pin
def star(session_id: int, stride_id: int) -> Response:
    """Star or unstar a stride: a starred stride's clip, if still kept, is never pruned."""
    data = body.json_object()
    starred = data.get("starred")
    if not isinstance(starred, bool) or set(data) != {"starred"}:
        raise ApiError(400, 'send {"starred": true} or {"starred": false}')
    _stride_or_404(session_id, stride_id)
    replay = deps().store.replay
    if not replay.set_star(session_id, stride_id, starred):
        raise ApiError(404, f"session {session_id} has no stride {stride_id}")
    return jsonify(session_id=session_id, stride_id=stride_id, starred=starred,
                   clip=replay.clip(session_id, stride_id) is not None)  # fmt: skip
