"""The hub's MQTT client: subscribes to every device's availability and state and feeds the board.

paho's own network thread connects in the background and reconnects with a growing delay (1 s up
to ``RECONNECT_MAX_S``) for as long as the hub runs, also when the broker was not there at start.
A lost or refused connection is logged once per outage (and its end once); while the broker is
away the board says so and keeps the last states, since retained availability messages bring them
up to date on the next connection. The broker, TLS and login are [mqtt]'s, as on the devices.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hipcam.config import MqttConfig
from hipcam.hub.board import SUBSCRIPTIONS, Board
from hipcam.service.mqtt import apply_broker_settings

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


def _client_id() -> str:
    host = "".join(c for c in socket.gethostname().lower() if c.isalnum() or c == "-")[:40]
    return f"hipcam-hub-{host}-{secrets.token_hex(3)}"


class Subscriber:
    """One MQTT connection for the hub; ``start`` returns at once, ``stop`` disconnects."""

    def __init__(self, cfg: MqttConfig, board: Board) -> None:
        self.cfg, self.board = cfg, board
        self.address = f"{cfg.host}:{cfg.port}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=_client_id(), clean_session=True)
        self._configure()
        self._lock = threading.Lock()
        self._outage: str | None = "not connected yet"
        self._logged_outage = False
        self._stopping = False

    def _configure(self) -> None:
        c, cfg = self._client, self.cfg
        apply_broker_settings(c, cfg)  # the device's own: the same files, the same checks and messages
        c.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message

    @property
    def connected(self) -> bool:
        return self.board.broker_connected

    def start(self) -> None:
        self._client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self.board.broker_connected = False

    def _down(self, reason: str) -> None:
        self.board.broker_connected = False
        with self._lock:
            first = not self._logged_outage
            self._outage, self._logged_outage = reason, True
        if first and not self._stopping:
            log.warning("MQTT broker %s: %s; retrying (every %d s at most)", self.address, reason, RECONNECT_MAX_S)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._down(f"connection refused ({reason}); check mqtt.username / password_file")
            return
        for topic in SUBSCRIPTIONS:
            client.subscribe(topic, qos=1)
        self.board.broker_connected = True
        with self._lock:
            was_down, self._logged_outage, self._outage = self._logged_outage, False, None
        log.info("MQTT broker %s: connected%s", self.address, " again" if was_down else "")

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._down("unreachable")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._down(f"connection lost ({reason})")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            self.board.handle(message.topic, message.payload, retained=bool(message.retain))
        except Exception as exc:  # a bug must not end paho's thread (and with it every update)
            log.error("MQTT message on %s not handled: %s: %s", message.topic, exc.__class__.__name__, exc)
