"""A real MQTT broker for the tests: Debian's mosquitto on a free loopback port, optionally with a
password file and TLS (a CA, a server certificate and, if asked, a client certificate, all made
with openssl), plus a subscriber that records what arrives and a checker for docs/mqtt/'s schemas.

    with Mosquitto(tmp_path, tls=True, password=True) as broker:
        broker.port, broker.ca_file, broker.username, broker.password_file  # what a client needs
        broker.stop()   # the broker goes away (SIGTERM; SIGKILL after 5 s)
        broker.start()  # and comes back on the same port

Skips the test (with the reason) when mosquitto, mosquitto_passwd or openssl is not installed
(apt-get install mosquitto mosquitto-clients openssl). The broker's log is ``broker.log_file``.
"""

from __future__ import annotations

import getpass
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paths import REPO

SCHEMAS = REPO / "docs" / "mqtt"
START_TIMEOUT_S = 10.0
TOOLS = ("mosquitto", "mosquitto_passwd", "openssl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=60)


def _find(tool: str) -> str:
    found = shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if Path(p).exists()), None)
    if found is None:
        pytest.skip(f"{tool} is not installed (apt-get install mosquitto mosquitto-clients openssl)")
    return found


class Certificates:
    """A throw-away CA with a server certificate for 127.0.0.1/localhost and a client certificate."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        openssl = _find("openssl")
        self.ca_file, self.ca_key = folder / "ca.crt", folder / "ca.key"
        _run(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hipcam test CA",
             "-keyout", self.ca_key, "-out", self.ca_file)  # fmt: skip
        server_names = "subjectAltName=IP:127.0.0.1,DNS:localhost"
        self.server_cert, self.server_key = self._issue(openssl, folder, "server", server_names)
        self.client_cert, self.client_key = self._issue(openssl, folder, "client", "extendedKeyUsage=clientAuth")

    def _issue(self, openssl: str, folder: Path, name: str, ext: str) -> tuple[Path, Path]:
        key, csr, cert, extfile = (folder / f"{name}.{x}" for x in ("key", "csr", "crt", "ext"))
        extfile.write_text(ext + "\n")
        _run(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=hipcam test {name}",
             "-keyout", key, "-out", csr)  # fmt: skip
        _run(openssl, "x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", self.ca_key, "-CAcreateserial",
             "-days", "2", "-extfile", extfile, "-out", cert)  # fmt: skip
        return cert, key


class Mosquitto:
    """A mosquitto broker on 127.0.0.1 for one test (a context manager; ``stop``/``start`` restart it
    on the same port). ``password``: only ``username`` with the password in ``password_file`` (a
    one-line file, as ``mqtt.password_file`` expects) may connect. ``tls``: TLS only, the server
    certificate is signed by ``ca_file``; ``client_certs``: a client certificate is required too
    (``client_cert``/``client_key``). ``persistent``: retained messages survive a restart."""

    username = "hipcam"
    password = "broker-secret-1"

    def __init__(
        self, folder: Path, *, tls: bool = False, password: bool = False, client_certs: bool = False,
        persistent: bool = False,
    ) -> None:  # fmt: skip
        self.folder = folder / "mosquitto"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tls, self.password_required = tls or client_certs, password
        self.client_certs, self.persistent = client_certs, persistent
        self._binary = _find("mosquitto")
        self.certs = Certificates(self.folder / "certs") if self.tls else None
        self.password_file: Path | None = None
        self._passwd_db = self.folder / "passwd"
        if password:
            self.password_file = self.folder / "client-password"
            self.password_file.write_text(self.password + "\n")
            self.password_file.chmod(0o600)
            _run(_find("mosquitto_passwd"), "-b", "-c", self._passwd_db, self.username, self.password)
        self.log_file = self.folder / "mosquitto.log"
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    # ---- what a client needs --------------------------------------------------------------
    @property
    def ca_file(self) -> Path | None:
        return self.certs.ca_file if self.certs else None

    @property
    def client_cert(self) -> Path | None:
        return self.certs.client_cert if self.certs and self.client_certs else None

    @property
    def client_key(self) -> Path | None:
        return self.certs.client_key if self.certs and self.client_certs else None

    def env(self, prefix: str = "HIPCAM_MQTT__") -> dict[str, str]:
        """The ``[mqtt]`` settings that reach this broker, as hipcam's environment overrides."""
        values: dict[str, Any] = {"ENABLED": "true", "HOST": "127.0.0.1", "PORT": self.port,
                                  "TLS_CA_FILE": self.ca_file, "TLS_CERT_FILE": self.client_cert,
                                  "TLS_KEY_FILE": self.client_key,
                                  "USERNAME": self.username if self.password_required else None,
                                  "PASSWORD_FILE": self.password_file}  # fmt: skip
        return {prefix + k: str(v) for k, v in values.items() if v is not None}

    # ---- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the broker (again, on the same port) and wait until it listens."""
        if self.running:
            return
        conf = self.folder / "mosquitto.conf"
        conf.write_text(self._config())
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen([self._binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.log_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, SIGKILL after 5 s); clients see the connection drop."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def _config(self) -> str:
        lines = [f"listener {self.port} 127.0.0.1", f"user {getpass.getuser()}", "log_dest stdout",
                 "log_type error", "log_type warning", "log_type notice", "log_type information",
                 "connection_messages true", "log_timestamp_format %H:%M:%S"]  # fmt: skip
        lines.append(f"allow_anonymous {'false' if self.password_required else 'true'}")
        if self.password_required:
            lines.append(f"password_file {self._passwd_db}")
        if self.certs is not None:
            c = self.certs
            lines += [f"cafile {c.ca_file}", f"certfile {c.server_cert}", f"keyfile {c.server_key}"]
            lines.append(f"require_certificate {'true' if self.client_certs else 'false'}")
        if self.persistent:
            lines += ["persistence true", f"persistence_location {self.folder}/"]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.payload)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")


