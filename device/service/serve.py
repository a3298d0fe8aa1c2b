"""Composition root of the service: build state, store, pipeline, ops and the web app; serve.

Only this module imports both hipcam.service and web_ui. The socket is bound before the models
are loaded so "port in use" is reported at once; SIGTERM/SIGINT stop the streams, the frame
loop and the database in that order, and the process exits 0.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from waitress.server import create_server

from hipcam import __version__
from hipcam.atomic import atomic_writer
from hipcam.config import HipcamConfig
from hipcam.errors import AssetError, HipcamError
from hipcam.service.adapters import ServiceOps, resolve_auto_source
from hipcam.service.metrics import Metrics
from hipcam.service.notify import Notifier, Watchdog
from hipcam.service.pipeline import Pipeline
from hipcam.service.state import LiveState
from hipcam.service.store import Store

log = logging.getLogger(__name__)

SECRET_FILE = "web_secret.key"


class _Shutdown(Exception):
    """Raised from the signal handler to leave waitress's loop in the main thread."""


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


def resolve_source(cfg: HipcamConfig, source: str | None) -> str:
    spec = (source or cfg.capture.source).strip()
    if spec == "auto":
        return resolve_auto_source(cfg)
    if spec == "demo":
        demo = cfg.paths.models_dir / "demo.mp4"
        if not demo.is_file():
            raise AssetError(f"the demo clip {demo} is missing; run `hipcam fetch`")
        return str(demo)
    if "://" not in spec and not spec.isdigit() and spec != "picamera" and not Path(spec).exists():
        raise HipcamError(f"video source {spec!r} not found")
    return spec


def run_serve(cfg: HipcamConfig, source: str | None, host: str | None, port: int | None) -> int:
    """`hipcam serve`: run the live service until SIGTERM/SIGINT. Returns the exit code."""
    from web_ui import create_app
    from web_ui.ops import ops_blueprint

    host = host or cfg.server.host
    port = port if port is not None else cfg.server.port
    spec = resolve_source(cfg, source)
    data_dir = cfg.data_dir()
    state = LiveState(rolling_strides=cfg.gait.rolling_strides)
    store = Store(data_dir, cfg.storage.min_free_mb)
    metrics = Metrics(data_dir=data_dir, version=__version__)
    notifier = Notifier()
    ops = ServiceOps(metrics, Watchdog(notifier))
    app = create_app(
        state,
        store,
        cfg,
        secret_key=load_secret(data_dir),
        extra_blueprints=(
            ops_blueprint(metrics, metrics, cfg.health.max_frame_age_s, data_dir, cfg.storage.min_free_mb),
        ),
        on_viewers=metrics.set_viewers,
    )
    try:
        server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=cfg.server.threads,
            max_request_body_size=cfg.server.max_request_bytes,
            ident="hipcam",
            clear_untrusted_proxy_headers=True,
        )
    except OSError as exc:
        store.close()
        if exc.errno == errno.EADDRINUSE:
            print(f"hipcam: port {port} on {host} is already in use (is hipcam already running?)", file=sys.stderr)
        else:
            print(f"hipcam: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    pipeline = Pipeline(cfg, spec, state, store, ops)
    previous = _install_signals()
    try:
        pipeline.start()
        log.info("serving on http://%s:%d/ (source %s)", host, port, spec)
        notifier.ready(f"serving on port {port}, source {spec}")
        server.run()
    except _Shutdown:
        log.info("stopping")
    finally:
        notifier.stopping("stopping")
        _restore_signals(previous)
        state.close()  # ends the live streams, freeing waitress's threads
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        pipeline.stop()
        if store.active_session_id is not None:
            store.stop_session()  # a clean stop ends the running session properly
        store.close()
        notifier.close()
    return 0


def _install_signals() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        raise _Shutdown(signal.Signals(signum).name)

    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone runner until `hipcam serve` is wired in device/cli.py."""
    import argparse

    from hipcam.config import load_config
    from hipcam.logging_setup import setup_logging

    parser = argparse.ArgumentParser(prog="hipcam serve", description="Run the live service and web page.")
    parser.add_argument("--config", type=Path, default=None, help="config TOML (default: none, built-in defaults)")
    parser.add_argument("--source", default=None, help="auto | picamera | demo | camera index | video file | URL")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, os.environ)
        setup_logging(cfg.logging.level, cfg.logging.format)
        return run_serve(cfg, args.source, args.host, args.port)
    except HipcamError as exc:
        print(f"hipcam: {exc}", file=sys.stderr)
        return exc.exit_code
