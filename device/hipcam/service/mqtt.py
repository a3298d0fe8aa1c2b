"""MQTT to the gym's broker (``[mqtt]``, off by default): availability, state, strides and Home
Assistant discovery (the topics and bodies are in hipcam.service.mqtt_messages and docs/mqtt/).

Three threads, so a broker that is down, slow or refusing never slows the frame loop:

- the frame loop only calls ``offer_strides``, which appends to a bounded deque (the oldest is
  dropped and counted beyond ``mqtt.queue_max``) and never touches paho;
- the publisher thread (``hipcam-mqtt``) drains that deque while connected, sends the state at most
  once a second (read from the live snapshot, so it says what the page says) and announces the
  device (availability ``online`` and the discovery configs) after each connect and whenever Home
  Assistant says ``online`` on ``<discovery prefix>/status``;
- paho's network loop (``loop_start``), which connects asynchronously and reconnects with backoff.

paho's own queue is bounded too (``max_queued_messages``): a broker that does not acknowledge leaves
the strides in our deque, where the oldest are dropped. The Last Will is ``offline`` (retained),
so a killed device is marked offline by the broker after 1.5 keepalives; a clean stop publishes
``offline`` itself. The connection's state (connected / connecting / disconnected, the last error,
queued, dropped and sent counts) is in /healthz and /metrics; it never makes the device unhealthy.

Start-up problems (a password file that cannot be read, a TLS file that cannot be loaded, a
password without a user name) are ``ConfigError``: one line and a non-zero exit from `hipcam serve`.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from hipcam.config import DeviceConfig, MqttConfig, ServerConfig
from hipcam.errors import ConfigError
from hipcam.records.stride import StrideRecord
from hipcam.service.mqtt_messages import (
    AVAILABLE,
    HA_ONLINE,
    UNAVAILABLE,
    DeviceInfo,
    Topics,
    discovery_messages,
    state_message,
    stride_message,
    topics_for,
    walkup_message,
)
from hipcam.service.state import LiveState

log = logging.getLogger(__name__)

STATE_EVERY_S = 1.0
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 10  # a broker back after an outage is found again within this
CONNECT_TIMEOUT_S = 5.0
STOP_WAIT_S = 2.0  # a clean stop waits this long for ``offline`` to be acknowledged
CONNECTED, CONNECTING, DISCONNECTED = "connected", "connecting", "disconnected"
CONNECTION_STATES = (CONNECTED, CONNECTING, DISCONNECTED)


@dataclass(frozen=True)
class MqttStatus:
    """The connection as /healthz and /metrics show it."""

    state: str
    broker: str
    last_error: str | None
    queued: int
    dropped: int
    sent: int

    def to_json(self) -> dict[str, Any]:
        return {"enabled": True, "state": self.state, "broker": self.broker, "last_error": self.last_error,
                "queued": self.queued, "dropped": self.dropped, "sent": self.sent}  # fmt: skip


@dataclass(frozen=True)
class PendingStride:
    stride: StrideRecord
    at: float  # wall-clock capture time of the frame that completed it
    session_id: int | None
    runner: str | None


class StrideQueue:
    """A bounded FIFO: ``offer`` never blocks beyond a short lock and drops the oldest when full."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[PendingStride] = deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self.dropped = 0

    def offer(self, item: PendingStride) -> None:
        with self._lock:
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)

    def take(self) -> PendingStride | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def put_back(self, item: PendingStride) -> None:
        """Return an item ``take`` gave out to the front (it could not be sent yet)."""
        with self._lock:
            if len(self._items) >= self._maxlen:
                self.dropped += 1  # a newer one arrived meanwhile and the queue is full: this one goes
                return
            self._items.appendleft(item)

    def __len__(self) -> int:
        return len(self._items)


def read_password(path: Path) -> str:
    """The broker password: the file's first line (a ConfigError if it is missing or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"mqtt.password_file {path}: cannot read it ({reason})") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(f"mqtt.password_file {path} is empty: write the broker password on its first line")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("mqtt.password_file %s can be read by others; chmod 600 it", path)
    return lines[0]


def page_url(server: ServerConfig, device: DeviceConfig, port: int) -> str | None:
    """The page's address as others on the network reach it, if known: ``<device id>.local`` when it
    listens on every address and is announced by mDNS, the address it listens on otherwise; None
    for loopback or an unannounced wildcard."""
    scheme = "https" if server.tls_cert is not None else "http"
    host = server.host
    if host in ("0.0.0.0", "::", ""):
        return f"{scheme}://{device.device_id()}.local:{port}/" if device.advertise else None
    if host in ("localhost", "::1") or host.startswith("127."):
        return None
    return f"{scheme}://[{host}]:{port}/" if ":" in host else f"{scheme}://{host}:{port}/"


def make_client(cfg: MqttConfig, client_id: str, will_topic: str) -> paho.Client:
    """A paho client with the Last Will, credentials and TLS of ``cfg`` (ConfigError if unusable)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    client.will_set(will_topic, UNAVAILABLE, qos=1, retain=True)
    apply_broker_settings(client, cfg)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    client.connect_timeout = CONNECT_TIMEOUT_S
    client.max_queued_messages_set(cfg.queue_max)
    return client


