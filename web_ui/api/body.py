"""Reading and checking JSON request bodies: a clean 4xx for anything malformed."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider

from hipcam.records import runners
from web_ui.security import ApiError

log = logging.getLogger(__name__)

MAX_RUNNER = runners.MAX_NAME
MAX_NOTES = runners.MAX_NOTES
MAX_SPEED_KMH = 40.0
MAX_JSON_DEPTH = 32  # the API's bodies nest 2 deep; Python's parser recurses (RecursionError near 1000)
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
# Zero-width joiners are format characters that names in some scripts (and emoji) need.
_JOINERS = frozenset("\u200c\u200d")


def json_depth(data: bytes | str) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings ignored)."""
    raw = data.encode() if isinstance(data, str) else data
    depth = deepest = 0
    for token in _JSON_TOKEN.findall(raw):
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with the nesting bounded before parsing: a deep body is a 400, not a RecursionError."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if json_depth(s) > MAX_JSON_DEPTH:
            log.warning("refused a JSON body nested deeper than %d levels from %s", MAX_JSON_DEPTH, request.remote_addr)
            raise ApiError(400, f"the JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
        return super().loads(s, **kwargs)


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a clean 400 (415 for another content type: a form or
    text body is refused, never read as an empty object)."""
    if not request.is_json:
        if not (request.get_data(cache=True) or request.content_length or request.form):  # get_data: 413 first
            return {}
        raise ApiError(415, "send JSON with Content-Type: application/json (this body is not JSON)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def query_int(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query argument in [low, high] (``default`` when absent), else a 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def clean_text(value: str, field: str, multiline: bool = False) -> str:
    """``value`` if it holds no control or invisible format characters (bidi overrides such as
    U+202E, zero-width spaces, NUL...; line breaks and tabs only when ``multiline``), else a 400."""
    for ch in value:
        if multiline and ch in "\n\r\t":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in _JOINERS:
            raise ApiError(400, f"{field} must not contain control or direction characters (U+{ord(ch):04X})")
    return value


def runner(body: dict[str, Any]) -> str:
    value = body.get("runner", "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_RUNNER:
        raise ApiError(400, f"runner must be text of at most {MAX_RUNNER} characters")
    return clean_text(value, "runner").strip()


def speed(body: dict[str, Any]) -> float | None:
    value = body.get("treadmill_speed")
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = float(value.replace(",", "."))
        except ValueError:
            raise ApiError(400, "treadmill_speed must be a number (km/h)") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, "treadmill_speed must be a number (km/h)")
    if not 0.0 <= float(value) <= MAX_SPEED_KMH:
        raise ApiError(400, f"treadmill_speed must be between 0 and {MAX_SPEED_KMH:g} km/h")
    return float(value)


def notes(body: dict[str, Any]) -> str:
    value = body.get("notes")
    if not isinstance(value, str) or len(value) > MAX_NOTES:
        raise ApiError(400, f"notes must be text of at most {MAX_NOTES} characters")
    return clean_text(value, "notes", multiline=True)


def required_runner(value: Any) -> str:
    """A runner's name (a session's ``runner`` text): non-empty text, at most MAX_RUNNER characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_RUNNER:
        raise ApiError(400, f"runner must be the runner's name, 1 to {MAX_RUNNER} characters")
    return clean_text(value, "runner").strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def tap(body: dict[str, Any]) -> tuple[float, float]:
    """``tap``: [x, y] in the pixels of the image the page showed."""
    value = body.get("tap")
    xy = [_number(v) for v in value] if isinstance(value, list) and len(value) == 2 else [None]
    if None in xy:
        raise ApiError(400, "tap must be [x, y]: two numbers, pixels of the image that was tapped")
    return float(xy[0] or 0.0), float(xy[1] or 0.0)


def _whole(frame: dict[str, Any], key: str) -> int:
    value = frame.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, f"frame.{key} must be a whole number")
    return value


def calibration_frame(body: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """``frame``: {"kind": "live", "seq": N} (a camera frame) or {"kind": "stride", "session_id": S,
    "stride_id": T} (a stride's snapshot)."""
    frame = body.get("frame")
    kind = frame.get("kind") if isinstance(frame, dict) else None
    if not isinstance(frame, dict) or kind not in ("live", "stride"):
        raise ApiError(
            400, 'frame must be {"kind": "live", "seq": N} or {"kind": "stride", "session_id": S, "stride_id": T}'
        )
    keys = ("seq",) if kind == "live" else ("session_id", "stride_id")
    return kind, {key: _whole(frame, key) for key in keys}


def _record_id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ApiError(400, f"{field} must be a runner's id (a whole number)")
    return value


def runner_id(data: dict[str, Any]) -> int | None:
    """``runner_id``: a runner's id, or absent / null."""
    value = data.get("runner_id")
    return None if value is None else _record_id(value, "runner_id")


def _length_cm(value: Any, field: str) -> float | None:
    """A length in cm: a number, a number as text (the form's), or null / "" for none."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value.replace(",", "."))
        except ValueError:
            raise ApiError(400, f"{field} must be a number (cm)") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, f"{field} must be a number (cm)")
    return float(value)


RUNNER_FIELDS = ("name", "height_cm", "leg_length_cm", "notes")


def runner_fields(data: dict[str, Any], creating: bool) -> dict[str, Any]:
    """A runner record's fields from a body: ``name`` (required when creating), ``height_cm``,
    ``leg_length_cm``, ``notes``; anything else, or nothing to change, is a 400."""
    if extra := sorted(set(data) - set(RUNNER_FIELDS)):
        raise ApiError(400, f"unknown field {extra[0]!r} (a runner has {', '.join(RUNNER_FIELDS)})")
    if not data or (creating and "name" not in data):
        raise ApiError(400, "send the runner's name" if creating else f"send one of {', '.join(RUNNER_FIELDS)}")
    out: dict[str, Any] = {}
    if "name" in data:
        value = data["name"]
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_RUNNER:
            raise ApiError(400, f"name must be the runner's name or ID, 1 to {MAX_RUNNER} characters")
        out["name"] = clean_text(value, "name").strip()
    for key in ("height_cm", "leg_length_cm"):
        if key in data:
            out[key] = _length_cm(data[key], key)
    if "notes" in data:
        out["notes"] = notes(data)
    return out