class Subscriber:
    """A paho client that subscribes to ``topics`` (again after every reconnect) and records every
    message; a context manager. Connects to ``broker`` with its TLS and password, if any."""

    def __init__(self, broker: Mosquitto, *topics: str) -> None:
        self.topics = topics or ("#",)
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.monotonic_ns()}")
        if broker.password_required:
            c.username_pw_set(broker.username, broker.password)
        if broker.ca_file is not None:
            c.tls_set(ca_certs=str(broker.ca_file), certfile=_opt(broker.client_cert), keyfile=_opt(broker.client_key))
        c.reconnect_delay_set(1, 2)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *_: self.connected.clear()
        c.on_message = self._on_message
        self.client = c
        self._broker = broker

    def __enter__(self) -> Subscriber:
        self.client.connect_async("127.0.0.1", self._broker.port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("the test subscriber could not connect to the broker")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not reason.is_failure:
            for topic in self.topics:
                client.subscribe(topic, qos=1)
            self.connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic()))

    def on(self, pattern: str, since: float = 0.0) -> list[Received]:
        """Messages whose topic matches the regular expression ``pattern``, arrived after ``since``."""
        with self._lock:
            return [m for m in self.messages if re.fullmatch(pattern, m.topic) and m.at >= since]

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30.0, since: float = 0.0) -> list[Received]:
        """At least ``count`` messages on ``pattern`` (after ``since``), or AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(found := self.on(pattern, since)) < max(count, 1):
            if time.monotonic() > deadline:
                with self._lock:
                    topics = sorted({m.topic for m in self.messages})
                raise AssertionError(f"{len(found)} of {count} messages on {pattern} in {timeout:g} s; seen: {topics}")
            time.sleep(0.05)
        return found


def _opt(path: Path | None) -> str | None:
    return None if path is None else str(path)


# ---- docs/mqtt/*.schema.json: the subset of JSON Schema they use ---------------------------------
_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
                                       "integer": (int,), "number": (int, float), "null": (type(None),)}  # fmt: skip


def load_schema(name: str) -> dict[str, Any]:
    """docs/mqtt/<name>.schema.json."""
    return dict(json.loads((SCHEMAS / f"{name}.schema.json").read_text()))


def schema_errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (type, enum, const, minimum, maximum, pattern, properties,
    required, additionalProperties: false), one line each; [] when it conforms."""
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, t) for t in allowed):
            return [f"{where}: {value!r} is not of type {' | '.join(allowed)}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    errors += _bounds(value, schema, where)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, where)
    return errors


def _is(value: Any, type_name: str) -> bool:
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[type_name])


def _bounds(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    errors = []
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > maximum {schema['maximum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    props: dict[str, Any] = schema.get("properties", {})
    errors = [f"{where}: {key!r} is required" for key in schema.get("required", []) if key not in value]
    if schema.get("additionalProperties") is False:
        errors += [f"{where}: {key!r} is not allowed" for key in value if key not in props]
    for key, sub in props.items():
        if key in value:
            errors += schema_errors(value[key], sub, f"{where}.{key}")
    return errors
