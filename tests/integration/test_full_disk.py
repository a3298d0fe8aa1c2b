"""A real full disk: `hipcam serve` on the lab clip with its data dir on a small tmpfs that a filler
file then fills up. No acknowledged stride is lost; the live state (the page's banner) and /healthz
say strides are not being saved and how many wait; stop and notes answer clearly (200 or a 507
JSON error, never 500); once the filler is deleted the held strides are written and all resumes.

Needs root to mount the tmpfs (skipped with the reason otherwise); the tmpfs is always unmounted.
"""

from __future__ import annotations

import contextlib
import errno
import http.cookiejar
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from paths import SHARED_DATA
from serve_process import serve_process

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.needs_models]

CLIP = SHARED_DATA / "treadmill_lab_side.mp4"
PIN = "5791"
TMPFS_MB = 48
HOLD_AT_LEAST = 4  # strides held (several retries, every 3 s) before space returns


class _Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.csrf:
            req.add_header("X-CSRF-Token", self.csrf)
        try:
            with self._opener.open(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw.startswith(b"{") else raw.decode(errors="replace")

    def login(self) -> None:
        self.csrf = self.call("GET", "/api/auth")[1]["csrf_token"]
        status, body = self.call("POST", "/api/login", {"pin": PIN})
        assert status == 200, body
        self.csrf = body["csrf_token"]


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


@contextlib.contextmanager
def _tmpfs(where: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a disk that can really fill up) needs root")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    written = 0
    try:
        for size in (1 << 20, 4096, 512):
            with contextlib.suppress(OSError):
                while True:
                    written += os.write(fd, bytes(size))
    finally:
        os.close(fd)
    with pytest.raises(OSError) as full:
        Path(path.parent / "probe").write_bytes(bytes(4096))
    assert full.value.errno == errno.ENOSPC
    return written


def _service(data_dir: Path, log_path: Path) -> contextlib.AbstractContextManager[str]:
    env = {"HIPCAM_CAPTURE__TRUE_FPS": "240", "HIPCAM_STORAGE__MIN_FREE_MB": "10"}
    return serve_process(CLIP, data_dir, log_path, PIN, env, wait=False)


def _page_strides(c: _Client, seen: dict[tuple[Any, ...], int | None]) -> dict[str, Any]:
    """The live state; every stride it shows is remembered (with its id once the store gave one)."""
    state = c.call("GET", "/api/state")[1]
    for s in state["strides"]:
        key = (s["leg"], s["foot_strike_frame"], s["t_start"])
        seen[key] = s.get("stride_id") or seen.get(key)
    return state


def test_full_disk_holds_strides_and_writes_them_when_space_returns(tmp_path: Path) -> None:
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} not present")
    log_path = tmp_path / "serve.log"
    with _tmpfs(tmp_path / "mnt") as mnt, _service(mnt / "data", log_path) as base:
        c = _Client(base)
        _wait(lambda: _up(c), 30, "the service to analyse frames")
        c.login()
        status, session = c.call("POST", "/api/sessions", {"runner": "full-disk"})
        assert status == 201, session
        sid, seen = session["id"], {}
        _wait(lambda: _stored(c, sid) >= 2, 20, "strides stored before the disk fills")
        _page_strides(c, seen)
        filler = mnt / "filler"
        _fill(filler)
        held_max = 0

        def waiting() -> bool:
            nonlocal held_max
            store = _page_strides(c, seen)["flags"]["store"]
            held_max = max(held_max, store["pending"])
            return bool(store["disk_full"]) and store["pending"] >= HOLD_AT_LEAST

        _wait(waiting, 25, "strides held while the disk is full")
        stored_when_full = _stored(c, sid)
        status, health = c.call("GET", "/healthz")
        assert status == 503 and health["status"] == "degraded", health
        assert health["reason"].startswith("disk full: strides are not being saved") and "waiting" in health["reason"]
        assert health["storage"]["disk_full"] and health["storage"]["lost"] == 0
        answers = []
        for method, path, body in (("PATCH", f"/api/sessions/{sid}", {"notes": "on a full disk " * 50}),
                                   ("POST", f"/api/sessions/{sid}/stop", None)):  # fmt: skip
            status, answer = c.call(method, path, body)
            answers.append(status)
            assert status in (200, 507), (method, path, status, answer)
            if status == 507:
                assert answer["disk_full"] and answer["error"].startswith("disk full:"), answer
        stopped = status == 200
        waiting()
        filler.unlink()  # space returns
        _wait(lambda: not _page_strides(c, seen)["flags"]["store"]["pending"], 15, "the held strides to be written")
        store = _page_strides(c, seen)["flags"]["store"]
        assert (
            not store["disk_full"] and store["lost"] == 0 and store["written_after_full"] >= held_max >= HOLD_AT_LEAST
        )
        assert c.call("GET", "/healthz")[0] == 200
        if not stopped:
            assert c.call("POST", f"/api/sessions/{sid}/stop")[0] == 200  # can be stopped once space is back
        assert c.call("PATCH", f"/api/sessions/{sid}", {"notes": "space is back"})[0] == 200
        rows = c.call("GET", f"/api/sessions/{sid}/strides")[1]["strides"]
        in_db = {(r["leg"], r["foot_strike_frame"], r["t_start"]) for r in rows}
        ids = {r["stride_id"] for r in rows}
        assert not [k for k in seen if k not in in_db], "a stride the page showed was not stored"
        assert {i for i in seen.values() if i} <= ids, "an acknowledged stride was lost"
        assert len(rows) >= stored_when_full + held_max
        print(
            f"notes/stop on the full disk: {answers}; held at most {held_max}, written after space returned {store['written_after_full']}, rows {len(rows)}"
        )
    text = log_path.read_text(errors="replace")
    assert "disk full: strides are not being saved" in text and "disk has room again" in text
    assert "Traceback" not in text


def _up(c: _Client) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return bool(c.call("GET", "/api/state")[1]["status"] in ("running", "no_runner"))
    return False


def _stored(c: _Client, sid: int) -> int:
    return int(c.call("GET", f"/api/sessions/{sid}")[1]["session"]["stride_count"])


def test_opening_on_a_full_disk_says_disk_full(tmp_path: Path) -> None:
    from hipcam.records.store import DiskFull, Store

    with _tmpfs(tmp_path / "mnt") as mnt:
        Store(mnt / "data", min_free_mb=10).close()
        _fill(mnt / "filler")
        with pytest.raises(DiskFull, match="disk full") as caught:
            Store(mnt / "data", min_free_mb=10)
        assert "not a usable SQLite database" not in str(caught.value)
        (mnt / "filler").unlink()
        Store(mnt / "data", min_free_mb=10).close()  # the database was fine all along
