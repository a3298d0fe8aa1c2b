"""`hipcam label VIDEO`: decode a clip once and serve the labelling page (web_ui.labelling) on it.

Every frame is decoded up front and kept as JPEG bytes (quality 90): the page then steps to any
frame at once, in decode order, exactly the frames `hipcam analyze` sees. Clips are short; a long
one is still accepted, with its memory use printed. Ctrl+C (or SIGTERM) stops the server cleanly.
"""

from __future__ import annotations

import argparse
import errno
import logging
import math
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import cv2

from hipcam.errors import HipcamError, VideoError
from hipcam.records.truth import Truth, load_truth

JPEG_QUALITY = 90
THREADS = 8  # the page fetches a few frames ahead at once


def decode_jpegs(video: Path) -> tuple[list[bytes], float, int, int]:
    """(frames as JPEG bytes, the file's fps or 0 if unknown, width, height); VideoError if none decode."""
    if not video.is_file():
        raise VideoError(f"video {video} not found")
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise VideoError(f"cannot open video {video}")
    frames: list[bytes] = []
    width = height = 0
    try:
        rate = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        while True:
            ok, img = cap.read()
            if not ok or img is None:
                break
            height, width = img.shape[:2]
            good, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not good:
                raise VideoError(f"cannot encode frame {len(frames)} of {video}")
            frames.append(buf.tobytes())
    finally:
        cap.release()
    if not frames:
        raise VideoError(f"no frame of {video} could be decoded")
    if claimed > len(frames):
        print(f"hipcam: {video.name} claims {claimed} frames, {len(frames)} decode; labelling those", file=sys.stderr)
    return frames, (rate if math.isfinite(rate) and rate > 0 else 0.0), width, height


def _check_fps(given: float | None) -> None:
    if given is not None and not (math.isfinite(given) and given > 0):
        raise HipcamError(f"--fps must be a positive number, not {given:g}")


def _rates(file_fps: float, given: float | None) -> tuple[float, float | None]:
    """(fps written as the clip's rate, true_fps or None)."""
    _check_fps(given)
    if file_fps <= 0:
        if given is None:
            raise HipcamError("the video does not say its frame rate: give it with --fps")
        return given, None
    if given is None or abs(given - file_fps) <= 0.01:
        return file_fps, None
    return file_fps, given


class _Stop(Exception):
    """Raised by the signal handler to leave waitress's loop."""


def _serve(app: Any, host: str, port: int) -> int:
    from waitress.server import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" while frames prefetch
    try:
        server = create_server(app, host=host, port=port, threads=THREADS, ident="hipcam-label",
                               max_request_body_size=16 * 1024 * 1024)  # fmt: skip
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise HipcamError(f"port {port} on {host} is already in use: pick another with --port") from None
        raise HipcamError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = f"[{host}]" if ":" in host else host
    print(f"hipcam label: open http://{shown}:{port}/ in a browser (Ctrl+C to stop)", flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        del frame
        raise _Stop(signal.Signals(signum).name)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except (_Stop, KeyboardInterrupt):
        print("hipcam label: stopped", flush=True)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
    return 0


def run_label(args: argparse.Namespace) -> int:
    """`hipcam label`: returns the exit code."""
    from web_ui.labelling import LabelMeta, create_label_app, fit_truth

    _check_fps(args.fps)
    video = Path(args.video)
    truth_path = Path(args.truth) if args.truth else Path.cwd() / f"{video.stem}.truth.json"
    truth: Truth | None = load_truth(truth_path) if truth_path.is_file() else None  # a bad file fails before decoding
    frames, file_fps, width, height = decode_jpegs(video)
    fps, true_fps = _rates(file_fps, args.fps)
    meta = LabelMeta(video.stem, video.name, fps, len(frames), width, height, true_fps)
    if truth is not None:
        if truth.name != meta.name:
            print(
                f"hipcam: {truth_path} is labelled for clip {truth.name!r}; saving it as {meta.name!r}", file=sys.stderr
            )
        truth = fit_truth(truth, meta, f"truth file {truth_path}")
    size_mb = sum(map(len, frames)) / 1e6
    state = f"continuing {truth_path}" if truth is not None else f"will write {truth_path}"
    print(f"hipcam label: {len(frames)} frames {width}x{height} at {fps:g} fps ({size_mb:.0f} MB); {state}", flush=True)
    return _serve(create_label_app(frames, meta, truth_path, truth), args.host, args.port)
