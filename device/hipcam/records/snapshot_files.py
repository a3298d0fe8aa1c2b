"""Stride snapshots: small JPEGs in a folder per session beside the database, and the disk's room.

A snapshot is written durably (temp file, fsync, rename, fsync of the folder) under a random name
before the stride row that names it is committed, so a committed row never points at a missing or
empty file. A crash between the two leaves a file no row names; ``remove_unreferenced`` tidies it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hipcam.atomic import atomic_writer, fsync_dir

log = logging.getLogger(__name__)

SNAPSHOT_DIR = "snapshots"
FREE_CHECK_INTERVAL_S = 5.0


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

    def write(self, session_id: int, jpeg: bytes) -> str | None:
        """Durably write one JPEG; its path relative to the snapshot folder, None if the disk refused."""
        rel = f"{session_id}/{uuid.uuid4().hex}.jpg"
        path = self.root / rel
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(exist_ok=True)
                fsync_dir(self.root)
            with atomic_writer(path) as fh:
                fh.write(jpeg)
        except OSError as exc:
            # A full or failing disk must not stop the stride being recorded.
            log.warning("stride snapshot not saved: %s", exc)
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            self._disk_checked = 0.0
            return None
        return rel

    def remove(self, rel: str) -> None:
        with contextlib.suppress(OSError):
            (self.root / rel).unlink(missing_ok=True)

    def remove_session(self, session_id: int) -> None:
        shutil.rmtree(self.root / str(session_id), ignore_errors=True)

    def remove_unreferenced(self, session_id: int, named: Iterable[str]) -> None:
        """Files of the session that no row names (a write cut short, or a row never committed)."""
        folder = self.root / str(session_id)
        if not folder.is_dir():
            return
        keep = set(named)
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
