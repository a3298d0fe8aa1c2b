"""Stride snapshots: small JPEGs in a folder per session beside the database, and the disk's room.

A snapshot is written durably (temp file, fsync, rename, fsync of the folder) under a random name
before the stride row that names it is committed, so a committed row never points at a missing or
empty file. A crash between the two leaves a file no row names; ``remove_unreferenced`` tidies it.

Beside a snapshot ``<name>.jpg`` may sit ``<name>.json``: the pose of that frame as BlazePose gave
it (normalized landmarks, the frame's size, running direction and near leg, and the hip
calibration applied to it, if any), so the clinician can calibrate the hip on a stride's snapshot
(hipcam.service.calibration). It is written before the JPEG; a missing or unreadable one only
means the snapshot cannot be calibrated on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipcam.atomic import atomic_writer, fsync_dir

log = logging.getLogger(__name__)

SNAPSHOT_DIR = "snapshots"
FREE_CHECK_INTERVAL_S = 5.0
POSE_SUFFIX = ".json"
MAX_POSE_BYTES = 64 * 1024


def pose_name(rel: str) -> str:
    """The pose file beside a snapshot (``7/abc.jpg`` -> ``7/abc.json``)."""
    return rel[: -len(".jpg")] + POSE_SUFFIX if rel.endswith(".jpg") else rel + POSE_SUFFIX


@dataclass(frozen=True)
class DiskState:
    free_mb: float
    snapshots_paused: bool


class SnapshotFiles:
    def __init__(self, data_dir: Path, min_free_mb: int) -> None:
        self.data_dir = data_dir
        self.root = data_dir / SNAPSHOT_DIR
        self.min_free_mb = min_free_mb
        self._disk_checked = 0.0
        self._disk = DiskState(free_mb=float("inf"), snapshots_paused=False)
        self.root.mkdir(parents=True, exist_ok=True)

    def write(self, session_id: int, jpeg: bytes, pose: Mapping[str, Any] | None = None) -> str | None:
        """Durably write one JPEG (and its pose beside it); its path relative to the snapshot
        folder, None if the disk refused."""
        rel = f"{session_id}/{uuid.uuid4().hex}.jpg"
        path = self.root / rel
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(exist_ok=True)
                fsync_dir(self.root)
            if pose is not None:
                self._write_pose(rel, pose)
            with atomic_writer(path) as fh:
                fh.write(jpeg)
        except OSError as exc:
            # A full or failing disk must not stop the stride being recorded.
            log.warning("stride snapshot not saved: %s", exc)
            self.remove(rel)
            self._disk_checked = 0.0
            return None
        return rel

    def _write_pose(self, rel: str, pose: Mapping[str, Any]) -> None:
        try:
            text = json.dumps(pose, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:  # a pose that cannot be JSON is left out, the JPEG kept
            log.warning("snapshot pose not saved: %s", exc)
            return
        with atomic_writer(self.root / pose_name(rel)) as fh:
            fh.write(text.encode())

    def pose(self, rel: str | None) -> dict[str, Any] | None:
        """The pose saved beside a snapshot, None if there is none or it is unreadable."""
        if self.path(rel) is None:
            return None
        assert rel is not None
        path = self.root / pose_name(rel)
        try:
            if path.stat().st_size > MAX_POSE_BYTES:
                return None
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove(self, rel: str) -> None:
        for name in (rel, pose_name(rel)):
            with contextlib.suppress(OSError):
                (self.root / name).unlink(missing_ok=True)

    def remove_session(self, session_id: int) -> None:
        shutil.rmtree(self.root / str(session_id), ignore_errors=True)

    def remove_unreferenced(self, session_id: int, named: Iterable[str]) -> None:
        """Files of the session that no row names (a write cut short, or a row never committed)."""
        folder = self.root / str(session_id)
        if not folder.is_dir():
            return
        keep = set(named)
        keep |= {pose_name(rel) for rel in keep}
        with contextlib.suppress(OSError):  # tidying up must never keep the store from opening
            for entry in folder.iterdir():
                if f"{session_id}/{entry.name}" not in keep and entry.is_file():
                    entry.unlink(missing_ok=True)

    def path(self, rel: str | None) -> Path | None:
        """The file behind a stored name, never anything outside the snapshot folder."""
        if not rel:
            return None
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents or not path.is_file():
            return None
        return path

    def disk_state(self) -> DiskState:
        """Free space, checked at most every few seconds (statvfs is cheap, but not free)."""
        now = time.monotonic()
        if now - self._disk_checked >= FREE_CHECK_INTERVAL_S:
            try:
                free_mb = shutil.disk_usage(self.data_dir).free / (1024 * 1024)
            except OSError:
                free_mb = 0.0
            self._disk = DiskState(free_mb=free_mb, snapshots_paused=free_mb < self.min_free_mb)
            self._disk_checked = now
        return self._disk
