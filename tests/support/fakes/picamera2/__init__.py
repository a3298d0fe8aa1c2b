"""A stand-in for picamera2 (Pi OS only) that records every call, so the adapter can be tested.

Never installed: conftest's ``fake_picamera2`` fixture puts tests/fakes first on sys.path for one
test and resets the state below. It follows picamera2's documented behaviour where the adapter
relies on it: ``Picamera2()`` raises IndexError when libcamera lists no camera,
``captured_request()`` is a context manager that releases the request on exit (also when the body
raises), ``make_array(name)`` gives an array [height, width, 3] for a configured stream of size
(width, height), and ``get_metadata()["SensorTimestamp"]`` is in nanoseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FIRST_STAMP_NS = 5_000_000_000_123  # a sensor clock far from zero, with sub-microsecond digits
FRAME_NS = 33_333_333


@dataclass
class State:
    """What the test controls (inputs) and what the fake saw (calls, requests)."""

    cameras: list[dict[str, Any]] = field(default_factory=lambda: [{"Model": "imx708", "Num": 0}])
    fail: dict[str, BaseException] = field(default_factory=dict)  # method name -> raised when called
    metadata: Callable[[int], dict[str, Any]] = field(
        default=lambda n: {"SensorTimestamp": FIRST_STAMP_NS + n * FRAME_NS, "FrameDuration": 33333}
    )
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    requests: list[CompletedRequest] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


state = State()


def reset() -> State:
    global state
    state = State()
    return state


def _record(name: str, *args: Any, **kwargs: Any) -> None:
    state.calls.append((name, args, kwargs))
    if name in state.fail:
        raise state.fail[name]


class CompletedRequest:
    def __init__(self, number: int, size: tuple[int, int]) -> None:
        self.number = number
        self.size = size
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        _record("make_array", name)
        assert not self.released, "make_array on a released request"
        assert name == "main", f"no stream {name!r} was configured"
        width, height = self.size
        return np.full((height, width, 3), self.number % 256, dtype=np.uint8)

    def get_metadata(self) -> dict[str, Any]:
        _record("get_metadata")
        assert not self.released, "get_metadata on a released request"
        return state.metadata(self.number)

    def release(self) -> None:
        assert not self.released, "request released twice"
        self.released = True


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        _record("__init__", camera_num=camera_num)
        if camera_num >= len(state.cameras):
            raise IndexError("list index out of range")  # what picamera2 raises with no camera
        self.config: dict[str, Any] | None = None
        self.started = False
        self.closed = False

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        _record("global_camera_info")
        return list(state.cameras)

    def create_video_configuration(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        _record("create_video_configuration", *args, **kwargs)
        main = dict(kwargs.get("main") or {})
        main.setdefault("size", (1280, 720))
        return {"use_case": "video", "main": main, "controls": dict(kwargs.get("controls") or {})}

    def configure(self, config: dict[str, Any]) -> None:
        _record("configure", config)
        assert not self.started, "configure while started"
        self.config = config

    def start(self) -> None:
        _record("start")
        assert self.config is not None, "start before configure"
        self.started = True

    @contextmanager
    def captured_request(self) -> Iterator[CompletedRequest]:
        _record("captured_request")
        assert self.started and not self.closed, "captured_request on a camera that is not running"
        assert self.config is not None
        width, height = self.config["main"]["size"]
        request = CompletedRequest(len(state.requests), (width, height))
        state.requests.append(request)
        try:
            yield request
        finally:
            request.release()

    def stop(self) -> None:
        _record("stop")
        self.started = False

    def close(self) -> None:
        _record("close")
        self.closed = True
