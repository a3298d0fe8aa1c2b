"""The runner endpoints and the session routes that name a runner, on a real store: PIN and CSRF,
the record with its sessions and progress, the pages, and bad input (unknown runner, a session moved
to an unknown runner, oversized, empty and duplicate names, bad heights, bodies that are not JSON):
a clean 4xx, and the database is checked to be unchanged afterwards."""

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
from hipcam.records.schema import DB_NAME, UNASSIGNED_RUNNER
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps

PIN = "2468"


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


def _db(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Everything a refused request must leave alone: the runners and the sessions, as rows."""
    db = sqlite3.connect(path / DB_NAME)
    try:
        runners = [tuple(r) for r in db.execute("SELECT * FROM runners ORDER BY id")]
        sessions = [tuple(r) for r in db.execute("SELECT * FROM sessions ORDER BY id")]
        return runners, sessions
    finally:
        db.close()


def _record(store: Store, runner_id: int, mean: float, rng: np.random.Generator) -> int:
    sid = int(store.start_session(runner_id=runner_id)["id"])
    for i in range(16):
        for leg in ("left", "right"):
            store.add_stride(sid, StrideRecord(leg=leg, cls="B", duration_s=0.74, t_start=i * 0.74,
                                               hip_extension_at_toe_off_deg=float(rng.normal(mean, 1.5))))  # fmt: skip
    store.stop_session()
    return sid


def test_create_list_get_and_update(env: Any) -> None:
    app, store, _ = env
    c = app.test_client()
    h = _login(c)
    r = c.post(
        "/api/runners", json={"name": "Ann Lee", "height_cm": "168,5", "leg_length_cm": 87, "notes": "knee"}, headers=h
    )
    assert r.status_code == 201
    ann = r.get_json()
    assert (ann["name"], ann["height_cm"], ann["leg_length_cm"], ann["notes"]) == ("Ann Lee", 168.5, 87.0, "knee")
    assert [x["name"] for x in c.get("/api/runners").get_json()["runners"]] == ["Ann Lee", UNASSIGNED_RUNNER]
    rng = np.random.default_rng(1)
    first, second = _record(store, ann["id"], 8.0, rng), _record(store, ann["id"], 20.0, rng)
    got = c.get(f"/api/runners/{ann['id']}").get_json()
    assert got["runner"]["session_count"] == 2 and [s["id"] for s in got["sessions"]] == [first, second]
    last = got["progress"]["sessions"][-1]
    assert (
        last["previous_session_id"] == first
        and last["change_previous"]["left"]["hip_extension_at_toe_off_deg"]["mark"] == "changed"
    )
    r = c.patch(f"/api/runners/{ann['id']}", json={"name": "Ann L.", "height_cm": None, "notes": ""}, headers=h)
    assert r.status_code == 200 and (r.get_json()["name"], r.get_json()["height_cm"]) == ("Ann L.", None)
    assert store.get_session(first)["runner"] == "Ann L."
    page = c.get(f"/runners/{ann['id']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert (
        "changed" in text and "Dingenen et al. 2018" in text and "Damsted et al. 2015" in text and f"#{second}" in text
    )
    assert c.get("/runners").status_code == 200 and b"Ann L." in c.get("/runners").data
    assert f'href="/runners/{ann["id"]}"'.encode() in c.get(f"/sessions/{first}").data  # the session names its runner
    assert c.get("/runners/999").status_code == 404 and c.get("/api/runners/999").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": ""}, 400),
        ({"name": "   "}, 400),
        ({"name": "x" * 81}, 400),
        ({"name": "Ann\u202eLee"}, 400),
        ({}, 400),
        ({"height_cm": 170}, 400),  # no name
        ({"name": "New", "height_cm": 30}, 400),
        ({"name": "New", "height_cm": "tall"}, 400),
        ({"name": "New", "leg_length_cm": 1e9}, 400),
        ({"name": "New", "height_cm": True}, 400),
        ({"name": "New", "runner_id": 1}, 400),  # not a field
        ({"name": "ann"}, 409),  # Ann exists: names are unique regardless of case
        ({"name": "UNASSIGNED"}, 409),
    ],
)
def test_create_refusals_store_nothing(env: Any, body: dict[str, Any], status: int) -> None:
    app, store, path = env
    store.runners.create("Ann")
    c = app.test_client()
    h = _login(c)
    before = _db(path)
    r = c.post("/api/runners", json=body, headers=h)
    assert r.status_code == status and "error" in r.get_json()
    assert _db(path) == before


def test_bodies_that_are_not_json_objects(env: Any) -> None:
    app, store, path = env
    ann = store.runners.create("Ann")
    c = app.test_client()
    h = _login(c)
    before = _db(path)
    assert (
        c.post(
            "/api/runners", data="name=Bo", headers={**h, "Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 415
    )
    assert (
        c.post("/api/runners", data="{not json", headers={**h, "Content-Type": "application/json"}).status_code == 400
    )
    assert c.post("/api/runners", json=["Bo"], headers=h).status_code == 400
    assert (
        c.patch(f"/api/runners/{ann['id']}", data="x", headers={**h, "Content-Type": "text/plain"}).status_code == 415
    )
    assert c.post("/api/sessions", data="runner=Bo", headers={**h, "Content-Type": "text/plain"}).status_code == 415
    assert c.post("/api/runners", json={"name": "Bo" * 3000}, headers=h).status_code == 413  # over max_request_bytes
    assert _db(path) == before


def test_writes_need_the_pin(env: Any) -> None:
    app, store, path = env
    ann = store.runners.create("Ann")
    c = app.test_client()
    token = {"X-CSRF-Token": c.get("/api/auth").get_json()["csrf_token"]}
    before = _db(path)
    assert c.post("/api/runners", json={"name": "Bo"}, headers=token).status_code == 401
    assert c.patch(f"/api/runners/{ann['id']}", json={"notes": "x"}, headers=token).status_code == 401
    h = _login(c)
    assert c.post("/api/runners", json={"name": "Bo"}).status_code == 403  # no CSRF token
    assert c.post("/api/runners", json={"name": "Bo"}, headers=h).status_code == 201
    assert len(_db(path)[0]) == len(before[0]) + 1


def test_update_refusals_change_nothing(env: Any) -> None:
    app, store, path = env
    ann, bo = store.runners.create("Ann", height_cm=170), store.runners.create("Bo")
    c = app.test_client()
    h = _login(c)
    before = _db(path)
    for url, body, status in [
        ("/api/runners/999", {"notes": "x"}, 404),
        (f"/api/runners/{bo['id']}", {"name": "ANN"}, 409),
        (f"/api/runners/{ann['id']}", {"notes": "changed", "height_cm": 500}, 400),  # nothing half-saved
        (f"/api/runners/{ann['id']}", {"name": ""}, 400),
        (f"/api/runners/{ann['id']}", {"name": "y" * 81}, 400),
        (f"/api/runners/{ann['id']}", {}, 400),
        (f"/api/runners/{store.runners.unassigned_id}", {"name": "Someone"}, 400),
    ]:
        r = c.patch(url, json=body, headers=h)
        assert r.status_code == status and "error" in r.get_json(), (url, body, r.get_json())
    assert _db(path) == before


def test_sessions_start_with_a_runner_and_move(env: Any) -> None:
    app, store, path = env
    ann = store.runners.create("Ann")
    c = app.test_client()
    h = _login(c)
    before = _db(path)
    for body, status in [({"runner_id": 999}, 404), ({"runner_id": "1"}, 400), ({"runner_id": True}, 400),
                         ({"runner_id": -3}, 400), ({"runner": "z" * 81}, 400)]:  # fmt: skip
        r = c.post("/api/sessions", json=body, headers=h)
        assert r.status_code == status and "error" in r.get_json(), body
    assert _db(path) == before and store.active_session_id is None
    r = c.post("/api/sessions", json={"runner_id": ann["id"], "treadmill_speed": 10}, headers=h)
    assert r.status_code == 201 and (r.get_json()["runner_id"], r.get_json()["runner"]) == (ann["id"], "Ann")
    sid = r.get_json()["id"]
    c.post(f"/api/sessions/{sid}/stop", headers=h)
    r = c.post("/api/sessions", json={"runner": "Dee"}, headers=h)  # the old way: a name, created if new
    assert r.status_code == 201 and r.get_json()["runner_name"] == "Dee"
    c.post(f"/api/sessions/{r.get_json()['id']}/stop", headers=h)
    listed = c.get("/api/sessions").get_json()["sessions"]
    assert {(s["id"], s["runner_id"], s["runner_name"]) for s in listed} >= {(sid, ann["id"], "Ann")}
    before = _db(path)
    for url, body, status in [
        (f"/api/sessions/{sid}", {"runner_id": 999}, 404),
        (f"/api/sessions/{sid}", {"runner_id": 999, "notes": "should not be saved"}, 404),
        (f"/api/sessions/{sid}", {"runner_id": "2"}, 400),
        (f"/api/sessions/{sid}", {"runner_id": None}, 400),
        (f"/api/sessions/{sid}", {}, 400),
        ("/api/sessions/999", {"runner_id": ann["id"]}, 404),
    ]:
        r = c.patch(url, json=body, headers=h)
        assert r.status_code == status and "error" in r.get_json(), body
    assert _db(path) == before
    r = c.patch(f"/api/sessions/{sid}", json={"runner_id": store.runners.unassigned_id, "notes": "not Ann"}, headers=h)
    assert r.status_code == 200 and (r.get_json()["runner_name"], r.get_json()["notes"]) == (
        UNASSIGNED_RUNNER,
        "not Ann",
    )
    assert c.get(f"/api/runners/{ann['id']}").get_json()["sessions"] == []
