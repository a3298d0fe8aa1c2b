"""A stride's key frame marked as a clinician marks it (Kinovea-style): the thigh line (hip to knee of
the stride's leg) and the trunk line (near-side hip to shoulder), each with its vertical reference
and the angle between them, and a panel with the class letter and the angles at toe-off.

Meant to read in black and white too: every line is drawn white-on-black (a dark outline under a
light core), the thigh solid and the trunk dashed, each labelled, and the text is white on a black
panel. The frame is enlarged to at least ``MIN_WIDTH`` first so the text stays sharp. The values
printed are the stride's recorded ones (the class is decided on them); the lines come from the
frame's landmarks. Used by the service's stride writer; the web never imports this (layer contract).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hipcam.domain import CLASS_INFO, LEG_JOINTS, NUM_LANDMARKS, THIGH_COLOUR, TRUNK_COLOUR, VISIBILITY
from hipcam.records.stride import StrideRecord

MIN_WIDTH = 560
MIN_VISIBILITY = 0.3
JPEG_QUALITY = 88
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BLACK, _WHITE = (0, 0, 0), (255, 255, 255)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _point(landmarks: np.ndarray, joint: int, w: int, h: int) -> tuple[int, int] | None:
    row = landmarks[joint]
    if not (np.isfinite(row[0]) and np.isfinite(row[1])) or not row[VISIBILITY] >= MIN_VISIBILITY:
        return None
    return round(float(row[0]) * w), round(float(row[1]) * h)


def _line(img: np.ndarray, a: tuple[int, int], b: tuple[int, int], colour: tuple[int, int, int], t: int,
          dashed: bool = False) -> None:  # fmt: skip
    """A light line on a dark outline (solid, or dashed in segments of ~4 line widths)."""
    length = math.dist(a, b)
    n = max(1, int(length // (4 * t))) if dashed else 1
    for i in range(0, n, 2 if dashed else 1):
        p = (round(a[0] + (b[0] - a[0]) * i / n), round(a[1] + (b[1] - a[1]) * i / n))
        q = (round(a[0] + (b[0] - a[0]) * (i + 1) / n), round(a[1] + (b[1] - a[1]) * (i + 1) / n))
        cv2.line(img, p, q, _BLACK, t + 4, cv2.LINE_AA)
        cv2.line(img, p, q, colour, t, cv2.LINE_AA)


def _label(img: np.ndarray, text: str, at: tuple[int, int], scale: float) -> None:
    """White text on a black box, kept inside the image."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    x = min(max(2, at[0]), img.shape[1] - tw - 4)
    y = min(max(th + 4, at[1]), img.shape[0] - base - 2)
    cv2.rectangle(img, (x - 3, y - th - 3), (x + tw + 3, y + base + 1), _BLACK, -1)
    cv2.putText(img, text, (x, y), _FONT, scale, _WHITE, 1, cv2.LINE_AA)


def _arc(img: np.ndarray, centre: tuple[int, int], r: int, start: float, end: float) -> None:
    """The angle between the vertical and a line (image degrees, 0 = +x, clockwise as y goes down)."""
    lo, hi = sorted((start, end))
    if hi - lo > 180:
        lo, hi = hi, lo + 360
    cv2.ellipse(img, centre, (r, r), 0, lo, hi, _BLACK, 4, cv2.LINE_AA)
    cv2.ellipse(img, centre, (r, r), 0, lo, hi, _WHITE, 2, cv2.LINE_AA)