def apply_broker_settings(client: paho.Client, cfg: MqttConfig) -> None:
    """The credentials and TLS of ``cfg`` on ``client`` (a ConfigError if a file is unusable): the
    one place for them, used by the device's publisher and the hub's subscriber."""
    if cfg.username is not None:
        password = read_password(cfg.password_file.expanduser()) if cfg.password_file is not None else None
        client.username_pw_set(cfg.username, password)
    if cfg.tls_ca_file is not None:
        _set_tls(client, cfg)


def _set_tls(client: paho.Client, cfg: MqttConfig) -> None:
    files = [f.expanduser() for f in (cfg.tls_ca_file, cfg.tls_cert_file, cfg.tls_key_file) if f is not None]
    for f in files:
        if not f.is_file():
            raise ConfigError(f"mqtt TLS file {f} not found")
    cert = str(cfg.tls_cert_file.expanduser()) if cfg.tls_cert_file is not None else None
    key = str(cfg.tls_key_file.expanduser()) if cfg.tls_key_file is not None else None
    assert cfg.tls_ca_file is not None  # the caller's condition
    try:
        client.tls_set(ca_certs=str(cfg.tls_ca_file.expanduser()), certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)  # fmt: skip
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: not PEM, key does not match
        raise ConfigError(f"mqtt TLS files ({', '.join(map(str, files))}) cannot be used: {exc}") from None


