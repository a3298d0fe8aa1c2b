"""Composition root of the service: build state, store, pipeline, ops and the web app; serve.

Only the composition roots (this module and hipcam.commands.bench_service) import both hipcam.service and
web_ui. The socket is bound before the models are loaded so "port in use" is reported at once;
SIGTERM/SIGINT stop the streams, the frame loop and the database in that order, and the process
exits 0.
"""

from __future__ import annotations

import errno
import logging
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipcam import __version__
from hipcam.atomic import atomic_writer
from hipcam.capture import FrameSource, OpenCVSource, make_source
from hipcam.commands.config_check import check_camera_device
from hipcam.commands.shutdown import Shutdown, install_signals, restore_signals
from hipcam.config import HipcamConfig
from hipcam.errors import ConfigError, VideoError
from hipcam.records.store import Store
from hipcam.service.advertise import Advertiser, advert_infos, lan_addresses
from hipcam.service.calibration import HipCalibrator
from hipcam.service.metrics import Metrics, board_warnings
from hipcam.service.mqtt import MqttPublisher, page_url
from hipcam.service.mqtt_messages import DeviceInfo
from hipcam.service.notify import Notifier, Watchdog
from hipcam.service.pipeline import Pipeline
from hipcam.service.settings import Settings
from hipcam.service.setup_check import SetupCheckRunner
from hipcam.service.state import LiveState
from hipcam.service.telemetry import ServiceOps
from web_ui.deps import WebDeps
from web_ui.server import make_server

log = logging.getLogger(__name__)

SECRET_FILE = "web_secret.key"


def load_secret(data_dir: Path) -> bytes:
    """The cookie-signing key, kept in the data dir (0600) so logins survive a restart."""
    path = data_dir / SECRET_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot read %s (%s); logins will not survive a restart", path, exc)
        return secrets.token_bytes(32)
    key = secrets.token_bytes(32)
    try:
        with atomic_writer(path, mode=0o600) as fh:
            fh.write(key)
    except OSError as exc:
        log.warning("cannot write %s (%s); logins will not survive a restart", path, exc)
    return key


def build_source(cfg: HipcamConfig, spec: str | None) -> FrameSource:
    """The configured source, resolved once (``auto`` must not flip to the demo clip when the
    camera is unplugged later). A missing video file or an absent or unreadable camera device is a
    start-up error (one line, non-zero exit); a camera lost once running is retried instead."""
    source = make_source(spec, cfg)
    if isinstance(source, OpenCVSource) and source.kind == "file" and not Path(str(source.target)).is_file():
        raise VideoError(f"video source {source.target} not found")
    if isinstance(source, OpenCVSource) and source.kind == "camera":
        problem = check_camera_device(str(source.target))
        if problem is not None:
            raise VideoError(problem)
        source.open()  # a node that opens but is no capture device (e.g. a metadata node) fails here
        source.close()
    return source


@dataclass
class _Service:
    """The parts of one running service, wired together (the web sees only ``web``'s deps)."""

    state: LiveState
    store: Store
    settings: Settings
    metrics: Metrics
    notifier: Notifier
    web: WebDeps


def _build(cfg: HipcamConfig) -> _Service:
    data_dir = cfg.data_dir()
    state = LiveState(rolling_strides=cfg.gait.rolling_strides)
    store = Store(data_dir, cfg.storage.min_free_mb)
    settings = Settings(cfg, data_dir)  # the page's saved settings, on top of file + environment
    metrics = Metrics(data_dir=data_dir, version=__version__)
    web = WebDeps(
        state=state,
        store=store,
        cfg=cfg,
        settings=settings,
        health=metrics,
        board=board_warnings,
        secret_key=load_secret(data_dir),
        on_viewers=metrics.set_viewers,
        calibrator=HipCalibrator(store, state),
        setup_check=SetupCheckRunner(),
    )
    return _Service(state, store, settings, metrics, Notifier(), web)


