"""The hub's archive on SQLite: one row per (device, session), replaced when the export changes,
searched by a part of the runner's name, migrated once, and errors as one-line ArchiveErrors."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hipcam.errors import ConfigError
from hipcam.hub.archive import (
    DB_FILE,
    SCHEMA_VERSION,
    ArchiveError,
    Hashes,
    SqliteArchive,
    like_pattern,
    open_archive,
    postgres_where,
)


def _export(sid: int, runner: str = "Ana", notes: str = "", started: float = 1000.0) -> dict[str, Any]:
    session = {"id": sid, "runner": runner, "started_at": started + sid, "ended_at": started + sid + 60,
               "notes": notes, "stride_count": 2}  # fmt: skip
    return {"schema_version": 5, "session": session, "summary": {}, "strides": [{"leg": "left"}, {"leg": "right"}]}


@pytest.fixture
def archive(tmp_path: Path) -> SqliteArchive:
    found = open_archive(None, tmp_path)
    assert isinstance(found, SqliteArchive) and found.path == tmp_path / DB_FILE
    return found


def test_save_once_then_replace_keeping_first_pull_time(archive: SqliteArchive) -> None:
    archive.save("t1", _export(1), Hashes("l1", "e1"))
    archive.save("t2", _export(1, runner="Bo"), Hashes("l1", "e1"))  # the same id on another device
    assert archive.count() == 2
    assert archive.known("t1") == {1: Hashes("l1", "e1")}
    first, _ = archive.get("t1", 1)  # type: ignore[misc]
    archive.save("t1", _export(1, notes="felt good"), Hashes("l2", "e2"))
    row, export = archive.get("t1", 1)  # type: ignore[misc]
    assert archive.count() == 2 and row.notes == "felt good" and export["session"]["notes"] == "felt good"
    assert row.pulled_at == first.pulled_at and row.updated_at >= first.updated_at
    assert archive.known("t1") == {1: Hashes("l2", "e2")}
    archive.set_listing_hash("t1", 1, "l3")
    assert archive.known("t1")[1] == Hashes("l3", "e2")
    assert archive.get("t1", 99) is None and archive.get("nope", 1) is None


def test_search_by_part_of_the_runner_and_by_device(archive: SqliteArchive) -> None:
    for sid, (device, runner) in enumerate([("t1", "Ana Silva"), ("t2", "anabel"), ("t1", "Bo"), ("t2", "50%_off")], 1):
        archive.save(device, _export(sid, runner=runner), Hashes(str(sid), str(sid)))
    assert [(r.device_id, r.session_id) for r in archive.search()] == [("t2", 4), ("t1", 3), ("t2", 2), ("t1", 1)]
    assert [r.runner for r in archive.search("ANA")] == ["anabel", "Ana Silva"]  # any case, newest first
    assert [r.runner for r in archive.search("ana", device_id="t1")] == ["Ana Silva"]
    assert [r.runner for r in archive.search("%")] == ["50%_off"]  # the user's % and _ are literal
    assert [r.runner for r in archive.search("_")] == ["50%_off"]
    assert archive.search("zzz") == []
    assert len(archive.search(limit=2)) == 2 and [r.session_id for r in archive.search(limit=2, offset=2)] == [2, 1]
    assert archive.search()[0].to_json()["runner"] == "50%_off"


def test_like_pattern_escapes() -> None:
    assert like_pattern("A_b%c\\") == "%a\\_b\\%c\\\\%"


def test_migrations_run_once_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    archive = SqliteArchive(tmp_path / DB_FILE)
    archive.save("t1", _export(1), Hashes("l", "e"))
    assert archive.schema_version() == SCHEMA_VERSION
    archive.close()
    again = SqliteArchive(tmp_path / DB_FILE)  # reopened: nothing migrated twice, the row kept
    assert again.count() == 1 and again.schema_version() == SCHEMA_VERSION
    again.close()
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        db.execute("UPDATE hub_schema SET version = 99")
    with pytest.raises(ArchiveError, match="schema 99, newer than this hub's"):
        SqliteArchive(tmp_path / DB_FILE)


def test_unopenable_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(ArchiveError) as info:
        SqliteArchive(tmp_path / "junk.sqlite3")
    assert "cannot open the archive" in str(info.value) and "\n" not in str(info.value)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArchiveError, match="cannot open the archive"):
        SqliteArchive(blocker / "sub" / DB_FILE)


def test_postgres_url_shown_without_password() -> None:
    assert postgres_where("postgresql://hub:s3cret@db.gym.lan:5433/archive") == "db.gym.lan:5433/archive"
    assert "s3cret" not in postgres_where("postgresql://hub:s3cret@db/archive")
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL"):
        postgres_where("postgresql://[::1")
