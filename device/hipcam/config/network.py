"""The sections for many devices: this device's identity (``[device]``), MQTT (``[mqtt]``) and the
gym's hub (``[hub]``)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from hipcam.config.base import Section, _host_or_address

_TOPIC = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*")  # MQTT topic levels: no wildcards, no spaces
_DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_\-]{0,62}")


def _default_device_id() -> str:
    return re.sub(r"[^a-z0-9_\-]", "-", socket.gethostname().lower())[:63].strip("-") or "hipcam"


class DeviceConfig(Section):
    id: str | None = Field(
        None, description="this device's id in MQTT topics and on the hub (default: the host name, lower case)"
    )
    name: str | None = Field(
        None, max_length=80, description="the name shown on the hub and in DNS-SD (default: the id)"
    )
    advertise: bool = Field(
        True, description="announce the page on the network with mDNS / DNS-SD (_hipcam._tcp, _http._tcp)"
    )

    @field_validator("id")
    @classmethod
    def _id_valid(cls, value: str | None) -> str | None:
        if value is not None and not _DEVICE_ID.fullmatch(value):
            raise ValueError(
                "1-63 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit"
            )
        return value

    def device_id(self) -> str:
        return self.id or _default_device_id()

    def display_name(self) -> str:
        return self.name or self.device_id()


class MqttConfig(Section):
    enabled: bool = Field(False, description="publish availability, state and strides to an MQTT broker")
    host: str = Field("localhost", description="the broker's address or host name")
    port: int = Field(1883, ge=1, le=65535, description="the broker's port (8883 is the usual TLS port)")
    tls_ca_file: Path | None = Field(None, description="CA certificate (PEM) of the broker: connect with TLS")
    tls_cert_file: Path | None = Field(None, description="client certificate (PEM), if the broker asks for one")
    tls_key_file: Path | None = Field(None, description="the client certificate's key (PEM)")
    username: str | None = Field(None, max_length=256, description="broker user name")
    password_file: Path | None = Field(None, description="file holding the broker password (one line; keep it 0600)")
    topic_prefix: str | None = Field(None, max_length=200, description="topic prefix (default: hipcam/<device id>)")
    discovery_prefix: str = Field("homeassistant", max_length=200, description="Home Assistant discovery prefix")
    include_runner: bool = Field(False, description="put the runner's name in stride messages (personal data)")
    keepalive_s: int = Field(
        15, ge=5, le=600, description="MQTT keepalive; the broker marks the device offline after 1.5x"
    )
    queue_max: int = Field(
        1000, ge=10, le=100_000, description="messages held while the broker is away (oldest dropped)"
    )

    @field_validator("host")
    @classmethod
    def _mqtt_host_valid(cls, value: str) -> str:
        return _host_or_address(value)

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _topic_valid(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC.fullmatch(value):
            raise ValueError("topic levels of letters, digits, '-' and '_' separated by '/' (no '+', '#' or spaces)")
        return value

    @model_validator(mode="after")
    def _client_pair(self) -> MqttConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("mqtt.tls_cert_file and mqtt.tls_key_file go together")
        if self.tls_cert_file is not None and self.tls_ca_file is None:
            raise ValueError("a client certificate needs TLS: set mqtt.tls_ca_file too")
        if self.password_file is not None and not self.username:
            raise ValueError("mqtt.password_file needs mqtt.username (the broker checks the pair)")
        return self


class HubDevice(Section):
    id: str = Field(description="the device's id (its [device] id)")
    url: str = Field(description="the device's page, e.g. http://treadmill-1.local:8080")
    token_file: Path = Field(description="file holding the device's read-only token (`hipcam token add` on it)")

    @field_validator("url")
    @classmethod
    def _url_valid(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(:\d+)?/?", value):
            raise ValueError("an http:// or https:// address of the device's page, like http://treadmill-1.local:8080")
        return value.rstrip("/")


class HubConfig(Section):
    host: str = Field("0.0.0.0", description="address the hub's page listens on")
    port: int = Field(8090, ge=1, le=65535, description="TCP port of the hub's page")
    database_url: str | None = Field(
        None, max_length=500, description="postgresql://... for a shared archive (default: SQLite in the data dir)"
    )
    pull_interval_s: float = Field(60.0, ge=2.0, le=86_400.0, description="how often finished sessions are pulled")
    devices: list[HubDevice] = Field([], max_length=500, description="the devices whose sessions the hub archives")

    @field_validator("host")
    @classmethod
    def _hub_host_valid(cls, value: str) -> str:
        return _host_or_address(value)

    @field_validator("devices", mode="before")
    @classmethod
    def _devices_from_text(cls, value: Any) -> Any:
        # From the environment: HIPCAM_HUB__DEVICES='[{"id": "t1", "url": "http://t1.local:8080", ...}]'
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _db_url_valid(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("a PostgreSQL URL (postgresql://user@host/db); leave it out for SQLite")
        return value
