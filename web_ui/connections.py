"""Waitress's server and channel, guarded against slow clients, and optionally speaking TLS.

Waitress accepts connections until ``connection_limit`` and then stops accepting altogether, and it
closes only connections idle for ``channel_timeout``: a client that sends one header byte a second
is never idle, so about a hundred such sockets from one host used to fill the limit and the page,
the API and /healthz stopped answering. ``GuardedServer`` adds the two rules waitress lacks:

* at most ``server.max_connections_per_client`` open connections per client address
  (``ClientCounter``); one over the cap is reset at accept, with a log line per ``REFUSED_LOG_EVERY_S``;
* a request's line and headers must all arrive within ``header_timeout_s`` of its first byte (the
  first request's clock starts when the connection opens, so this also covers a connection that
  sends nothing and a TLS handshake that never completes). The check runs in waitress's own
  maintenance pass, every ``cleanup_interval`` seconds, and spares a channel whose request is
  being served.

Waitress has no TLS. ``TLSChannel`` wraps the accepted socket (``do_handshake_on_connect=False``)
and drives the handshake from the event loop; after each read it drains what OpenSSL holds
decrypted (``pending()``), since select/poll sees only the kernel's buffer. OpenSSL objects must not
be used from two threads at once: waitress reads a channel only while no request of it is being
served (``channel_request_lookahead`` 0, the default) and writes under the channel's outbuf lock,
so reads and writes never overlap.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from hipcam.errors import ConfigError

log = logging.getLogger(__name__)

REFUSED_LOG_EVERY_S = 60.0


class ClientCounter:
    """Open connections per client address, capped at ``cap``; says who was refused, now and then."""

    def __init__(
        self, cap: int, log_every_s: float = REFUSED_LOG_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cap, self.log_every_s, self.clock = cap, log_every_s, clock
        self._open: dict[str, int] = {}
        self._held = 0  # refusals not logged since the last line
        self._logged_at = -log_every_s
        self._lock = threading.Lock()  # a channel may be closed from a worker thread

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``; False (and not counted) if it holds ``cap`` already."""
        with self._lock:
            held = self._open.get(address, 0)
            if held < self.cap:
                self._open[address] = held + 1
                return True
            now = self.clock()
            if now - self._logged_at < self.log_every_s:
                self._held += 1
                return False
            more, self._held, self._logged_at = self._held, 0, now
        log.warning(
            "refused a connection from %s: it has %d open, the most one client may (server.max_connections_per_client)%s",
            address,
            held,
            f"; {more} more refused in the last {self.log_every_s:.0f} s" if more else "",
        )
        return False

    def release(self, address: str) -> None:
        """One connection from ``address`` closed."""
        with self._lock:
            left = self._open.get(address, 0) - 1
            if left > 0:
                self._open[address] = left
            else:
                self._open.pop(address, None)

    def open_from(self, address: str) -> int:
        with self._lock:
            return self._open.get(address, 0)


class GuardedChannel(HTTPChannel):
    """A waitress channel that knows since when it waits for a request's line and headers, and
    gives its place back to the server's ``ClientCounter`` when it closes."""

    server: GuardedServer
    _counted = False  # holds a place in the server's ClientCounter

    def __init__(self, server: GuardedServer, sock: socket.socket, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        # The first request's clock runs from the opening (and so covers a TLS handshake).
        self.header_since: float | None = self.creation_time
        self._counted = True

    def received(self, data: bytes) -> bool:
        result = bool(super().received(data))
        if self.request is None or self.request.headers_finished:
            self.header_since = None  # between requests: waitress's idle timeout applies
        elif self.header_since is None:
            self.header_since = time.time()  # the first byte of the next request
        return result

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)
        if self._counted:
            self._counted = False
            self.server.clients.release(self.addr[0])


