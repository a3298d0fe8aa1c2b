"""Runner records: a name (or an ID), optional height and leg length, notes; every session belongs to
one. Sessions recorded before runner records (and those started without a name) belong to the
``unassigned`` runner (schema.UNASSIGNED_RUNNER), which is never compared with itself over time.

A session's ``runner`` text is its runner's name (the unassigned runner's sessions keep theirs, ""
for new ones): hip calibrations and the feedback baselines are keyed by that text, so a rename
rewrites it, and the calibration moves with the name. Names are unique regardless of case.
Part of hipcam.records.store.Store (``store.runners``), sharing its connection, lock and transactions.
"""

from __future__ import annotations

import builtins
import math
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from hipcam.errors import HipcamError
from hipcam.records import hip_calibrations
from hipcam.records.schema import UNASSIGNED_RUNNER

MAX_NAME = 80
MAX_NOTES = 20_000
HEIGHT_CM = (50.0, 250.0)  # a small child to the tallest adults: outside is a typing error
LEG_LENGTH_CM = (20.0, 150.0)  # greater trochanter to the floor
FIELDS = ("name", "height_cm", "leg_length_cm", "notes")
_JOINERS = frozenset("\u200c\u200d")  # format characters that names in some scripts need
_SELECT = """SELECT r.id, r.name, r.height_cm, r.leg_length_cm, r.notes, r.created_at,
                    COUNT(s.id) AS session_count, MAX(s.started_at) AS last_session_at
             FROM runners r LEFT JOIN sessions s ON s.runner_id = r.id"""


class RunnerInvalid(HipcamError, ValueError):
    """A runner's field is not acceptable (the message says which and why)."""


class RunnerNotFound(HipcamError, LookupError):
    """No runner has that id."""


class RunnerConflict(HipcamError):
    """Another runner already has that name."""


