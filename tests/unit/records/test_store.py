"""Store: schema, sessions, one transaction per stride, snapshots and the low-disk switch."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from hipcam.records.schema import SCHEMA_VERSION
from hipcam.records.store import SessionConflict, Store, StoreError
from hipcam.records.stride import StrideRecord


def _stride(leg: str = "left", cls: str = "B", ext: float = 12.0) -> StrideRecord:
    return StrideRecord.from_json(
        {"leg": leg, "class": cls, "hip_extension_deg": ext, "trunk_lean_deg": 4.0, "confidence": 0.8,
         "foot_strike_frame": 1, "end_frame": 30, "t_start": 0.0, "t_end": 1.0}
    )  # fmt: skip


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data", min_free_mb=10)
    yield s
    s.close()


def test_schema_and_pragmas(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    with closing(sqlite3.connect(store.data_dir / "hipcam.sqlite3")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # synchronous is per connection: check the store's own, which every commit goes through.
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: each commit fsyncs the WAL


def test_session_lifecycle(store: Store) -> None:
    s = store.start_session("Ann", 10.5)
    assert s["active"] and s["runner"] == "Ann"
    with pytest.raises(SessionConflict):
        store.start_session()
    sid, saved = store.add_stride(s["id"], _stride(), b"\xff\xd8fakejpeg")
    assert saved
    assert store.add_stride(s["id"], _stride("right", "C", 5.0)) == (sid + 1, False)  # no snapshot given
    path = store.snapshot_path(s["id"], sid)
    assert path is not None and path.read_bytes() == b"\xff\xd8fakejpeg"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left beside it
    stopped = store.stop_session()
    assert stopped["ended_at"] is not None and stopped["stride_count"] == 2
    with pytest.raises(SessionConflict):
        store.stop_session()
    summary = store.session_summary(s["id"])
    assert summary["legs"]["left"]["counts"]["B"] == 1 and summary["best_stride_id"] == sid
    csv_text = store.export_csv(s["id"])
    assert csv_text is not None and csv_text.count("\n") == 3
    assert store.set_notes(s["id"], "good")
    assert store.delete_session(s["id"]) and store.get_session(s["id"]) is None
    assert not (store.snapshots.root / str(s["id"])).exists()


def test_low_disk_pauses_snapshots(tmp_path: Path) -> None:
    s = Store(tmp_path, min_free_mb=10**9)
    session = s.start_session()
    sid, saved = s.add_stride(session["id"], _stride(), b"jpeg")
    assert not saved and s.disk_state().snapshots_paused
    assert s.snapshot_path(session["id"], sid) is None
    assert len(s.strides(session["id"])) == 1  # the stride is still recorded
    s.close()


def test_restart_closes_orphan_session(tmp_path: Path) -> None:
    s = Store(tmp_path)
    sess = s.start_session("Bo")
    s.add_stride(sess["id"], _stride())
    s.close()  # "power cut": never stopped
    s2 = Store(tmp_path)
    again = s2.get_session(sess["id"])
    assert again is not None and again["ended_at"] is not None and s2.active_session_id is None
    assert len(s2.strides(sess["id"])) == 1
    s2.close()


def test_snapshot_write_failure_still_records_the_stride(store: Store) -> None:
    session = store.start_session()["id"]
    (store.snapshots.root / str(session)).write_bytes(b"")  # a file where the session folder should be
    sid, saved = store.add_stride(session, _stride(), b"\xff\xd8jpeg")
    assert not saved and store.snapshot_path(session, sid) is None
    assert [r.snapshot for r in store.strides(session)] == [None]


def test_reopen_removes_snapshots_no_row_names(tmp_path: Path) -> None:
    """A crash between writing a snapshot and committing its row leaves a file nobody names."""
    s = Store(tmp_path)
    session = s.start_session()["id"]
    sid, _ = s.add_stride(session, _stride(), b"\xff\xd8kept")
    kept = s.snapshot_path(session, sid)
    folder = s.snapshots.root / str(session)
    (folder / "0123abcd.jpg").write_bytes(b"\xff\xd8orphan")  # written, row never committed
    (folder / ".x.jpg.k2j3.tmp").write_bytes(b"\xff")  # killed inside the atomic write
    s.close()  # "power cut": never stopped
    s2 = Store(tmp_path)
    assert kept is not None and [p.name for p in folder.iterdir()] == [kept.name]
    assert s2.snapshot_path(session, sid) == kept
    s2.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "hipcam.sqlite3")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(tmp_path)


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "hipcam.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError):
        Store(tmp_path)


def test_csv_formula_injection_guard(store: Store) -> None:
    from hipcam.records.export import _csv_cell

    assert _csv_cell("=cmd()") == "'=cmd()" and _csv_cell(3.0) == 3.0


def test_a_stride_without_leg_or_class_is_refused() -> None:
    with pytest.raises(ValueError, match="leg and class"):
        StrideRecord.from_json({"class": "B"})
    with pytest.raises(ValueError, match="leg and class"):
        StrideRecord.from_json({"leg": "left"})
    with pytest.raises(ValueError, match="class must be one of"):
        StrideRecord.from_json({"leg": "left", "class": "U"})  # release 1's spelling is not a class
