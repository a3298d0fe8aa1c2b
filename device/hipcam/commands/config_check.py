"""`hipcam config check`: validate a config file and the things it points at, one line per problem.

Every problem is one line that starts with the dotted key it concerns, so a technician on the
phone can read it out. The exit status is 0 when the device can start with this file, 2 when it
cannot. The probes (camera device, port, data directory) are plain functions that ``run_serve``
can call too, so the service and the checker say the same thing about the same fault.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
from pathlib import Path
from typing import TextIO

from hipcam.capture import SourceSpec, SourceSpecError, demo_clip, parse_source
from hipcam.config import HipcamConfig, load_config
from hipcam.errors import AssetError, ConfigError
from web_ui.connections import tls_context

EXIT_OK = 0
EXIT_BAD = 2


def check_camera_device(spec: str) -> str | None:
    """Problem with a V4L2 device source (``/dev/video0`` or an index), or None if usable."""
    path = Path(f"/dev/video{spec}") if spec.isdigit() else Path(spec)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{path}: no such camera device (is the camera plugged in? `ls /dev/video*`)"
    except OSError as exc:
        return f"{path}: cannot inspect camera device ({exc.strerror})"
    if not stat.S_ISCHR(mode):
        return f"{path}: not a camera device"
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except PermissionError:
        return f"{path}: permission denied (the service user must be in group 'video')"
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return f"{path}: camera is busy (another program is using it)"
        return f"{path}: cannot open camera device ({exc.strerror})"
    os.close(fd)
    return None


def check_source(cfg: HipcamConfig) -> str | None:
    """Problem with capture.source, parsed by the same rule as ``make_source``, or None."""
    try:
        spec = parse_source(cfg.capture.source)
        if spec.kind == "demo":  # then checked as the file it is
            spec = SourceSpec("file", str(demo_clip(cfg)))
    except (SourceSpecError, AssetError) as exc:
        return str(exc)
    if spec.kind in ("auto", "picamera"):
        return None  # probed at start-up; absence falls back (auto) or is reported live
    if spec.kind == "camera":
        return check_camera_device(str(spec.target))
    if spec.kind == "url":
        return None  # a network stream: reachability is a run-time matter
    path = Path(str(spec.target))
    if not path.is_file():
        return f"{path}: video file not found"
    if not os.access(path, os.R_OK):
        return f"{path}: video file not readable (permission denied)"
    return None


def check_port(host: str, port: int) -> str | None:
    """Can we listen on host:port right now? None if yes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Same option waitress sets, so a port in TIME_WAIT is not reported as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"{host}:{port} is already in use (another hipcam running? `systemctl status hipcam`)"
        if exc.errno == errno.EACCES:
            return f"{host}:{port}: permission denied (ports below 1024 need root; use 8080)"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{host}: not an address of this device"
        return f"{host}:{port}: cannot listen ({exc.strerror})"
    finally:
        sock.close()
    return None


def check_writable_dir(path: Path) -> str | None:
    path = path.expanduser()
    probe = path
    while not probe.exists():  # it will be created: the nearest existing parent must be writable
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe}: not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{path}: not writable by this user"
    return None


def check_models(models_dir: Path) -> str | None:
    missing = [n for n in ("pose_detection.tflite", "pose_landmark_full.tflite") if not (models_dir / n).is_file()]
    if missing:
        return f"{models_dir}: missing {', '.join(missing)} (run `hipcam fetch`)"
    return None


def check_tls(cfg: HipcamConfig) -> str | None:
    """Whether the configured certificate and key load and belong together (the message names its key)."""
    if cfg.server.tls_cert is None or cfg.server.tls_key is None:
        return None
    try:
        tls_context(cfg.server.tls_cert.expanduser(), cfg.server.tls_key.expanduser())
    except ConfigError as exc:
        return str(exc)
    return None


def collect_problems(cfg: HipcamConfig, check_port_free: bool = True) -> list[str]:
    """All run-time problems as ``key: message`` lines (empty if the device can start)."""
    problems: list[str] = []
    checks: list[tuple[str, str | None]] = [
        ("capture.source", check_source(cfg)),
        ("storage.data_dir", check_writable_dir(cfg.data_dir())),
        ("paths.models_dir", check_models(cfg.paths.models())),
    ]
    if check_port_free:
        checks.append(("server.port", check_port(cfg.server.host, cfg.server.port)))
    for key, problem in checks:
        if problem is not None:
            problems.append(f"{key}: {problem}")
    if (tls := check_tls(cfg)) is not None:
        problems.append(tls)
    return problems


def check_config(
    path: Path,
    runtime: bool = True,
    check_port_free: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Validate ``path``; with ``runtime`` also probe the camera, data dir, models and port."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        cfg = load_config(Path(path))
    except ConfigError as exc:
        print(f"hipcam: {exc}", file=err)  # already "file: dotted.key: message", one line
        return EXIT_BAD
    problems = collect_problems(cfg, check_port_free) if runtime else []
    for line in problems:
        print(f"hipcam: {path}: {line}", file=err)
    if problems:
        return EXIT_BAD
    warnings = [] if cfg.server.pin_hash else ["server.pin_hash is not set: nobody can start a session"]
    for line in warnings:
        print(f"hipcam: {path}: warning: {line}", file=err)
    print(f"{path}: ok", file=out)
    return EXIT_OK
