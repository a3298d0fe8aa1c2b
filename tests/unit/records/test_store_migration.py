"""A database written by the first release (schema 1, made by that release's own Store and kept in
tests/data/store_v1) opens after the upgrade, with every session, stride and snapshot intact."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from paths import TEST_DATA

from hipcam.records.schema import SCHEMA_VERSION
from hipcam.records.store import Store

V1 = TEST_DATA / "store_v1"


def test_release_1_database_opens_and_reads_after_the_upgrade(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(V1, data)
    before = sqlite3.connect(data / "hipcam.sqlite3")
    assert before.execute("PRAGMA user_version").fetchone()[0] == 1
    old_rows = before.execute("SELECT id, class, frame_start, frame_end, hip_extension_deg FROM strides").fetchall()
    before.close()

    store = Store(data)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        sessions = store.list_sessions()
        assert [(s["runner"], s["stride_count"]) for s in sessions] == [("", 1), ("Alice Runner", 4)]
        first = store.get_session(sessions[1]["id"])
        assert first is not None and first["notes"] == "first visit" and first["treadmill_speed"] == 10.5
        strides = store.strides(sessions[1]["id"]) + store.strides(sessions[0]["id"])
        assert [(s.stride_id, s.cls, s.foot_strike_frame, s.end_frame, s.hip_extension_deg) for s in strides] == [
            (i, "unknown" if c == "U" else c, a, b, e) for i, c, a, b, e in old_rows
        ]
        assert strides[0].duration_s == 0.97 and strides[3].back_arch is True
        with_snap = [s for s in strides if s.snapshot]
        assert len(with_snap) == 2
        for s in with_snap:
            assert s.session_id is not None and s.stride_id is not None
            path = store.snapshot_path(s.session_id, s.stride_id)
            assert path is not None and path.read_bytes().startswith(b"\xff\xd8snap")
        assert store.session_summary(sessions[1]["id"])["legs"]["right"]["counts"]["unknown"] == 1
    finally:
        store.close()
    # Opening again is a no-op: the migration ran once.
    again = Store(data)
    try:
        assert len(again.strides(sessions[1]["id"])) == 4
    finally:
        again.close()
