"""Pulls finished sessions from every configured device into the archive, every pull interval.

For each device ([hub] devices: id, url, token_file) it reads the token file (each round, so a new
token needs no restart), asks ``GET /api/sessions`` with ``Authorization: Bearer <token>`` and, for
each session that has ended and whose listing entry is new or changed since the last pull, fetches
``GET /api/sessions/<id>/export.json``. The export is written only when its hash differs from the
stored one: a session is stored once per (device id, session id) and replaced when, e.g., its
notes change. Running sessions wait for their end; a session deleted on the device stays in the
archive.

Every request has a connect/read timeout and a whole-answer deadline, answers are size-capped and
redirects are not followed (the token goes to the configured address only). A device that cannot
be reached, refuses the token or answers nonsense is logged once per outage (and once when it is
back) and tried again next interval; the archive being away (PostgreSQL down) likewise. Nothing
here raises into the hub: a round always ends, whatever a device sends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipcam.errors import ConfigError
from hipcam.hub.archive import Archive, ArchiveError, ArchiveUnavailable, Hashes
from hipcam.hub.files import read_secret

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0  # connect and each read
DEADLINE_S = 60.0  # a whole answer
MAX_LIST_BYTES = 8 * 1024 * 1024
MAX_EXPORT_BYTES = 64 * 1024 * 1024
PAGE_SIZE = 200
MAX_PAGES = 50
CHUNK = 64 * 1024

# (url, headers, timeout_s, max_bytes) -> (HTTP status, body); raises DeviceUnreachable.
Transport = Callable[[str, Mapping[str, str], float, int], tuple[int, bytes]]


class PullFailed(Exception):
    """One device's round could not finish; the message is the log line's reason."""


class DeviceUnreachable(PullFailed):
    pass


@dataclass(frozen=True)
class DeviceLink:
    id: str
    url: str
    token_file: Path


@dataclass
class PullResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    running: int = 0
    error: str | None = None


@dataclass
class DeviceStatus:
    """The last round of one device, for /healthz and the archive page."""

    last_ok_at: float | None = None
    last_try_at: float | None = None
    down_since: float | None = None
    error: str | None = None
    archived: dict[str, int] = field(default_factory=lambda: {"new": 0, "updated": 0})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is answered as it is: the token must not follow it elsewhere


_OPENER = urllib.request.build_opener(_NoRedirect)


def urllib_transport(url: str, headers: Mapping[str, str], timeout_s: float, max_bytes: int) -> tuple[int, bytes]:
    """GET ``url`` (http or https, the system's trusted certificates), bounded in time and size."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with _OPENER.open(request, timeout=timeout_s) as resp:
            return int(resp.status), _read_bounded(resp, max_bytes)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), _read_bounded(exc, 64 * 1024, quiet=True)
    except urllib.error.URLError as exc:
        raise DeviceUnreachable(_reason(exc.reason)) from None
    except (OSError, ValueError) as exc:  # reset, timed out mid-answer, bad status line
        raise DeviceUnreachable(_reason(exc)) from None


def _read_bounded(resp: Any, max_bytes: int, quiet: bool = False) -> bytes:
    deadline, parts, size = time.monotonic() + DEADLINE_S, [], 0
    while chunk := resp.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            if quiet:
                break
            raise PullFailed(f"answer larger than {max_bytes // (1024 * 1024)} MiB")
        if time.monotonic() > deadline:
            raise DeviceUnreachable(f"answer took longer than {DEADLINE_S:.0f} s")
        parts.append(chunk)
    return b"".join(parts)


def _reason(exc: object) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
    return str(text).splitlines()[0][:200]


def canonical_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def listing_hash(entry: Mapping[str, Any]) -> str:
    """The listing entry without what changes while nothing about the session does."""
    return canonical_hash({k: v for k, v in entry.items() if k != "active"})


def _http_problem(status: int, body: bytes) -> str:
    try:
        message = json.loads(body).get("error", "")
    except (ValueError, AttributeError, RecursionError):
        message = ""
    hints = {
        401: "the token was refused (wrong or revoked): make a new one on the device with `hipcam token add hub`",
        403: "the device does not let this token read sessions",
        429: "the device is refusing tokens for a while (too many wrong ones)",
    }
    hint = hints.get(status, "unexpected answer")
    return f"HTTP {status}: {hint}" + (f" ({str(message)[:160]})" if message and status not in (401,) else "")


class DeviceClient:
    """The two read-only calls on one device, with its token."""

    def __init__(self, link: DeviceLink, transport: Transport = urllib_transport) -> None:
        self.link, self._transport = link, transport

    def _get(self, path: str, max_bytes: int, missing_ok: bool = False) -> Any:
        try:
            token = read_secret(self.link.token_file, "token_file")
        except ConfigError as exc:
            raise PullFailed(str(exc)) from None
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "hipcam-hub"}
        status, body = self._transport(self.link.url + path, headers, TIMEOUT_S, max_bytes)
        if status == 404 and missing_ok:
            return None
        if status != 200:
            raise PullFailed(_http_problem(status, body))
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise PullFailed(f"{path} did not answer JSON") from None

    def sessions(self) -> list[dict[str, Any]]:
        """Every session the device lists, newest first, following pages while the device has more."""
        found: dict[int, dict[str, Any]] = {}
        for page in range(MAX_PAGES):
            data = self._get(f"/api/sessions?limit={PAGE_SIZE}&offset={page * PAGE_SIZE}", MAX_LIST_BYTES)
            listed = data.get("sessions") if isinstance(data, dict) else None
            if not isinstance(listed, list):
                raise PullFailed("/api/sessions did not answer a session list")
            fresh = {s["id"]: s for s in listed if _valid_entry(s) and s["id"] not in found}
            found.update(fresh)
            if len(listed) < PAGE_SIZE or not fresh:  # the last page (or a device that does not page)
                break
        return list(found.values())

    def export(self, session_id: int) -> dict[str, Any] | None:
        data = self._get(f"/api/sessions/{session_id}/export.json", MAX_EXPORT_BYTES, missing_ok=True)
        if data is None:
            return None
        session = data.get("session") if isinstance(data, dict) else None
        if not isinstance(session, dict) or session.get("id") != session_id or not _ended(session):
            raise PullFailed(f"the export of session {session_id} is not a finished session's")
        return data