class MqttPublisher:
    """Publishes the device's availability, state and strides; see the module's docstring."""

    def __init__(
        self,
        cfg: MqttConfig,
        device: DeviceInfo,
        state: LiveState,
        fps: Callable[[], float],
        client_factory: Callable[[MqttConfig, str, str], Any] = make_client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.device = cfg, device
        self.topics: Topics = topics_for(cfg.topic_prefix, cfg.discovery_prefix, device.device_id)
        self.client_id = f"hipcam-{device.device_id}-{secrets.token_hex(3)}"
        self._state, self._fps, self._clock = state, fps, clock
        self.queue = StrideQueue(cfg.queue_max)
        self.client = client_factory(cfg, self.client_id, self.topics.availability)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._lock = threading.Lock()
        self._conn = CONNECTING
        self._error: str | None = None
        self._logged_error: str | None = None
        self._ever_connected = False
        self._announce = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hipcam-mqtt", daemon=True)
        self._last: StrideRecord | None = None
        self._walkup: tuple[str, int] | None = None  # a walk-up count not yet sent
        self._next_state = 0.0
        self._failures = 0
        self.sent = 0

    @property
    def broker(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()
        self._thread.start()
        log.info("MQTT: connecting to %s as %s (topics %s/...)", self.broker, self.client_id, self.topics.prefix)

    def stop(self) -> None:
        """Publish ``offline`` (if connected), disconnect, end both threads; bounded in time."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT_S)
        if self.connection == CONNECTED:
            self._publish_offline()
            log.info("MQTT: offline published, disconnecting from %s", self.broker)
        if len(self.queue):
            log.info("MQTT: %d strides not sent before the stop", len(self.queue))
        self.client.disconnect()
        stopper = threading.Thread(target=self.client.loop_stop, name="hipcam-mqtt-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_WAIT_S)  # paho's thread ends within a second; never wait on a hung socket

    def _publish_offline(self) -> None:
        try:
            info = self.client.publish(self.topics.availability, UNAVAILABLE, qos=1, retain=True)
            info.wait_for_publish(STOP_WAIT_S)
        except (RuntimeError, ValueError) as exc:  # the connection went meanwhile: the Will says it
            log.debug("MQTT: offline not published: %s", exc)

    # ---- the frame loop's side -----------------------------------------------------------
    def offer_strides(self, strides: tuple[StrideRecord, ...], at: float, session_id: int | None) -> None:
        """Hand completed strides over; never blocks (a short lock) and never calls paho."""
        runner = self._state.flag("runner") if self.cfg.include_runner else None
        for stride in strides:
            self.queue.offer(PendingStride(stride, at, session_id, runner))
        classified = [s for s in strides if s.classified]  # an unknown stride's angles are not trusted
        self._last = classified[-1] if classified else self._last
        self._wake.set()

    def offer_walkup_count(self, day: str, checks: int) -> None:
        """The day's count of walk-up checks; sent (retained) by the publisher thread, never blocks."""
        self._walkup = (day, checks)
        self._wake.set()

    # ---- readers -------------------------------------------------------------------------
    @property
    def connection(self) -> str:
        with self._lock:
            return self._conn

    def status(self) -> MqttStatus:
        with self._lock:
            conn, error = self._conn, self._error
        return MqttStatus(conn, self.broker, error, len(self.queue), self.queue.dropped, self.sent)

    def health(self) -> Mapping[str, Any]:
        return self.status().to_json()

    # ---- the publisher thread --------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the work: an offer made during it wakes the next wait
            timeout = STATE_EVERY_S
            if self.connection == CONNECTED:
                try:
                    self._cycle()
                    timeout = max(0.05, self._next_state - self._clock())
                except Exception as exc:  # a bug here must not end the thread, nor the service
                    self._failed(exc)
            self._wake.wait(timeout)

    def _failed(self, exc: Exception) -> None:
        """The first failure with its traceback, the rest in one line at debug level (once a second)."""
        if not self._failures:
            log.exception("MQTT: publishing failed; trying again every %g s", STATE_EVERY_S)
        else:
            log.debug("MQTT: publishing failed again: %r", exc)
        self._failures += 1

    def _cycle(self) -> None:
        if self._announce.is_set():
            self._announce.clear()
            self._publish_announcement()
        self._drain()
        now = self._clock()
        walkup = self._walkup
        if walkup is not None and self._send(
            self.topics.walkup, walkup_message(self.device, *walkup, now), qos=1, retain=True
        ):
            self._walkup = None if self._walkup == walkup else self._walkup
        if now >= self._next_state:
            self._next_state = now + STATE_EVERY_S
            self._publish_state(now)

    def _publish_announcement(self) -> None:
        self._send(self.topics.availability, AVAILABLE, qos=1, retain=True)
        for topic, body in discovery_messages(self.topics, self.device):
            self._send(topic, body, qos=1, retain=True)

    def _publish_state(self, now: float) -> None:
        body = state_message(self.device, self._state.snapshot(full=False), self._fps(), self._last, now)
        self._send(self.topics.state, body, qos=0, retain=True)

    def _drain(self) -> None:
        while (item := self.queue.take()) is not None:
            body = stride_message(self.device, item.stride, item.at, item.session_id, item.runner)
            if not self._send(self.topics.stride, body, qos=1, retain=False):
                self.queue.put_back(item)  # not connected any more, or paho's queue is full: later
                return

    def _send(self, topic: str, body: str | Mapping[str, Any], qos: int, retain: bool) -> bool:
        payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), allow_nan=False)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        self.sent += 1
        return True

    # ---- paho's callbacks (its network thread; they must never raise) -----------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if getattr(reason, "is_failure", False):
            self._set(self._retrying, f"the broker refused the connection: {reason}")
            return
        again = self._ever_connected
        self._ever_connected = True
        self._set(CONNECTED, None)
        log.info("MQTT: connected%s to %s", " again" if again else "", self.broker)
        client.subscribe(self.topics.ha_status, qos=1)
        self._announce.set()
        self._next_state = 0.0
        self._wake.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        exc = sys.exc_info()[1]  # paho calls this while handling the connect's OSError
        self._set(self._retrying, f"cannot connect to {self.broker}: {exc or 'no answer'}")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._stop.is_set():
            self._set(DISCONNECTED, None)
            return
        if self.connection == CONNECTED:
            self._set(DISCONNECTED, f"connection lost: {reason}")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic == self.topics.ha_status and bytes(message.payload).strip() == HA_ONLINE.encode():
            log.info("MQTT: Home Assistant is online: announcing the sensors again")
            self._announce.set()
            self._wake.set()

    @property
    def _retrying(self) -> str:
        """Connecting until the first connection; disconnected once one was lost."""
        return DISCONNECTED if self._ever_connected else CONNECTING

    def _set(self, conn: str, error: str | None) -> None:
        with self._lock:
            self._conn = conn
            if error is not None:
                self._error = error
        if error is not None and error != self._logged_error:
            self._logged_error = error
            log.warning("MQTT: %s; retrying every %d s at most", error, RECONNECT_MAX_S)
        elif conn == CONNECTED:
            self._logged_error = None
