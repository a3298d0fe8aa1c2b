"""Live-stream viewers: the slots they hold (``ViewerGate``) and what a stream knows of its client
outside the request (``Connection``, ``Viewer``).

A client that stops reading must not hold its thread and slot. Waitress blocks a write while the
connection holds more than its ``outbuf_high_watermark`` unsent, with no timeout, and its
``channel_timeout`` never closes a connection whose request is still running; so the stream does it
itself (``Viewer``): it writes only while waitress would take the write without blocking, and when
what it wrote has not moved towards the client (waitress's buffer plus the kernel's send queue) for
``server.idle_timeout_s``, it closes the connection and ends. A stream also ends at the next tick
when its client has closed the connection (a reloaded page: waitress would notice only at the next
write, a keep-alive up to web_ui.stream.HEARTBEAT_S later, and the address's slot would be held until then), and
when its viewer may no longer watch: viewing is closed and the viewer's login (if it had one when
the stream started) has ended (``Viewer.may_watch``, taken at request time: the generator runs
outside the request context).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import select
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

OUTQ = getattr(termios, "TIOCOUTQ", None)  # Linux's SIOCOUTQ: a socket's unacknowledged bytes
# poll flags of a connection the client has ended (POLLRDHUP: Linux; elsewhere a reset only)
PEER_CLOSED = getattr(select, "POLLRDHUP", 0) | getattr(select, "POLLHUP", 0) | getattr(select, "POLLERR", 0)
FULL, CLIENT_FULL = "full", "client"


class ViewerGate:
    """Live-stream slots: at most ``limit`` in all and ``per_client`` for one client address."""

    def __init__(
        self, limit: int, on_change: Callable[[int], None] | None = None, per_client: int | None = None
    ) -> None:
        self.limit = limit
        self.per_client = per_client if per_client is not None else limit
        self._on_change = on_change
        self._lock = threading.Lock()
        self._by_client: dict[str, int] = {}
        self.count = 0

    def enter(self, client: str = "?") -> str | None:
        """Take a slot for ``client``: None when taken, else why not (``FULL``, ``CLIENT_FULL``)."""
        with self._lock:
            if self.count >= self.limit:
                return FULL
            if self._by_client.get(client, 0) >= self.per_client:
                return CLIENT_FULL
            self._by_client[client] = self._by_client.get(client, 0) + 1
            self.count += 1
            n = self.count
        self._changed(n)
        return None

    def leave(self, client: str = "?") -> None:
        with self._lock:
            left = self._by_client.get(client, 0) - 1
            if left > 0:
                self._by_client[client] = left
            else:
                self._by_client.pop(client, None)
            self.count -= 1
            n = self.count
        self._changed(n)

    def held_by(self, client: str) -> int:
        with self._lock:
            return self._by_client.get(client, 0)

    def _changed(self, n: int) -> None:
        if self._on_change:
            self._on_change(n)


class Connection:
    """What a stream can see of its waitress connection (the channel behind the WSGI environ's
    ``waitress.client_disconnected``): what it still holds unsent, and a way to close it. Under
    another server (the test client) nothing is known and nothing is ever stalled."""

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
        adj = getattr(self._channel, "adj", None)
        self.watermark: int | None = getattr(adj, "outbuf_high_watermark", None)

    @property
    def known(self) -> bool:
        return self._channel is not None and self.watermark is not None

    def gone(self) -> bool:
        """Whether the client has closed the connection. Waitress reads nothing while a request
        runs, so it would notice only at the next write (a keep-alive: up to HEARTBEAT_S); a peek
        at the socket sees the client's end at once (a reloaded page frees its slot at the next tick)."""
        if self._channel is None:
            return False
        return not getattr(self._channel, "connected", True) or _peer_closed(getattr(self._channel, "socket", None))

    def buffered(self) -> int:
        """Bytes waitress holds for the client, not yet handed to the kernel."""
        return int(getattr(self._channel, "total_outbufs_len", 0) or 0)

    def unsent(self) -> int:
        """Bytes written but not yet taken by the client: waitress's buffer plus the kernel's queue."""
        return self.buffered() + _kernel_queue(getattr(self._channel, "socket", None))

    def would_block(self) -> bool:
        """Whether waitress would block a write now (its buffer is over the high watermark)."""
        return self.watermark is not None and self.buffered() > self.watermark

    def close(self) -> None:
        """Close the connection from the stream's thread: a blocked or pending write is dropped,
        and waitress's loop frees the connection at once (a shut-down socket polls writable)."""
        channel = self._channel
        if channel is None:
            return
        channel.will_close = True
        with contextlib.suppress(OSError, AttributeError):
            channel.socket.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError, AttributeError):
            channel.server.pull_trigger()


def _peer_closed(sock: socket.socket | None) -> bool:
    """Whether the other end of ``sock`` has closed or reset it, from the kernel's poll flags (no
    read: nothing is consumed, and a TLS socket's record layer is not touched)."""
    if sock is None or PEER_CLOSED == 0:
        return False
    try:
        poller = select.poll()
        poller.register(sock.fileno(), PEER_CLOSED)
        return any(flags & PEER_CLOSED for _, flags in poller.poll(0))
    except (OSError, ValueError):
        return True  # closed under us (fileno -1)


def _kernel_queue(sock: socket.socket | None) -> int:
    """Bytes in ``sock``'s kernel send queue not yet acknowledged by the client (0 if unknown)."""
    if sock is None or OUTQ is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), OUTQ, b"\0\0\0\0"))[0])
    except (OSError, ValueError, struct.error):
        return 0


class Viewer:
    """One stream's client, as the generator sees it outside the request: whether it may still
    watch, whether it takes what is written, and how much it has been sent."""

    def __init__(
        self,
        conn: Connection,
        may_watch: Callable[[], bool],
        stall_s: float,
        client: str = "?",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conn, self.may_watch, self.stall_s, self.client = conn, may_watch, stall_s, client
        self._clock = clock
        self.written = 0
        self._delivered = 0  # the most the client has been seen to take
        self._moved_at = clock()

    def wrote(self, chunk: bytes) -> bytes:
        self.written += len(chunk)
        return chunk

    def stalled(self) -> bool:
        """No byte of what was written has reached the client for ``stall_s`` while some waits."""
        if not self.conn.known:
            return False
        unsent, now = self.conn.unsent(), self._clock()
        delivered = self.written - unsent  # waitress's chunk framing only ever makes this smaller
        if unsent == 0 or delivered > self._delivered:
            self._delivered, self._moved_at = max(delivered, self._delivered), now
            return False
        return now - self._moved_at >= self.stall_s

    def must_end(self) -> bool:
        """Whether the stream ends now: its viewer went away or may no longer watch, or it stopped
        reading (then its connection is closed, so no write of the stream's end can block)."""
        if self.conn.gone() or not self.may_watch():
            return True
        if not self.stalled():
            return False
        log.warning(
            "closed a live view to %s: it took nothing for %.0f s (%d bytes waiting)",
            self.client, self.stall_s, self.conn.unsent(),
        )  # fmt: skip
        self.conn.close()
        return True
