"""A session's landmarks for researchers: a TRC of the whole session and a zip of per-stride npz files.

Both are built from the landmarks every stored stride keeps (``store.replay``: the stride's frames,
foot strike to foot strike, their tracker numbers and times, and the camera roll, running direction
and near leg the analysis used). Left and right strides overlap (each runs from its own foot strike to
the next), so the TRC takes every frame once (by its frame number), in time order, levelled for the
roll the analysis used. The zip holds one landmarks file per stride (hipcam.records.landmarks_file:
``load`` and ``hipcam analyze --landmarks`` read each) and ``strides.json`` naming each file's stride,
its events, and its frames' numbers and times. Formats and conventions: docs/report.md.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hipcam.errors import HipcamError
from hipcam.records import landmarks_file, side_lengths, trc
from hipcam.records.replay import StrideLandmarks
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord

INDEX_NAME = "strides.json"
_EVENTS = ("foot_strike_frame", "toe_off_frame", "peak_frame", "end_frame", "t_start", "t_end")


class NothingToExport(HipcamError):
    """The session has no stored stride landmarks (none recorded, or recorded before schema 8)."""


@dataclass(frozen=True)
class StrideFrames:
    stride: StrideRecord
    landmarks: StrideLandmarks


def stride_frames(store: Store, session_id: int) -> list[StrideFrames]:
    """The session's strides that kept their landmarks, in stride order. NothingToExport without any."""
    out = []
    for stride in store.strides(session_id):
        lm = store.replay.stride_landmarks(session_id, stride.stride_id) if stride.stride_id is not None else None
        if lm is not None:
            out.append(StrideFrames(stride, lm))
    if not out:
        raise NothingToExport(f"session {session_id} has no stored stride landmarks to export")
    return out


def runner_height_cm(store: Store, session_id: int) -> float | None:
    session = store.get_session(session_id)
    runner = store.runners.get(int(session["runner_id"])) if session and session.get("runner_id") else None
    height = runner.get("height_cm") if runner else None
    return float(height) if height is not None else None


def session_trc(store: Store, session_id: int) -> str:
    """The session's TRC text: in metres when the runner's height is known (the trunk's pixel length
    against side_lengths.trunk_cm), else in pixels. NothingToExport when no stride kept landmarks."""
    strides = stride_frames(store, session_id)
    trunk = side_lengths.trunk_cm(runner_height_cm(store, session_id))
    name = f"hipcam-session-{session_id}.trc"
    return trc.write(build_trc(strides, name, None if trunk is None else trunk / 100))


def merged_markers(strides: Sequence[StrideFrames]) -> tuple[np.ndarray, np.ndarray]:
    """Every frame once, in time order: (times [N], markers [N, M, 3] in px, NaN where not seen).
    Each stride's frames are levelled with its own roll and turned by its own running direction."""
    numbers, times, xyz = [], [], []
    for item in strides:
        lm = item.landmarks
        pts = lm.series.image_landmarks.astype(np.float64)
        pts[~lm.series.found] = np.nan
        xyz.append(trc.markers_from_landmarks(pts, lm.series.width, lm.series.height, lm.direction, lm.roll_deg))
        numbers.append(lm.numbers)
        times.append(lm.times)
    t, num, pts_all = np.concatenate(times), np.concatenate(numbers), np.concatenate(xyz)
    order = np.lexsort((num, t))
    _, first = np.unique(num[order], return_index=True)  # the same frame in two strides: once
    keep = order[np.sort(first)]
    keep = keep[np.argsort(t[keep], kind="stable")]
    return t[keep], pts_all[keep]


def build_trc(strides: Sequence[StrideFrames], name: str, trunk_m: float | None) -> trc.Trc:
    """The TRC of these strides; ``trunk_m``: the runner's trunk length (m) to scale pixels by."""
    times, xyz = merged_markers(strides)
    trunk = trc.trunk_px(xyz)
    metres = trunk_m is not None and trunk is not None
    if metres:
        xyz = xyz * (float(trunk_m or 0.0) / float(trunk or 1.0))
    rate = float(np.median([s.landmarks.series.fps for s in strides]))
    return trc.Trc(name, rate, "m" if metres else "px", trc.MARKER_NAMES, times, xyz)


def landmarks_zip(store: Store, session_id: int) -> bytes:
    """A zip of one landmarks file per stride and ``strides.json``. NothingToExport without any."""
    return zip_of(session_id, stride_frames(store, session_id))


def zip_of(session_id: int, strides: Sequence[StrideFrames]) -> bytes:
    out = io.BytesIO()
    index: list[dict[str, Any]] = []
    # The npz members are compressed already: stored as they are.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for item in strides:
            name = f"stride-{item.stride.stride_id}-{item.stride.leg}.npz"
            with zf.open(name, "w") as fh:
                landmarks_file.write_npz(fh, item.landmarks.series)
            index.append(_index_entry(name, item))
        about = {
            "session_id": session_id,
            "format": "each .npz is a hipcam landmarks file (hipcam.records.landmarks_file; docs/report.md)",
            "strides": index,
        }
        zf.writestr(INDEX_NAME, json.dumps(about, indent=1), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _index_entry(name: str, item: StrideFrames) -> dict[str, Any]:
    row, lm = item.stride.to_json(), item.landmarks
    return {
        "file": name,
        "stride_id": item.stride.stride_id,
        "leg": item.stride.leg,
        "class": row["class"],
        **{key: row[key] for key in _EVENTS},
        "frames": len(lm.series),
        "roll_deg": round(lm.roll_deg, 2),
        "direction": lm.direction,
        "near_leg": lm.near_leg,
        "frame_numbers": [int(n) for n in lm.numbers],
        "frame_times_s": [round(float(t), 4) for t in lm.times],
    }
