"""Stride snapshots: small JPEGs in a folder per session beside the database, and the disk's room.

A snapshot is written durably (temp file, fsync, rename, fsync of the folder) under a random name
before the stride row that names it is committed, so a committed row never points at a missing or
empty file. A crash between the two leaves a file no row names; ``remove_unreferenced`` tidies it.

Beside a snapshot ``<name>.jpg`` may sit ``<name>.json``: the pose of that frame as BlazePose gave
it (normalized landmarks, the frame's size, running direction and near leg, and the hip
calibration applied to it, if any), so the clinician can calibrate the hip on a stride's snapshot
(hipcam.service.calibration). It is written before the JPEG; a missing or unreadable one only
means the snapshot cannot be calibrated on. And ``<name>.overlay.jpg``: the key frame with the
thigh and trunk lines, the angles and the class drawn on it (hipcam.vision.stride_overlay), written
after the stride row (the plain JPEG stays, for the hip calibration). Replay clips sit in the
session's folder too, under ``clips/`` (hipcam.records.clip_files).

A full disk is told apart from other failures (``is_disk_full``: SQLite's SQLITE_FULL, ENOSPC or
EDQUOT from the OS, an I/O error while the filesystem has no room left) and raised as ``DiskFull``,
so callers can hold the data and retry instead of treating it as corruption. A snapshot that cannot
be written is skipped (the stride is kept) and counted by reason in ``skipped``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipcam.atomic import atomic_writer, fsync_dir
from hipcam.records.schema import StoreError

log = logging.getLogger(__name__)

SNAPSHOT_DIR = "snapshots"
FREE_CHECK_INTERVAL_S = 5.0
POSE_SUFFIX = ".json"
OVERLAY_SUFFIX = ".overlay.jpg"
MAX_POSE_BYTES = 64 * 1024
FULL_BELOW_MB = 1.0  # an I/O error with less room than this on the filesystem is a full disk
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
SKIP_REASONS = ("low_disk", "disk_full", "write_error")  # why a stride's snapshot was not saved


class DiskFull(StoreError):
    """Nothing was written because the disk (or the database's page cap) is full; retry when there
    is room again. The data is fine."""


def free_mb(path: Path) -> float:
    try:
        return shutil.disk_usage(path).free / (1024 * 1024)
    except OSError:
        return 0.0


def is_disk_full(exc: BaseException, data_dir: Path | None = None) -> bool:
    """SQLITE_FULL ("database or disk is full"), ENOSPC/EDQUOT, or an SQLite I/O error (e.g. the WAL
    index cannot grow) while ``data_dir``'s filesystem has no room left."""
    if isinstance(exc, OSError):
        return exc.errno in _FULL_ERRNOS
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc):
        return True
    io_error = (code is not None and (code & 0xFF) == sqlite3.SQLITE_IOERR) or "disk I/O error" in str(exc)
    return io_error and data_dir is not None and free_mb(data_dir) < FULL_BELOW_MB


def pose_name(rel: str) -> str:
    """The pose file beside a snapshot (``7/abc.jpg`` -> ``7/abc.json``)."""
    return rel[: -len(".jpg")] + POSE_SUFFIX if rel.endswith(".jpg") else rel + POSE_SUFFIX


def overlay_name(rel: str) -> str:
    """The overlaid key frame beside a snapshot (``7/abc.jpg`` -> ``7/abc.overlay.jpg``)."""
    return (rel[: -len(".jpg")] if rel.endswith(".jpg") else rel) + OVERLAY_SUFFIX


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
        self.last_error = "write_error"  # why the last write() returned None
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
            self.last_error = "disk_full" if exc.errno in _FULL_ERRNOS else "write_error"
            log.warning("stride snapshot not saved (%s): %s", self.last_error, exc)
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

    def write_overlay(self, rel: str, jpeg: bytes) -> bool:
        """Durably write the overlaid key frame beside snapshot ``rel``; False if the disk refused."""
        if self.path(rel) is None:
            return False
        try:
            with atomic_writer(self.root / overlay_name(rel)) as fh:
                fh.write(jpeg)
        except OSError as exc:
            log.warning("overlaid key frame not saved: %s", exc)
            self._disk_checked = 0.0
            return False
        return True

    def overlay(self, rel: str | None) -> Path | None:
        """The overlaid key frame of snapshot ``rel``, None if there is none."""
        return self.path(overlay_name(rel)) if rel and self.path(rel) is not None else None

    def remove(self, rel: str) -> None:
        for name in (rel, pose_name(rel), overlay_name(rel)):
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
        keep |= {pose_name(rel) for rel in keep} | {overlay_name(rel) for rel in keep}
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
            free = free_mb(self.data_dir)
            self._disk = DiskState(free_mb=free, snapshots_paused=free < self.min_free_mb)
            self._disk_checked = now
        return self._disk
