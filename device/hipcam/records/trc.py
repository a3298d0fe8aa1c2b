"""TRC marker files (the Motion Analysis format OpenSim, Pose2Sim and Sports2D read and write).

Layout, as Pose2Sim writes it: a ``PathFileType 4 (X/Y/Z) <name>`` line; the header names
``DataRate CameraRate NumFrames NumMarkers Units OrigDataRate OrigDataStartFrame OrigNumFrames`` and
their values; a ``Frame# Time <marker> <blank> <blank> ...`` line; an ``X1 Y1 Z1 X2 ...`` line; a blank
line; then one tab-separated row per frame. A marker not seen in a frame has empty fields (what
Pose2Sim's pandas writer leaves for NaN; OpenSim reads them as missing).

hipcam's camera films a side view, so its TRC is 2D like Sports2D's: X forward along the running
direction, Y up, Z 0. Markers carry the HALPE_26 names Sports2D's OpenSim models use, where a
BlazePose landmark is that point (``Hip`` and ``Neck`` are the midpoints of the hips and shoulders, as
HALPE defines them); HALPE's ``Head`` and small toes have no BlazePose counterpart and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hipcam.domain import Landmark as L

# (HALPE_26 name, the BlazePose landmarks it is: one, or two whose midpoint it is), in HALPE's order.
MARKERS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Nose", (L.NOSE,)),
    ("LEye", (L.LEFT_EYE,)),
    ("REye", (L.RIGHT_EYE,)),
    ("LEar", (L.LEFT_EAR,)),
    ("REar", (L.RIGHT_EAR,)),
    ("LShoulder", (L.LEFT_SHOULDER,)),
    ("RShoulder", (L.RIGHT_SHOULDER,)),
    ("LElbow", (L.LEFT_ELBOW,)),
    ("RElbow", (L.RIGHT_ELBOW,)),
    ("LWrist", (L.LEFT_WRIST,)),
    ("RWrist", (L.RIGHT_WRIST,)),
    ("LHip", (L.LEFT_HIP,)),
    ("RHip", (L.RIGHT_HIP,)),
    ("LKnee", (L.LEFT_KNEE,)),
    ("RKnee", (L.RIGHT_KNEE,)),
    ("LAnkle", (L.LEFT_ANKLE,)),
    ("RAnkle", (L.RIGHT_ANKLE,)),
    ("Neck", (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)),
    ("Hip", (L.LEFT_HIP, L.RIGHT_HIP)),
    ("LBigToe", (L.LEFT_FOOT_INDEX,)),
    ("RBigToe", (L.RIGHT_FOOT_INDEX,)),
    ("LHeel", (L.LEFT_HEEL,)),
    ("RHeel", (L.RIGHT_HEEL,)),
)
MARKER_NAMES: tuple[str, ...] = tuple(name for name, _ in MARKERS)
HEADER_KEYS = (
    "DataRate",
    "CameraRate",
    "NumFrames",
    "NumMarkers",
    "Units",
    "OrigDataRate",
    "OrigDataStartFrame",
    "OrigNumFrames",
)
_DIGITS = {"m": 5, "px": 2}  # 0.01 mm and 0.01 px: below what the landmarks resolve


@dataclass(frozen=True)
class Trc:
    """Marker trajectories: ``xyz`` [frames, markers, 3] (NaN where not seen), ``times`` [frames] in s."""

    name: str  # the file name written on the first line
    rate: float  # frames per second of the analysed stream
    units: str  # "m" or "px"
    markers: tuple[str, ...]
    times: np.ndarray
    xyz: np.ndarray


def markers_from_landmarks(
    image_landmarks: np.ndarray,
    width: int,
    height: int,
    direction: str,
    roll_deg: float = 0.0,
) -> np.ndarray:
    """BlazePose image landmarks [N, 33, >=2] (x, y normalized) -> MARKERS [N, M, 3] in px: levelled
    for the camera roll, X forward along the running direction (``direction``: where the runner faces
    in the image, left or right), Y up, Z 0, from the image's bottom corner behind the runner."""
    xy = image_landmarks[..., :2].astype(np.float64) * np.array([width, height], dtype=np.float64)
    if roll_deg:  # hipcam.gait.level's convention: rotate by -roll about the image centre
        c, s = np.cos(np.radians(-roll_deg)), np.sin(np.radians(-roll_deg))
        x, y = xy[..., 0] - width / 2, xy[..., 1] - height / 2
        xy = np.stack([c * x - s * y + width / 2, s * x + c * y + height / 2], axis=-1)
    forward = xy[..., 0] if direction == "right" else width - xy[..., 0]
    up = height - xy[..., 1]
    out = np.zeros((image_landmarks.shape[0], len(MARKERS), 3))
    for m, (_, points) in enumerate(MARKERS):
        idx = list(points)
        out[:, m, 0] = forward[:, idx].mean(axis=1)
        out[:, m, 1] = up[:, idx].mean(axis=1)
    out[np.isnan(out[..., :2]).any(axis=-1)] = np.nan  # a marker unseen is unseen in all three
    return out