def _listen(app: Any, cfg: HipcamConfig, host: str, port: int) -> Any:
    """The bound server, or None after one line on stderr (the port is taken or not ours)."""
    try:
        return make_server(app, cfg, host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"hipcam: port {port} on {host} is already in use (is hipcam already running?)", file=sys.stderr)
        else:
            print(f"hipcam: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return None
    except ValueError:  # waitress: the name does not resolve to an address
        print(f"hipcam: cannot listen on {host}:{port}: {host} is not an address of this machine", file=sys.stderr)
        return None


def _pipeline(
    cfg: HipcamConfig, frames: FrameSource, svc: _Service, ops: ServiceOps, mqtt: MqttPublisher | None
) -> Pipeline:
    check = svc.web.setup_check if isinstance(svc.web.setup_check, SetupCheckRunner) else None
    return Pipeline(
        cfg,
        frames,
        svc.state,
        svc.store,
        ops,
        settings=svc.settings,
        feedback=svc.web.feedback,
        mqtt=mqtt,
        setup_check=check,
        walkup=svc.web.walkup,
    )


def run_serve(cfg: HipcamConfig, source: str | None, host: str | None, port: int | None) -> int:
    """`hipcam serve`: run the live service until SIGTERM/SIGINT. Returns the exit code."""
    from web_ui import create_app

    host = host or cfg.server.host
    port = port if port is not None else cfg.server.port
    # The address actually served is the one the web's host check knows as the device's own.
    cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update={"host": host, "port": port})})
    frames = build_source(cfg, source)
    svc = _build(cfg)
    server = _listen(create_app(svc.web), cfg, host, port)
    if server is None:
        svc.store.close()
        return 2
    bound_port = int(getattr(server, "effective_port", port))
    try:
        mqtt = _mqtt(cfg, svc, bound_port)
    except ConfigError:  # its password or TLS files: one line and exit 2, like any config problem
        server.close()
        svc.store.close()
        raise
    ops = ServiceOps(svc.metrics, Watchdog(svc.notifier))
    pipeline = _pipeline(cfg, frames, svc, ops, mqtt)
    previous = install_signals()
    advert = _advertiser(cfg, bound_port)
    try:
        pipeline.start()
        if mqtt is not None:
            mqtt.start()
        if advert is not None:
            advert.start()
        scheme = "https" if cfg.server.tls_cert is not None else "http"
        log.info("serving on %s://%s:%d/ (source %s)", scheme, host, port, frames.name)
        svc.notifier.ready(f"serving on port {port}, source {frames.name}")
        server.run()
    except Shutdown:
        log.info("stopping")
    finally:
        svc.notifier.stopping("stopping")
        restore_signals(previous)
        if advert is not None:
            advert.stop()
        svc.state.close()  # ends the live streams, freeing waitress's threads
        svc.web.cues.close()
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        pipeline.stop()
        if mqtt is not None:
            mqtt.stop()  # after the frame loop: "offline" is its last word
        svc.web.live_feedback.stop()  # the block in progress is saved with the run
        if svc.store.active_session_id is not None:
            svc.store.stop_session()  # a clean stop ends the running session properly
        svc.store.close()
        svc.notifier.close()
    return 0


def _mqtt(cfg: HipcamConfig, svc: _Service, port: int) -> MqttPublisher | None:
    """The MQTT publisher (``mqtt.enabled``), shown in /healthz and /metrics."""
    if not cfg.mqtt.enabled:
        return None
    url = page_url(cfg.server, cfg.device, port)
    device = DeviceInfo(cfg.device.device_id(), cfg.device.display_name(), __version__, url)
    mqtt = MqttPublisher(cfg.mqtt, device, svc.state, svc.metrics.fps)
    svc.metrics.watch_mqtt(mqtt.status)
    svc.web.mqtt = mqtt.health
    if svc.web.walkup is not None:  # the gym's count of walk-up checks per day
        svc.web.walkup.on_count = mqtt.offer_walkup_count
    return mqtt


def _advertiser(cfg: HipcamConfig, port: int) -> Advertiser | None:
    """The page's DNS-SD adverts (``device.advertise``), unless it listens on loopback only."""
    addresses = lan_addresses(cfg.server.host)
    if not cfg.device.advertise or not addresses:
        return None
    infos = advert_infos(
        cfg.device.display_name(), cfg.device.device_id(), port, addresses, cfg.server.tls_cert is not None
    )
    return Advertiser(infos)
