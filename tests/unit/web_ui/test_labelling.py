"""The labelling app (hipcam label's page) through Flask's test client: meta, frames, truth GET/PUT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hipcam.commands.label import decode_jpegs
from hipcam.errors import HipcamError, VideoError
from hipcam.records.truth import load_truth, new_truth, save_truth
from web_ui.labelling import LabelMeta, create_label_app

META = LabelMeta("clip", "clip.mp4", 30.0, 5, 64, 48, true_fps=120.0)
FRAMES = [b"\xff\xd8frame%d" % i for i in range(5)]


def _app(tmp_path: Path) -> Flask:
    app = create_label_app(FRAMES, META, tmp_path / "clip.truth.json")
    app.testing = True
    return app


@pytest.fixture()
def app(tmp_path: Path) -> Flask:
    return _app(tmp_path)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _put(client: FlaskClient, app: Flask, body: Any) -> Any:
    return client.put("/api/truth", json=body, headers={"X-CSRF-Token": app.config["CSRF_TOKEN"]})


def test_page_meta_and_headers(client: FlaskClient, app: Flask) -> None:
    page = client.get("/")
    assert page.status_code == 200 and b"label.js" in page.data and app.config["CSRF_TOKEN"].encode() in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert b"<script>" not in page.data  # no inline script: the data is a JSON block
    meta = client.get("/api/meta").get_json()
    assert meta["frame_count"] == 5 and meta["width"] == 64 and meta["true_fps"] == 120.0 and meta["name"] == "clip"
    assert meta["truth_path"].endswith("clip.truth.json") and set(meta["colours"]) >= {"left", "right"}


def test_frames(client: FlaskClient) -> None:
    r = client.get("/frame/3.jpg")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data == FRAMES[3]
    assert client.get("/frame/5.jpg").status_code == 404
    assert client.get("/frame/-1.jpg").status_code == 404
    with client.get("/static/label.js") as js:  # a file response: closed, or it warns
        assert js.status_code == 200


def test_get_then_put_saves_the_file(client: FlaskClient, app: Flask, tmp_path: Path) -> None:
    got = client.get("/api/truth").get_json()
    assert got["saved"] is False and got["truth"]["frames_analyzed"] == [0, 4]
    body = got["truth"] | {
        "running_direction_in_image": "left", "near_side_leg": "left", "notes": "ok", "camera_roll_deg": 1.5,
        "events": [{"frame": 3, "leg": "left", "type": "foot_strike", "confidence_frames": 1},
                   {"frame": 1, "leg": "left", "type": "foot_strike", "confidence_frames": 1}],
        "toe_off_angles": [{"frame": 2, "shoulder_px": [30, 5], "hip_px": [32, 20], "knee_px": [38, 30]}],
        "fps": 999, "frame_count": 1,  # the clip's own values win
    }  # fmt: skip
    r = _put(client, app, body)
    assert r.status_code == 200, r.get_json()
    saved = r.get_json()
    assert saved["saved"] is True
    t = load_truth(tmp_path / "clip.truth.json")
    assert (t.fps, t.frame_count, t.true_fps, t.slow_motion, t.frame_size_px) == (30.0, 5, 120.0, True, (64, 48))
    assert [e.frame for e in t.events] == [1, 3] and t.near_leg == "left" and t.roll_deg == 1.5
    a = t.toe_off_angles[0]
    assert a.thigh_deg > 0 and a.trunk_deg > 0  # running left: knee at larger x is behind, shoulder at smaller x ahead
    assert t.cadence_spm == 7200.0  # a same-leg pair two frames apart: two steps, at the real 120 fps
    assert client.get("/api/truth").get_json()["truth"] == saved["truth"]


@pytest.mark.parametrize(
    "change",
    [
        {"events": [{"frame": 9, "leg": "left", "type": "toe_off"}]},
        {"events": [{"frame": 1, "leg": "left", "type": "jump"}]},
        {"running_direction_in_image": "up"},
        {"frames_analyzed": [3, 1]},
        {"toe_off_angles": [{"frame": 1, "hip_px": "x"}]},
    ],
)
def test_bad_put_is_400_with_a_message(client: FlaskClient, app: Flask, tmp_path: Path, change: dict) -> None:
    body = client.get("/api/truth").get_json()["truth"] | change
    r = _put(client, app, body)
    assert r.status_code == 400 and r.is_json
    message = r.get_json()["error"]
    assert message and "Traceback" not in message and "\n" not in message
    assert not (tmp_path / "clip.truth.json").exists()


def test_put_needs_a_json_object_and_the_token(client: FlaskClient, app: Flask) -> None:
    r = client.put("/api/truth", data="nope", headers={"X-CSRF-Token": app.config["CSRF_TOKEN"]})
    assert r.status_code == 400 and "JSON object" in r.get_json()["error"]
    assert _put(client, app, [1]).status_code == 400
    assert client.put("/api/truth", json={}).status_code == 403


def test_other_host_names_are_refused(client: FlaskClient) -> None:
    assert client.get("/api/meta", headers={"Host": "evil.example:8088"}).status_code == 403
    assert client.get("/api/meta", headers={"Host": "127.0.0.1:8088"}).status_code == 200
    assert client.get("/api/meta", headers={"Host": "[::1]:8088"}).status_code == 200


def test_an_existing_truth_is_continued(tmp_path: Path) -> None:
    t = new_truth("clip", "clip.mp4", 30.0, 5)
    save_truth(tmp_path / "clip.truth.json", t)
    got = _app(tmp_path).test_client().get("/api/truth").get_json()
    assert got["saved"] is True and got["truth"]["true_fps"] == 120.0


def test_a_truth_that_does_not_fit_the_video_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clip.truth.json"
    t = new_truth("clip", "clip.mp4", 30.0, 500)
    save_truth(path, t)  # frames_analyzed [0, 499] cannot fit 5 frames
    with pytest.raises(HipcamError, match="5-frame video"):
        _app(tmp_path)


def test_decode_jpegs_of_a_small_clip(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    path = tmp_path / "c.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (64, 48))
    for i in range(6):
        out.write(np.full((48, 64, 3), i * 40, np.uint8))
    out.release()
    frames, fps, w, h = decode_jpegs(path)
    assert len(frames) == 6 and fps == 25.0 and (w, h) == (64, 48)
    assert all(f.startswith(b"\xff\xd8") for f in frames)
    assert cv2.imdecode(np.frombuffer(frames[5], np.uint8), cv2.IMREAD_COLOR).mean() == pytest.approx(200, abs=3)
    with pytest.raises(VideoError, match="not found"):
        decode_jpegs(tmp_path / "none.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(VideoError):
        decode_jpegs(tmp_path / "junk.mp4")
