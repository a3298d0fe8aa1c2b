"""Sessions and strides in SQLite, stride snapshots as small JPEGs next to the database.

Durability choice: WAL with ``synchronous=FULL``. The device sits on an SD card next to a
treadmill and is switched off at the wall; with FULL every commit fsyncs the WAL, so a stride the
page has shown as saved survives a power cut. The price is one WAL fsync per stride (one or two a
second at most), which is nothing next to a frame of inference.

Each stride is committed in one short transaction, after its snapshot file is durably written
(hipcam.records.snapshot_files), so a committed row never points at a missing file. Readers (web
threads) never wait on the frame loop for more than one such commit. One connection guarded by a
lock is enough at this rate. The schema and its migrations: hipcam.records.schema; summaries and
exports: hipcam.records.export.

Hip calibrations (one per runner, the sessions' ``runner`` text) are kept here too
(hipcam.records.hip_calibrations); runner records are ``store.runners`` (hipcam.records.runners).

A full disk is not corruption: a write refused for want of room (SQLITE_FULL, ENOSPC; see
snapshot_files.is_disk_full) raises ``DiskFull`` with nothing half-written, opening on a full disk
says "disk full", and the stride writer (hipcam.service.pipeline) holds strides and retries.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from hipcam.errors import HipcamError
from hipcam.records import export, feedback_runs
from hipcam.records.hip_calibrations import HipCalibration, HipCalibrations
from hipcam.records.replay import Replay
from hipcam.records.runners import Runners
from hipcam.records.schema import DB_NAME, StoreError, migrate, schema_version
from hipcam.records.side_lengths import with_speed
from hipcam.records.snapshot_files import FULL_BELOW_MB, DiskFull, DiskState, SnapshotFiles, free_mb, is_disk_full
from hipcam.records.stride import COLUMNS, FIELD_NAMES, StrideRecord

__all__ = ["DiskFull", "DiskState", "HipCalibration", "SessionConflict", "Store", "StoreError", "StoredStride"]

log = logging.getLogger(__name__)

SESSION_COLUMNS = ("id", "runner", "runner_id", "treadmill_speed", "started_at", "ended_at", "notes")
# Stride columns written by add_stride (the record's fields but the ids the store assigns).
_WRITTEN = tuple(c for c in COLUMNS if c not in ("stride_id", "session_id", "recorded_at", "snapshot", "starred"))
_SESSION_SELECT = f"""{", ".join("s." + c for c in SESSION_COLUMNS)}, r.name AS runner_name,
    COUNT(t.id) AS stride_count FROM sessions s LEFT JOIN strides t ON t.session_id = s.id
    LEFT JOIN runners r ON r.id = s.runner_id"""
_READ = ", ".join("id AS stride_id" if c == "stride_id" else c for c in COLUMNS)


class SessionConflict(HipcamError):
    """A session is already running (start) or the session is not running (stop)."""


class StoredStride(NamedTuple):
    id: int
    snapshot_saved: bool  # False: none given, disk low (snapshots paused) or the write failed


def _stride_from_row(row: sqlite3.Row) -> StrideRecord:
    values = dict(zip(FIELD_NAMES, tuple(row), strict=True))
    if values["back_arch"] is not None:
        values["back_arch"] = bool(values["back_arch"])
    values["starred"] = bool(values["starred"])
    return StrideRecord(**values)


class Store(HipCalibrations):
    def __init__(self, data_dir: Path, min_free_mb: int = 200, *, max_pages: int | None = None) -> None:
        """``max_pages`` caps the database's pages on this connection (``PRAGMA max_page_count``):
        SQLite then refuses writes with SQLITE_FULL exactly as on a full disk (tests)."""
        self.data_dir = Path(data_dir).expanduser()
        self._lock = threading.RLock()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.snapshots = SnapshotFiles(self.data_dir, min_free_mb)
            self._db = sqlite3.connect(
                self.data_dir / DB_NAME, check_same_thread=False, isolation_level=None, timeout=10.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._open_error(exc, "cannot open the session database") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._configure(max_pages)
            migrate(self._db, str(self.data_dir / DB_NAME))
            self._active: int | None = self._close_orphans()
        except (OSError, sqlite3.Error, DiskFull) as exc:
            self._db.close()
            raise self._open_error(exc, "cannot open the session database") from None
        except StoreError:
            self._db.close()
            raise
        self.calibration_version = 0  # goes up with every change of a hip calibration (or of a session's runner)
        self.runners = Runners(self._db, self._lock, self._tx, self._runner_changed)
        self.replay = Replay(self._db, self._lock, self._tx, self.snapshots)  # landmarks, stars, clips: records.replay
        if (free := free_mb(self.data_dir)) < FULL_BELOW_MB:  # the one start-up line
            log.warning(
                "disk full: %.1f MiB free on %s; strides will not be saved until there is room", free, self.data_dir
            )

    def _open_error(self, exc: BaseException, what: str) -> StoreError:
        where = self.data_dir / DB_NAME
        if isinstance(exc, DiskFull) or is_disk_full(exc, self.data_dir):
            free = free_mb(self.data_dir)
            return DiskFull(f"{where}: disk full ({free:.1f} MiB free): {what}; free some space and start again")
        return StoreError(f"{where}: {what} ({exc})")

    # ---- set-up ------------------------------------------------------------------------
    def _configure(self, max_pages: int | None) -> None:
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc, self.data_dir):
                raise
            raise StoreError(f"{self.data_dir / DB_NAME}: not a usable SQLite database ({exc})") from None
        if max_pages is not None:
            self.cap_pages(max_pages)

    def cap_pages(self, max_pages: int) -> int:
        """Cap the database at this many pages (never below its size); the cap in force. A test hook:
        a cap reached behaves as a full disk."""
        with self._lock:
            return int(self._db.execute(f"PRAGMA max_page_count = {int(max_pages)}").fetchone()[0])

    def page_count(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA page_count").fetchone()[0])

    def _close_orphans(self) -> int | None:
        """A session left open by a power cut is closed at its last stride (or its start)."""
        with self._lock:
            open_ids = [int(r[0]) for r in self._db.execute("SELECT id FROM sessions WHERE ended_at IS NULL")]
        # Tidy first, close second: a kill between the two must leave the session open, so the
        # next start tidies it again (closed sessions are never looked at).
        for session_id in open_ids:
            with self._lock:
                named = [
                    r[0]
                    for r in self._db.execute(
                        "SELECT snapshot FROM strides WHERE session_id = ? AND snapshot IS NOT NULL", (session_id,)
                    )
                ]
            self.snapshots.remove_unreferenced(session_id, named)
        with self._tx() as db:
            db.execute(
                """UPDATE sessions SET ended_at = COALESCE(
                       (SELECT MAX(recorded_at) FROM strides WHERE session_id = sessions.id), started_at),
                       notes = notes || CASE WHEN notes = '' THEN '' ELSE char(10) END
                               || '[closed automatically after a restart]'
                   WHERE ended_at IS NULL"""
            )
        return None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a full disk raises DiskFull with the transaction rolled back."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if is_disk_full(exc, self.data_dir):
                    raise DiskFull(f"disk full: nothing was saved ({exc}); free some space") from exc
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def schema_version(self) -> int:
        with self._lock:
            return schema_version(self._db)

    # ---- sessions ----------------------------------------------------------------------
    @property
    def active_session_id(self) -> int | None:
        return self._active

    def start_session(
        self, runner: str = "", treadmill_speed: float | None = None, *, runner_id: int | None = None
    ) -> dict[str, Any]:
        """A new session of runner ``runner_id`` (RunnerNotFound if none), else of the runner called
        ``runner`` (created if new), else of the unassigned runner."""
        with self._lock:
            if self._active is not None:
                raise SessionConflict(f"session {self._active} is already running; stop it first")
            with self._tx() as db:
                rid, text = self.runners.resolve(db, runner_id, runner)
                cur = db.execute(
                    "INSERT INTO sessions (runner, runner_id, treadmill_speed, started_at) VALUES (?, ?, ?, ?)",
                    (text, rid, treadmill_speed, time.time()),
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
            self.snapshots.remove_session(session_id)
        return deleted

    def get_session(self, session_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                f"""SELECT {_SESSION_SELECT} WHERE s.id = ? GROUP BY s.id""",
                (session_id,),
            ).fetchone()
        return self._session_dict(row) if row is not None else None

    def list_sessions(self, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                f"""SELECT {_SESSION_SELECT} GROUP BY s.id ORDER BY s.id DESC LIMIT ? OFFSET ?""",
                (limit, offset),
            ).fetchall()
        return [self._session_dict(r) for r in rows]

    def _session_dict(self, row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["active"] = d["id"] == self._active
        return d

    # ---- strides -----------------------------------------------------------------------
    def add_stride(
        self,
        session_id: int,
        stride: StrideRecord,
        snapshot_jpeg: bytes | None = None,
        snapshot_pose: Mapping[str, Any] | None = None,
        recorded_at: float | None = None,
    ) -> StoredStride:
        """Write the snapshot (and its pose, if the disk allows), then commit the stride naming it in
        one transaction. ``recorded_at``: when it was first handed over (a stride held while the
        disk was full keeps its time). Raises DiskFull when the row cannot be written for want of room."""
        snapshot_rel: str | None = None
        if snapshot_jpeg is not None and not self.disk_state().snapshots_paused:
            snapshot_rel = self.snapshots.write(session_id, snapshot_jpeg, snapshot_pose)
        with self._lock:  # step and stride length from the session's belt speed (records.side_lengths)
            speed = self._db.execute("SELECT treadmill_speed FROM sessions WHERE id = ?", (session_id,)).fetchone()
        row = with_speed(stride, speed[0] if speed else None).to_json()
        values = [row[c] for c in _WRITTEN] + [session_id, recorded_at or time.time(), snapshot_rel]
        names = [*_WRITTEN, "session_id", "recorded_at", "snapshot"]
        try:
            with self._tx() as db:
                cur = db.execute(
                    f"INSERT INTO strides ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values
                )
                stride_id = int(cur.lastrowid or 0)
        except BaseException:
            if snapshot_rel is not None:  # no row names it (e.g. the session was just deleted)
                self.snapshots.remove(snapshot_rel)
            raise
        return StoredStride(stride_id, snapshot_rel is not None)

    def strides(self, session_id: int) -> list[StrideRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_READ} FROM strides WHERE session_id = ? ORDER BY id", (session_id,)
            ).fetchall()
        return [_stride_from_row(r) for r in rows]

    def _snapshot_rel(self, session_id: int, stride_id: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT snapshot FROM strides WHERE id = ? AND session_id = ?", (stride_id, session_id)
            ).fetchone()
        return None if row is None else row["snapshot"]

    def snapshot_path(self, session_id: int, stride_id: int) -> Path | None:
        return self.snapshots.path(self._snapshot_rel(session_id, stride_id))

    def snapshot_pose(self, session_id: int, stride_id: int) -> dict[str, Any] | None:
        """The pose saved with a stride's snapshot (snapshot_files), None without one."""
        return self.snapshots.pose(self._snapshot_rel(session_id, stride_id))

    def disk_state(self) -> DiskState:
        return self.snapshots.disk_state()

    # ---- runners (hip calibrations: hipcam.records.hip_calibrations) ------------------------
    def _runner_changed(self) -> None:
        """A session's runner text may have changed: the frame loop re-reads the calibration."""
        self.calibration_version += 1

    # ---- live-feedback runs --------------------------------------------------------------
    def save_feedback_run(self, run_id: int | None, session_id: int, run: dict[str, Any]) -> int:
        """Store a feedback run (new when ``run_id`` is None); its id. DiskFull on a full disk."""
        with self._tx() as db:
            return feedback_runs.save(db, run_id, session_id, run)

    def feedback_runs(self, session_id: int) -> list[dict[str, Any]]:
        """The session's feedback runs, each with its retention (the probes, the runner's baseline)."""
        with self._lock:
            runs = feedback_runs.of_session(self._db, session_id)
            row = self._db.execute("SELECT runner FROM sessions WHERE id = ?", (session_id,)).fetchone()
            baseline = feedback_runs.baseline_probe(self._db, row[0] if row else "", session_id) if runs else None
        return [{**run, "retention": feedback_runs.retention(run, baseline)} for run in runs]

    # ---- summaries and exports -----------------------------------------------------------
    def session_summary(self, session_id: int) -> dict[str, Any]:
        return export.session_summary(self.strides(session_id))

    def export_json(self, session_id: int) -> dict[str, Any] | None:
        session = self.get_session(session_id)
        if session is None:
            return None
        return {**export.export_json(session, self.strides(session_id)), "feedback": self.feedback_runs(session_id)}

    def export_csv(self, session_id: int) -> str | None:
        return None if self.get_session(session_id) is None else export.export_csv(self.strides(session_id))
