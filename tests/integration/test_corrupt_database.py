"""A damaged session database through the real waitress server: every request that hits the damage
is a clear 503 (JSON under /api/, a page elsewhere), never a 500 with a traceback; /healthz says
"corrupt" from then on, and finds it by itself too (a background ``PRAGMA quick_check``); the damaged
file is left byte for byte as it was.

The damage is real: a store with a session of strides, then the pages of its strides table and
index overwritten with garbage (the header and the schema left intact, so the store still opens).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from web_server import login, send, serve_app

from hipcam.records.integrity import is_corruption, quick_check
from hipcam.records.schema import DB_NAME
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from web_ui.health import DatabaseHealth

pytestmark = pytest.mark.integration

STRIDES = 600
DAMAGED = ("strides", "strides_session")  # the strides table and its index


class _Healthy:
    """A health source whose camera is fine: any 503 of /healthz is the database's."""

    camera_state = "streaming"

    def last_frame_age_s(self) -> float | None:
        return 0.05

    def fps(self) -> float:
        return 30.0

    def pose(self) -> dict[str, Any]:
        return {"precision": "fp32", "requested": "auto", "reason": "a test double", "threads": 1}

    def render(self) -> tuple[bytes, str]:
        return b"", "text/plain"


def _stride(i: int) -> StrideRecord:
    return StrideRecord.from_json(
        {"leg": "left" if i % 2 else "right", "class": "B", "hip_extension_deg": 12.0, "trunk_lean_deg": 4.0,
         "confidence": 0.8, "foot_strike_frame": i, "end_frame": i + 30, "t_start": i / 30, "t_end": i / 30 + 1}
    )  # fmt: skip


def _damaged_store(data_dir: Path) -> Path:
    """A store holding one session of STRIDES strides, closed, then with the pages of DAMAGED
    overwritten by random bytes. Returns the database file."""
    store = Store(data_dir)
    session = store.start_session("Ann", 10.0)
    for i in range(STRIDES):
        store.add_stride(session["id"], _stride(i))
    store.stop_session()
    store.close()  # checkpointed: everything is in the main file
    db_file = data_dir / DB_NAME
    with closing(sqlite3.connect(db_file)) as db:
        page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
        marks = ",".join("?" * len(DAMAGED))
        pages = [int(r[0]) for r in db.execute(f"SELECT pageno FROM dbstat WHERE name IN ({marks})", DAMAGED)]
    assert len(pages) > 4 and 1 not in pages
    garbage = random.Random(7)
    with db_file.open("r+b") as fh:
        for page in pages:
            fh.seek((page - 1) * page_size)
            fh.write(garbage.randbytes(page_size))
    assert db_file.read_bytes()[:16] == b"SQLite format 3\x00"
    return db_file


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_damaged_database_is_a_clear_503_and_fails_healthz(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db_file = _damaged_store(tmp_path)
    before, size = _digest(db_file), db_file.stat().st_size
    caplog.set_level(logging.INFO)
    with serve_app(tmp_path, health=_Healthy()) as served:
        port = served.port
        status, headers, text = send(port, "GET", "/api/sessions")
        assert status == 503 and headers["Content-Type"] == "application/json", (status, text)
        body = json.loads(text)
        assert body["database"] == "corrupt" and body["error"].startswith("the session database is damaged: ")
        assert "malformed" in body["error"] and "README's recovery section" in body["error"]
        status, headers, page = send(port, "GET", "/sessions")  # a page: an HTML answer, same words
        assert status == 503 and headers["Content-Type"].startswith("text/html")
        assert "the session database is damaged" in page and "Traceback" not in page
        status, _, text = send(port, "GET", "/healthz")
        health = json.loads(text)
        assert status == 503 and health["status"] == "unhealthy", health
        assert health["database"]["status"] == "corrupt" and "malformed" in health["database"]["detail"]
        assert health["reason"].startswith("session database corrupt: ")
        # Logged in, or from another address, or again: still a clear 503, and no new log line.
        status, cookie, _ = login(port, source="127.0.0.2")
        assert status == 200
        assert send(port, "GET", "/api/sessions/1/strides", source="127.0.0.2", Cookie=cookie)[0] == 503
        assert send(port, "GET", "/api/sessions")[0] == 503
        # What does not touch the damage keeps working.
        assert send(port, "GET", "/api/state")[0] == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["web_ui.health"], [r.getMessage() for r in errors]
    assert errors[0].exc_info is None and "damaged" in errors[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert db_file.stat().st_size == size and _digest(db_file) == before, "the damaged file was changed"


def test_healthz_finds_the_damage_by_itself(tmp_path: Path) -> None:
    db_file = _damaged_store(tmp_path)
    before = _digest(db_file)
    with serve_app(tmp_path, health=_Healthy()) as served:
        health: dict = {}
        for _ in range(100):  # the first call starts the background check; later ones read its result
            status, _, text = send(served.port, "GET", "/healthz")
            health = json.loads(text)
            if health["database"]["status"] == "corrupt":
                break
            assert status == 200 and health["database"]["status"] in ("not checked yet", "ok")
            time.sleep(0.05)
        assert status == 503 and health["database"]["status"] == "corrupt", health
    assert _digest(db_file) == before


def test_a_sound_database_is_ok_and_checked_in_the_background(tmp_path: Path) -> None:
    with serve_app(tmp_path, health=_Healthy()) as served:
        status, _, text = send(served.port, "GET", "/healthz")
        assert status == 200 and json.loads(text)["database"]["status"] in ("not checked yet", "ok")
        assert quick_check(served.deps.store.data_dir / DB_NAME) is None  # the check itself, directly


def test_corruption_is_told_from_other_sqlite_errors(tmp_path: Path) -> None:
    assert is_corruption(sqlite3.DatabaseError("database disk image is malformed"))
    assert is_corruption(sqlite3.DatabaseError("file is not a database"))
    assert not is_corruption(sqlite3.OperationalError("database is locked"))
    assert not is_corruption(sqlite3.IntegrityError("UNIQUE constraint failed: sessions.id"))
    assert not is_corruption(OSError("disk image is malformed"))  # not SQLite's
    not_db = tmp_path / "not.sqlite3"
    not_db.write_bytes(b"hello, this is not SQLite" * 200)
    assert quick_check(not_db) == "file is not a database"
    assert quick_check(tmp_path / "missing.sqlite3") is None  # cannot tell: never reported as damage


def test_the_damage_is_remembered_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = DatabaseHealth(tmp_path / DB_NAME, check=lambda path: None)
    assert db.report()["status"] == "not checked yet" and db.reason() is None
    assert not db.saw(sqlite3.OperationalError("database is locked"))
    for _ in range(3):
        assert db.saw(sqlite3.DatabaseError("database disk image is malformed"))
    assert db.report() == {"status": "corrupt", "detail": "database disk image is malformed"}
    assert db.reason() is not None and "README" in db.reason()
    assert len([r for r in caplog.records if "damaged" in r.getMessage()]) == 1


def test_other_database_errors_stay_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_app(tmp_path, health=_Healthy()) as served:

        def locked(*args: object, **kwargs: object) -> None:
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(served.deps.store, "list_sessions", locked)
        status, _, _ = send(served.port, "GET", "/api/sessions")
        assert status == 500
        status, _, text = send(served.port, "GET", "/healthz")
        assert status == 200 and json.loads(text)["database"]["status"] != "corrupt"
