"""The one place the WSGI server (waitress) is built, for `hipcam serve` and `hipcam bench-service`.

Waitress keeps everything a response has written in the connection's output buffer, sent or not,
until that buffer reaches ``outbuf_high_watermark`` (16 MiB by default) and is rotated
(Pylons/waitress#265). A Server-Sent-Event stream writes ~30 KB/s for its whole life, so with the
default every live tablet pinned up to 16 MiB of already-sent ticks: the soak's RSS grew through its
first minutes for exactly that reason. A small watermark bounds what a connection holds to about
that much; it is also the back-pressure point at which a stream to a stalled tablet waits (waitress
closes a connection with no progress after ``channel_timeout``), and it does not limit the size of a
single response (an export is appended whole).
"""

from __future__ import annotations

from typing import Any

from waitress.server import create_server

from hipcam.config import HipcamConfig

OUTBUF_HIGH_WATERMARK = 256 * 1024


def make_server(app: Any, cfg: HipcamConfig, host: str, port: int) -> Any:
    """A bound waitress server for ``app`` (raises OSError if the port cannot be bound)."""
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
