"""Runner records in a real SQLite store: create, read, list, update, the unassigned runner, the
sessions' runner text (hip calibrations and feedback baselines are keyed by it), and refusals that
leave the database as it was."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hipcam.records.runners import MAX_NAME, RunnerConflict, RunnerInvalid, RunnerNotFound
from hipcam.records.schema import DB_NAME, UNASSIGNED_RUNNER
from hipcam.records.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    yield s
    s.close()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path / DB_NAME)
    try:
        return [tuple(r) for r in db.execute(sql)]
    finally:
        db.close()


def test_create_get_list_and_the_unassigned_runner(store: Store) -> None:
    unassigned = store.runners.get(store.runners.unassigned_id)
    assert unassigned is not None and unassigned["name"] == UNASSIGNED_RUNNER and unassigned["unassigned"]
    ann = store.runners.create(" Ann Lee ", height_cm=168, leg_length_cm=86.5, notes="left knee")
    assert (ann["name"], ann["height_cm"], ann["leg_length_cm"], ann["notes"]) == ("Ann Lee", 168.0, 86.5, "left knee")
    assert ann["session_count"] == 0 and ann["last_session_at"] is None and not ann["unassigned"]
    bo = store.runners.create("bo")
    store.start_session(runner_id=bo["id"])
    store.stop_session()
    listed = store.runners.list()
    assert [r["name"] for r in listed] == ["Ann Lee", "bo", UNASSIGNED_RUNNER]  # by name, unassigned last
    assert listed[1]["session_count"] == 1 and listed[1]["last_session_at"] is not None
    assert store.runners.get(999) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "1 to 80"),
        ({"name": "   "}, "1 to 80"),
        ({"name": "x" * (MAX_NAME + 1)}, "1 to 80"),
        ({"name": "Ann\u202e"}, "control or direction"),
        ({"name": 7}, "1 to 80"),
        ({"name": "Ann", "height_cm": 20}, "height_cm must be a number from 50 to 250"),
        ({"name": "Ann", "height_cm": 251}, "height_cm"),
        ({"name": "Ann", "height_cm": float("nan")}, "height_cm"),
        ({"name": "Ann", "height_cm": True}, "height_cm"),
        ({"name": "Ann", "leg_length_cm": "90"}, "leg_length_cm"),
        ({"name": "Ann", "leg_length_cm": 300}, "leg_length_cm"),
        ({"name": "Ann", "notes": "n" * 20_001}, "notes"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_stored(store: Store, tmp_path: Path, fields: dict, message: str) -> None:
    with pytest.raises(RunnerInvalid, match=message):
        store.runners.create(**fields)
    assert _rows(tmp_path, "SELECT name FROM runners") == [(UNASSIGNED_RUNNER,)]


def test_names_are_unique_regardless_of_case(store: Store, tmp_path: Path) -> None:
    store.runners.create("Ann")
    for clash in ("ann", "ANN", " Ann ", "Unassigned"):
        with pytest.raises(RunnerConflict):
            store.runners.create(clash)
    bo = store.runners.create("Bo")
    with pytest.raises(RunnerConflict):
        store.runners.update(bo["id"], name="aNN")
    assert store.runners.update(bo["id"], name="BO")["name"] == "BO"  # its own name in another case is fine
    assert sorted(r[0] for r in _rows(tmp_path, "SELECT name FROM runners")) == ["Ann", "BO", UNASSIGNED_RUNNER]


def test_update_checks_everything_before_writing(store: Store) -> None:
    ann = store.runners.create("Ann", height_cm=170)
    with pytest.raises(RunnerInvalid):
        store.runners.update(ann["id"], notes="new", height_cm=10)
    with pytest.raises(RunnerInvalid, match="not a runner field"):
        store.runners.update(ann["id"], id=5)
    with pytest.raises(RunnerNotFound):
        store.runners.update(404, notes="x")
    with pytest.raises(RunnerInvalid, match="cannot be renamed"):
        store.runners.update(store.runners.unassigned_id, name="someone")
    same = store.runners.get(ann["id"])
    assert same is not None and same["notes"] == "" and same["height_cm"] == 170.0
    changed = store.runners.update(ann["id"], height_cm=None, leg_length_cm=88, notes="ok")
    assert (changed["height_cm"], changed["leg_length_cm"], changed["notes"]) == (None, 88.0, "ok")


def test_sessions_belong_to_runners_by_id_or_by_name(store: Store) -> None:
    ann = store.runners.create("Ann")
    by_id = store.start_session(runner_id=ann["id"])
    store.stop_session()
    by_name = store.start_session("ann", 9.5)  # found regardless of case: the runner's own spelling is used
    store.stop_session()
    new = store.start_session("Cy")  # created
    store.stop_session()
    nobody = store.start_session()
    store.stop_session()
    assert (by_id["runner_id"], by_id["runner"], by_id["runner_name"]) == (ann["id"], "Ann", "Ann")
    assert (by_name["runner_id"], by_name["runner"]) == (ann["id"], "Ann")
    cy = store.runners.get(new["runner_id"])
    assert cy is not None and cy["name"] == "Cy" and new["runner"] == "Cy"
    assert (nobody["runner_id"], nobody["runner"], nobody["runner_name"]) == (
        store.runners.unassigned_id,
        "",
        UNASSIGNED_RUNNER,
    )
    assert [s["id"] for s in store.runners.sessions(ann["id"])] == [by_id["id"], by_name["id"]]
    assert {s["runner_id"] for s in store.list_sessions()} == {ann["id"], cy["id"], store.runners.unassigned_id}


def test_an_unknown_runner_starts_no_session(store: Store, tmp_path: Path) -> None:
    with pytest.raises(RunnerNotFound):
        store.start_session(runner_id=77)
    assert store.active_session_id is None and _rows(tmp_path, "SELECT id FROM sessions") == []
    with pytest.raises(RunnerInvalid):
        store.start_session("x" * 81)
    assert store.active_session_id is None and _rows(tmp_path, "SELECT COUNT(*) FROM runners") == [(1,)]


def test_rename_keeps_the_calibration_and_the_sessions_text(store: Store) -> None:
    ann = store.runners.create("Ann")
    sid = store.start_session(runner_id=ann["id"])["id"]
    store.stop_session()
    store.set_hip_calibration("Ann", 0.05, -0.02, "left")
    version = store.calibration_version
    store.runners.update(ann["id"], name="Ann Lee")
    session = store.get_session(sid)
    assert session is not None and session["runner"] == "Ann Lee" and session["runner_name"] == "Ann Lee"
    cal = store.hip_calibration("Ann Lee")
    assert cal is not None and (cal.forward, cal.up, cal.near_leg) == (0.05, -0.02, "left")
    assert store.hip_calibration("Ann") is None and store.runner_known("Ann Lee")
    assert store.calibration_version > version  # the frame loop re-reads the running session's calibration


def test_moving_a_session(store: Store) -> None:
    sid = store.start_session("Old text")["id"]
    store.stop_session()
    old = store.get_session(sid)
    assert old is not None
    bo = store.runners.create("Bo")
    assert store.runners.assign(sid, bo["id"])
    moved = store.get_session(sid)
    assert moved is not None and (moved["runner_id"], moved["runner"]) == (bo["id"], "Bo")
    assert store.runners.assign(sid, store.runners.unassigned_id)  # keeps the text it has
    back = store.get_session(sid)
    assert back is not None and (back["runner_id"], back["runner"]) == (store.runners.unassigned_id, "Bo")
    with pytest.raises(RunnerNotFound):
        store.runners.assign(sid, 999)
    assert not store.runners.assign(999, bo["id"])
    after = store.get_session(sid)
    assert after is not None and after["runner_id"] == store.runners.unassigned_id
