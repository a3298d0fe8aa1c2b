"""A database as the current release writes it (schema 5: migrations 1..5 only) opens with runner
records (schema 6+): every session is listed under the unassigned runner with its strides, notes,
runner text, hip calibration and feedback run intact, and the calibration still applies by name."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from hipcam.records import progress
from hipcam.records.schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION, UNASSIGNED_RUNNER
from hipcam.records.store import Store

RUN = {
    "started_at": 1000.5,
    "plan": {"target": "pattern_b"},
    "blocks": [{"probe": "pre", "strides": 9, "ended_at": 1030.0}],
}


def _release_5_database(data: Path) -> None:
    data.mkdir()
    db = sqlite3.connect(data / DB_NAME, isolation_level=None)
    for version in range(1, 6):
        db.execute("BEGIN")
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version={version}")
        db.execute("COMMIT")
    db.execute(
        "INSERT INTO sessions (runner, treadmill_speed, started_at, ended_at, notes) VALUES ('Ann Lee', 10.5, 1000, 1100, 'first visit')"
    )
    db.execute("INSERT INTO sessions (runner, started_at, ended_at) VALUES ('', 2000, 2050)")
    for i in range(8):
        db.execute(
            """INSERT INTO strides (session_id, leg, class, t_start, t_end, duration_s, recorded_at,
                   hip_extension_at_toe_off_deg, trunk_lean_at_toe_off_deg) VALUES (1, ?, ?, ?, ?, 0.76, ?, ?, 4.0)""",
            ("left" if i % 2 else "right", "AB"[i % 2], i * 0.4, i * 0.4 + 0.76, 1000 + i, 10.0 + i),
        )
    db.execute("INSERT INTO strides (session_id, leg, class, recorded_at) VALUES (2, 'left', 'unknown', 2001)")
    db.execute("INSERT INTO hip_calibrations VALUES ('Ann Lee', 0.04, -0.03, 'right', 1050, 'stride 3')")
    db.execute("INSERT INTO feedback_runs (session_id, started_at, data) VALUES (1, 1000.5, ?)", (json.dumps(RUN),))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 5
    db.close()


def test_a_release_5_database_opens_with_every_session_unassigned(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _release_5_database(data)
    store = Store(data)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        unassigned = store.runners.unassigned_id
        assert [(r["name"], r["session_count"]) for r in store.runners.list()] == [(UNASSIGNED_RUNNER, 2)]
        sessions = store.list_sessions()
        assert [(s["id"], s["runner"], s["runner_id"], s["runner_name"], s["stride_count"]) for s in sessions] == [
            (2, "", unassigned, UNASSIGNED_RUNNER, 1),
            (1, "Ann Lee", unassigned, UNASSIGNED_RUNNER, 8),
        ]
        first = store.get_session(1)
        assert first is not None and (first["notes"], first["treadmill_speed"], first["ended_at"]) == (
            "first visit",
            10.5,
            1100,
        )
        assert [s["id"] for s in store.runners.sessions(unassigned)] == [1, 2]
        strides = store.strides(1)
        assert [s.hip_extension_at_toe_off_deg for s in strides] == [10.0 + i for i in range(8)]
        assert [s.cls for s in strides] == ["A", "B"] * 4 and strides[0].knee_flexion_at_strike_deg is None
        cal = store.hip_calibration("Ann Lee")
        assert cal is not None and (cal.forward, cal.up, cal.near_leg, cal.source) == (0.04, -0.03, "right", "stride 3")
        runs = store.feedback_runs(1)
        assert len(runs) == 1 and runs[0]["plan"] == RUN["plan"] and runs[0]["blocks"] == RUN["blocks"]
        assert progress.session_change(store, 2) is None  # unassigned sessions are never compared
        # The clinician gives Ann her record: the session moves, its text and calibration still match.
        ann = store.runners.create("Ann Lee")
        assert store.runners.assign(1, ann["id"])
        moved = store.get_session(1)
        assert moved is not None and (moved["runner_id"], moved["runner"]) == (ann["id"], "Ann Lee")
        assert store.hip_calibration(moved["runner"]) is not None and len(store.strides(1)) == 8
    finally:
        store.close()
    again = Store(data)  # a second opening migrates nothing again
    try:
        assert [r["name"] for r in again.runners.list()] == ["Ann Lee", UNASSIGNED_RUNNER]
    finally:
        again.close()
