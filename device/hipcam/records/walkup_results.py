"""Walk-up check results (docs/walkup.md), in their own small SQLite file beside the sessions'.

No personal data by design: a result row is its id, when it finished and the card's figures (per
leg the pattern and the two angles, the cue); there is no column for a name, and nothing links a
result to a session. Rows older than ``walkup.keep_hours`` are deleted (``purge``); the count of
checks per day is kept in its own table for the gym and is never deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WALKUP_FILE = "walkup.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at REAL NOT NULL,
    card TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_finished ON results (finished_at);
CREATE TABLE IF NOT EXISTS daily_counts (
    day TEXT PRIMARY KEY,
    checks INTEGER NOT NULL
);
"""


def day_of(t: float) -> str:
    """The local calendar day of wall-clock time ``t`` (``2026-12-02``): the gym's day."""
    return dt.datetime.fromtimestamp(t).date().isoformat()


class WalkupResults:
    """Thread-safe; every write is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def save(self, card: Mapping[str, Any], finished_at: float) -> tuple[int, str, int]:
        """Keep one result; (its id, its day, that day's count of checks)."""
        day = day_of(finished_at)
        text = json.dumps(card, separators=(",", ":"), allow_nan=False)
        with self._lock, self._db:
            self._db.execute("BEGIN")
            cur = self._db.execute("INSERT INTO results (finished_at, card) VALUES (?, ?)", (finished_at, text))
            self._db.execute(
                "INSERT INTO daily_counts (day, checks) VALUES (?, 1) ON CONFLICT(day) DO UPDATE SET checks = checks + 1",
                (day,),
            )
            (count,) = self._db.execute("SELECT checks FROM daily_counts WHERE day = ?", (day,)).fetchone()
        return int(cur.lastrowid or 0), day, int(count)

    def purge(self, keep_hours: float, now: float) -> int:
        """Delete the results older than ``keep_hours``; how many went. The daily counts stay."""
        with self._lock:
            cur = self._db.execute("DELETE FROM results WHERE finished_at < ?", (now - keep_hours * 3600.0,))
        return int(cur.rowcount)

    def results(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, finished_at, card FROM results ORDER BY id").fetchall()
        return [{"id": r[0], "finished_at": r[1], "card": json.loads(r[2])} for r in rows]

    def daily_counts(self, days: int = 31) -> dict[str, int]:
        """Checks per day, the newest ``days`` days that had any."""
        with self._lock:
            rows = self._db.execute(
                "SELECT day, checks FROM daily_counts ORDER BY day DESC LIMIT ?", (days,)
            ).fetchall()
        return {day: int(n) for day, n in reversed(rows)}

    def count_on(self, day: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT checks FROM daily_counts WHERE day = ?", (day,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
