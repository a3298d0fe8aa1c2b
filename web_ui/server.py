"""The one place the WSGI server (waitress) is built, for `hipcam serve` and `hipcam bench-service`.

Waitress keeps everything a response has written in the connection's output buffer, sent or not,
until that buffer reaches ``outbuf_high_watermark`` (16 MiB by default) and is rotated
(Pylons/waitress#265). A Server-Sent-Event stream writes ~30 KB/s for its whole life, so with the
default every live tablet pinned up to 16 MiB of already-sent ticks: the soak's RSS grew through its
first minutes for exactly that reason. A small watermark bounds what a connection holds to about
that much; it is also the back-pressure point at which a stream to a stalled tablet waits (waitress
closes a connection with no progress after ``channel_timeout``), and it does not limit the size of a
single response (an export is appended whole).

Waitress also warns "Task queue depth is N" for every request that waits for a thread; under load
(or a flood from one host) that is a log line per request, so ``QueueWarnings`` lets one through per
``QUEUE_LOG_EVERY_S`` and says how many it held back.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from waitress.server import create_server

from hipcam.config import HipcamConfig

OUTBUF_HIGH_WATERMARK = 256 * 1024
QUEUE_LOG_EVERY_S = 60.0
QUEUE_LOGGER = "waitress.queue"


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
    """A bound waitress server for ``app`` (raises OSError if the port cannot be bound)."""
    quiet_queue_warnings()
    return create_server(
        app,
        host=host,
        port=port,
        threads=cfg.server.threads,
        max_request_body_size=cfg.server.max_request_bytes,
        outbuf_high_watermark=OUTBUF_HIGH_WATERMARK,
        ident="hipcam",
        clear_untrusted_proxy_headers=True,
    )
