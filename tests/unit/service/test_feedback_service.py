"""The running session's feedback with a real store: cues posted per stride, blocks saved as they
end, a stopped session ending its feedback, retention against the runner's earlier probe, and the
API's answers to good and bad plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.feedback import Plan, Schedule, Target
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.cues import CueBoard
from hipcam.service.feedback import Feedback
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps

PLAN = Plan(target=Target(kind="pattern_b"), schedule=Schedule(kind="continuous", block_s=10, blocks=1))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _stride(ext: float) -> StrideRecord:
    return StrideRecord(leg="left", cls="B", hip_extension_at_toe_off_deg=ext, trunk_lean_at_toe_off_deg=3.0)


def test_cues_blocks_saved_and_retention(tmp_path: Path) -> None:
    store, state, cues, clock = Store(tmp_path), LiveState(), CueBoard(), Clock()
    feedback = Feedback(state, cues, store, clock=clock)
    session = store.start_session("Ana")["id"]
    feedback.start(PLAN, session)
    assert state.flag("feedback")["block"]["probe"] == "pre"
    feedback.on_frame([_stride(4.0)], 170.0, clock.now, session)  # pre probe: judged, not shown
    clock.now += 12.0
    feedback.on_frame([_stride(14.0)], 170.0, clock.now - 0.03, session)  # the feedback block: a hit, shown
    posted = cues.wait(0, 0.1)
    assert [(c["hit"], c["show"], c["block"]) for c in posted] == [(False, False, 0), (True, True, 1)]
    assert posted[1]["captured_at"] == pytest.approx(clock.now - 0.03)
    saved = store.feedback_runs(session)  # the pre block ended: saved
    assert [b["probe"] for b in saved[0]["blocks"]] == ["pre", None]
    store.stop_session(session)
    feedback.on_frame([], None, clock.now, None)  # the frame loop sees the session gone
    status = state.flag("feedback")
    assert status["finished"] and not status["active"]
    first = store.feedback_runs(session)[0]
    assert first["ended_at"] is not None and first["retention"]["pre"]["hit_rate"] == 0.0
    assert first["retention"]["baseline"] is None  # no earlier session of Ana
    # A later session of the same runner: its baseline is the first session's pre probe.
    later = store.start_session("Ana")["id"]
    feedback.start(PLAN, later)
    feedback.stop()
    assert store.feedback_runs(later)[0]["retention"]["baseline"]["session_id"] == session
    assert store.export_json(session)["feedback"][0]["blocks"][0]["strides"] == 1
    store.close()


def test_a_full_disk_does_not_stop_feedback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class FullStore:
        def save_feedback_run(self, *args: Any) -> int:
            raise OSError(28, "No space left on device")

    cues, clock = CueBoard(), Clock()
    feedback = Feedback(LiveState(), cues, FullStore(), clock=clock)  # type: ignore[arg-type]
    feedback.start(PLAN, 1)
    clock.now += 11.0
    feedback.on_frame([_stride(14.0)], None, clock.now, 1)
    assert cues.seq == 1 and "not saved" in caplog.text


@pytest.fixture
def client(tmp_path: Path) -> Any:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin("2468")}})
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, cfg, secret_key=b"k" * 32))
    c = app.test_client()
    token = c.get("/api/auth").get_json()["csrf_token"]
    token = c.post("/api/login", json={"pin": "2468"}, headers={"X-CSRF-Token": token}).get_json()["csrf_token"]
    c.environ_base["HTTP_X_CSRF_TOKEN"] = token
    yield c, store
    store.close()


def test_api_good_and_bad_plans(client: Any) -> None:
    c, store = client
    body = {"target": {"kind": "pattern_b", "min_hip_extension_deg": 12}, "schedule": {"kind": "faded", "block_s": 30}}
    r = c.put("/api/feedback", json=body)
    assert r.status_code == 409 and "start a session first" in r.get_json()["error"]
    store.start_session("Bo")
    assert c.put("/api/feedback", json=body).status_code == 200
    running = c.get("/api/feedback").get_json()["feedback"]
    assert running["active"] and running["target"]["label"].startswith("Hip extension ≥ 12°")
    for bad, field in (({"target": {"kind": "pattern_b", "max_trunk_lean_deg": 99}}, "target.max_trunk_lean_deg"),
                       ({"target": {"kind": "not_c"}, "schedule": {"blocks": 0}}, "schedule.blocks"),
                       ({"target": {"kind": "not_c"}, "schedule": {"block_s": 0}}, "schedule.block_s"),
                       ({"schedule": {}}, "target")):  # fmt: skip
        r = c.put("/api/feedback", json=bad)
        assert r.status_code == 400 and r.get_json()["error"].startswith(field), r.get_json()
    assert c.get("/api/feedback").get_json()["feedback"] == running  # nothing running changed
    stopped = c.delete("/api/feedback").get_json()["feedback"]
    assert stopped["finished"] and c.get(f"/api/sessions/{store.active_session_id}").get_json()["feedback"]
