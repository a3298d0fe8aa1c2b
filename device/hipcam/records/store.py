"""Sessions and strides in SQLite, stride snapshots as small JPEGs next to the database.

Durability choice: WAL with ``synchronous=FULL``. The device sits on an SD card next to a
treadmill and is switched off at the wall; with FULL every commit fsyncs the WAL, so a stride the
page has shown as saved survives a power cut. The price is one WAL fsync per stride (one or two a
second at most), which is nothing next to a frame of inference. NORMAL would keep the database
consistent but may drop the last strides of a session on power loss.

Each stride is committed in one short transaction (one WAL fsync). A stride with a snapshot writes
the JPEG first (temp file, fsync, rename, fsync of the folder) under a name that does not need the
row id, then commits the row that names it, so a committed row never points at a missing or empty
file. A crash between the two leaves a file no row names: harmless, and removed when the store is
next opened. Readers (web threads) never wait on the frame loop for more than one such commit. One
connection guarded by a lock is enough at this rate.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from hipcam.atomic import atomic_writer, fsync_dir
from hipcam.errors import HipcamError
from hipcam.service.state import StrideRecord

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_NAME = "hipcam.sqlite3"
SNAPSHOT_DIR = "snapshots"
FREE_CHECK_INTERVAL_S = 5.0

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        runner TEXT NOT NULL DEFAULT '',
        treadmill_speed REAL,
        started_at REAL NOT NULL,
        ended_at REAL,
        notes TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE strides (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        leg TEXT NOT NULL CHECK (leg IN ('left', 'right')),
        frame_start INTEGER,
        frame_end INTEGER,
        peak_frame INTEGER,
        t_start REAL,
        t_end REAL,
        recorded_at REAL NOT NULL,
        thigh_peak_deg REAL,
        trunk_lean_deg REAL,
        hip_extension_deg REAL,
        back_arch INTEGER,
        lumbar_depth_ratio REAL,
        class TEXT NOT NULL CHECK (class IN ('A', 'B', 'C', 'D', 'U')),
        confidence REAL,
        snapshot TEXT
    );
    CREATE INDEX strides_session ON strides(session_id, id);
    """,
}

STRIDE_COLUMNS = (
    "id", "session_id", "leg", "frame_start", "frame_end", "peak_frame", "t_start", "t_end", "recorded_at",
    "thigh_peak_deg", "trunk_lean_deg", "hip_extension_deg", "back_arch", "lumbar_depth_ratio", "class",
    "confidence", "snapshot",
)  # fmt: skip
SESSION_COLUMNS = ("id", "runner", "treadmill_speed", "started_at", "ended_at", "notes")


class StoreError(HipcamError):
    """The session database cannot be opened or is from a newer hipcam."""


class SessionConflict(HipcamError):
    """A session is already running (start) or the session is not running (stop)."""


class StoredStride(NamedTuple):
    id: int
    snapshot_saved: bool  # False: none given, disk low (snapshots paused) or the write failed


@dataclass(frozen=True)
class DiskState:
    free_mb: float
    snapshots_paused: bool


