"""The one configuration file (TOML), validated strictly, with environment overrides.

Every section is a Pydantic model with ``extra="forbid"`` and bounded fields, so a typo or an
out-of-range value is reported with the key's dotted path and the allowed range. Environment
variables override the file: ``HIPCAM_SERVER__PORT=8081`` sets ``server.port``. The gait thresholds
are in gait.py, the sections for many devices ([device], [mqtt], [hub]) in network.py, what they all
share in base.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from hipcam.config.base import Section, _host_or_address
from hipcam.config.gait import GaitParams
from hipcam.config.network import DeviceConfig as DeviceConfig
from hipcam.config.network import HubConfig as HubConfig
from hipcam.config.network import HubDevice as HubDevice
from hipcam.config.network import MqttConfig as MqttConfig
from hipcam.config.walkup import WalkupConfig as WalkupConfig
from hipcam.errors import ConfigError

ENV_PREFIX = "HIPCAM_"
DEFAULT_CONFIG_PATH = Path("/etc/hipcam/config.toml")
VIEWER_SPARE_THREADS = 2  # server threads kept free of live streams, for the page and the API
# What `hipcam pin-hash` prints: scrypt$N$r$p$base64(salt)$base64(digest).
_PIN_HASH = re.compile(r"scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})")


def check_pin_hash(value: str) -> str:
    """``value`` if it has the form `hipcam pin-hash` prints (and cost bounds a login can afford)."""
    match = _PIN_HASH.fullmatch(value.strip())
    problem = "not the line `hipcam pin-hash` prints (scrypt$N$r$p$salt$hash)"
    if match:
        n, r, p = (int(g) for g in match.groups()[:3])
        try:
            salt, digest = (base64.b64decode(g, validate=True) for g in match.groups()[3:])
        except (binascii.Error, ValueError):
            salt = digest = b""
        if not (2 <= n <= 1 << 20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            problem = "scrypt cost out of range (N a power of two up to 2^20, r 1-32, p 1-16)"
        elif len(salt) >= 8 and len(digest) >= 16:
            return value.strip()
        else:
            problem = "salt or hash is not valid base64 of the right length"
    raise ValueError(f"{problem}; nobody could log in with it: run `hipcam pin-hash` and paste its line")


class CaptureConfig(Section):
    source: str = Field(
        "auto",
        description="auto | picamera | demo | a camera index (0) | a device path | an rtsp/http URL | a video file",
    )
    width: int = Field(640, ge=160, le=3840, description="capture width in pixels")
    height: int = Field(480, ge=120, le=2160, description="capture height in pixels")
    fps: float = Field(30.0, ge=1.0, le=240.0, description="capture frame rate requested from the camera")
    true_fps: float | None = Field(
        None, ge=1.0, le=2000.0, description="real capture rate of slow-motion footage (else the stream's rate)"
    )
    loop_files: bool = Field(True, description="replay a video file source from the start when it ends")
    reconnect_initial_s: float = Field(0.5, ge=0.05, le=60.0, description="first retry delay after camera loss")
    reconnect_max_s: float = Field(2.0, ge=0.5, le=600.0, description="longest retry delay after camera loss")


class PoseConfig(Section):
    threads: Annotated[int, Field(ge=1, le=16)] | Literal["auto"] = Field(
        "auto", description="interpreter threads for each model (1-16); auto: all cores but one, at most 4"
    )
    precision: Literal["auto", "fp32", "fp16", "int8"] = Field(
        "auto",
        description="landmark model arithmetic; auto: fp16 on a CPU with FP16 (Pi 5), int8 where built, else fp32",
    )
    mask_frames: Literal["scheduled", "all"] = Field(
        "scheduled",
        description="live: run the segmentation mask only on the frames the gait reads it from (near peak "
        "thigh extension and the least-extended phase; docs/mask-schedule.md), or on all frames",
    )
    detection_threshold: float = Field(0.5, ge=0.05, le=0.99, description="min detector score for a person")
    presence_threshold: float = Field(0.5, ge=0.05, le=0.99, description="min landmark-model pose score")
    smooth_landmarks: bool = Field(True, description="One-Euro smoothing of landmarks across frames")
    recheck_interval_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description="while tracking, run the detector this often to move to a clearly better subject (0: never)",
    )


class LevelConfig(Section):
    mode: Literal["auto", "manual", "off"] = Field(
        "auto", description="auto: from a long horizontal edge (treadmill deck); manual: use roll_deg"
    )
    roll_deg: float = Field(0.0, ge=-30.0, le=30.0, description="camera roll, degrees clockwise, in manual mode")


class ServerConfig(Section):
    host: str = Field("0.0.0.0", description="address the web page listens on (an IP address or a host name)")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the web page")
    open_viewing: bool = Field(True, description="anyone on the network may watch; acting always needs the PIN")
    pin_hash: str | None = Field(None, description="scrypt hash of the device PIN (set by `hipcam pin-hash`)")
    threads: int = Field(
        16, ge=3, le=64, description="WSGI worker threads: one per live viewer plus two for the page and API"
    )
    max_request_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024, description="largest request body")
    max_viewers: int = Field(12, ge=1, le=62, description="concurrent live streams allowed (at most threads - 2)")
    allowed_hosts: list[str] = Field(
        [],
        max_length=64,
        description="more names the page may be opened by (e.g. a DNS name of the device); its own host name, "
        "name.local, localhost and addresses are always allowed, any other Host is refused (DNS rebinding)",
    )

    max_connections: int = Field(
        100, ge=8, le=1000, description="open connections the server accepts in all (waitress's connection limit)"
    )
    max_connections_per_client: int = Field(
        16,
        ge=2,
        le=500,
        description="open connections one client address may hold; more are closed at once, so one host "
        "cannot use up max_connections",
    )
    header_timeout_s: float = Field(
        10.0, ge=1.0, le=120.0, description="a request's line and headers must arrive within this (slow clients)"
    )
    idle_timeout_s: float = Field(
        30.0,
        ge=5.0,
        le=600.0,
        description="a connection that sends nothing and takes nothing for this long is closed (a stalled stream too)",
    )
    max_viewers_per_client: int = Field(
        4, ge=1, le=62, description="concurrent live streams one client address may hold"
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate: serve HTTPS only (made by `hipcam tls-cert`); with tls_key"
    )
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")

    @field_validator("host")
    @classmethod
    def _host_valid(cls, value: str) -> str:
        return _host_or_address(value)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts_from_text(cls, value: Any) -> Any:
        # From the environment: HIPCAM_SERVER__ALLOWED_HOSTS="cam.clinic.lan, 10.0.0.5" (or a JSON list).
        if isinstance(value, str):
            return json.loads(value) if value.lstrip().startswith("[") else re.split(r"[,\s]+", value.strip() or "")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts_valid(cls, value: list[str]) -> list[str]:
        return [_host_or_address(v) for v in value if v]

    @field_validator("pin_hash")
    @classmethod
    def _pin_hash_valid(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else check_pin_hash(value)

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("server.tls_cert and server.tls_key go together: set both (HTTPS) or neither (HTTP)")
        return self

    @model_validator(mode="after")
    def _viewers_fit_threads(self) -> ServerConfig:
        # Each live stream holds a waitress thread for as long as it is open; two more must stay
        # free, or the page, the API and /healthz would queue behind the streams.
        if self.max_viewers > self.threads - VIEWER_SPARE_THREADS:
            raise ValueError(
                f"server.max_viewers ({self.max_viewers}) must be at most server.threads - "
                f"{VIEWER_SPARE_THREADS} ({self.threads - VIEWER_SPARE_THREADS}): each live viewer holds one "
                "of the server's threads; raise server.threads or lower server.max_viewers"
            )
        return self


class StorageConfig(Section):
    data_dir: Path = Field(Path("~/.local/share/hipcam"), description="SQLite database and snapshots")
    min_free_mb: int = Field(200, ge=10, le=100_000, description="below this, snapshots stop being recorded")
    snapshot_width: int = Field(
        320, ge=80, le=1280, description="width of stride snapshots and of the replay clips' frames in pixels"
    )
    clip_budget_mb: float = Field(
        50.0,
        ge=1.0,
        le=10_000.0,
        description="disk room each session's replay clips may take; past it the least useful clips are pruned "
        "(kept first: starred, best, worst and typical per leg, the most recent)",
    )
    clip_ring_s: float = Field(
        3.0, ge=1.0, le=10.0, description="seconds of recent frames kept in memory to cut a stride's replay clip from"
    )
    clip_ring_mb: int = Field(
        48, ge=4, le=1024, description="most memory the ring of recent frames may take (it holds fewer seconds then)"
    )
    clip_keep_recent: int = Field(
        6,
        ge=0,
        le=100,
        description="clips of the latest strides always kept, so a stride starred a moment later has one",
    )


class PathsConfig(Section):
    models_dir: Path = Field(
        Path("~/.local/share/hipcam/models"),
        description="where `hipcam fetch` puts the models and the demo clip (the Pi installer: /var/lib/hipcam/models)",
    )

    def models(self) -> Path:
        return self.models_dir.expanduser()


class HealthConfig(Section):
    max_frame_age_s: float = Field(
        5.0, ge=0.5, le=600.0, description="/healthz fails when the last analysed frame is older than this"
    )
    metrics_enabled: bool = Field(True, description="serve Prometheus metrics at /metrics")


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="log level ($HIPCAM_LOG_LEVEL overrides it)"
    )
    format: Literal["auto", "json", "logfmt", "text"] = Field(
        "auto", description="auto: JSON lines under systemd/journald or when piped, text on a terminal"
    )


class HipcamConfig(Section):
    capture: CaptureConfig = CaptureConfig()
    pose: PoseConfig = PoseConfig()
    gait: GaitParams = GaitParams()
    level: LevelConfig = LevelConfig()
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    paths: PathsConfig = PathsConfig()
    health: HealthConfig = HealthConfig()
    logging: LoggingConfig = LoggingConfig()
    device: DeviceConfig = DeviceConfig()
    mqtt: MqttConfig = MqttConfig()
    hub: HubConfig = HubConfig()
    walkup: WalkupConfig = WalkupConfig()

    def data_dir(self) -> Path:
        return self.storage.data_dir.expanduser()


def first_error(exc: ValidationError) -> str:
    """The first validation error as ``dotted.key: message`` (and how many more there are)."""
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{key}: {first['msg']}{more}"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """HIPCAM_A__B=value -> {"a": {"b": value}}; pydantic converts the strings."""
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top, nested mappings merged key by key (neither is changed)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except PermissionError:
        raise ConfigError(f"{path}: config file is not readable (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_config(
    path: Path | None = None, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> HipcamConfig:
    """Load the file (if given), apply HIPCAM_* environment variables, then explicit overrides."""
    data = read_toml(path) if path is not None else {}
    env = _env_overrides(os.environ if environ is None else environ)
    data = merge(merge(data, env), overrides or {})
    try:
        return HipcamConfig.model_validate(data)
    except ValidationError as exc:
        origin = _origin(exc, env, overrides or {}, path)
        raise ConfigError(f"{origin}: {first_error(exc)}") from None


def _origin(exc: ValidationError, env: Mapping[str, Any], overrides: Mapping[str, Any], path: Path | None) -> str:
    """Where the first wrong value came from: an override, the environment variable that set it, or the file."""
    loc = [str(p) for p in exc.errors()[0]["loc"]]
    for source, label in ((overrides, "command line"), (env, None)):
        node: Any = source
        for depth, part in enumerate(loc):
            if not isinstance(node, Mapping) or part not in node:
                break
            node = node[part]
            if not isinstance(node, Mapping) or depth == len(loc) - 1:
                return label or "environment variable " + ENV_PREFIX + "__".join(p.upper() for p in loc[: depth + 1])
    return str(path) if path is not None else "configuration"
