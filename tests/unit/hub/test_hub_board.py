"""The hub's MQTT message handling: availability and state per device, with junk, missing and
extra fields tolerated (ignored and counted, never raised)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hipcam.hub.board import MAX_DEVICES, Board, parse_topic, read_state

# What a device publishes (hipcam.service.mqtt_messages.state_message).
STATE = {
    "device_id": "t1", "device_name": "Treadmill 1", "status": "running", "fps": 29.7, "current_class": "B",
    "hip_extension_at_toe_off_deg": 12.3, "cadence_spm": 168, "session_active": True,
    "page_url": "http://t1.local:8080/", "timestamp": "2025-01-31T09:15:02.125+00:00",
}  # fmt: skip


def _board(*configured: tuple[str, str]) -> tuple[Board, list[float]]:
    now = [100.0]
    return Board(configured, clock=lambda: now[0]), now


def _state(**changes: Any) -> bytes:
    return json.dumps({**STATE, **changes}).encode()


def test_availability_and_state_make_a_device() -> None:
    board, now = _board()
    assert board.handle("hipcam/t1/availability", b"online")
    now[0] = 101.0
    assert board.handle("hipcam/t1/state", _state())
    [view] = board.snapshot()
    assert view["id"] == "t1" and view["name"] == "Treadmill 1" and view["online"] is True
    assert view["status"] == "running" and view["current_class"] == "B" and view["session_active"] is True
    assert view["fps"] == 29.7 and view["hip_extension_deg"] == 12.3 and view["cadence_spm"] == 168
    assert view["url"] == "http://t1.local:8080/" and view["last_seen"] == 101.0 and view["changed_at"] == 100.0
    assert view["device_time"] == pytest.approx(1738314902.125)
    now[0] = 150.0
    assert board.handle("hipcam/t1/availability", b"offline")  # the Last Will
    [view] = board.snapshot()
    assert view["online"] is False and view["changed_at"] == 150.0 and view["status"] == "running"  # last state kept
    assert board.counts() == {"online": 0, "offline": 1, "not_seen": 0}


def test_missing_fields_keep_their_value_null_clears_extra_ignored() -> None:
    board, _ = _board()
    board.handle("hipcam/t1/state", _state())
    board.handle("hipcam/t1/state", json.dumps({"fps": 12.5, "brand_new_field": {"x": 1}}).encode())
    [view] = board.snapshot()
    assert view["fps"] == 12.5 and view["current_class"] == "B" and "brand_new_field" not in view
    board.handle("hipcam/t1/state", json.dumps({"current_class": None, "hip_extension_at_toe_off_deg": None}).encode())
    [view] = board.snapshot()
    assert view["current_class"] == "" and view["hip_extension_deg"] is None and view["status"] == "running"


@pytest.mark.parametrize(
    "topic, payload",
    [
        ("hipcam/t1/availability", b"maybe"),
        ("hipcam/t1/availability", b""),
        ("hipcam/t1/state", b"not json"),
        ("hipcam/t1/state", b"[1, 2, 3]"),
        ("hipcam/t1/state", b"\xff\xfe"),
        ("hipcam/t1/state", b"[" * 100_000),
        ("hipcam/t1/state", b'{"fps": "' + b"x" * 20_000 + b'"}'),  # over the size cap
        ("hipcam/T1/state", _state()),  # not a device id
        ("hipcam/t1/stride", _state()),  # not subscribed to, not read
        ("other/t1/state", _state()),
        ("hipcam/t1/state/extra", _state()),
        ("hipcam//state", _state()),
    ],
)
def test_junk_is_ignored_and_counted(topic: str, payload: bytes) -> None:
    board, _ = _board()
    assert board.handle(topic, payload) is False
    assert board.snapshot() == [] and board.ignored == 1 and board.accepted == 0


def test_wrong_types_are_dropped_field_by_field() -> None:
    fields = read_state(json.dumps({"fps": "fast", "status": 7, "session_active": "yes", "cadence_spm": True,
                                    "page_url": "javascript:alert(1)", "current_class": "C",
                                    "hip_extension_at_toe_off_deg": float("nan")}).encode())  # fmt: skip
    assert fields == {"current_class": "C"}
    assert read_state(json.dumps({"session": {"active": True, "runner": "x"}}).encode()) == {"session_active": True}
    assert read_state(json.dumps({"status": "s" * 1000}).encode()) == {"status": "s" * 200}


def test_configured_devices_listed_first_and_keep_their_url() -> None:
    board, _ = _board(("zeta", "http://10.0.0.9:8080"))
    assert [v["id"] for v in board.snapshot()] == ["zeta"] and board.snapshot()[0]["online"] is None
    board.handle("hipcam/alpha/availability", b"online")
    board.handle("hipcam/zeta/state", _state(page_url="http://elsewhere.example/"))
    views = board.snapshot()
    assert [v["id"] for v in views] == ["zeta", "alpha"]
    assert views[0]["url"] == "http://10.0.0.9:8080" and views[0]["configured"] is True
    assert board.name_of("zeta") == "Treadmill 1" and board.name_of("alpha") == "alpha" and board.name_of("x") == "x"


def test_retained_messages_do_not_make_a_device_seen_now() -> None:
    board, now = _board()
    board.handle("hipcam/t1/availability", b"online", retained=True)
    assert board.snapshot()[0]["last_seen"] is None and board.snapshot()[0]["online"] is True
    board.handle("hipcam/t1/state", _state(timestamp="1970-01-01T00:01:00+00:00"), retained=True)
    assert board.snapshot()[0]["last_seen"] == 60.0  # the device's own time of its last state
    now[0] = 200.0
    board.handle("hipcam/t1/state", _state())
    assert board.snapshot()[0]["last_seen"] == 200.0


def test_device_count_is_bounded() -> None:
    board, _ = _board()
    for i in range(MAX_DEVICES + 20):
        board.handle(f"hipcam/d{i}/availability", b"online")
    assert len(board.snapshot()) == MAX_DEVICES and board.ignored == 20
    assert board.handle("hipcam/d0/availability", b"offline")  # the known ones still update


def test_parse_topic() -> None:
    assert parse_topic("hipcam/t-1_a/state") == ("t-1_a", "state")
    assert parse_topic("hipcam/t1/availability") == ("t1", "availability")
    assert parse_topic("hipcam/+/state") is None and parse_topic("hipcam/t1/#") is None


@given(st.binary(max_size=300), st.sampled_from(["availability", "state"]))
def test_any_bytes_never_raise(payload: bytes, kind: str) -> None:
    board, _ = _board()
    board.handle(f"hipcam/t1/{kind}", payload)


@given(st.dictionaries(st.sampled_from([*STATE, "session", "x"]), st.one_of(st.none(), st.booleans(), st.integers(),
       st.floats(), st.text(max_size=20), st.lists(st.integers(), max_size=2))))  # fmt: skip
def test_any_json_object_never_raises(data: dict[str, Any]) -> None:
    board, _ = _board()
    board.handle("hipcam/t1/state", json.dumps(data).encode())
    json.dumps(board.snapshot(), allow_nan=False)  # what /api/devices sends is valid JSON