class Store:
    def __init__(self, data_dir: Path, min_free_mb: int = 200) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.snapshot_root = self.data_dir / SNAPSHOT_DIR
        self.min_free_mb = min_free_mb
        self._lock = threading.RLock()
        self._disk_checked = 0.0
        self._disk = DiskState(free_mb=float("inf"), snapshots_paused=False)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.snapshot_root.mkdir(exist_ok=True)
            self._db = sqlite3.connect(
                self.data_dir / DB_NAME, check_same_thread=False, isolation_level=None, timeout=10.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.data_dir}: cannot open the session database ({exc})") from None
        self._db.row_factory = sqlite3.Row
        self._configure()
        self._migrate()
        self._active: int | None = self._close_orphans()

    # ---- set-up ------------------------------------------------------------------------
    def _configure(self) -> None:
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.data_dir / DB_NAME}: not a usable SQLite database ({exc})") from None

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.data_dir / DB_NAME}: schema version {version} is newer than this hipcam ({SCHEMA_VERSION})"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx() as db:
                # executescript would commit on its own; run the statements one by one instead.
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={target}")

    def _close_orphans(self) -> int | None:
        """A session left open by a power cut is closed at its last stride (or its start)."""
        with self._lock:
            open_ids = [int(r[0]) for r in self._db.execute("SELECT id FROM sessions WHERE ended_at IS NULL")]
        # Tidy first, close second: a kill between the two must leave the session open, so the
        # next start tidies it again (closed sessions are never looked at).
        for session_id in open_ids:
            self._remove_unreferenced_snapshots(session_id)
        with self._tx() as db:
            db.execute(
                """UPDATE sessions SET ended_at = COALESCE(
                       (SELECT MAX(recorded_at) FROM strides WHERE session_id = sessions.id), started_at),
                       notes = notes || CASE WHEN notes = '' THEN '' ELSE char(10) END
                               || '[closed automatically after a restart]'
                   WHERE ended_at IS NULL"""
            )
        return None

    def _remove_unreferenced_snapshots(self, session_id: int) -> None:
        """Files of a session interrupted between snapshot write and row commit (or mid-write).

        Only sessions found open are looked at (a crash can only interrupt those), so this is one
        folder listing per crash, not a walk over the whole history."""
        folder = self.snapshot_root / str(session_id)
        if not folder.is_dir():
            return
        with self._lock:
            named = {
                r[0]
                for r in self._db.execute(
                    "SELECT snapshot FROM strides WHERE session_id = ? AND snapshot IS NOT NULL", (session_id,)
                )
            }
        with contextlib.suppress(OSError):  # tidying up must never keep the store from opening
            for entry in folder.iterdir():
                if f"{session_id}/{entry.name}" not in named and entry.is_file():
                    entry.unlink(missing_ok=True)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # ---- sessions ----------------------------------------------------------------------
    @property
    def active_session_id(self) -> int | None:
        return self._active

    def start_session(self, runner: str = "", treadmill_speed: float | None = None) -> dict[str, Any]:
        with self._lock:
            if self._active is not None:
                raise SessionConflict(f"session {self._active} is already running; stop it first")
            with self._tx() as db:
                cur = db.execute(
                    "INSERT INTO sessions (runner, treadmill_speed, started_at) VALUES (?, ?, ?)",
                    (runner, treadmill_speed, time.time()),
                )
                session_id = int(cur.lastrowid or 0)
            self._active = session_id
        session = self.get_session(session_id)
        assert session is not None
        return session

    def stop_session(self, session_id: int | None = None) -> dict[str, Any]:
        with self._lock:
            if self._active is None or (session_id is not None and session_id != self._active):
                raise SessionConflict(
                    "no session is running" if self._active is None else "that session is not running"
                )
            sid = self._active
            with self._tx() as db:
                db.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (time.time(), sid))
            self._active = None
        session = self.get_session(sid)
        assert session is not None
        return session

    def set_notes(self, session_id: int, notes: str) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE sessions SET notes = ? WHERE id = ?", (notes, session_id)).rowcount > 0

    def delete_session(self, session_id: int) -> bool:
        with self._lock:
            if session_id == self._active:
                raise SessionConflict("stop the session before deleting it")
            with self._tx() as db:
                deleted = db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0
        if deleted:
            shutil.rmtree(self.snapshot_root / str(session_id), ignore_errors=True)
        return deleted

    def get_session(self, session_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                f"""SELECT {", ".join("s." + c for c in SESSION_COLUMNS)}, COUNT(t.id) AS stride_count
                    FROM sessions s LEFT JOIN strides t ON t.session_id = s.id
                    WHERE s.id = ? GROUP BY s.id""",
                (session_id,),
            ).fetchone()
        return self._session_dict(row) if row is not None else None

    def list_sessions(self, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                f"""SELECT {", ".join("s." + c for c in SESSION_COLUMNS)}, COUNT(t.id) AS stride_count
                    FROM sessions s LEFT JOIN strides t ON t.session_id = s.id
                    GROUP BY s.id ORDER BY s.id DESC LIMIT ? OFFSET ?""",
                (limit, offset),
            ).fetchall()
        return [self._session_dict(r) for r in rows]

    def _session_dict(self, row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["active"] = d["id"] == self._active
        return d

    # ---- strides -----------------------------------------------------------------------
    def add_stride(self, session_id: int, stride: StrideRecord, snapshot_jpeg: bytes | None = None) -> StoredStride:
        """Write the snapshot (if the disk allows), then commit the stride naming it in one transaction."""
        snapshot_rel: str | None = None
        if snapshot_jpeg is not None and not self.disk_state().snapshots_paused:
            snapshot_rel = self._write_snapshot(session_id, snapshot_jpeg)
        try:
            with self._tx() as db:
                cur = db.execute(
                    """INSERT INTO strides (session_id, leg, frame_start, frame_end, peak_frame, t_start, t_end,
                           recorded_at, thigh_peak_deg, trunk_lean_deg, hip_extension_deg, back_arch,
                           lumbar_depth_ratio, class, confidence, snapshot)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        session_id, stride.leg, stride.frame_start, stride.frame_end, stride.peak_frame,
                        stride.t_start, stride.t_end, time.time(), stride.thigh_peak_deg, stride.trunk_lean_deg,
                        stride.hip_extension_deg, stride.back_arch, stride.lumbar_depth_ratio, stride.cls,
                        stride.confidence, snapshot_rel,
                    ),
                )  # fmt: skip
                stride_id = int(cur.lastrowid or 0)
        except BaseException:
            if snapshot_rel is not None:  # no row names it (e.g. the session was just deleted)
                with contextlib.suppress(OSError):
                    (self.snapshot_root / snapshot_rel).unlink(missing_ok=True)
            raise
        return StoredStride(stride_id, snapshot_rel is not None)

    def _write_snapshot(self, session_id: int, jpeg: bytes) -> str | None:
        """Durably write one JPEG; its path relative to the snapshot folder, None if the disk refused."""
        rel = f"{session_id}/{uuid.uuid4().hex}.jpg"
        path = self.snapshot_root / rel
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(exist_ok=True)
                fsync_dir(self.snapshot_root)
            with atomic_writer(path) as fh:  # temp file, write, fsync, rename, fsync of the folder
                fh.write(jpeg)
        except OSError as exc:
            # A full or failing disk must not stop the stride being recorded.
            log.warning("stride snapshot not saved: %s", exc)
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            self._disk_checked = 0.0
            return None
        return rel

    def strides(self, session_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(STRIDE_COLUMNS)} FROM strides WHERE session_id = ? ORDER BY id", (session_id,)
            ).fetchall()
        return [dict(r) for r in rows]

    def snapshot_path(self, session_id: int, stride_id: int) -> Path | None:
        with self._lock:
            row = self._db.execute(
                "SELECT snapshot FROM strides WHERE id = ? AND session_id = ?", (stride_id, session_id)
            ).fetchone()
        if row is None or not row["snapshot"]:
            return None
        path = (self.snapshot_root / row["snapshot"]).resolve()
        # The name comes from our own database, but never serve anything outside the snapshot folder.
        if self.snapshot_root.resolve() not in path.parents or not path.is_file():
            return None
        return path

    # ---- disk --------------------------------------------------------------------------
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

    # ---- export ------------------------------------------------------------------------
    def session_summary(self, session_id: int) -> dict[str, Any]:
        rows = self.strides(session_id)
        per_leg: dict[str, dict[str, Any]] = {}
        for leg in ("left", "right"):
            leg_rows = [r for r in rows if r["leg"] == leg]
            counts = {c: sum(1 for r in leg_rows if r["class"] == c) for c in ("A", "B", "C", "D", "U")}
            ext = [r["hip_extension_deg"] for r in leg_rows if r["hip_extension_deg"] is not None]
            per_leg[leg] = {
                "strides": len(leg_rows),
                "counts": counts,
                "hip_extension_mean_deg": round(sum(ext) / len(ext), 1) if ext else None,
                "hip_extension_max_deg": round(max(ext), 1) if ext else None,
            }
        # Best/worst among classified strides (an unclassified one may be a tracking glitch).
        with_ext = [r for r in rows if r["hip_extension_deg"] is not None and r["class"] != "U"]
        best = max(with_ext, key=lambda r: r["hip_extension_deg"], default=None)
        worst = min(with_ext, key=lambda r: r["hip_extension_deg"], default=None)
        return {
            "legs": per_leg,
            "best_stride_id": best["id"] if best else None,
            "worst_stride_id": worst["id"] if worst else None,
        }

    def export_json(self, session_id: int) -> dict[str, Any] | None:
        session = self.get_session(session_id)
        if session is None:
            return None
        return {
            "schema_version": SCHEMA_VERSION,
            "session": session,
            "summary": self.session_summary(session_id),
            "strides": self.strides(session_id),
        }

    def export_csv(self, session_id: int) -> str | None:
        if self.get_session(session_id) is None:
            return None
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(STRIDE_COLUMNS)
        for row in self.strides(session_id):
            writer.writerow([_csv_cell(row[c]) for c in STRIDE_COLUMNS])
        return out.getvalue()


def _csv_cell(value: Any) -> Any:
    # Spreadsheet formula injection: the runner name is free text; strides hold numbers only,
    # but guard every string cell anyway.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
