"""Viewing closed in the config file or the environment is a floor the page cannot lift, and a
stream ends at the next tick once its viewer may no longer watch; the live-view gate counts per
client address, and a stream's stall check sees only what its client really takes."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from test_api import PIN_HASH, _login

from hipcam.config import HipcamConfig, load_config
from hipcam.records.store import Store
from hipcam.service.settings import VIEWING_CLOSED, SettingLocked, Settings, locked
from hipcam.service.state import LiveState
from web_ui import create_app
from web_ui.deps import WebDeps
from web_ui.stream import TickCache, _events
from web_ui.viewers import CLIENT_FULL, FULL, Connection, Viewer, ViewerGate


def _closed_by_config() -> HipcamConfig:
    return HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH, "open_viewing": False}})


# ---- the floor -------------------------------------------------------------------------------


def test_only_viewing_closed_in_the_config_is_locked(tmp_path: Path) -> None:
    assert locked(HipcamConfig()) == {}
    assert locked(HipcamConfig.model_validate({"server": {"open_viewing": True}})) == {}
    assert locked(_closed_by_config()) == {"server": {"open_viewing": VIEWING_CLOSED}}
    from_env = load_config(None, environ={"HIPCAM_SERVER__OPEN_VIEWING": "false"})
    assert locked(from_env)["server"]["open_viewing"] == VIEWING_CLOSED
    config_file = tmp_path / "config.toml"
    config_file.write_text("[server]\nopen_viewing = false\n")
    assert locked(load_config(config_file, environ={}))["server"]["open_viewing"] == VIEWING_CLOSED


def test_the_page_cannot_open_viewing_the_config_closed(tmp_path: Path) -> None:
    settings = Settings(_closed_by_config(), tmp_path)
    version = settings.applied().version
    with pytest.raises(SettingLocked, match=r"server\.open_viewing: closed in the config file / environment"):
        settings.update({"server": {"open_viewing": True}})
    with pytest.raises(SettingLocked):
        settings.update({"server": {"open_viewing": "yes"}, "level": {"mode": "off"}})  # nothing of it applies
    assert settings.applied().version == version and settings.applied().open_viewing is False
    assert settings.applied().level.mode == "auto" and not settings.path.exists()
    # Other keys still change; closing (what it is already) is accepted and not saved as the page's.
    settings.update({"server": {"open_viewing": False}, "level": {"mode": "off"}})
    assert json.loads(settings.path.read_text()) == {"level": {"mode": "off"}}
    current = settings.current()
    assert current["server"]["open_viewing"] is False and current["locked"] == {
        "server": {"open_viewing": VIEWING_CLOSED}
    }
    assert current["from_page"] == {"level": ["mode"]}


def test_a_page_setting_saved_before_the_floor_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "settings.json").write_text(
        json.dumps({"server": {"open_viewing": True}, "gait": {"direction": "left"}})
    )
    with caplog.at_level(logging.WARNING):
        settings = Settings(_closed_by_config(), tmp_path)
    assert settings.applied().open_viewing is False and settings.applied().gait.direction == "left"
    assert any("server.open_viewing" in r.getMessage() and "administrator" in r.getMessage() for r in caplog.records)
    settings.update({"level": {"mode": "off"}})  # the next save drops it from the file
    assert json.loads((tmp_path / "settings.json").read_text()) == {
        "gait": {"direction": "left"},
        "level": {"mode": "off"},
    }
    # Without the floor, the same saved file opens viewing as before.
    (tmp_path / "settings.json").write_text(json.dumps({"server": {"open_viewing": True}}))
    opened = Settings(HipcamConfig.model_validate({"server": {"open_viewing": True}}), tmp_path)
    assert opened.applied().open_viewing is True and opened.locked() == {}


def test_the_page_may_close_and_reopen_viewing_the_config_left_open(tmp_path: Path) -> None:
    settings = Settings(HipcamConfig.model_validate({"server": {"open_viewing": True}}), tmp_path)
    settings.update({"server": {"open_viewing": False}})
    assert settings.applied().open_viewing is False
    settings.update({"server": {"open_viewing": True}})
    assert settings.applied().open_viewing is True and settings.current()["locked"] == {}


def test_api_and_page_show_the_lock(tmp_path: Path) -> None:
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, _closed_by_config(), secret_key=b"k" * 32))
    c = app.test_client()
    h = {"X-CSRF-Token": _login(c)}
    r = c.post("/api/settings", json={"server": {"open_viewing": True}}, headers=h)
    assert r.status_code == 409 and "by the administrator" in r.get_json()["error"]
    assert c.get("/api/settings").get_json()["locked"] == {"server": {"open_viewing": VIEWING_CLOSED}}
    page = c.get("/settings").get_data(as_text=True)
    checkbox = page[page.index('id="open-viewing"') : page.index(">", page.index('id="open-viewing"'))]
    assert "disabled" in checkbox and VIEWING_CLOSED in page
    assert c.post("/api/settings", json={"server": {"open_viewing": False}}, headers=h).status_code == 200
    store.close()


def test_an_unlocked_page_shows_no_lock(tmp_path: Path) -> None:
    store = Store(tmp_path)
    app = create_app(WebDeps(LiveState(), store, HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH}}),
                             secret_key=b"k" * 32))  # fmt: skip
    page = app.test_client().get("/settings").get_data(as_text=True)
    lock = page[page.index('id="open-viewing-lock"') : page.index(">", page.index('id="open-viewing-lock"'))]
    assert "hidden" in lock
    store.close()


# ---- the stream ------------------------------------------------------------------------------


def test_a_stream_ends_at_the_next_tick_once_its_viewer_may_not_watch() -> None:
    state = LiveState()
    may = [True]
    viewer = Viewer(Connection({}), lambda: may[0], stall_s=5.0)
    stream = _events(state, TickCache(state), 60.0, viewer)
    assert next(stream).startswith(b"retry:") and next(stream).startswith(b"event: full")
    state.set_status("running", "x")
    assert next(stream).startswith(b"event: tick")
    may[0] = False
    start = time.monotonic()
    assert list(stream) == []
    assert time.monotonic() - start < 0.5
    assert viewer.written > 0


class _FakeChannel:
    """What Connection reads of a waitress channel."""

    def __init__(self) -> None:
        self.total_outbufs_len = 0
        self.connected = True
        self.will_close = False
        self.adj = type("Adj", (), {"outbuf_high_watermark": 1000})()
        self.socket = None

    def check_client_disconnected(self) -> bool:
        return not self.connected


def _viewer(channel: _FakeChannel, now: list[float]) -> Viewer:
    conn = Connection({"waitress.client_disconnected": channel.check_client_disconnected})
    return Viewer(conn, lambda: True, stall_s=5.0, client="10.0.0.9", clock=lambda: now[0])


def test_stalled_means_nothing_taken_while_something_waits() -> None:
    channel, now = _FakeChannel(), [0.0]
    viewer = _viewer(channel, now)
    viewer.wrote(b"x" * 500)
    channel.total_outbufs_len = 500  # nothing taken yet
    now[0] = 4.9
    assert not viewer.stalled()
    channel.total_outbufs_len = 400  # 100 bytes taken: progress
    now[0] = 9.0
    assert not viewer.stalled()
    viewer.wrote(b"y" * 300)
    channel.total_outbufs_len = 710  # more written, nothing more taken (and the chunk framing)
    now[0] = 13.9
    assert not viewer.stalled() and not viewer.conn.would_block()
    now[0] = 14.0
    assert viewer.stalled()
    channel.total_outbufs_len = 1001
    assert viewer.conn.would_block()


def test_a_quiet_stream_that_has_sent_everything_is_not_stalled() -> None:
    channel, now = _FakeChannel(), [0.0]
    viewer = _viewer(channel, now)
    viewer.wrote(b"keep-alive")
    now[0] = 60.0
    assert not viewer.stalled() and not viewer.must_end()


def test_a_stalled_viewer_is_cut_off(caplog: pytest.LogCaptureFixture) -> None:
    channel, now = _FakeChannel(), [0.0]
    viewer = _viewer(channel, now)
    viewer.wrote(b"x" * 100)
    channel.total_outbufs_len = 100
    now[0] = 6.0
    assert viewer.must_end() and channel.will_close
    assert [r.getMessage() for r in caplog.records] == [
        "closed a live view to 10.0.0.9: it took nothing for 5 s (100 bytes waiting)"
    ]
    channel.connected = False
    assert Viewer(viewer.conn, lambda: True, 5.0).must_end()  # a client gone ends its stream too


def test_the_gate_counts_per_client_address() -> None:
    counts: list[int] = []
    gate = ViewerGate(3, counts.append, per_client=2)
    assert gate.enter("10.0.0.1") is None and gate.enter("10.0.0.1") is None
    assert gate.enter("10.0.0.1") == CLIENT_FULL and gate.held_by("10.0.0.1") == 2
    assert gate.enter("10.0.0.2") is None
    assert gate.enter("10.0.0.3") == FULL  # all three taken
    gate.leave("10.0.0.1")
    assert gate.enter("10.0.0.3") is None and counts == [1, 2, 3, 2, 3]
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        gate.leave(client)
    assert gate.count == 0 and gate.held_by("10.0.0.1") == 0


def test_the_per_client_cap_comes_from_the_config(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cfg = HipcamConfig.model_validate({"server": {"max_viewers": 6, "threads": 8, "max_viewers_per_client": 1}})
    app = create_app(WebDeps(LiveState(), store, cfg, secret_key=b"k" * 32, stream_max_s=0.2))
    c = app.test_client()
    held: Any = c.get("/stream/events")
    assert held.status_code == 200
    r = c.get("/stream/events")
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.get_json()["error"].startswith("this address (127.0.0.1) has too many live views open (at most 1)")
    other = c.get("/stream/events", environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 200
    for resp in (held, other):
        resp.close()
    store.close()
