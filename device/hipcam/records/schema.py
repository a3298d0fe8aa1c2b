"""The session database's schema and its migrations (``PRAGMA user_version`` is the version).

Each migration runs in one transaction, so a database is at one version or the next, never between.
Version 1 is the first release's; version 2 gives a stride the one record shape
(hipcam.records.stride): ``frame_start``/``frame_end`` become ``foot_strike_frame``/``end_frame``,
unclassified strides are ``unknown`` (were ``U``), and the stride's timing and back measures are kept.
Version 3 adds the angles at toe-off, the near-side trunk's midpoint twin and the hip-extension
uncertainty (NULL for strides recorded before).
Version 4 adds ``hip_calibrations``: per runner (the sessions' ``runner`` text), the clinician's
hip calibration as an offset in the pelvis frame (hipcam.gait.calibration), in trunk lengths.
Version 5 adds the live-feedback runs. Version 6 adds runner records: every session belongs to one,
sessions from before go to the ``unassigned`` runner (their ``runner`` text is kept). Version 7 adds
the side-view metric set per stride (hipcam.gait.side_metrics, docs/side-view-metrics.md).
Version 8 adds what replays a stride: its landmarks, a star, and the clip files kept.
"""

from __future__ import annotations

import sqlite3

from hipcam.domain import CLASSES, UNKNOWN
from hipcam.errors import HipcamError

SCHEMA_VERSION = 8
UNASSIGNED_RUNNER = "unassigned"  # the runner of the sessions recorded before runner records
DB_NAME = "hipcam.sqlite3"

_V1 = """
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
"""

_CLASSES_SQL = ", ".join(f"'{c}'" for c in CLASSES)

# SQLite cannot change a CHECK constraint in place: the table is rebuilt and the rows copied
# (release 1 stored an unclassified stride as 'U').
_V2 = f"""
CREATE TABLE strides_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    leg TEXT NOT NULL CHECK (leg IN ('left', 'right')),
    class TEXT NOT NULL CHECK (class IN ({_CLASSES_SQL})),
    confidence REAL,
    foot_strike_frame INTEGER,
    toe_off_frame INTEGER,
    end_frame INTEGER,
    peak_frame INTEGER,
    t_start REAL,
    t_end REAL,
    duration_s REAL,
    stance_s REAL,
    swing_s REAL,
    thigh_peak_deg REAL,
    thigh_landmark_deg REAL,
    thigh_source TEXT,
    trunk_lean_deg REAL,
    hip_extension_deg REAL,
    back_arch INTEGER,
    trunk_back_tilt_deg REAL,
    lumbar_depth_ratio REAL,
    lumbar_arch_change REAL,
    lower_back_depth_peak REAL,
    lower_back_depth_neutral REAL,
    reason TEXT NOT NULL DEFAULT '',
    recorded_at REAL NOT NULL,
    snapshot TEXT
);
INSERT INTO strides_v2 (id, session_id, leg, class, confidence, foot_strike_frame, end_frame, peak_frame,
    t_start, t_end, duration_s, thigh_peak_deg, trunk_lean_deg, hip_extension_deg, back_arch,
    lumbar_depth_ratio, recorded_at, snapshot)
SELECT id, session_id, leg, CASE class WHEN 'U' THEN '{UNKNOWN}' ELSE class END, confidence, frame_start,
    frame_end, peak_frame, t_start, t_end, t_end - t_start, thigh_peak_deg, trunk_lean_deg, hip_extension_deg,
    back_arch, lumbar_depth_ratio, recorded_at, snapshot
FROM strides;
DROP TABLE strides;
ALTER TABLE strides_v2 RENAME TO strides;
CREATE INDEX strides_session ON strides(session_id, id);
"""

_V3 = "".join(
    f"ALTER TABLE strides ADD COLUMN {name} REAL;\n"
    for name in (
        "thigh_at_toe_off_deg",
        "trunk_lean_at_toe_off_deg",
        "hip_extension_at_toe_off_deg",
        "hip_extension_uncertainty_deg",
        "trunk_lean_midpoints_deg",
    )
)

_V4 = """
CREATE TABLE hip_calibrations (
    runner TEXT PRIMARY KEY,
    forward REAL NOT NULL,
    up REAL NOT NULL,
    near_leg TEXT,
    updated_at REAL NOT NULL,
    source TEXT NOT NULL DEFAULT ''
);
"""

# A session's live-feedback runs (hipcam.feedback): the plan and each block's results, as JSON
# (rewritten whole at every block's end; a run is a few kB).
_V5 = """
CREATE TABLE feedback_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    started_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX feedback_runs_session ON feedback_runs(session_id, id);
"""

_V6 = f"""
CREATE TABLE runners (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    height_cm REAL,
    leg_length_cm REAL,
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
INSERT INTO runners (name, created_at) VALUES ('{UNASSIGNED_RUNNER}', CAST(strftime('%s', 'now') AS REAL));
ALTER TABLE sessions ADD COLUMN runner_id INTEGER REFERENCES runners(id);
UPDATE sessions SET runner_id = (SELECT id FROM runners WHERE name = '{UNASSIGNED_RUNNER}');
CREATE INDEX sessions_runner ON sessions(runner_id, id);
"""

# The side-view metric set (NULL for strides recorded before, or not measurable).
_V7 = "ALTER TABLE strides ADD COLUMN foot_strike_pattern TEXT;\n" + "".join(
    f"ALTER TABLE strides ADD COLUMN {name} REAL;\n"
    for name in (
        "foot_inclination_at_strike_deg",
        "shank_angle_at_strike_deg",
        "overstride_trunk",
        "knee_flexion_at_strike_deg",
        "knee_flexion_peak_stance_deg",
        "vertical_oscillation_trunk",
        "flight_s",
        "stride_length_m",
        "step_length_m",
    )
)

# Replay: every stride's landmarks (compressed arrays, hipcam.records.stride_landmarks), a star, and
# the clip files kept within the session's disk budget (relative to the store's clip folder).
_V8 = """
ALTER TABLE strides ADD COLUMN starred INTEGER NOT NULL DEFAULT 0;
CREATE TABLE stride_landmarks (
    stride_id INTEGER PRIMARY KEY REFERENCES strides(id) ON DELETE CASCADE,
    data BLOB NOT NULL
);
CREATE TABLE stride_clips (
    stride_id INTEGER PRIMARY KEY REFERENCES strides(id) ON DELETE CASCADE,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    file TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX stride_clips_session ON stride_clips(session_id);
"""

MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6, 7: _V7, 8: _V8}


class StoreError(HipcamError):
    """The session database cannot be opened or is from a newer hipcam."""


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, where: str) -> None:
    """Bring the database (autocommit connection) to SCHEMA_VERSION, one transaction per step."""
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise StoreError(f"{where}: schema version {version} is newer than this hipcam ({SCHEMA_VERSION})")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            # executescript would commit on its own; run the statements one by one instead.
            for statement in MIGRATIONS[target].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={target}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