def _marked_line(img: np.ndarray, hip: tuple[int, int], end: tuple[int, int], up: bool, colour: tuple[int, int, int],
                 name: str, dashed: bool) -> None:  # fmt: skip
    """A body line, its vertical reference through the hip (up for the trunk, down for the thigh),
    the arc between them and the line's name."""
    t = max(3, img.shape[1] // 160)
    length = max(20, round(math.dist(hip, end)))
    ref = (hip[0], hip[1] - length if up else hip[1] + length)
    _line(img, hip, ref, (200, 200, 200), max(1, t - 1), dashed=True)
    _line(img, hip, end, colour, t, dashed=dashed)
    vertical = -90.0 if up else 90.0
    angle = math.degrees(math.atan2(end[1] - hip[1], end[0] - hip[0]))
    _arc(img, hip, max(12, length // 3), vertical, angle)
    for p in (hip, end):
        cv2.circle(img, p, t + 3, _BLACK, -1, cv2.LINE_AA)
        cv2.circle(img, p, t + 1, _WHITE, -1, cv2.LINE_AA)
    _label(img, name, (end[0] + 8, end[1] + (-8 if up else 16)), 0.5)


def _panel(img: np.ndarray, stride: StrideRecord) -> None:
    info = CLASS_INFO[stride.cls]

    def deg(v: float | None) -> str:
        return "-" if v is None else f"{v:+.1f} deg"

    lines = [
        f"{info.symbol}  {info.name}",
        f"hip extension {deg(stride.hip_extension_at_toe_off_deg)}"
        + (
            f" +/- {stride.hip_extension_uncertainty_deg:.1f}"
            if stride.hip_extension_uncertainty_deg is not None
            else ""
        ),
        f"trunk lean {deg(stride.trunk_lean_at_toe_off_deg)}",
        f"thigh {deg(stride.thigh_at_toe_off_deg)}",
        f"{stride.leg} leg, at toe-off",
    ]
    scale = 0.55
    sizes = [cv2.getTextSize(s, _FONT, scale * (1.5 if i == 0 else 1.0), 1 + (i == 0)) for i, s in enumerate(lines)]
    width = max(s[0][0] for s in sizes) + 16
    height = sum(s[0][1] + s[1] + 6 for s in sizes) + 10
    cv2.rectangle(img, (0, 0), (width, height), _BLACK, -1)
    cv2.rectangle(img, (0, 0), (width, height), _WHITE, 1)
    y = 6
    for i, (text, ((_, th), base)) in enumerate(zip(lines, sizes, strict=True)):
        y += th + 3
        cv2.putText(img, text, (8, y), _FONT, scale * (1.5 if i == 0 else 1.0), _WHITE, 1 + (i == 0), cv2.LINE_AA)
        y += base + 3


def draw(image_rgb: np.ndarray, landmarks: np.ndarray | None, stride: StrideRecord, near_leg: str | None) -> np.ndarray:
    """A new RGB image: ``image_rgb`` enlarged and marked. ``landmarks``: [33, >=4] normalized, of that
    frame (None: only the panel is drawn); ``near_leg``: the side the trunk line is taken from."""
    h0, w0 = image_rgb.shape[:2]
    k = max(1.0, MIN_WIDTH / max(1, w0))
    img = cv2.resize(image_rgb, (round(w0 * k), round(h0 * k)), interpolation=cv2.INTER_LINEAR)
    h, w = img.shape[:2]
    if landmarks is not None and np.shape(landmarks)[0] == NUM_LANDMARKS:
        lm = np.asarray(landmarks, dtype=np.float64)
        leg = LEG_JOINTS[stride.leg]
        side = LEG_JOINTS[near_leg or stride.leg]
        trunk_hip, shoulder = _point(lm, side["hip"], w, h), _point(lm, side["shoulder"], w, h)
        if trunk_hip and shoulder:
            _marked_line(img, trunk_hip, shoulder, True, _rgb(TRUNK_COLOUR), "trunk", dashed=True)
        hip, knee = _point(lm, leg["hip"], w, h), _point(lm, leg["knee"], w, h)
        if hip and knee:
            _marked_line(img, hip, knee, False, _rgb(THIGH_COLOUR), "thigh", dashed=False)
    _panel(img, stride)
    return img


def overlay_jpeg(
    image_rgb: np.ndarray, landmarks: np.ndarray | None, stride: StrideRecord, near_leg: str | None
) -> bytes | None:
    """``draw`` as a JPEG (None if encoding failed)."""
    bgr = cv2.cvtColor(draw(image_rgb, landmarks, stride, near_leg), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return buf.tobytes() if ok else None
