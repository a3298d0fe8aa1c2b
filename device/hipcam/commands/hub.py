"""`hipcam hub`: the gym's hub, i.e. the treadmills page, the MQTT subscriber and the archive puller.

The composition root of hipcam.hub. Start-up checks fail with one line and exit code 2: a token
file that cannot be read, an unreadable broker password file or TLS file, an archive SQLite file
that cannot be opened, a database_url that is no PostgreSQL URL, or a port that is taken. A
PostgreSQL server that cannot be reached is *not* a start-up error: it is logged once, the
treadmills page runs, the archive pages answer 503 and the puller tries again every pull interval
(a database on another machine may well boot later than the hub). The broker not answering is
likewise retried in the background. SIGTERM/SIGINT stop the puller, the MQTT client and the server,
and the process exits 0.
"""

from __future__ import annotations

import argparse
import errno
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hipcam.commands.shutdown import Shutdown, install_signals, restore_signals
from hipcam.config import HipcamConfig
from hipcam.errors import ConfigError

if TYPE_CHECKING:  # the work's imports are inside the functions: `hipcam --help` stays light
    from hipcam.hub.archive import SqlArchive
    from hipcam.hub.puller import DeviceLink, Puller
    from hipcam.hub.subscriber import Subscriber

log = logging.getLogger(__name__)

AddCommand = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def add_command(add: AddCommand, load: Callable[[argparse.Namespace, dict[str, Any]], HipcamConfig]) -> None:
    """Register `hipcam hub` (``load``: the CLI's config loader, taking overrides)."""

    def run(args: argparse.Namespace) -> int:
        from hipcam.logging_setup import setup_logging

        given = {"host": args.host, "port": args.port}
        cfg = load(args, {"hub": {k: v for k, v in given.items() if v is not None}})
        setup_logging(cfg.logging.level, cfg.logging.format)
        return run_hub(cfg)

    p = add("hub", run, "run the gym's hub: every treadmill on one page, and the archive of their sessions")
    p.add_argument("--host", help="listen address (default: config hub.host)")
    p.add_argument("--port", type=int, help="listen port (default: config hub.port)")


def check_devices(cfg: HipcamConfig) -> list[DeviceLink]:
    """The configured devices; a ConfigError (one line) for a duplicate id or a token file that
    cannot be read now."""
    from hipcam.hub.files import read_secret
    from hipcam.hub.puller import DeviceLink

    links, seen = [], set()
    for i, device in enumerate(cfg.hub.devices):
        if device.id in seen:
            raise ConfigError(f"hub.devices[{i}].id: {device.id!r} is listed twice")
        seen.add(device.id)
        read_secret(device.token_file, f"hub.devices[{i}].token_file ({device.id})")
        links.append(DeviceLink(device.id, device.url, device.token_file.expanduser()))
    return links


def _open_archive(cfg: HipcamConfig) -> SqlArchive:
    from hipcam.hub.archive import ArchiveUnavailable, open_archive

    archive = open_archive(cfg.hub.database_url, cfg.data_dir())
    try:
        archive.ping()
    except ArchiveUnavailable as exc:
        log.warning("%s; the treadmills page runs, the archive waits and is retried every %.0f s",
                    exc, cfg.hub.pull_interval_s)  # fmt: skip
    log.info("archive: %s at %s", archive.backend, archive.where)
    return archive


def _listen(app: Any, cfg: HipcamConfig) -> Any:
    from web_ui.server import make_server

    host, port = cfg.hub.host, cfg.hub.port
    try:
        return make_server(app, cfg, host, port)
    except OSError as exc:
        reason = "already in use (is the hub already running?)" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ConfigError(f"cannot listen on {host}:{port}: {reason or exc}") from None
    except ValueError:
        raise ConfigError(f"cannot listen on {host}:{port}: {host} is not an address of this machine") from None


def run_hub(cfg: HipcamConfig) -> int:
    """Run until SIGTERM/SIGINT; the exit code (start-up problems raise a one-line HipcamError)."""
    from hipcam import __version__
    from hipcam.hub.app import HubDeps, create_hub_app
    from hipcam.hub.board import Board
    from hipcam.hub.metrics import HubMetrics
    from hipcam.hub.puller import Puller
    from hipcam.hub.subscriber import Subscriber

    links = check_devices(cfg)
    board = Board((d.id, d.url) for d in cfg.hub.devices)
    subscriber = Subscriber(cfg.mqtt, board)
    archive = _open_archive(cfg)
    metrics = HubMetrics(board, archive, __version__)
    puller = Puller(links, archive, cfg.hub.pull_interval_s, on_result=metrics.pulled)
    deps = HubDeps(cfg, board, archive, puller.status, metrics, broker=subscriber.address)
    try:
        server = _listen(create_hub_app(deps), cfg)
    except BaseException:
        archive.close()
        raise
    return _serve(cfg, server, subscriber, puller, archive)


def _serve(cfg: HipcamConfig, server: Any, subscriber: Subscriber, puller: Puller, archive: SqlArchive) -> int:
    from hipcam.service.notify import Notifier

    notifier = Notifier()
    previous = install_signals()
    try:
        subscriber.start()
        puller.start()
        scheme = "https" if cfg.server.tls_cert is not None else "http"
        log.info("hub serving on %s://%s:%d/ (%d devices configured, broker %s)", scheme, cfg.hub.host,
                 cfg.hub.port, len(puller.clients), subscriber.address)  # fmt: skip
        notifier.ready(f"serving on port {cfg.hub.port}")
        server.run()  # returns on SIGTERM/SIGINT (waitress catches the SystemExit raised in its loop)
    except Shutdown:
        pass
    finally:
        log.info("stopping")
        notifier.stopping("stopping")
        restore_signals(previous)
        puller.stop()
        subscriber.stop()
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        archive.close()
        notifier.close()
    return 0
