"""What the device says over MQTT: topics and message bodies (plain JSON), built without a client.

Topics under ``<prefix>`` (``mqtt.topic_prefix``, default ``hipcam/<device id>``):

- ``<prefix>/availability``: ``online`` / ``offline``, retained (the Last Will is ``offline``);
- ``<prefix>/state``: the live readout, at most once a second, retained;
- ``<prefix>/stride``: one message per completed stride, not retained;
- ``<prefix>/walkup``: the day's count of walk-up checks, after each check, retained (no personal data).

Home Assistant discovery configs go to ``<discovery prefix>/sensor/<device id>/<object>/config``
(retained). docs/mqtt/ holds the JSON schemas of ``state`` and ``stride`` and describes them.

Personal data: a stride carries the runner's name only with ``mqtt.include_runner = true``; the
state carries none (no runner, no notes, no images, no landmarks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hipcam.records.stride import StrideRecord, json_number

AVAILABLE = "online"
UNAVAILABLE = "offline"
HA_ONLINE = "online"  # what Home Assistant publishes on <discovery prefix>/status when it starts


@dataclass(frozen=True)
class DeviceInfo:
    """Who is speaking: the device's id and name, the software version and the page, if known."""

    device_id: str
    name: str
    version: str
    page_url: str | None = None


@dataclass(frozen=True)
class Topics:
    prefix: str
    discovery_prefix: str
    device_id: str

    @property
    def availability(self) -> str:
        return f"{self.prefix}/availability"

    @property
    def state(self) -> str:
        return f"{self.prefix}/state"

    @property
    def stride(self) -> str:
        return f"{self.prefix}/stride"

    @property
    def walkup(self) -> str:
        return f"{self.prefix}/walkup"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def discovery(self, obj: str) -> str:
        return f"{self.discovery_prefix}/sensor/{self.device_id}/{obj}/config"


def topics_for(topic_prefix: str | None, discovery_prefix: str, device_id: str) -> Topics:
    return Topics(topic_prefix or f"hipcam/{device_id}", discovery_prefix, device_id)


def iso_time(t: float) -> str:
    """Wall-clock seconds as ISO 8601 in UTC with milliseconds (``2025-01-31T09:15:02.125+00:00``)."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def state_message(
    device: DeviceInfo, snapshot: Mapping[str, Any], fps: float, last: StrideRecord | None, now: float
) -> dict[str, Any]:
    """The ``state`` body from the live snapshot (LiveState.snapshot), the analysed frame rate and
    the last completed stride."""
    live = snapshot.get("live") or {}
    flags = snapshot.get("flags") or {}
    current = snapshot.get("current_class")
    return {
        "device_id": device.device_id,
        "device_name": device.name,
        "status": str(snapshot.get("status", "starting")),
        "fps": json_number(fps, 1) or 0.0,
        "current_class": None if current is None else str(current),
        "hip_extension_at_toe_off_deg": json_number(last.hip_extension_at_toe_off_deg, 1) if last else None,
        "cadence_spm": json_number(live.get("cadence_spm"), 0),
        "session_active": flags.get("session_id") is not None,
        "page_url": device.page_url,
        "timestamp": iso_time(now),
    }


def stride_message(
    device: DeviceInfo, stride: StrideRecord, at: float, session_id: int | None, runner: str | None = None
) -> dict[str, Any]:
    """The ``stride`` body; ``runner`` only when given (``mqtt.include_runner``)."""
    out: dict[str, Any] = {
        "device_id": device.device_id,
        "session_id": session_id,
        "leg": stride.leg,
        "class": str(stride.cls),
        "hip_extension_at_toe_off_deg": json_number(stride.hip_extension_at_toe_off_deg, 1),
        "trunk_lean_at_toe_off_deg": json_number(stride.trunk_lean_at_toe_off_deg, 1),
        "thigh_at_toe_off_deg": json_number(stride.thigh_at_toe_off_deg, 1),
        "stance_s": json_number(stride.stance_s, 3),
        "duration_s": json_number(stride.duration_s, 3),
        "timestamp": iso_time(at),
    }
    if runner is not None:
        out["runner"] = runner
    return out


@dataclass(frozen=True)
class _Sensor:
    obj: str  # the object id in the discovery topic and the unique id
    name: str
    key: str  # the state message's field
    unit: str | None = None
    numeric: bool = False
    diagnostic: bool = False
    icon: str | None = None


SENSORS: tuple[_Sensor, ...] = (
    _Sensor("class", "Stride class", "current_class", icon="mdi:run"),
    _Sensor("hip_extension", "Hip extension at toe-off", "hip_extension_at_toe_off_deg", "°", True),
    _Sensor("cadence", "Cadence", "cadence_spm", "steps/min", True, icon="mdi:metronome"),
    _Sensor("status", "Status", "status", diagnostic=True),
    _Sensor("fps", "Analysed frame rate", "fps", "fps", True, diagnostic=True),
)


def discovery_messages(topics: Topics, device: DeviceInfo) -> list[tuple[str, dict[str, Any]]]:
    """Home Assistant MQTT discovery: one sensor config per reading, all on one HA device."""
    block: dict[str, Any] = {
        "identifiers": [f"hipcam_{device.device_id}"],
        "name": device.name,
        "manufacturer": "hipcam",
        "model": "hipcam",
        "sw_version": device.version,
    }
    if device.page_url:
        block["configuration_url"] = device.page_url
    return [(topics.discovery(s.obj), _sensor_config(s, topics, device, block)) for s in SENSORS]


def _sensor_config(s: _Sensor, topics: Topics, device: DeviceInfo, block: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": s.name,
        "unique_id": f"hipcam_{device.device_id}_{s.obj}",
        "state_topic": topics.state,
        "value_template": f"{{{{ value_json.{s.key} }}}}",  # null renders None: HA shows "unknown"
        "availability_topic": topics.availability,
        "payload_available": AVAILABLE,
        "payload_not_available": UNAVAILABLE,
        "device": block,
        "origin": {"name": "hipcam", "sw_version": device.version},
    }
    if s.unit is not None:
        config["unit_of_measurement"] = s.unit
    if s.numeric:
        config["state_class"] = "measurement"
    if s.diagnostic:
        config["entity_category"] = "diagnostic"
    if s.icon is not None:
        config["icon"] = s.icon
    return config


def walkup_message(device: DeviceInfo, day: str, checks: int, now: float) -> dict[str, Any]:
    """The ``walkup`` body: how many walk-up checks finished on ``day`` (the device's local day)."""
    return {"device_id": device.device_id, "day": day, "checks": int(checks), "timestamp": iso_time(now)}
