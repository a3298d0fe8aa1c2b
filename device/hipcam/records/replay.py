"""What replays a stride: its landmarks, a star, its clip (within the session's disk budget), the
overlaid key frame, and the runner's baseline session (``store.replay``; docs/replay.md).

Landmarks: every stored stride keeps the frames from its foot strike to the next as a compressed npz
blob in ``stride_landmarks``, in the shared landmarks format (hipcam.records.landmarks_file) plus the
frames' numbers and times and the roll, direction and near leg the analysis used. They are the
landmarks as analysed (the runner's hip calibration applied), so the lines drawn are the ones measured.

Clips (hipcam.records.clip_files) are kept for the best, the worst and a typical stride per leg (hip
extension at toe-off: max, min, median of the classified strides), every starred stride and the most
recent few; the others are pruned, oldest first, whenever a new clip would not fit the budget. A new
clip that cannot fit even then is not written: the budget always holds.
"""

from __future__ import annotations

import io
import logging
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hipcam.domain import CLASSIFIED, LEGS
from hipcam.errors import LandmarksFileError
from hipcam.records import clip_files
from hipcam.records.clip_files import ClipFiles, ClipFrame, ClipIndex
from hipcam.records.landmarks_file import LandmarkSeries, validate
from hipcam.records.schema import UNASSIGNED_RUNNER
from hipcam.records.snapshot_files import SnapshotFiles

log = logging.getLogger(__name__)

Tx = Callable[[], AbstractContextManager[sqlite3.Connection]]
MAX_BLOB_BYTES = 8 << 20  # a stride of thousands of frames compresses far below this


@dataclass(frozen=True)
class StrideLandmarks:
    """A stride's landmarks as stored: the series, the frames' tracker numbers and times (s), and
    what the analysis used to measure them."""

    series: LandmarkSeries
    numbers: np.ndarray  # int64 [N]
    times: np.ndarray  # float64 [N], seconds of the analysed stream
    roll_deg: float = 0.0
    direction: str = "right"
    near_leg: str | None = None


def encode_landmarks(lm: StrideLandmarks) -> bytes:
    """The compressed npz blob (the landmarks file's keys plus frame_numbers, frame_times and the rest)."""
    s = validate(lm.series)
    n = len(s)
    if lm.numbers.shape != (n,) or lm.times.shape != (n,):
        raise LandmarksFileError(f"stride landmarks: {n} frames but {lm.numbers.shape} numbers, {lm.times.shape} times")
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        image_landmarks=s.image_landmarks.astype(np.float32),
        found=s.found.astype(bool),
        fps=np.float64(s.fps),
        width=np.int64(s.width),
        height=np.int64(s.height),
        frame_numbers=lm.numbers.astype(np.int64),
        frame_times=lm.times.astype(np.float64),
        roll_deg=np.float64(lm.roll_deg),
        direction=np.array(lm.direction),
        near_leg=np.array(lm.near_leg or ""),
    )
    return buf.getvalue()


