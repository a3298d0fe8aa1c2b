"""A session's live-feedback runs in the store: saved whole (the plan and its blocks' results, JSON)
each time a block ends, read back for the session page, its exports and the runner's baseline."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def save(db: sqlite3.Connection, run_id: int | None, session_id: int, run: dict[str, Any]) -> int:
    """Insert (``run_id`` None) or rewrite a run; its id. In the caller's transaction."""
    text = json.dumps(run, separators=(",", ":"), allow_nan=False)
    if run_id is None:
        cur = db.execute(
            "INSERT INTO feedback_runs (session_id, started_at, data) VALUES (?, ?, ?)",
            (session_id, float(run["started_at"]), text),
        )
        return int(cur.lastrowid or 0)
    db.execute("UPDATE feedback_runs SET data = ? WHERE id = ?", (text, run_id))
    return run_id


def of_session(db: sqlite3.Connection, session_id: int) -> list[dict[str, Any]]:
    rows = db.execute("SELECT data FROM feedback_runs WHERE session_id = ? ORDER BY id", (session_id,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def baseline_probe(db: sqlite3.Connection, runner: str, before_session: int) -> dict[str, Any] | None:
    """The runner's first no-feedback probe in an earlier session: what retention is measured against."""
    if not runner:
        return None
    rows = db.execute(
        """SELECT f.session_id, f.data FROM feedback_runs f JOIN sessions s ON s.id = f.session_id
           WHERE s.runner = ? AND f.session_id < ? ORDER BY f.session_id, f.id""",
        (runner, before_session),
    ).fetchall()
    for session_id, data in rows:
        probe = next((b for b in json.loads(data)["blocks"] if b.get("probe") and b.get("strides")), None)
        if probe is not None:
            return {**probe, "session_id": session_id}
    return None


def retention(run: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    """A stored run's no-feedback probes (``pre``, ``post``) beside the runner's ``baseline``."""
    probes = {b["probe"]: b for b in run.get("blocks", []) if b.get("probe") and b.get("ended_at") is not None}
    return {"pre": probes.get("pre"), "post": probes.get("post"), "baseline": baseline}
