"""``/api/calibration``: a tap on a paused live frame or a stride's snapshot -> the runner's stored
offset; PIN and CSRF, mis-taps, unknown runners and malformed bodies are clean 4xx errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient
from service_fakes import web_app

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.domain import LEG_JOINTS, PRESENCE, VISIBILITY, Landmark
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.state import FramePose, LiveState

PIN = "2468"
FW, FH = 1280, 720  # the analysed frame
IW, IH = 640, 360  # the camera-view JPEG (half size)
HIP_PX = np.array([600.0, 400.0])  # the left (near) hip in frame pixels; trunk 200 px, upright


def _landmarks() -> np.ndarray:
    lm = np.zeros((33, 5))
    lm[:, VISIBILITY], lm[:, PRESENCE] = 0.9, 0.9
    lm[Landmark.LEFT_HIP, :2] = HIP_PX
    lm[Landmark.RIGHT_HIP, :2] = HIP_PX + np.array([10.0, 0.0])
    lm[Landmark.LEFT_SHOULDER, :2] = HIP_PX + np.array([0.0, -200.0])
    lm[Landmark.RIGHT_SHOULDER, :2] = HIP_PX + np.array([10.0, -200.0])
    lm[:, 0] /= FW
    lm[:, 1] /= FH
    return lm


def _tap(dx: float, dy: float) -> list[float]:
    """A tap dx, dy frame pixels from the near hip, in camera-view JPEG pixels."""
    return [float((HIP_PX[0] + dx) * IW / FW), float((HIP_PX[1] + dy) * IH / FH)]


@pytest.fixture()
def env(tmp_path: Path) -> Any:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin(PIN)}})
    state, store = LiveState(), Store(tmp_path)
    state.note_pose(5.0, FramePose(_landmarks(), FW, FH, "right", "left"))
    seq = state.publish_camera(b"\xff\xd8jpeg", IW, IH, 5.0, [(0.5, 0.5, 0.9)] * 33)
    store.start_session("Ann")
    app = web_app(store, cfg, state)
    app.testing = True
    yield app, store, seq
    store.close()


def _login(client: FlaskClient) -> str:
    token = str(client.get("/api/auth").get_json()["csrf_token"])
    r = client.post("/api/login", json={"pin": PIN}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    return str(r.get_json()["csrf_token"])


def _put(client: FlaskClient, token: str, body: Any) -> Any:
    return client.put("/api/calibration", json=body, headers={"X-CSRF-Token": token})


def test_a_good_tap_on_the_live_frame_is_stored_and_read_back(env: Any) -> None:
    app, store, seq = env
    c = app.test_client()
    assert c.get("/api/calibration?runner=Ann").get_json() == {"runner": "Ann", "calibration": None}
    token = _login(c)
    r = _put(c, token, {"runner": "Ann", "tap": _tap(20.0, 30.0), "frame": {"kind": "live", "seq": seq}})
    assert r.status_code == 200, r.get_json()
    cal = r.get_json()["calibration"]
    assert cal["forward"] == pytest.approx(0.1) and cal["up"] == pytest.approx(-0.15)
    assert cal["near_leg"] == "left" and cal["source"] == f"live camera frame {seq}"
    stored = store.hip_calibration("Ann")
    assert stored is not None and stored.forward == pytest.approx(0.1) and stored.up == pytest.approx(-0.15)
    assert c.get("/api/calibration?runner=Ann").get_json()["calibration"]["up"] == pytest.approx(-0.15)
    r = c.delete("/api/calibration?runner=Ann", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json() == {"runner": "Ann", "calibration": None, "removed": True}
    assert store.hip_calibration("Ann") is None


def test_a_mis_tap_is_refused_and_keeps_the_old_calibration(env: Any) -> None:
    app, store, seq = env
    store.set_hip_calibration("Ann", 0.02, -0.1)
    c = app.test_client()
    token = _login(c)
    r = _put(c, token, {"runner": "Ann", "tap": _tap(0.0, 150.0), "frame": {"kind": "live", "seq": seq}})
    assert r.status_code == 400 and "trochanter" in r.get_json()["error"]
    r = _put(c, token, {"runner": "Ann", "tap": [IW + 5.0, 10.0], "frame": {"kind": "live", "seq": seq}})
    assert r.status_code == 400 and "outside" in r.get_json()["error"]
    stored = store.hip_calibration("Ann")
    assert stored is not None and (stored.forward, stored.up) == (0.02, -0.1)


def test_changing_needs_the_pin_and_the_csrf_token(env: Any) -> None:
    app, store, seq = env
    c = app.test_client()
    token = str(c.get("/api/auth").get_json()["csrf_token"])
    body = {"runner": "Ann", "tap": _tap(0.0, 20.0), "frame": {"kind": "live", "seq": seq}}
    assert _put(c, token, body).status_code == 401
    assert c.delete("/api/calibration?runner=Ann", headers={"X-CSRF-Token": token}).status_code == 401
    token = _login(c)
    assert c.put("/api/calibration", json=body).status_code == 403  # no CSRF token
    assert store.hip_calibration("Ann") is None
    no_pin = web_app(store, HipcamConfig(), LiveState())
    c2 = no_pin.test_client()
    t2 = str(c2.get("/api/auth").get_json()["csrf_token"])
    r = _put(c2, t2, body)
    assert r.status_code == 403 and "PIN" in r.get_json()["error"]


def test_unknown_runners_and_frames_are_404(env: Any) -> None:
    app, _, seq = env
    c = app.test_client()
    assert c.get("/api/calibration?runner=Bob").status_code == 404
    token = _login(c)
    r = _put(c, token, {"runner": "Bob", "tap": _tap(0.0, 20.0), "frame": {"kind": "live", "seq": seq}})
    assert r.status_code == 404 and "Bob" in r.get_json()["error"]
    r = _put(c, token, {"runner": "Ann", "tap": _tap(0.0, 20.0), "frame": {"kind": "live", "seq": seq + 100}})
    assert r.status_code == 404 and "no longer kept" in r.get_json()["error"]
    r = _put(
        c, token, {"runner": "Ann", "tap": [1.0, 1.0], "frame": {"kind": "stride", "session_id": 1, "stride_id": 9}}
    )
    assert r.status_code == 404
    assert c.delete("/api/calibration?runner=Bob", headers={"X-CSRF-Token": token}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"tap": [1, 2], "frame": {"kind": "live", "seq": 1}},
        {"runner": "", "tap": [1, 2], "frame": {"kind": "live", "seq": 1}},
        {"runner": ["Ann"], "tap": [1, 2], "frame": {"kind": "live", "seq": 1}},
        {"runner": "Ann", "frame": {"kind": "live", "seq": 1}},
        {"runner": "Ann", "tap": [1], "frame": {"kind": "live", "seq": 1}},
        {"runner": "Ann", "tap": ["1", 2], "frame": {"kind": "live", "seq": 1}},
        {"runner": "Ann", "tap": [True, 2], "frame": {"kind": "live", "seq": 1}},
        {"runner": "Ann", "tap": [1, 2]},
        {"runner": "Ann", "tap": [1, 2], "frame": "live"},
        {"runner": "Ann", "tap": [1, 2], "frame": {"kind": "video", "seq": 1}},
        {"runner": "Ann", "tap": [1, 2], "frame": {"kind": "live", "seq": -1}},
        {"runner": "Ann", "tap": [1, 2], "frame": {"kind": "live", "seq": 1.5}},
        {"runner": "Ann", "tap": [1, 2], "frame": {"kind": "stride", "session_id": 1}},
        [1, 2],
    ],
)
def test_malformed_bodies_are_400(env: Any, body: Any) -> None:
    app, store, _ = env
    c = app.test_client()
    token = _login(c)
    r = _put(c, token, body)
    assert r.status_code == 400, r.get_json()
    assert isinstance(r.get_json()["error"], str) and store.hip_calibration("Ann") is None


def test_not_json_and_a_missing_runner_query(env: Any) -> None:
    app, *_ = env
    c = app.test_client()
    token = _login(c)
    r = c.put("/api/calibration", data="runner=Ann", content_type="text/plain", headers={"X-CSRF-Token": token})
    assert r.status_code == 415
    r = c.put("/api/calibration", data="{nope", content_type="application/json", headers={"X-CSRF-Token": token})
    assert r.status_code == 400
    assert c.get("/api/calibration").status_code == 400


def _stride_with_pose(store: Store, session_id: int) -> int:
    pose = FramePose(_landmarks(), FW, FH, "right", "left").to_json()
    pose["image_width"], pose["image_height"] = IW, IH
    return store.add_stride(session_id, StrideRecord(leg="left", cls="B"), b"\xff\xd8snap", pose).id


def test_a_tap_on_a_strides_snapshot(env: Any) -> None:
    app, store, _ = env
    stride_id = _stride_with_pose(store, 1)
    c = app.test_client()
    snap = c.get(f"/api/sessions/1/strides/{stride_id}/snapshot.json")
    assert snap.status_code == 200 and snap.get_json()["near_leg"] == "left" and len(snap.get_json()["landmarks"]) == 33
    token = _login(c)
    frame = {"kind": "stride", "session_id": 1, "stride_id": stride_id}
    r = _put(c, token, {"runner": "Ann", "tap": _tap(-10.0, 40.0), "frame": frame})
    assert r.status_code == 200, r.get_json()
    cal = r.get_json()["calibration"]
    assert cal["forward"] == pytest.approx(-0.05) and cal["up"] == pytest.approx(-0.2)
    assert cal["source"] == f"session 1 stride {stride_id}"
    # A stride of another runner's session cannot calibrate Ann.
    store.stop_session()
    other = store.start_session("Bob")["id"]
    bob_stride = _stride_with_pose(store, other)
    frame = {"kind": "stride", "session_id": other, "stride_id": bob_stride}
    r = _put(c, token, {"runner": "Ann", "tap": _tap(0.0, 20.0), "frame": frame})
    assert r.status_code == 400 and "Bob" in r.get_json()["error"]
    # A snapshot saved without landmarks (before schema 4) is a clear 404.
    bare = store.add_stride(other, StrideRecord(leg="left", cls="B"), b"\xff\xd8snap").id
    assert c.get(f"/api/sessions/{other}/strides/{bare}/snapshot.json").status_code == 404
    r = _put(
        c,
        token,
        {"runner": "Bob", "tap": [1.0, 1.0], "frame": {"kind": "stride", "session_id": other, "stride_id": bare}},
    )
    assert r.status_code == 404 and "landmarks" in r.get_json()["error"]


def test_the_camera_frame_says_when_its_hips_are_calibrated(env: Any) -> None:
    app, _, _ = env
    state: LiveState = app.extensions["hipcam"].state
    c = app.test_client()
    assert c.get("/stream/frame.jpg").headers["X-Hip-Calibrated"] == "0"
    used = _landmarks()[[LEG_JOINTS["left"]["hip"], LEG_JOINTS["right"]["hip"]], :2] + 0.01
    state.note_pose(6.0, FramePose(_landmarks(), FW, FH, "right", "left", used))
    state.publish_camera(b"\xff\xd8jpeg", IW, IH, 6.0, [(0.5, 0.5, 0.9)] * 33)
    r = c.get("/stream/frame.jpg")
    assert r.headers["X-Hip-Calibrated"] == "1"
    assert (
        r.headers["X-Hip-Landmarks"]
        == f"[[{HIP_PX[0] / FW:.4g},{HIP_PX[1] / FH:.4g}],[{(HIP_PX[0] + 10) / FW:.4g},{HIP_PX[1] / FH:.4g}]]"
    )