def decode_landmarks(blob: bytes) -> StrideLandmarks | None:
    """The inverse of ``encode_landmarks``; None for a blob that is not one (logged)."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as d:
            series = validate(
                LandmarkSeries(
                    image_landmarks=np.asarray(d["image_landmarks"], dtype=np.float32),
                    found=np.asarray(d["found"]).astype(bool).reshape(-1),
                    fps=float(d["fps"]),
                    width=int(d["width"]),
                    height=int(d["height"]),
                )
            )
            numbers = np.asarray(d["frame_numbers"], dtype=np.int64).reshape(-1)
            times = np.asarray(d["frame_times"], dtype=np.float64).reshape(-1)
            files = set(d.files)
            roll = float(d["roll_deg"]) if "roll_deg" in files else 0.0
            direction = str(d["direction"]) if "direction" in files else "right"
            near = str(d["near_leg"]) if "near_leg" in files else ""
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, LandmarksFileError) as exc:
        log.warning("stride landmarks unreadable: %s", exc)
        return None
    if numbers.shape != (len(series),) or times.shape != (len(series),):
        log.warning("stride landmarks: frame numbers or times do not match the frames")
        return None
    return StrideLandmarks(series, numbers, times, roll, direction, near if near in LEGS else None)


@dataclass(frozen=True)
class ClipRow:
    stride_id: int
    file: str
    bytes: int
    frames: int


class Replay:
    """The replay side of the store; shares its connection, lock and transactions."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, tx: Tx, snapshots: SnapshotFiles) -> None:
        self._db, self._lock, self._tx = db, lock, tx
        self.snapshots = snapshots
        self.clips = ClipFiles(snapshots.root)
        with self._lock:
            named = [r[0] for r in self._db.execute("SELECT file FROM stride_clips")]
        if removed := self.clips.remove_unreferenced(named):
            log.info("removed %d replay clip files no stride names (a write cut short)", removed)

    # ---- landmarks -------------------------------------------------------------------------
    def save_landmarks(self, stride_id: int, lm: StrideLandmarks) -> None:
        """Store a stride's landmarks (replacing any). DiskFull on a full disk."""
        blob = encode_landmarks(lm)
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO stride_landmarks (stride_id, data) VALUES (?, ?)", (stride_id, blob))

    def stride_landmarks(self, session_id: int, stride_id: int) -> StrideLandmarks | None:
        with self._lock:
            row = self._db.execute(
                """SELECT l.data FROM stride_landmarks l JOIN strides s ON s.id = l.stride_id
                   WHERE l.stride_id = ? AND s.session_id = ?""",
                (stride_id, session_id),
            ).fetchone()
        if row is None or len(row[0]) > MAX_BLOB_BYTES:
            return None
        return decode_landmarks(bytes(row[0]))

    def landmarks(self, session_id: int, stride_id: int) -> tuple[LandmarkSeries, np.ndarray] | None:
        """The stride's landmarks (foot strike to foot strike) and their frame times in seconds."""
        lm = self.stride_landmarks(session_id, stride_id)
        return None if lm is None else (lm.series, lm.times)

    # ---- stars -----------------------------------------------------------------------------
    def set_star(self, session_id: int, stride_id: int, starred: bool) -> bool:
        """Star (or unstar) a stride of that session; False if there is no such stride."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE strides SET starred = ? WHERE id = ? AND session_id = ?",
                (int(bool(starred)), stride_id, session_id),
            )
            return cur.rowcount > 0

    # ---- the clips kept ----------------------------------------------------------------------
    def picks(self, session_id: int) -> dict[str, dict[str, int]]:
        """Per leg, the best, worst and typical stride ids (hip extension at toe-off of classified strides)."""
        marks = ", ".join("?" * len(CLASSIFIED))
        with self._lock:
            rows = self._db.execute(
                f"""SELECT id, leg, hip_extension_at_toe_off_deg AS ext FROM strides WHERE session_id = ?
                    AND class IN ({marks}) AND hip_extension_at_toe_off_deg IS NOT NULL ORDER BY ext, id""",
                (session_id, *CLASSIFIED),
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for leg in LEGS:
            ids = [int(r["id"]) for r in rows if r["leg"] == leg]
            if ids:
                out[leg] = {"best": ids[-1], "worst": ids[0], "typical": ids[(len(ids) - 1) // 2]}
        return out

    def _clips(self, session_id: int) -> list[ClipRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT stride_id, file, bytes, frames FROM stride_clips WHERE session_id = ? ORDER BY stride_id",
                (session_id,),
            ).fetchall()
        return [ClipRow(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    def clips_bytes(self, session_id: int) -> int:
        return sum(c.bytes for c in self._clips(session_id))

    def kept(self, session_id: int) -> list[int]:
        """The strides of the session whose clip is kept."""
        return [c.stride_id for c in self._clips(session_id)]

    def _protected(self, session_id: int, keep_recent: int) -> tuple[set[int], set[int]]:
        """(never pruned: starred and the per-leg picks; pruned last: the most recent strides)."""
        with self._lock:
            starred = {int(r[0]) for r in self._db.execute(
                "SELECT id FROM strides WHERE session_id = ? AND starred = 1", (session_id,))}  # fmt: skip
            recent = {int(r[0]) for r in self._db.execute(
                "SELECT id FROM strides WHERE session_id = ? ORDER BY id DESC LIMIT ?", (session_id, keep_recent))}  # fmt: skip
        fixed = starred | {i for p in self.picks(session_id).values() for i in p.values()}
        return fixed, recent - fixed

    def prune(
        self, session_id: int, budget_bytes: int, keep_recent: int, incoming: tuple[int, int] | None = None
    ) -> bool:
        """Remove clips until the session's clips (and ``incoming``: (stride id, bytes) about to be
        written) fit ``budget_bytes``; whether they fit. Unprotected clips go first, oldest first,
        then the recent ones; starred and picked ones never."""
        fixed, recent = self._protected(session_id, keep_recent)
        clips = self._clips(session_id)
        total = sum(c.bytes for c in clips) + (incoming[1] if incoming else 0)
        if total <= budget_bytes:
            return True
        if incoming is not None and incoming[0] not in fixed | recent:
            return False  # a clip that would be the first to go is not written at all
        order = [c for c in clips if c.stride_id not in fixed | recent] + [c for c in clips if c.stride_id in recent]
        for clip in order:
            if total <= budget_bytes:
                break
            self._remove_clip(clip)
            total -= clip.bytes
        return total <= budget_bytes

    def _remove_clip(self, clip: ClipRow) -> None:
        with self._tx() as db:  # the row first: a crash between leaves a file no row names (tidied)
            db.execute("DELETE FROM stride_clips WHERE stride_id = ?", (clip.stride_id,))
        self.clips.remove(clip.file)

    def add_clip(
        self, session_id: int, stride_id: int, frames: Sequence[ClipFrame], size: tuple[int, int],
        budget_bytes: int, keep_recent: int,
    ) -> bool:  # fmt: skip
        """Write a stride's clip if it fits the budget (pruning others); whether it was kept.
        OSError (a full disk too) or DiskFull when the disk refused it: nothing is left behind."""
        if not frames:
            return False
        data = clip_files.encode(frames, *size)
        if not self.prune(session_id, budget_bytes, keep_recent, (stride_id, len(data))):
            return False
        rel = self.clips.write(session_id, data)
        try:
            with self._tx() as db:
                stored = (
                    db.execute(
                        """INSERT OR REPLACE INTO stride_clips (stride_id, session_id, file, bytes, frames, created_at)
                       SELECT id, session_id, ?, ?, ?, ? FROM strides WHERE id = ? AND session_id = ?""",
                        (rel, len(data), len(frames), time.time(), stride_id, session_id),
                    ).rowcount
                    > 0
                )
        except BaseException:
            self.clips.remove(rel)
            raise
        if not stored:  # the stride is gone (its session deleted meanwhile)
            self.clips.remove(rel)
        return bool(stored)

    def clip(self, session_id: int, stride_id: int) -> tuple[Path, ClipIndex] | None:
        """The stride's kept clip: its file and index, None if none is kept."""
        with self._lock:
            row = self._db.execute(
                "SELECT file FROM stride_clips WHERE stride_id = ? AND session_id = ?", (stride_id, session_id)
            ).fetchone()
        path = self.clips.path(row[0]) if row is not None else None
        index = clip_files.read_index(path) if path is not None else None
        return None if path is None or index is None else (path, index)

    def clip_frame(self, session_id: int, stride_id: int, k: int) -> bytes | None:
        found = self.clip(session_id, stride_id)
        return None if found is None else clip_files.read_frame(found[0], found[1], k)

    # ---- key frames and the baseline -----------------------------------------------------------
    def _snapshot_rel(self, session_id: int, stride_id: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT snapshot FROM strides WHERE id = ? AND session_id = ?", (stride_id, session_id)
            ).fetchone()
        return None if row is None else row[0]

    def save_overlay(self, session_id: int, stride_id: int, jpeg: bytes) -> bool:
        """Store the overlaid key frame beside the stride's snapshot; False without a snapshot or room."""
        rel = self._snapshot_rel(session_id, stride_id)
        return rel is not None and self.snapshots.write_overlay(rel, jpeg)

    def overlay_snapshot_path(self, session_id: int, stride_id: int) -> Path | None:
        """The key frame with the lines on it, else the plain snapshot, else None."""
        rel = self._snapshot_rel(session_id, stride_id)
        return self.snapshots.overlay(rel) or self.snapshots.path(rel)

    def baseline_session(self, session_id: int) -> int | None:
        """The runner's first session (the same ``runner_id``), None if this is it, the session is
        unknown or it belongs to the unassigned runner (whose sessions are of different people)."""
        with self._lock:
            row = self._db.execute(
                """SELECT MIN(b.id) FROM sessions s JOIN runners r ON r.id = s.runner_id
                   JOIN sessions b ON b.runner_id = s.runner_id WHERE s.id = ? AND r.name != ?""",
                (session_id, UNASSIGNED_RUNNER),
            ).fetchone()
        first = None if row is None or row[0] is None else int(row[0])
        return None if first == session_id else first

    def overview(self, session_id: int) -> dict[str, Any]:
        """What the session page's replay needs: the kept clips, the picks, the starred strides and
        the baseline session's picks."""
        with self._lock:
            starred = [int(r[0]) for r in self._db.execute(
                "SELECT id FROM strides WHERE session_id = ? AND starred = 1 ORDER BY id", (session_id,))]  # fmt: skip
        base = self.baseline_session(session_id)
        baseline = None if base is None else {"session_id": base, "picks": self.picks(base), "clips": self.kept(base)}
        return {
            "session_id": session_id,
            "picks": self.picks(session_id),
            "clips": self.kept(session_id),
            "clips_bytes": self.clips_bytes(session_id),
            "starred": starred,
            "baseline": baseline,
        }