def _valid_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("id"), int) and not isinstance(entry["id"], bool)


def _ended(session: Mapping[str, Any]) -> bool:
    ended = session.get("ended_at")
    return isinstance(ended, int | float) and not isinstance(ended, bool)


class _Outages:
    """Logs a problem once when it starts and once when it ends (the current reason, which may
    change during an outage, is in ``Puller.status``: /healthz and the archive page)."""

    def __init__(self) -> None:
        self._current: dict[str, str] = {}
        self._lock = threading.Lock()

    def failed(self, key: str, what: str, reason: str, retry_s: float) -> None:
        with self._lock:
            first = key not in self._current
            self._current.setdefault(key, reason)
        if first:
            log.warning("%s: %s; retrying every %.0f s", what, reason, retry_s)

    def ok(self, key: str, what: str) -> None:
        with self._lock:
            was = self._current.pop(key, None)
        if was is not None:
            log.info("%s: back (%s is over)", what, was)


class Puller:
    """Pulls every device once per ``interval_s`` on its own thread (``start``/``stop``), or once
    on demand (``pull_all``)."""

    def __init__(
        self,
        devices: Iterable[DeviceLink],
        archive: Archive,
        interval_s: float,
        transport: Transport = urllib_transport,
        on_result: Callable[[str, PullResult], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients = [DeviceClient(d, transport) for d in devices]
        self.archive, self.interval_s = archive, interval_s
        self._on_result, self._clock = on_result, clock
        self._outages = _Outages()
        self._status = {c.link.id: DeviceStatus() for c in self.clients}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hipcam-hub-puller", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.pull_all()
            except Exception as exc:  # a bug: logged, and the next round still comes
                log.error("archive pull failed: %s: %s", exc.__class__.__name__, exc)
            self._stop.wait(self.interval_s)

    def pull_all(self) -> dict[str, PullResult]:
        results: dict[str, PullResult] = {}
        for client in self.clients:
            if self._stop.is_set():
                break
            results[client.link.id] = result = self.pull(client)
            if self._on_result is not None:
                self._on_result(client.link.id, result)
            if result.error is not None and result.error.startswith("archive"):
                break  # the archive is away: the other devices wait for the next round too
        return results

    def pull(self, client: DeviceClient) -> PullResult:
        """One device's round; its problem, if any, is in ``error`` (and logged once per outage)."""
        device_id, result = client.link.id, PullResult()
        now = self._clock()
        try:
            self._pull_into(client, result)
        except ArchiveUnavailable as exc:
            result.error = f"archive unreachable: {exc}"
            self._outages.failed("archive", "archive", str(exc), self.interval_s)
        except ArchiveError as exc:
            result.error = f"archive error: {exc}"
            self._outages.failed("archive", "archive", str(exc), self.interval_s)
        except PullFailed as exc:
            result.error = str(exc)
            self._outages.failed(device_id, f"device {device_id} ({client.link.url})", str(exc), self.interval_s)
        else:
            self._outages.ok(device_id, f"device {device_id} ({client.link.url})")
            self._outages.ok("archive", "archive")
        self._record(device_id, result, now)
        return result

    def _pull_into(self, client: DeviceClient, result: PullResult) -> None:
        device_id = client.link.id
        listed = client.sessions()
        known = self.archive.known(device_id)
        for entry in sorted(listed, key=lambda s: s["id"]):
            if self._stop.is_set():
                return
            if not _ended(entry):
                result.running += 1
                continue
            self._pull_session(client, entry, known.get(entry["id"]), result)

    def _pull_session(self, client: DeviceClient, entry: dict[str, Any], known: Hashes | None,
                      result: PullResult) -> None:  # fmt: skip
        wanted = listing_hash(entry)
        if known is not None and known.listing == wanted:
            result.unchanged += 1
            return
        export = client.export(entry["id"])
        if export is None:  # deleted on the device since it was listed
            return
        hashes = Hashes(wanted, canonical_hash(export))
        if known is not None and known.export == hashes.export:
            self.archive.set_listing_hash(client.link.id, entry["id"], wanted)
            result.unchanged += 1
            return
        self.archive.save(client.link.id, export, hashes)
        if known is None:
            result.new += 1
        else:
            result.updated += 1
        log.info("archived session %d of %s (%s)", entry["id"], client.link.id, "new" if known is None else "updated")

    def _record(self, device_id: str, result: PullResult, now: float) -> None:
        with self._lock:
            status = self._status[device_id]
            status.last_try_at, status.error = now, result.error
            if result.error is None:
                status.last_ok_at, status.down_since = now, None
            elif status.down_since is None:
                status.down_since = now
            status.archived["new"] += result.new
            status.archived["updated"] += result.updated

    def status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: {**vars(v), "archived": dict(v.archived)} for k, v in self._status.items()}
