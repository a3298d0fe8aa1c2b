"""Hip calibrations in the store: one per runner (the sessions' ``runner`` text, which is the runner
record's name), the geometry is hipcam.gait.calibration's. A mixin of hipcam.records.store.Store, so
its public methods stay the store's; ``calibration_version`` goes up with every change, so the frame
loop notices one with an attribute read."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

from hipcam.domain import LEGS


@dataclass(frozen=True)
class HipCalibration:
    """A runner's hip calibration: the greater trochanter minus the near-side hip landmark, in trunk
    lengths of the pelvis frame (hipcam.gait.calibration). ``source``: where it was tapped."""

    runner: str
    forward: float
    up: float
    near_leg: str | None
    updated_at: float
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["forward"], out["up"] = round(self.forward, 4), round(self.up, 4)
        out["updated_at"] = round(self.updated_at, 3)
        return out


class HipCalibrations:
    """The store's hip-calibration methods (Store provides the connection, lock and transactions)."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    calibration_version: int

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:  # Store's
        raise NotImplementedError

    def runner_known(self, runner: str) -> bool:
        """A session of this runner exists (the sessions' ``runner`` text)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM sessions WHERE runner = ? LIMIT 1", (runner,)).fetchone() is not None

    def set_hip_calibration(
        self, runner: str, forward: float, up: float, near_leg: str | None = None, source: str = ""
    ) -> HipCalibration:
        """Save (replace) a runner's calibration. Refuses an empty runner or a value that is not a number."""
        if not runner:
            raise ValueError("a hip calibration needs the runner's name")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (forward, up)):
            raise ValueError("hip calibration offsets must be numbers")
        if near_leg is not None and near_leg not in LEGS:
            raise ValueError(f"near leg must be one of {', '.join(LEGS)}")
        cal = HipCalibration(runner, float(forward), float(up), near_leg, time.time(), source)
        with self._tx() as db:
            db.execute(
                """INSERT INTO hip_calibrations (runner, forward, up, near_leg, updated_at, source)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT(runner) DO UPDATE SET forward = excluded.forward, up = excluded.up,
                       near_leg = excluded.near_leg, updated_at = excluded.updated_at, source = excluded.source""",
                (cal.runner, cal.forward, cal.up, cal.near_leg, cal.updated_at, cal.source),
            )
            self.calibration_version += 1
        return cal

    def hip_calibration(self, runner: str | None) -> HipCalibration | None:
        if not runner:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT runner, forward, up, near_leg, updated_at, source FROM hip_calibrations WHERE runner = ?",
                (runner,),
            ).fetchone()
        return None if row is None else HipCalibration(**dict(row))

    def clear_hip_calibration(self, runner: str) -> bool:
        with self._tx() as db:
            removed = db.execute("DELETE FROM hip_calibrations WHERE runner = ?", (runner,)).rowcount > 0
            self.calibration_version += 1
        return removed


def rename(db: sqlite3.Connection, old: str, new: str) -> None:
    """A renamed runner keeps their calibration (in the caller's transaction)."""
    if old == new or not old:
        return
    if db.execute("SELECT 1 FROM hip_calibrations WHERE runner = ?", (old,)).fetchone() is not None:
        db.execute("DELETE FROM hip_calibrations WHERE runner = ?", (new,))
        db.execute("UPDATE hip_calibrations SET runner = ? WHERE runner = ?", (new, old))
