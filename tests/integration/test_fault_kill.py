"""SIGKILL the store's writer at random moments: the database stays sound and no acknowledged
stride is lost.

A child process writes strides (with snapshots) through the real ``Store`` and prints each
stride id after ``add_stride`` returns, i.e. after its commit. The parent kills it at a random
moment (sometimes while the database is still being opened or migrated), then checks
``PRAGMA integrity_check`` and that every acknowledged id is present. SIGKILL tests process
death, not power loss; the store's synchronous=FULL is what covers the latter.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hipcam.records.schema import DB_NAME
from hipcam.records.snapshot_files import SNAPSHOT_DIR
from hipcam.records.store import Store

KILLS = int(os.environ.get("HIPCAM_FAULT_KILLS", "50"))
SEED = int(os.environ.get("HIPCAM_FAULT_SEED", "20240611"))
SNAPSHOT = b"\xff\xd8" + bytes(2000) + b"\xff\xd9"  # what the child writes as each snapshot

CHILD = textwrap.dedent(
    """
    import dataclasses
    import sys
    from pathlib import Path
    from hipcam.records.stride import StrideRecord
    from hipcam.records.store import Store

    store = Store(Path(sys.argv[1]), min_free_mb=10)
    session = store.start_session(runner="kill-test")["id"]
    print("session", session, flush=True)
    jpeg = b"\\xff\\xd8" + bytes(2000) + b"\\xff\\xd9"
    i = 0
    while True:
        i += 1
        vals = dict(
            leg="left" if i % 2 else "right", cls="ABCD"[i % 4], confidence=0.9,
            hip_extension_deg=10.0 + i % 7, thigh_peak_deg=20.0, trunk_lean_deg=5.0, back_arch=False,
            foot_strike_frame=i * 30, end_frame=i * 30 + 29, t_start=i * 1.0, t_end=i * 1.0 + 0.97,
        )
        # Fields added to StrideRecord later are filled with None (the schema is not under test).
        rec = StrideRecord(**{
            f.name: vals.get(f.name) for f in dataclasses.fields(StrideRecord)
            if f.name in vals or f.default is dataclasses.MISSING
        })
        stride_id, _ = store.add_stride(session, rec, snapshot_jpeg=jpeg if i % 3 == 0 else None)
        print("ack", stride_id, flush=True)
    """
)


def _acked(stdout: str) -> tuple[list[int], list[int]]:
    acks: list[int] = []
    sessions: list[int] = []
    for line in stdout.splitlines():
        parts = line.split()
        # The last line may be cut in half by the kill; only whole lines count.
        if len(parts) == 2 and parts[1].isdigit():
            (acks if parts[0] == "ack" else sessions).append(int(parts[1]))
    return acks, sessions


def _check_db(data_dir: Path, acked: list[int]) -> int:
    db = sqlite3.connect(data_dir / DB_NAME)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        present = {row[0] for row in db.execute("SELECT id FROM strides")}
        missing = sorted(set(acked) - present)
        assert not missing, f"acknowledged strides lost: {missing[:10]}"
        for (snap,) in db.execute("SELECT snapshot FROM strides WHERE snapshot IS NOT NULL"):
            path = data_dir / SNAPSHOT_DIR / snap
            assert path.is_file(), f"stride points at a missing snapshot {snap}"
            assert path.read_bytes() == SNAPSHOT, f"stride points at a partial snapshot {snap}"
        return len(present)
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_50_times_keeps_every_acknowledged_stride(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    all_acked: list[int] = []
    killed_before_first_ack = 0
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, str(script), str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # One kill in five lands while the child is still starting (importing, opening or
        # migrating the database); the rest after up to hundreds of strides.
        time.sleep(rng.uniform(0.0, 0.1) if rng.random() < 0.2 else rng.uniform(0.1, 0.8))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, f"writer died on its own: {err[-2000:]}"
        acked, _ = _acked(out)
        killed_before_first_ack += not acked
        all_acked.extend(acked)
        _check_db(data_dir, all_acked)
    # The store must still open (orphan sessions closed, migrations idempotent) and see everything.
    store = Store(data_dir, min_free_mb=10)
    try:
        sessions = store.list_sessions(limit=1000)
        assert all(s["ended_at"] is not None for s in sessions)
        total = sum(s["stride_count"] for s in sessions)
        named = {r.snapshot for s in sessions for r in store.strides(s["id"]) if r.snapshot}
    finally:
        store.close()
    assert total >= len(all_acked) > 0
    # Snapshots written just before a kill, whose row never committed (and temp files of a write
    # cut short), are gone after the reopen: every file left is one a row names.
    on_disk = {f"{p.parent.name}/{p.name}" for p in (data_dir / SNAPSHOT_DIR).glob("*/*")}
    assert on_disk == named
    # A useful test kills both mid-stream and during start-up; make sure both happened.
    assert 0 < killed_before_first_ack < KILLS
    print(f"kills={KILLS} acked={len(all_acked)} rows={total} killed_before_first_ack={killed_before_first_ack}")


def test_stride_count_matches_after_clean_reopen(tmp_path: Path) -> None:
    """Control: without a kill, what was written is what is read back."""
    from hipcam.records.stride import StrideRecord

    store = Store(tmp_path, min_free_mb=10)
    sid = store.start_session()["id"]
    vals = {"leg": "left", "cls": "A", "confidence": 0.9, "hip_extension_deg": 10.0, "t_start": 0.0, "t_end": 0.97}
    rec = StrideRecord(
        **{
            f.name: vals.get(f.name)
            for f in dataclasses.fields(StrideRecord)
            if f.name in vals or f.default is dataclasses.MISSING
        }
    )
    ids = [store.add_stride(sid, rec).id for _ in range(5)]
    store.close()
    assert _check_db(tmp_path, ids) == 5