def trunk_px(xyz: np.ndarray) -> float | None:
    """The trunk's median length over the frames (Hip to Neck marker: hip midpoint to shoulder
    midpoint, the length hipcam measures in), None when no frame shows it."""
    hip, neck = MARKER_NAMES.index("Hip"), MARKER_NAMES.index("Neck")
    length = np.linalg.norm(xyz[:, neck, :2] - xyz[:, hip, :2], axis=1)
    length = length[np.isfinite(length) & (length > 0)]
    return float(np.median(length)) if length.size else None


def write(trc: Trc) -> str:
    """The TRC text (tab-separated, LF line ends). Frames are numbered 1..N; ``Time`` is as given."""
    n, m = trc.xyz.shape[:2]
    if trc.times.shape != (n,) or m != len(trc.markers):
        raise ValueError(f"TRC of {n} frames x {m} markers has {trc.times.shape} times, {len(trc.markers)} names")
    rate = f"{trc.rate:g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{trc.name}",
        "\t".join(HEADER_KEYS),
        "\t".join([rate, rate, str(n), str(m), trc.units, rate, "1", str(n)]),
        "\t".join(["Frame#", "Time", *(f"{name}\t\t" for name in trc.markers)]).rstrip("\t"),
        "\t".join(["", "", *(f"X{i}\tY{i}\tZ{i}" for i in range(1, m + 1))]),
        "",
    ]
    digits = _DIGITS.get(trc.units, 5)
    for i in range(n):
        cells = [str(i + 1), f"{trc.times[i]:.6f}"]
        for x, y, z in trc.xyz[i]:
            cells += ["", "", ""] if np.isnan(x) else [f"{x:.{digits}f}", f"{y:.{digits}f}", f"{z:.{digits}f}"]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def parse(text: str) -> Trc:
    """Read a TRC text as ``write`` lays it out (header keys by name). ValueError names what is wrong."""
    lines = text.split("\n")
    if len(lines) < 5 or not lines[0].startswith("PathFileType\t4\t(X/Y/Z)"):
        raise ValueError("not a TRC file (no 'PathFileType 4 (X/Y/Z)' line)")
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t"), strict=False))
    missing = [k for k in HEADER_KEYS[:5] if k not in header]
    if missing:
        raise ValueError(f"TRC header lacks {', '.join(missing)}")
    n, m = int(header["NumFrames"]), int(header["NumMarkers"])
    names = tuple(c for c in lines[3].split("\t")[2:] if c)
    if len(names) != m:
        raise ValueError(f"TRC names {len(names)} markers, its header says {m}")
    rows = [line.split("\t") for line in lines[5:] if line.strip()]  # the blank 6th line is optional
    if len(rows) != n:
        raise ValueError(f"TRC has {len(rows)} frames, its header says {n}")
    times = np.array([float(r[1]) for r in rows])
    xyz = np.array([[_cell(c) for c in _padded(r[2:], 3 * m)] for r in rows]).reshape(n, m, 3)
    name = lines[0].split("\t")[3] if lines[0].count("\t") >= 3 else ""
    return Trc(name, float(header["DataRate"]), header["Units"], names, times, xyz)


def _padded(cells: Sequence[str], width: int) -> list[str]:
    return [*cells, *([""] * (width - len(cells)))][:width]


def _cell(text: str) -> float:
    return float(text) if text.strip() else float("nan")
