"""SIGTERM and SIGINT as a way out of waitress's loop, for the long-running commands (serve, hub)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class Shutdown(SystemExit):
    """Raised from the signal handler to leave waitress's loop in the main thread. A SystemExit:
    waitress re-raises only ExitNow, KeyboardInterrupt and SystemExit from its event handlers and
    swallows anything else, so a plain Exception arriving while it handled a request was lost and
    the service did not stop (seen as an occasional >15 s stop in the tests)."""


def install_signals() -> dict[int, Any]:
    """SIGTERM and SIGINT raise Shutdown (main thread only); the handlers they replace."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        raise Shutdown(signal.Signals(signum).name)

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def restore_signals(previous: dict[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
