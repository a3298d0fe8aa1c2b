"""Every API endpoint with a fake publisher: auth, CSRF, validation and clean 4xx errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from service_fakes import wait_until as _wait

from hipcam.auth import AttemptLimiter, hash_pin, verify_pin
from hipcam.config import HipcamConfig
from hipcam.config.gait import GaitParams
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.settings import Settings
from hipcam.service.state import LiveMetrics, LiveState
from web_ui import create_app
from web_ui.deps import WebDeps

PIN = "2468"
PIN_HASH = hash_pin(PIN)


def _publish(state: LiveState, n: int = 5) -> None:
    for i in range(n):
        state.publish(
            t_s=i / 30, frame_index=i, captured_at=1.0, metrics=LiveMetrics(thigh_deg=10.0 + i, trunk_lean_deg=3.0),
            strides=[StrideRecord.from_json({"leg": "left" if i % 2 else "right", "class": "ABCD"[i % 4],
                                          "hip_extension_deg": 8.0 + i})],
            status="running",
        )  # fmt: skip
    state.publish_camera(b"\xff\xd8jpeg", 64, 48, 1.0, [(0.5, 0.5, 0.9)] * 33)


@pytest.fixture()
def env(tmp_path: Path) -> Any:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH, "max_request_bytes": 4096}})
    state, store = LiveState(), Store(tmp_path)
    _publish(state)
    app = create_app(WebDeps(state, store, cfg, secret_key=b"k" * 32, limiter=AttemptLimiter(free=3), stream_max_s=0.2))
    app.testing = True
    yield app, state, store, cfg
    store.close()


def _csrf(client: FlaskClient) -> str:
    return str(client.get("/api/auth").get_json()["csrf_token"])


def _login(client: FlaskClient) -> str:
    token = _csrf(client)
    r = client.post("/api/login", json={"pin": PIN}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    return str(r.get_json()["csrf_token"])


def test_pin_hash_roundtrip() -> None:
    assert verify_pin(PIN, PIN_HASH) and not verify_pin("1111", PIN_HASH)
    assert not verify_pin(PIN, None) and not verify_pin(PIN, "garbage$1")


def test_pages_and_headers(env: Any) -> None:
    app, *_ = env
    c = app.test_client()
    for url in ("/", "/sessions", "/settings", "/login"):
        r = c.get(url)
        assert r.status_code == 200
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
        assert b"<script>" not in r.data and b"http://" not in r.data and b"https://" not in r.data
    assert c.get("/sessions/999").status_code == 404
    with c.get("/static/live.js") as r:  # a file response: closed, so its file is too
        assert r.status_code == 200


def test_state_and_stream(env: Any) -> None:
    app, *_ = env
    c = app.test_client()
    s = c.get("/api/state").get_json()
    assert s["status"] == "running" and s["current_class"] in "ABCD" and len(s["samples"]) == 5
    r = c.get("/stream/frame.jpg")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and len(json.loads(r.headers["X-Landmarks"])) == 33
    assert c.get("/stream/frame.jpg", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    body = c.get("/stream/events").get_data(as_text=True)
    assert "event: full" in body


def test_session_flow_and_exports(env: Any) -> None:
    app, _, store, _ = env
    c = app.test_client()
    token = _login(c)
    h = {"X-CSRF-Token": token}
    r = c.post("/api/sessions", json={"runner": "Ann", "treadmill_speed": "10,5"}, headers=h)
    assert r.status_code == 201
    sid = r.get_json()["id"]
    assert c.post("/api/sessions", json={}, headers=h).status_code == 409
    store.add_stride(sid, StrideRecord.from_json({"leg": "left", "class": "B", "hip_extension_deg": 14}), b"\xff\xd8x")
    assert c.get(f"/api/sessions/{sid}").get_json()["session"]["treadmill_speed"] == 10.5
    assert c.delete(f"/api/sessions/{sid}", headers=h).status_code == 409  # running
    assert c.post(f"/api/sessions/{sid}/stop", headers=h).status_code == 200
    assert c.post(f"/api/sessions/{sid}/stop", headers=h).status_code == 409
    assert f'data-session-id="{sid}"'.encode() in c.get("/sessions").data  # delete from the list once stopped
    assert b"delete-session" not in app.test_client().get("/sessions").data  # not without the PIN
    assert c.patch(f"/api/sessions/{sid}", json={"notes": "hips ok"}, headers=h).get_json()["notes"] == "hips ok"
    strides = c.get(f"/api/sessions/{sid}/strides").get_json()["strides"]
    assert len(strides) == 1
    csv_r = c.get(f"/api/sessions/{sid}/export.csv")
    assert csv_r.mimetype == "text/csv" and "attachment" in csv_r.headers["Content-Disposition"]
    assert c.get(f"/api/sessions/{sid}/export.json").get_json()["strides"][0]["class"] == "B"
    with c.get(f"/api/sessions/{sid}/strides/{strides[0]['stride_id']}/snapshot.jpg") as r:
        assert r.status_code == 200
    assert c.get(f"/sessions/{sid}").status_code == 200
    assert c.get("/api/sessions").get_json()["sessions"][0]["id"] == sid
    assert c.delete(f"/api/sessions/{sid}", headers=h).status_code == 204
    assert c.post("/api/logout", headers=h).status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [("post", "/api/sessions", {}), ("post", "/api/sessions/1/stop", None), ("patch", "/api/sessions/1", {"notes": "x"}),
     ("delete", "/api/sessions/1", None), ("post", "/api/settings", {"server": {"open_viewing": False}}), ("delete", "/api/settings", None)],
)  # fmt: skip
def test_acting_needs_login(env: Any, method: str, url: str, body: Any) -> None:
    app, _, store, _ = env
    c = app.test_client()
    token = _csrf(c)
    r = getattr(c, method)(url, json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 401 and "error" in r.get_json()
    assert store.list_sessions() == []


def test_missing_csrf_is_refused_and_nothing_stored(env: Any) -> None:
    app, _, store, _ = env
    c = app.test_client()
    _login(c)
    r = c.post("/api/sessions", json={"runner": "x"})
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    r = c.post("/api/sessions", json={"runner": "x"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert c.post("/api/login", json={"pin": PIN}).status_code == 403
    assert store.list_sessions() == []


def test_wrong_pin_and_rate_limit(env: Any) -> None:
    app, *_ = env
    c = app.test_client()
    token = _csrf(c)
    h = {"X-CSRF-Token": token}
    # A PIN that is not a string is a wrong PIN (a clean 401, no 500), and it counts as a miss.
    r = c.post("/api/login", json={"pin": 1234}, headers=h)
    assert r.status_code == 401 and r.get_json()["error"] == "wrong PIN"
    codes = [c.post("/api/login", json={"pin": "0000"}, headers=h).status_code for _ in range(5)]
    assert [r.status_code, *codes] == [401, 401, 401, 429, 429, 429]  # three free misses, then locked
    r = c.post("/api/login", json={"pin": PIN}, headers=h)
    assert r.status_code == 429 and "Retry-After" in r.headers  # even the right PIN waits


def test_no_pin_configured_refuses_acting(tmp_path: Path) -> None:
    cfg = HipcamConfig()
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, cfg, secret_key=b"k" * 32))
    c = app.test_client()
    h = {"X-CSRF-Token": _csrf(c)}
    r = c.post("/api/login", json={"pin": "1234"}, headers=h)
    assert r.status_code == 403 and "pin-hash" in r.get_json()["error"]
    assert c.post("/api/sessions", json={}, headers=h).status_code == 403
    assert store.list_sessions() == []
    store.close()


def test_malformed_and_invalid_bodies(env: Any) -> None:
    app, _, store, _ = env
    c = app.test_client()
    h = {"X-CSRF-Token": _login(c), "Content-Type": "application/json"}
    assert c.post("/api/sessions", data="{not json", headers=h).status_code == 400
    assert c.post("/api/sessions", data="[1, 2]", headers=h).status_code == 400
    assert c.post("/api/sessions", data="runner=x", headers={**h, "Content-Type": "text/plain"}).status_code == 415
    assert c.post("/api/sessions", json={"treadmill_speed": "fast"}, headers=h).status_code == 400
    assert c.post("/api/sessions", json={"treadmill_speed": 99}, headers=h).status_code == 400
    assert c.post("/api/sessions", json={"runner": "x" * 500}, headers=h).status_code == 400
    assert c.post("/api/sessions", json={"runner": 5}, headers=h).status_code == 400
    assert store.list_sessions() == []


def test_unknown_session_is_404(env: Any) -> None:
    app, *_ = env
    c = app.test_client()
    h = {"X-CSRF-Token": _login(c)}
    for r in (
        c.get("/api/sessions/42"), c.get("/api/sessions/42/strides"), c.get("/api/sessions/42/export.csv"),
        c.get("/api/sessions/42/export.json"), c.get("/api/sessions/42/strides/1/snapshot.jpg"),
        c.post("/api/sessions/42/stop", headers=h), c.patch("/api/sessions/42", json={"notes": "n"}, headers=h),
        c.delete("/api/sessions/42", headers=h),
    ):  # fmt: skip
        assert r.status_code == 404 and "error" in r.get_json()


def test_huge_body_is_413_and_nothing_stored(env: Any) -> None:
    app, _, store, _ = env
    c = app.test_client()
    h = {"X-CSRF-Token": _login(c)}
    big = {"runner": "a", "pad": "x" * 10_000}
    r = c.post("/api/sessions", json=big, headers=h)
    assert r.status_code == 413 and "too large" in r.get_json()["error"]
    # A valid CSRF token in the header, so the body limit is what answers (not the CSRF check).
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": h["X-CSRF-Token"]}
    r = c.post("/api/login", data="x" * 10_000, headers=form)
    assert r.status_code == 413 and "too large" in r.get_json()["error"]
    assert store.list_sessions() == []


def test_closed_viewing_needs_login(tmp_path: Path) -> None:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH, "open_viewing": False}})
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, cfg, secret_key=b"k" * 32))
    c = app.test_client()
    assert c.get("/api/state").status_code == 401
    assert c.get("/login").status_code == 200
    _login(c)
    assert c.get("/api/state").status_code == 200
    store.close()


def _viewer_app(tmp_path: Path) -> tuple[Any, LiveState, Store, list[int]]:
    """An app allowing two live viewers (max_viewers 2 < threads - 2); counts[-1] is how many are open."""
    cfg = HipcamConfig.model_validate({"server": {"max_viewers": 2, "threads": 8}})
    state, store, counts = LiveState(), Store(tmp_path), [0]
    _publish(state)
    app = create_app(WebDeps(state, store, cfg, secret_key=b"k" * 32, on_viewers=counts.append, stream_max_s=0.2))
    app.testing = True
    return app, state, store, counts


def test_head_on_the_stream_does_not_hold_a_viewer_slot(tmp_path: Path) -> None:
    app, _, store, counts = _viewer_app(tmp_path)
    c = app.test_client()
    for _ in range(5):  # more HEADs than the limit
        r = c.head("/stream/events")
        assert r.status_code == 200 and r.mimetype == "text/event-stream" and r.data == b""
        r.close()  # what the WSGI server does once the (empty) response is sent
        assert counts[-1] == 0
    r = c.get("/stream/events")
    assert r.status_code == 200 and "event: full" in r.get_data(as_text=True)
    r.close()
    assert counts[-1] == 0 and min(counts) == 0
    store.close()


def test_viewer_limit_on_the_stream(tmp_path: Path) -> None:
    app, state, store, counts = _viewer_app(tmp_path)
    c = app.test_client()
    held = [c.get("/stream/events") for _ in range(2)]  # open streams, not read to the end
    assert [r.status_code for r in held] == [200, 200] and counts[-1] == 2
    r = c.get("/stream/events")
    assert r.status_code == 503 and r.headers["Retry-After"] == "5" and "too many" in r.get_json()["error"]
    assert counts[-1] == 2

    # A viewer that goes away mid-stream (the server closes its response) frees exactly its slot,
    # once, however often the response is closed.
    gone = held.pop(0)
    assert next(iter(gone.response)).startswith(b"retry:")
    gone.close()
    gone.close()
    assert counts[-1] == 1
    held.append(c.get("/stream/events"))
    assert held[-1].status_code == 200 and counts[-1] == 2
    assert c.get("/stream/events").status_code == 503

    # Streams that end on their own (the state closed at shutdown) free their slots too.
    state.close()
    for r in held:
        assert "event: full" in r.get_data(as_text=True)
        r.close()
    assert counts[-1] == 0 and min(counts) == 0
    r = c.get("/stream/events")
    assert r.status_code == 200
    r.close()
    assert counts[-1] == 0
    store.close()


# ---- settings -------------------------------------------------------------------------------


def test_settings_roundtrip_and_live_config(env: Any) -> None:
    app, _, _, cfg = env
    c = app.test_client()
    h = {"X-CSRF-Token": _login(c)}
    s = c.get("/api/settings").get_json()
    assert s["level"] == {"mode": "auto", "roll_deg": 0.0, "roll_min": -30.0, "roll_max": 30.0}
    body = {
        "level": {"mode": "manual", "roll_deg": 2},
        "gait": {"direction": "left"},
        "server": {"open_viewing": False},
    }
    r = c.post("/api/settings", json=body, headers=h)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["level"]["roll_deg"] == 2.0 and r.get_json()["gait"]["direction"] == "left"
    applied = app.extensions["hipcam"].settings.applied()
    assert (applied.level.mode, applied.level.roll_deg, applied.gait.direction, applied.open_viewing) == (
        "manual",
        2.0,
        "left",
        False,
    )
    assert cfg.level.mode == "auto" and cfg.server.open_viewing  # the start-up config is never changed
    assert app.test_client().get("/api/state").status_code == 401  # open viewing off applies at once
    assert b'value="2.0"' in c.get("/settings").data


def test_settings_wrong_pin_and_missing_csrf_change_nothing(env: Any) -> None:
    app, _, _, _ = env
    c = app.test_client()
    h = {"X-CSRF-Token": _csrf(c)}
    assert c.post("/api/login", json={"pin": "0000"}, headers=h).status_code == 401
    assert c.post("/api/settings", json={"level": {"mode": "off"}}, headers=h).status_code == 401
    _login(c)
    r = c.post("/api/settings", json={"level": {"mode": "off"}})
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    assert app.extensions["hipcam"].settings.applied().level.mode == "auto"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"level": {"roll_deg": 45}}, "level.roll_deg"), ({"level": {"roll_deg": "abc"}}, "level.roll_deg"),
     ({"level": {"mode": "tilt"}}, "level.mode"), ({"gait": {"direction": "up"}}, "gait.direction"),
     ({"server": {"open_viewing": "perhaps"}}, "server.open_viewing"), ({"server": {"port": 1}}, "server.port"),
     ({"capture": {"fps": 5}}, "capture"), ({"level": 3}, "level")],
)  # fmt: skip
def test_bad_settings_are_400_naming_the_field(env: Any, body: dict[str, Any], field: str) -> None:
    app, _, store, _ = env
    c = app.test_client()
    h = {"X-CSRF-Token": _login(c)}
    settings = app.extensions["hipcam"].settings
    before = settings.applied()
    r = c.post("/api/settings", json={"gait": {"direction": "left"}, **body}, headers=h)
    assert r.status_code == 400 and r.get_json()["error"].startswith(field), r.get_json()
    assert settings.applied() == before  # validated first: a bad field changes nothing, not even the good one
    assert not (store.data_dir / "settings.json").exists()


def test_settings_persist_for_a_new_app_and_reset(env: Any, tmp_path: Path) -> None:
    app, _, store, _ = env
    c = app.test_client()
    h = {"X-CSRF-Token": _login(c)}
    c.post("/api/settings", json={"level": {"mode": "manual", "roll_deg": -1.5}}, headers=h)
    c.post("/api/settings", json={"gait": {"direction": "right"}}, headers=h)
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved == {"gait": {"direction": "right"}, "level": {"mode": "manual", "roll_deg": -1.5}}

    # A restart: the config file says otherwise for one key; the page setting wins, others stay.
    cfg2 = HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH}, "level": {"mode": "off", "roll_deg": 4}})
    app2 = create_app(WebDeps(LiveState(), store, cfg2, secret_key=b"k" * 32))
    s = app2.test_client().get("/api/settings").get_json()
    assert s["level"]["mode"] == "manual" and s["level"]["roll_deg"] == -1.5 and s["gait"]["direction"] == "right"
    assert s["from_page"] == {"gait": ["direction"], "level": ["mode", "roll_deg"]}
    c2 = app2.test_client()
    r = c2.delete("/api/settings", headers={"X-CSRF-Token": _login(c2)})
    assert r.get_json()["level"] == {"mode": "off", "roll_deg": 4.0, "roll_min": -30.0, "roll_max": 30.0}
    assert not (tmp_path / "settings.json").exists()


def test_corrupt_settings_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text('{"level": {"roll_deg": 99}}')
    cfg = HipcamConfig()
    assert Settings(cfg, tmp_path).applied().level.roll_deg == 0.0


def test_settings_apply_to_the_live_gait(env: Any) -> None:
    from service_fakes import FakeGait, FakePose, FakeSource

    from hipcam.service.pipeline import Pipeline

    app, state, _, cfg = env
    built: list[tuple[float, str]] = []

    def factory(params: GaitParams, fps: float, roll: float, size: tuple[int, int]) -> FakeGait:
        built.append((roll, params.direction))
        return FakeGait(every=3)

    settings = app.extensions["hipcam"].settings  # the app's settings channel, as hipcam serve wires it
    pipe = Pipeline(cfg, FakeSource(fps=100), state, None, pose_loader=lambda c: FakePose(), gait_factory=factory,
                    settings=settings)  # fmt: skip
    pipe.start()
    try:
        assert _wait(lambda: state.snapshot()["level"] is not None)
        assert state.snapshot()["level"]["source"] in ("edge", "no_edge")  # auto on a blank frame
        c = app.test_client()
        h = {"X-CSRF-Token": _login(c)}
        body = {"level": {"mode": "manual", "roll_deg": 2}, "gait": {"direction": "left"}}
        assert c.post("/api/settings", json=body, headers=h).status_code == 200
        assert _wait(lambda: (2.0, "left") in built)
        level = c.get("/api/state").get_json()["level"]
        assert level == {"mode": "manual", "roll_deg": 2.0, "source": "manual", "text": "manual: +2.0°"}
        n = len(built)
        c.post("/api/settings", json={"server": {"open_viewing": True}, "level": {"roll_deg": 2.0}}, headers=h)
        time.sleep(0.2)
        assert len(built) == n  # nothing the tracker uses changed: no restart
    finally:
        pipe.stop()
