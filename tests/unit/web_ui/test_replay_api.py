"""The replay endpoints on a real store: a stride's clip JSON (with and without a kept clip), its frame
images and overlaid key frame, the replay overview with the baseline, and stars behind the PIN; bad
input (unknown session or stride, another session's stride, a deleted session, malformed bodies) is
a clean 4xx and changes nothing in the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient
from web_login import login_headers

from hipcam.auth import AttemptLimiter, hash_pin
from hipcam.config import HipcamConfig
from hipcam.records.clip_files import ClipFrame
from hipcam.records.landmarks_file import LandmarkSeries
from hipcam.records.replay import StrideLandmarks
from hipcam.records.schema import DB_NAME
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps

PIN = "8642"


@pytest.fixture()
def env(tmp_path: Path) -> Any:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin(PIN), "max_request_bytes": 4096}})
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, cfg, secret_key=b"k" * 32, limiter=AttemptLimiter(free=3)))
    app.testing = True
    yield app, store, tmp_path
    store.close()


def _login(client: FlaskClient) -> dict[str, str]:
    return login_headers(client, PIN)


def _rows(path: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path / DB_NAME)
    try:
        return [tuple(r) for t in ("strides", "stride_clips", "sessions") for r in db.execute(f"SELECT * FROM {t}")]
    finally:
        db.close()


def _session(store: Store, runner: str, clip: bool) -> tuple[int, list[int]]:
    sid = int(store.start_session(runner)["id"])
    ids = []
    for i, ext in enumerate((4.0, 9.0, 6.0)):
        rec = StrideRecord(
            leg="left", cls="B", hip_extension_at_toe_off_deg=ext, toe_off_frame=102, foot_strike_frame=100
        )
        stride = store.add_stride(sid, rec, b"\xff\xd8snap").id
        n = 6
        lm = np.full((n, 33, 5), 0.5, np.float32)
        series = LandmarkSeries(lm, np.ones(n, bool), 30.0, 320, 240)
        store.replay.save_landmarks(stride, StrideLandmarks(series, np.arange(100, 100 + n), np.arange(n) / 30.0))
        if clip and i != 0:
            frames = [ClipFrame(100 + k, k / 30, b"\xff\xd8frame%d" % k) for k in range(4)]
            store.replay.add_clip(sid, stride, frames, (320, 240), 1 << 20, 3)
        ids.append(stride)
    store.stop_session()
    return sid, ids


def test_clip_json_frames_and_overlay(env: Any) -> None:
    app, store, _ = env
    sid, ids = _session(store, "Ann", clip=True)
    c = app.test_client()
    d = c.get(f"/api/sessions/{sid}/strides/{ids[1]}/clip").get_json()
    assert d["clip"] and len(d["images"]) == 4 and len(d["frames"]) == 6 and d["stride"]["stride_id"] == ids[1]
    assert [f["image"] for f in d["frames"]] == [0, 1, 2, 3, None, None]
    assert len(d["frames"][0]["landmarks"]) == len(d["joints"]) and d["fps"] == 30.0
    r = c.get(d["images"][2])
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data == b"\xff\xd8frame2"
    assert c.get(f"/api/sessions/{sid}/strides/{ids[1]}/clip/4.jpg").status_code == 404
    bare = c.get(f"/api/sessions/{sid}/strides/{ids[0]}/clip").get_json()  # landmarks only: no clip kept
    assert bare["clip"] is False and bare["images"] == [] and len(bare["frames"]) == 6
    with c.get(f"/api/sessions/{sid}/strides/{ids[0]}/overlay.jpg") as r:
        assert r.data == b"\xff\xd8snap"  # the plain snapshot: no overlay stored yet
    store.replay.save_overlay(sid, ids[0], b"\xff\xd8over")
    with c.get(f"/api/sessions/{sid}/strides/{ids[0]}/overlay.jpg") as r:
        assert r.data == b"\xff\xd8over"


def test_overview_names_the_baseline(env: Any) -> None:
    app, store, _ = env
    first, _ = _session(store, "Ann", clip=False)
    later, ids = _session(store, "Ann", clip=True)
    d = app.test_client().get(f"/api/sessions/{later}/replay").get_json()
    assert d["picks"]["left"] == {"best": ids[1], "worst": ids[0], "typical": ids[2]}
    assert d["baseline"]["session_id"] == first and d["clips"] == ids[1:]


def test_star_needs_the_pin_and_keeps_the_clip(env: Any) -> None:
    app, store, _ = env
    sid, ids = _session(store, "Ann", clip=True)
    c = app.test_client()
    assert c.post(f"/api/sessions/{sid}/strides/{ids[1]}/star", json={"starred": True}).status_code in (401, 403)
    h = _login(c)
    r = c.post(f"/api/sessions/{sid}/strides/{ids[1]}/star", json={"starred": True}, headers=h)
    assert r.status_code == 200 and r.get_json() == {
        "session_id": sid,
        "stride_id": ids[1],
        "starred": True,
        "clip": True,
    }
    assert [s.starred for s in store.strides(sid)] == [False, True, False]
    assert store.replay.overview(sid)["starred"] == [ids[1]]


@pytest.mark.parametrize(
    "case",
    [
        "unknown_session",
        "unknown_stride",
        "other_session",
        "deleted",
        "not_bool",
        "extra_key",
        "not_json",
        "array",
        "huge",
    ],
)
def test_bad_input_is_a_clean_4xx_and_changes_nothing(env: Any, case: str) -> None:
    app, store, path = env
    a, ids_a = _session(store, "Ann", clip=True)
    _b, ids_b = _session(store, "Bob", clip=False)
    c = app.test_client()
    h = _login(c)
    sid, stride, kw = a, ids_a[1], {"json": {"starred": True}}
    if case == "unknown_session":
        sid = 9999
    elif case == "unknown_stride":
        stride = 9999
    elif case == "other_session":
        stride = ids_b[0]
    elif case == "deleted":
        assert store.delete_session(a)
    elif case == "not_bool":
        kw = {"json": {"starred": "yes"}}
    elif case == "extra_key":
        kw = {"json": {"starred": True, "more": 1}}
    elif case == "not_json":
        kw = {"data": "starred=1", "content_type": "application/x-www-form-urlencoded"}
    elif case == "array":
        kw = {"json": [True]}
    elif case == "huge":
        kw = {"json": {"starred": True, "x": "a" * 10_000}}
    before = _rows(path)
    r = c.post(f"/api/sessions/{sid}/strides/{stride}/star", headers=h, **kw)
    assert 400 <= r.status_code < 500 and r.is_json and "error" in r.get_json(), (case, r.status_code)
    assert _rows(path) == before
    if case in ("unknown_session", "unknown_stride", "other_session", "deleted"):
        assert c.get(f"/api/sessions/{sid}/strides/{stride}/clip").status_code == 404
        assert c.get(f"/api/sessions/{sid}/strides/{stride}/clip/0.jpg").status_code == 404
        assert c.get(f"/api/sessions/{sid}/strides/{stride}/overlay.jpg").status_code == 404
