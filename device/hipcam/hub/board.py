"""What each device last said over MQTT, for the hub's page: one ``DeviceView`` per device id.

Devices publish under ``hipcam/<device id>/``: a retained ``availability`` (``online`` /
``offline``, the Last Will being ``offline``) and a ``state`` JSON object at most once a second.
Anything else, a foreign topic, a device id that is not one, a payload that is not JSON or not an
object, a field of the wrong type, is ignored (counted, never raised); missing fields stay as they
were and extra ones are not read. Field names are read under the device's spelling and a few
obvious variants, so a small change on one side does not blank the page.

The board keeps at most ``MAX_DEVICES`` ids (junk publishers cannot grow it without bound); the
configured devices ([hub] devices) are always listed, seen or not. A page URL is shown only if it
is ``http(s)://``.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

TOPIC_ROOT = "hipcam"
SUBSCRIPTIONS = (f"{TOPIC_ROOT}/+/availability", f"{TOPIC_ROOT}/+/state")
MAX_DEVICES = 500
MAX_PAYLOAD = 16 * 1024
MAX_TEXT = 200
DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_\-]{0,62}")
_URL = re.compile(r"https?://[^\s\"'<>]{1,300}")

# state field -> the names a device may use for it (the first is the device's own).
ALIASES: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "fps": ("fps",),
    "current_class": ("current_class", "class", "cls"),
    "hip_extension_deg": ("hip_extension_at_toe_off_deg", "last_hip_extension_deg", "hip_extension_deg"),
    "cadence_spm": ("cadence_spm", "cadence"),
    "session_active": ("session_active", "session"),
    "name": ("device_name", "name"),
    "url": ("page_url", "url"),
    "device_time": ("timestamp", "ts", "time"),
}


@dataclass
class DeviceView:
    """One device as the page shows it. ``online`` is None until its availability is known."""

    id: str
    name: str = ""
    url: str = ""
    configured: bool = False
    online: bool | None = None
    status: str = ""
    current_class: str = ""
    hip_extension_deg: float | None = None
    cadence_spm: float | None = None
    session_active: bool | None = None
    fps: float | None = None
    device_time: float | None = None
    last_seen: float | None = None  # the hub's clock when the device last said anything
    changed_at: float | None = None  # when online/offline last changed

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["name"] = self.name or self.id
        return out


def parse_topic(topic: str) -> tuple[str, str] | None:
    """(device id, kind) of ``hipcam/<id>/availability|state``, else None."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != TOPIC_ROOT or parts[2] not in ("availability", "state"):
        return None
    return (parts[1], parts[2]) if DEVICE_ID.fullmatch(parts[1]) else None


def _text(value: Any) -> str | None:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _flag(value: Any) -> bool | None:
    if isinstance(value, Mapping):  # {"session": {"active": true, ...}}
        value = value.get("active")
    return value if isinstance(value, bool) else None


def _time(value: Any) -> float | None:
    """Epoch seconds, or an ISO 8601 time (the device sends ``2025-01-31T09:15:02.125+00:00``)."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return _number(value)


def _url(value: Any) -> str | None:
    text = _text(value)
    return text if text is not None and _URL.fullmatch(text) else None


_READERS: dict[str, Callable[[Any], Any]] = {
    "status": _text, "fps": _number, "current_class": _text, "hip_extension_deg": _number,
    "cadence_spm": _number, "session_active": _flag, "name": _text, "url": _url, "device_time": _time,
}  # fmt: skip


_CLEARED: dict[str, Any] = {
    name: "" if reader is _text or reader is _url else None for name, reader in _READERS.items()
}


def read_state(payload: bytes) -> dict[str, Any] | None:
    """The fields of a state message the board knows, each checked; None if it is no JSON object."""
    if len(payload) > MAX_PAYLOAD:
        return None
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    fields: dict[str, Any] = {}
    for name, keys in ALIASES.items():
        key = next((k for k in keys if k in data), None)
        if key is None:
            continue  # not sent: the last value stays
        if data[key] is None:
            fields[name] = _CLEARED[name]  # sent as null: nothing now (no class yet, no stride)
        elif (value := _READERS[name](data[key])) is not None:
            fields[name] = value
    return fields


def read_availability(payload: bytes) -> bool | None:
    text = payload[:32].decode("utf-8", "replace").strip().lower()
    return {"online": True, "offline": False}.get(text)


class Board:
    """Thread-safe map of device id -> DeviceView, fed by ``handle`` (the subscriber's thread)
    and read by the page (``snapshot``)."""

    def __init__(self, configured: Iterable[tuple[str, str]] = (), clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceView] = {}
        for device_id, url in configured:
            self._devices[device_id] = DeviceView(id=device_id, url=url, configured=True)
        self.accepted = 0
        self.ignored = 0
        self.broker_connected = False

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> bool:
        """Apply one message; whether it was used (False: ignored, and counted). A ``retained`` one
        is the broker's copy of an old message: it does not count as the device being seen now."""
        parsed = parse_topic(topic)
        used = parsed is not None and self._apply(*parsed, payload, retained)
        with self._lock:
            if used:
                self.accepted += 1
            else:
                self.ignored += 1
        return used

    def _apply(self, device_id: str, kind: str, payload: bytes, retained: bool) -> bool:
        if kind == "availability":
            online = read_availability(payload)
            return online is not None and self._update(device_id, {"online": online}, retained)
        fields = read_state(payload)
        return fields is not None and self._update(device_id, fields, retained)

    def _update(self, device_id: str, fields: dict[str, Any], retained: bool) -> bool:
        now = self._clock()
        with self._lock:
            view = self._devices.get(device_id)
            if view is None:
                if len(self._devices) >= MAX_DEVICES:
                    return False
                view = self._devices[device_id] = DeviceView(id=device_id)
            if "online" in fields and fields["online"] != view.online:
                view.changed_at = now
            if view.configured and "url" in fields:
                fields.pop("url")  # the configured address is the one the hub trusts
            for name, value in fields.items():
                setattr(view, name, value)
            if not retained:
                view.last_seen = now
            elif view.last_seen is None and isinstance(fields.get("device_time"), float):
                view.last_seen = min(fields["device_time"], now)  # when the device said it, by its clock
        return True

    def snapshot(self) -> list[dict[str, Any]]:
        """Every device, configured ones first, then by name."""
        with self._lock:
            views = [v.to_json() for v in self._devices.values()]
        return sorted(views, key=lambda v: (not v["configured"], v["name"].lower(), v["id"]))

    def name_of(self, device_id: str) -> str:
        with self._lock:
            view = self._devices.get(device_id)
            return (view.name or view.id) if view else device_id

    def counts(self) -> dict[str, int]:
        """How many devices are online, offline and not seen yet."""
        with self._lock:
            states = [v.online for v in self._devices.values()]
        return {"online": states.count(True), "offline": states.count(False), "not_seen": states.count(None)}