class TLSChannel(GuardedChannel):
    """A GuardedChannel over an ``SSLSocket`` that has not shaken hands yet."""

    socket: ssl.SSLSocket
    handshaken = False
    want_write = False  # OpenSSL must write before it can go on (handshake, or a read)

    def readable(self) -> bool:
        if not self.handshaken:
            return not (self.will_close or self.want_write)
        return bool(super().readable())

    def writable(self) -> bool:
        if not self.handshaken:
            return self.will_close or self.want_write
        return self.want_write or bool(super().writable())

    def handle_read(self) -> None:
        if not self.handshaken:
            self._handshake()
            return
        self.want_write = False
        try:
            data = self._read()
        except ssl.SSLWantReadError:
            return  # a partial record; select tells when the rest comes
        except ssl.SSLWantWriteError:
            self.want_write = True
            return
        except (OSError, ValueError) as exc:  # ValueError: a stream's thread shut the socket (web_ui.stream)
            self._lost(exc)
            return
        if data:
            self.last_activity = time.time()
            self.received(data)
        else:
            self.connected = False  # end of stream (recv has closed the channel)

    def handle_write(self) -> None:
        if self.want_write and not self.will_close:
            self.handle_read()  # handshakes too, while not handshaken
        if self.handshaken or self.will_close:
            super().handle_write()

    def send(self, data: bytes, do_close: bool = True) -> int:
        try:
            return int(super().send(data, do_close=do_close))
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return 0
        except ssl.SSLError as exc:  # a broken record layer: as good as a disconnect
            log.debug("TLS connection from %s lost while sending: %s", self.addr[0], exc)
            self.will_close = True
            if do_close:
                self.handle_close()
            return 0

    def _read(self) -> bytes:
        data = bytes(self.recv(self.adj.recv_bytes))
        # Bytes OpenSSL has decrypted already are invisible to select: take them now.
        while data and self.socket is not None and (waiting := self.socket.pending()):
            data += self.socket.recv(waiting)
        return data

    def _handshake(self) -> None:
        self.want_write = False
        try:
            self.socket.do_handshake()
        except ssl.SSLWantReadError:
            return
        except ssl.SSLWantWriteError:
            self.want_write = True
            return
        except OSError as exc:  # not TLS (e.g. plain HTTP), an unacceptable hello, a reset
            self._lost(exc)
            return
        self.handshaken = True
        if self.socket.pending():
            self.handle_read()

    def _lost(self, exc: Exception) -> None:
        log.debug("TLS connection from %s closed: %s", self.addr[0], exc)
        self.handle_close()


class GuardedServer(TcpWSGIServer):
    """Waitress's TCP server with a per-client connection cap, a header timeout and optional TLS."""

    channel_class = GuardedChannel

    def __init__(
        self,
        application: Any,
        *args: Any,
        clients: ClientCounter,
        header_timeout_s: float,
        tls: ssl.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        self.clients, self.header_timeout_s, self.tls = clients, header_timeout_s, tls
        if tls is not None:
            self.channel_class = TLSChannel
        super().__init__(application, *args, **kwargs)

    def handle_accept(self) -> None:
        # Everything that can fail is caught: an exception here would close the listening socket.
        try:
            pair = self.accept()
        except OSError:  # as waitress: a connection reset before it was taken is no server error
            return
        if pair is None:
            return
        conn, addr = pair[0], self.fix_addr(pair[1])
        if not self.clients.admit(addr[0]):
            _reset(conn)
            return
        try:
            self.set_socket_options(conn)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            self.channel_class(self, conn, addr, self.adj, map=self._map)
        except OSError:
            self.clients.release(addr[0])
            conn.close()

    def maintenance(self, now: float) -> None:
        """Waitress's idle timeout, then the header timeout."""
        super().maintenance(now)
        cutoff = now - self.header_timeout_s
        for channel in list(self.active_channels.values()):
            since = getattr(channel, "header_since", None)
            if since is not None and since < cutoff and not channel.requests and not channel.will_close:
                log.debug("closing the connection from %s: no complete request headers in time", channel.addr[0])
                channel.will_close = True  # the loop closes it on its next pass (writable -> close)


def _reset(conn: socket.socket) -> None:
    """Close with a reset: no FIN handshake and no TIME_WAIT on our side for a refused connection."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context for ``cert`` and ``key``; a ConfigError that says what is wrong."""
    for name, path in (("tls_cert", cert), ("tls_key", key)):
        try:
            path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"server.{name} {path}: cannot read it ({exc.strerror or exc})") from None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    try:
        ctx.load_cert_chain(cert, key, password=_no_passphrase)
    except _Passphrase:
        raise ConfigError(f"server.tls_key {key} is encrypted; hipcam needs the key without a passphrase") from None
    except ssl.SSLError as exc:
        raise ConfigError(_tls_problem(cert, key, exc)) from None
    return ctx


class _Passphrase(Exception):
    """The key asks for a passphrase (the service has no terminal to ask on)."""


def _no_passphrase() -> bytes:
    raise _Passphrase


def _tls_problem(cert: Path, key: Path, exc: ssl.SSLError) -> str:
    if exc.reason == "KEY_VALUES_MISMATCH":
        return f"server.tls_key {key} is not the private key of server.tls_cert {cert}"
    try:
        ssl.create_default_context(cafile=cert)  # parses the certificate alone
    except ssl.SSLError:
        return f"server.tls_cert {cert} is not a PEM certificate (`hipcam tls-cert` makes a certificate and key)"
    return f"server.tls_key {key} is not a PEM private key (`hipcam tls-cert` makes a certificate and key)"
