"""A full disk, produced for real: the store's database capped with ``PRAGMA max_page_count``, so
SQLite refuses writes with SQLITE_FULL ("database or disk is full") exactly as on a full disk."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from hipcam.records import snapshot_files
from hipcam.records.schema import DB_NAME
from hipcam.records.snapshot_files import is_disk_full
from hipcam.records.store import DiskFull, Store, StoreError
from hipcam.records.stride import StrideRecord

JPEG = b"\xff\xd8" + bytes(500) + b"\xff\xd9"


def _stride(i: int = 0) -> StrideRecord:
    return StrideRecord.from_json(
        {"leg": "left" if i % 2 else "right", "class": "B", "hip_extension_deg": 10.0 + i, "confidence": 0.8,
         "foot_strike_frame": i * 30, "end_frame": i * 30 + 29, "t_start": float(i), "t_end": i + 0.9}
    )  # fmt: skip


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data", min_free_mb=0)
    yield s
    s.close()


def _fill(store: Store, session: int) -> list[int]:
    """Strides until the capped database refuses one; the ids committed."""
    store.cap_pages(store.page_count())
    ids: list[int] = []
    for i in range(10_000):
        try:
            ids.append(store.add_stride(session, _stride(i)).id)
        except DiskFull:
            return ids
    raise AssertionError("the page cap never filled")


def test_full_database_raises_disk_full_and_keeps_what_was_committed(store: Store) -> None:
    session = store.start_session("Ann")["id"]
    ids = _fill(store, session)
    with pytest.raises(DiskFull, match="disk full"):
        store.add_stride(session, _stride(99))
    assert isinstance(DiskFull("x"), StoreError)
    # Room again (the cap raised): the connection is usable, no transaction was left open.
    store.cap_pages(1_000_000)
    late = store.add_stride(session, _stride(100), recorded_at=123.0)
    rows = store.strides(session)
    assert [r.stride_id for r in rows] == [*ids, late.id]
    assert rows[-1].recorded_at == 123.0  # a held stride keeps the time it was handed over
    with closing(sqlite3.connect(store.data_dir / DB_NAME)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_snapshot_of_a_refused_stride_is_not_left_behind(store: Store) -> None:
    session = store.start_session()["id"]
    _fill(store, session)
    with pytest.raises(DiskFull):
        store.add_stride(session, _stride(1), snapshot_jpeg=JPEG)
    assert not any(p.is_file() for p in (store.data_dir / "snapshots").rglob("*"))


def test_notes_and_stop_on_a_full_disk_then_stop_once_there_is_room(store: Store) -> None:
    session = store.start_session("Ann")["id"]
    _fill(store, session)
    with pytest.raises(DiskFull):
        store.set_notes(session, "x" * 200_000)  # needs new pages
    store.cap_pages(store.page_count())  # exactly full: not one more page
    try:
        store.stop_session(session)  # fits in its page: works even now
    except DiskFull:
        pytest.fail("stopping needs no new page and must work on a full database")
    assert store.active_session_id is None
    again = store.start_session("Bob")["id"]
    _fill(store, again)
    store.cap_pages(store.page_count())
    with pytest.raises(DiskFull):
        store.set_notes(again, "y" * 200_000)
    assert store.active_session_id == again  # a refused write changes nothing
    store.cap_pages(1_000_000)
    assert store.set_notes(again, "y" * 200_000)
    assert store.stop_session(again)["ended_at"] is not None


def test_opening_on_a_full_disk_says_disk_full_not_corrupt(tmp_path: Path) -> None:
    with pytest.raises(DiskFull, match="disk full") as caught:
        Store(tmp_path / "new", min_free_mb=0, max_pages=1)  # the schema does not fit
    assert "not a usable" not in str(caught.value)
    # A database that really is not SQLite still says so.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database") as corrupt:
        Store(bad, min_free_mb=0)
    assert not isinstance(corrupt.value, DiskFull)


def test_disk_full_classification(tmp_path: Path) -> None:
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert not is_disk_full(OSError(errno.EIO, "I/O error"))
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_disk_full(sqlite3.DatabaseError("file is not a database"))
    assert not is_disk_full(sqlite3.OperationalError("disk I/O error"), tmp_path)  # there is room here
    assert not is_disk_full(ValueError("nothing to do with disks"))


def test_snapshot_that_cannot_be_written_is_skipped_with_its_reason(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = store.start_session()["id"]

    def no_space(path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(snapshot_files, "atomic_writer", no_space)
    saved = store.add_stride(session, _stride(), snapshot_jpeg=JPEG)
    assert not saved.snapshot_saved and store.snapshots.last_error == "disk_full"
    assert [r.stride_id for r in store.strides(session)] == [saved.id]  # the stride is kept
