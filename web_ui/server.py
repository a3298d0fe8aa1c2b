"""The one place the WSGI server (waitress) is built, for `hipcam serve` and `hipcam bench-service`.

Waitress keeps everything a response has written in the connection's output buffer, sent or not,
until that buffer reaches ``outbuf_high_watermark`` (16 MiB by default) and is rotated
(Pylons/waitress#265). A Server-Sent-Event stream writes ~30 KB/s for its whole life, so with the
default every live tablet pinned up to 16 MiB of already-sent ticks: the soak's RSS grew through its
first minutes for exactly that reason. A small watermark bounds what a connection holds to about
that much; it is also the back-pressure point at which a stream to a stalled tablet waits
(``channel_timeout`` closes only connections with no request running: a stalled live stream is
closed by web_ui.stream's own check after ``server.idle_timeout_s``), and it does not limit the size
of a single response (an export is appended whole).

Waitress also warns "Task queue depth is N" for every request that waits for a thread; under load
(or a flood from one host) that is a log line per request, so ``QueueWarnings`` lets one through per
``QUEUE_LOG_EVERY_S`` and says how many it held back.

Slow clients and TLS are web_ui.connections' (the server and channel classes built here): one host
may hold ``server.max_connections_per_client`` of the ``max_connections`` connections, a request's
headers must arrive within ``header_timeout_s``, and waitress's maintenance pass, which applies both
timeouts, runs every ``CLEANUP_INTERVAL_S`` instead of every 30 s. Waitress polls with poll() rather
than select(), which fails outright once a descriptor number passes 1023 (max_connections may be
1000, and the service has other files open).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from waitress.adjustments import Adjustments
from waitress.server import MultiSocketServer
from waitress.task import ThreadedTaskDispatcher

from hipcam.config import HipcamConfig, ServerConfig
from web_ui.connections import ClientCounter, GuardedServer, tls_context

OUTBUF_HIGH_WATERMARK = 256 * 1024
QUEUE_LOG_EVERY_S = 60.0
QUEUE_LOGGER = "waitress.queue"
CLEANUP_INTERVAL_S = 1  # waitress's maintenance pass (idle and header timeouts); whole seconds


class QueueWarnings(logging.Filter):
    """At most one waitress queue-depth warning per ``every_s``, with the count of those held back."""

    def __init__(self, every_s: float = QUEUE_LOG_EVERY_S, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.every_s, self.clock = every_s, clock
        self._last = -every_s
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self.clock()
            if now - self._last < self.every_s:
                self._held += 1
                return False
            held, self._held, self._last = self._held, 0, now
        if held:
            record.msg = f"{record.msg} ({held} more such warnings in the last {self.every_s:.0f} s)"
        return True


def quiet_queue_warnings() -> None:
    """Install one QueueWarnings on waitress's queue logger (idempotent)."""
    queue = logging.getLogger(QUEUE_LOGGER)
    if not any(isinstance(f, QueueWarnings) for f in queue.filters):
        queue.addFilter(QueueWarnings())


def make_server(app: Any, cfg: HipcamConfig, host: str, port: int) -> Any:
    """A bound waitress server for ``app``, HTTPS when ``server.tls_cert`` is set (raises OSError if
    the port cannot be bound, ValueError if ``host`` is no address, ConfigError for a bad cert/key)."""
    quiet_queue_warnings()
    server = cfg.server
    tls = (
        tls_context(server.tls_cert.expanduser(), server.tls_key.expanduser())
        if server.tls_cert and server.tls_key
        else None
    )
    adj = Adjustments(**_adjustments(server, host, port, https=tls is not None))
    dispatcher = ThreadedTaskDispatcher()  # its threads start once the sockets are bound
    clients = ClientCounter(server.max_connections_per_client)  # one count across all listening sockets
    socket_map: dict[int, Any] = {}
    bound: list[GuardedServer] = []
    try:
        for sockinfo in adj.listen:  # a host name may stand for several addresses, as in create_server
            bound.append(GuardedServer(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo,
                                       clients=clients, header_timeout_s=server.header_timeout_s, tls=tls))  # fmt: skip
    except BaseException:
        for done in bound:
            done.close()
        raise
    dispatcher.set_thread_count(adj.threads)
    if len(bound) == 1:
        return bound[0]
    listening = [(b.effective_host, b.effective_port) for b in bound]
    return MultiSocketServer(socket_map, adj, listening, dispatcher, bound[-1].log_info)


def _adjustments(server: ServerConfig, host: str, port: int, https: bool) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "threads": server.threads,
        "max_request_body_size": server.max_request_bytes,
        "outbuf_high_watermark": OUTBUF_HIGH_WATERMARK,
        "connection_limit": server.max_connections,
        "channel_timeout": math.ceil(server.idle_timeout_s),  # waitress takes whole seconds
        "cleanup_interval": CLEANUP_INTERVAL_S,
        "asyncore_use_poll": True,
        "url_scheme": "https" if https else "http",
        "ident": "hipcam",
        "clear_untrusted_proxy_headers": True,
    }
