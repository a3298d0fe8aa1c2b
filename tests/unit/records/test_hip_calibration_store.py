"""Hip calibrations in the store (schema 4), the v3 -> v4 migration, and the pose beside a snapshot."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from hipcam.records.schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord

POSE = {"width": 640, "height": 360, "direction": "right", "near_leg": "left", "landmarks": [[0.5, 0.5, 0.9]] * 33}


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data", min_free_mb=10)
    yield s
    s.close()


def test_set_read_replace_and_clear(store: Store) -> None:
    assert store.hip_calibration("Ann") is None and store.hip_calibration("") is None
    v0 = store.calibration_version
    cal = store.set_hip_calibration("Ann", 0.05, -0.12, "left", "live frame 7")
    assert store.calibration_version == v0 + 1
    got = store.hip_calibration("Ann")
    assert got == cal and got.forward == 0.05 and got.up == -0.12 and got.near_leg == "left"
    assert got.to_json()["source"] == "live frame 7"
    store.set_hip_calibration("Ann", 0.01, -0.2)  # replaced, not added
    got = store.hip_calibration("Ann")
    assert got is not None and (got.forward, got.up, got.near_leg, got.source) == (0.01, -0.2, None, "")
    assert store.hip_calibration("ann") is None  # the runner's text, exactly
    assert store.clear_hip_calibration("Ann") and store.hip_calibration("Ann") is None
    assert not store.clear_hip_calibration("Ann")
    assert store.calibration_version == v0 + 4


@pytest.mark.parametrize(
    ("runner", "forward", "up", "leg"),
    [("", 0.0, 0.0, None), ("Ann", float("nan"), 0.0, None), ("Ann", 0.0, float("inf"), None), ("Ann", 0.0, 0.0, "x")],
)
def test_bad_calibrations_are_refused_and_nothing_is_stored(
    store: Store, runner: str, forward: float, up: float, leg: str | None
) -> None:
    with pytest.raises(ValueError):
        store.set_hip_calibration(runner, forward, up, leg)
    with closing(sqlite3.connect(store.data_dir / DB_NAME)) as db:
        assert db.execute("SELECT COUNT(*) FROM hip_calibrations").fetchone()[0] == 0


def test_runner_known_and_calibrations_survive_a_restart(tmp_path: Path) -> None:
    s = Store(tmp_path)
    assert not s.runner_known("Ann")
    s.start_session("Ann")
    assert s.runner_known("Ann") and not s.runner_known("Bob")
    s.set_hip_calibration("Ann", 0.1, -0.1, "right")
    s.close()
    again = Store(tmp_path)
    try:
        got = again.hip_calibration("Ann")
        assert got is not None and (got.forward, got.up, got.near_leg) == (0.1, -0.1, "right")
    finally:
        again.close()


def test_the_pose_is_written_beside_the_snapshot_and_removed_with_it(store: Store) -> None:
    sid = store.start_session("Ann")["id"]
    stride = StrideRecord(leg="left", cls="B")
    with_pose = store.add_stride(sid, stride, b"\xff\xd8jpeg", POSE)
    without = store.add_stride(sid, stride, b"\xff\xd8jpeg")
    assert store.snapshot_pose(sid, with_pose.id) == POSE
    assert store.snapshot_pose(sid, without.id) is None and store.snapshot_pose(sid, 999) is None
    folder = store.snapshots.root / str(sid)
    assert len(list(folder.iterdir())) == 3  # two JPEGs, one pose
    # Tidying after a restart keeps a named snapshot's pose, and drops an orphan's.
    (folder / "orphan.json").write_text("{}")
    named = [p.relative_to(store.snapshots.root).as_posix() for p in folder.glob("*.jpg")]
    store.snapshots.remove_unreferenced(sid, named)
    assert len(list(folder.iterdir())) == 3 and store.snapshot_pose(sid, with_pose.id) == POSE
    store.stop_session()
    store.delete_session(sid)
    assert not folder.exists()


def test_an_unreadable_pose_file_is_no_pose(store: Store) -> None:
    sid = store.start_session("Ann")["id"]
    saved = store.add_stride(sid, StrideRecord(leg="left", cls="B"), b"\xff\xd8jpeg", POSE)
    path = store.snapshot_path(sid, saved.id)
    assert path is not None
    path.with_suffix(".json").write_text("{not json")
    assert store.snapshot_pose(sid, saved.id) is None
    path.with_suffix(".json").write_text("[1, 2]")
    assert store.snapshot_pose(sid, saved.id) is None
    # A pose that is not JSON-able is left out; the stride and its JPEG are still stored.
    bad = store.add_stride(sid, StrideRecord(leg="left", cls="B"), b"\xff\xd8jpeg", {"x": float("nan")})
    assert bad.snapshot_saved and store.snapshot_pose(sid, bad.id) is None


def _v3_database(path: Path) -> None:
    """A database as schema 3 left it (the real migrations 1-3), with a session and a stride."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        for version in (1, 2, 3):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute("PRAGMA user_version=3")
        db.execute("INSERT INTO sessions (runner, started_at, ended_at, notes) VALUES ('Ann', 1.0, 2.0, 'v3 notes')")
        db.execute(
            """INSERT INTO strides (session_id, leg, class, recorded_at, hip_extension_deg,
                   hip_extension_at_toe_off_deg, hip_extension_uncertainty_deg) VALUES (1, 'left', 'B', 1.5, 15.0, 14.2, 1.8)"""
        )


def test_a_version_3_database_migrates_to_the_current_with_everything_kept(tmp_path: Path) -> None:
    assert SCHEMA_VERSION == 8  # 4: hip calibrations, 5: feedback runs, 6: runners, 7: side-view metrics, 8: replay
    _v3_database(tmp_path / DB_NAME)
    store = Store(tmp_path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.feedback_runs(1) == []
        run = {"started_at": 1.2, "blocks": [{"probe": "pre", "ended_at": 1.5, "strides": 3}]}
        store.save_feedback_run(None, 1, run)
        assert store.feedback_runs(1)[0]["retention"]["pre"]["strides"] == 3
        assert [(s["runner"], s["notes"], s["stride_count"]) for s in store.list_sessions()] == [("Ann", "v3 notes", 1)]
        (stride,) = store.strides(1)
        assert (stride.hip_extension_deg, stride.hip_extension_at_toe_off_deg) == (15.0, 14.2)
        assert stride.hip_extension_uncertainty_deg == 1.8
        assert store.hip_calibration("Ann") is None
        store.set_hip_calibration("Ann", 0.02, -0.15, "left", "stride 1")
    finally:
        store.close()
    with closing(sqlite3.connect(tmp_path / DB_NAME)) as db:
        cols = [(r[1], r[2], r[3], r[5]) for r in db.execute("PRAGMA table_info(hip_calibrations)")]
        assert cols == [
            ("runner", "TEXT", 0, 1),
            ("forward", "REAL", 1, 0),
            ("up", "REAL", 1, 0),
            ("near_leg", "TEXT", 0, 0),
            ("updated_at", "REAL", 1, 0),
            ("source", "TEXT", 1, 0),
        ]
        assert db.execute("SELECT runner, forward, up FROM hip_calibrations").fetchall() == [("Ann", 0.02, -0.15)]
