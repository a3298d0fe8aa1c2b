"""systemd service notification (sd_notify) and a frame-driven watchdog, without libsystemd.

The protocol is one datagram per message sent to the AF_UNIX socket named by ``$NOTIFY_SOCKET``;
a leading ``@`` means the Linux abstract namespace. Outside systemd the variable is unset and
every call is a cheap no-op, so the same code runs on a laptop, in tests and on the Pi.

The watchdog is fed by the frame loop, not by a timer thread: a timer would keep pinging while
the pipeline is wedged (a stuck camera read, a hung interpreter), which is exactly the case the
watchdog exists to catch.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def _socket_address(value: str) -> str | None:
    """Translate ``$NOTIFY_SOCKET`` into a ``sendto`` address; None if unusable."""
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace: Python wants the leading NUL spelt out
    if value.startswith("/"):
        return value
    return None  # vsock:... and relative paths are not for us


class Notifier:
    """Sends sd_notify messages; every method is a no-op when not started by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_usec = _watchdog_usec(env)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_usec(self) -> int | None:
        """WatchdogSec= of the unit in microseconds, if the watchdog is meant for this process."""
        return self._watchdog_usec

    def send(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=value`` lines. Returns True if it was handed to the socket."""
        if self._address is None or not lines:
            return False
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            # Never let supervision plumbing take the service down; say so once.
            if not self._warned:
                log.warning("sd_notify to %r failed: %s", self._address.lstrip("\0"), exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        lines = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            lines.append(f"STATUS={_one_line(status)}")
        return self.send(*lines)

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str | None = None) -> bool:
        lines = ["STOPPING=1"]
        if status:
            lines.append(f"STATUS={_one_line(status)}")
        return self.send(*lines)

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start-up/stop time (slow first model load on a cold SD card)."""
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    # WATCHDOG_PID names the process the watchdog is meant for; a child we spawned inherits
    # the environment and must not ping on our behalf.
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return usec if usec > 0 else None


class Watchdog:
    """Sends WATCHDOG=1 at most every WATCHDOG_USEC/2, and only when the frame loop says so.

    Call :meth:`frame_processed` after each analysed frame. While the camera is lost and the loop
    is actively retrying, call :meth:`loop_alive` from the retry loop: the process is healthy and
    a restart would not bring the camera back (it would only burn the unit's start limit).
    """

    def __init__(
        self,
        notifier: Notifier,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._notifier = notifier
        usec = notifier.watchdog_usec
        if interval_s is None and usec is not None:
            interval_s = usec / 2e6
        self._interval = interval_s
        self._clock = clock
        self._last: float | None = None
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return self._interval is not None and self._notifier.enabled

    def frame_processed(self) -> None:
        self._kick()

    def loop_alive(self) -> None:
        self._kick()

    def _kick(self) -> None:
        if self._interval is None:
            return
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        if self._notifier.watchdog():
            self.pings += 1
        self._last = now