def clean_name(value: Any) -> str:
    """A runner's name: text of 1 to MAX_NAME characters (surrounding spaces dropped), no control or
    direction characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise RunnerInvalid(f"a runner's name must be 1 to {MAX_NAME} characters")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in _JOINERS:
            raise RunnerInvalid(f"a runner's name must not contain control or direction characters (U+{ord(ch):04X})")
    return value.strip()


def _length_cm(value: Any, field: str, bounds: tuple[float, float]) -> float | None:
    if value is None:
        return None
    low, high = bounds
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    if not math.isfinite(number) or not low <= number <= high:
        raise RunnerInvalid(f"{field} must be a number from {low:g} to {high:g} cm (or null)")
    return round(float(number), 1)


def _notes(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_NOTES:
        raise RunnerInvalid(f"notes must be text of at most {MAX_NOTES} characters")
    return value


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields, checked; a RunnerInvalid naming the first bad one (or one that is not a field)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "name":
            out[key] = clean_name(value)
        elif key == "height_cm":
            out[key] = _length_cm(value, "height_cm", HEIGHT_CM)
        elif key == "leg_length_cm":
            out[key] = _length_cm(value, "leg_length_cm", LEG_LENGTH_CM)
        elif key == "notes":
            out[key] = _notes(value)
        else:
            raise RunnerInvalid(f"{key} is not a runner field (the fields: {', '.join(FIELDS)})")
    return out


class Runners:
    def __init__(
        self,
        db: sqlite3.Connection,
        lock: threading.RLock,
        tx: Callable[[], AbstractContextManager[sqlite3.Connection]],
        changed: Callable[[], None],
    ) -> None:
        """``changed``: called after a change that may alter the running session's runner text."""
        self._db, self._lock, self._tx, self._changed = db, lock, tx, changed
        with self._lock:
            row = db.execute("SELECT id FROM runners WHERE name = ?", (UNASSIGNED_RUNNER,)).fetchone()
        if row is None:  # only if someone removed it by hand: sessions need somewhere to go
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO runners (name, created_at) VALUES (?, ?)", (UNASSIGNED_RUNNER, time.time())
                )
                row = (cur.lastrowid,)
        self.unassigned_id = int(row[0])

    # ---- reading -------------------------------------------------------------------------
    def _dict(self, row: sqlite3.Row) -> dict[str, Any]:
        return {**dict(row), "unassigned": row["id"] == self.unassigned_id}

    def get(self, runner_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE r.id = ? GROUP BY r.id", (runner_id,)).fetchone()
        return None if row is None else self._dict(row)

    def list(self) -> list[dict[str, Any]]:
        """Every runner, by name (the unassigned runner last), with session counts and the last session's start."""
        with self._lock:
            rows = self._db.execute(
                _SELECT + " GROUP BY r.id ORDER BY r.id = ?, r.name COLLATE NOCASE", (self.unassigned_id,)
            ).fetchall()
        return [self._dict(r) for r in rows]

    def sessions(self, runner_id: int) -> builtins.list[dict[str, Any]]:
        """The runner's sessions, oldest first, with their stride counts."""
        with self._lock:
            rows = self._db.execute(
                """SELECT s.id, s.runner, s.treadmill_speed, s.started_at, s.ended_at, s.notes,
                          COUNT(t.id) AS stride_count
                   FROM sessions s LEFT JOIN strides t ON t.session_id = s.id
                   WHERE s.runner_id = ? GROUP BY s.id ORDER BY s.started_at, s.id""",
                (runner_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def _by_name(self, db: sqlite3.Connection, name: str) -> tuple[int, str] | None:
        folded = name.casefold()
        for runner_id, existing in db.execute("SELECT id, name FROM runners"):
            if existing.casefold() == folded:
                return int(runner_id), str(existing)
        return None

    # ---- writing -------------------------------------------------------------------------
    def create(
        self, name: str, height_cm: float | None = None, leg_length_cm: float | None = None, notes: str = ""
    ) -> dict[str, Any]:
        """A new runner; RunnerInvalid for a bad field, RunnerConflict when the name is taken (any case)."""
        fields = _checked({"name": name, "height_cm": height_cm, "leg_length_cm": leg_length_cm, "notes": notes})
        with self._tx() as db:
            runner_id = self._insert(db, fields)
        found = self.get(runner_id)
        assert found is not None
        return found

    def _insert(self, db: sqlite3.Connection, fields: dict[str, Any]) -> int:
        if (clash := self._by_name(db, fields["name"])) is not None:
            raise RunnerConflict(f"there is already a runner called {clash[1]!r}")
        cur = db.execute(
            "INSERT INTO runners (name, height_cm, leg_length_cm, notes, created_at) VALUES (?, ?, ?, ?, ?)",
            (
                fields["name"],
                fields.get("height_cm"),
                fields.get("leg_length_cm"),
                fields.get("notes", ""),
                time.time(),
            ),
        )
        return int(cur.lastrowid or 0)

    def update(self, runner_id: int, **fields: Any) -> dict[str, Any]:
        """Change some of name, height_cm, leg_length_cm, notes; all checked before anything is written."""
        checked = _checked(fields)
        with self._tx() as db:
            row = db.execute("SELECT name FROM runners WHERE id = ?", (runner_id,)).fetchone()
            if row is None:
                raise RunnerNotFound(f"no runner {runner_id}")
            old, new = str(row[0]), checked.get("name")
            if new is not None and new != old:
                if runner_id == self.unassigned_id:
                    raise RunnerInvalid("the unassigned runner cannot be renamed: move its sessions to a runner")
                clash = self._by_name(db, new)
                if clash is not None and clash[0] != runner_id:
                    raise RunnerConflict(f"there is already a runner called {clash[1]!r}")
                db.execute("UPDATE sessions SET runner = ? WHERE runner_id = ?", (new, runner_id))
                hip_calibrations.rename(db, old, new)
            if checked:
                sets = ", ".join(f"{key} = ?" for key in checked)
                db.execute(f"UPDATE runners SET {sets} WHERE id = ?", (*checked.values(), runner_id))
        self._changed()
        found = self.get(runner_id)
        assert found is not None
        return found

    def resolve(self, db: sqlite3.Connection, runner_id: int | None, name: str = "") -> tuple[int, str]:
        """The runner of a new session and the session's ``runner`` text, in the caller's transaction:
        ``runner_id`` (RunnerNotFound if there is none), else the runner called ``name`` (created if
        new), else the unassigned runner."""
        if runner_id is not None:
            row = db.execute("SELECT name FROM runners WHERE id = ?", (runner_id,)).fetchone()
            if row is None:
                raise RunnerNotFound(f"no runner {runner_id}")
            found: tuple[int, str] | None = (runner_id, str(row[0]))
        elif not name.strip():
            found = None
        else:
            name = clean_name(name)
            found = self._by_name(db, name)
            if found is None:
                return self._insert(db, {"name": name}), name
        if found is None or found[0] == self.unassigned_id:
            return self.unassigned_id, ""
        return found

    def assign(self, session_id: int, runner_id: int) -> bool:
        """Move a session to another runner (RunnerNotFound for an unknown one); False: no such session.
        Its ``runner`` text becomes the runner's name (kept when moved to the unassigned runner)."""
        with self._tx() as db:
            row = db.execute("SELECT name FROM runners WHERE id = ?", (runner_id,)).fetchone()
            if row is None:
                raise RunnerNotFound(f"no runner {runner_id}")
            if runner_id == self.unassigned_id:
                moved = db.execute("UPDATE sessions SET runner_id = ? WHERE id = ?", (runner_id, session_id))
            else:
                moved = db.execute(
                    "UPDATE sessions SET runner_id = ?, runner = ? WHERE id = ?", (runner_id, row[0], session_id)
                )
            done = moved.rowcount > 0
        self._changed()
        return done
