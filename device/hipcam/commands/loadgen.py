"""The load generator shared by ``hipcam soak`` and ``hipcam bench-service``: a tablet's requests
against a service on this machine (loopback only), and the service's own Prometheus figures."""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def live_events(port: int, max_s: float = math.inf, stop: threading.Event | None = None) -> Iterator[dict[str, Any]]:
    """The live page's event stream, parsed as the page does: one snapshot dict per event.

    Ends when the server ends the stream, after ``max_s`` or when ``stop`` is set. Raises
    ``http.client.HTTPException`` for a refused stream and ``OSError`` for a broken connection."""
    conn = http.client.HTTPConnection(HOST, port, timeout=15)
    try:
        conn.request("GET", "/stream/events", headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200:
            resp.read()
            raise http.client.HTTPException(f"/stream/events: HTTP {resp.status}")
        end = time.monotonic() + max_s
        while (stop is None or not stop.is_set()) and time.monotonic() < end:
            line = resp.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                yield json.loads(line[6:])
    finally:
        conn.close()


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample of the service's /metrics: (name, sorted labels) -> value."""
    status, body = get(port, "/metrics")
    if status != 200:
        raise http.client.HTTPException(f"/metrics: HTTP {status}")
    return parse_metrics(body.decode())


def parse_metrics(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def counter_delta(now: Samples, before: Samples, name: str) -> float:
    return now.get((name, ()), 0.0) - before.get((name, ()), 0.0)


def histogram_percentiles(now: Samples, before: Samples, name: str, qs: tuple[float, ...]) -> dict[float, float | None]:
    """Percentiles of the observations between two scrapes, by linear interpolation in buckets."""
    buckets = sorted(
        (float(dict(labels)["le"]), value - before.get((sample, labels), 0.0))
        for (sample, labels), value in now.items()
        if sample == f"{name}_bucket"
    )
    total = buckets[-1][1] if buckets else 0.0
    return {q: _percentile(buckets, q * total) if total > 0 else None for q in qs}


def _percentile(buckets: list[tuple[float, float]], rank: float) -> float | None:
    lo_bound, lo_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lo_bound
            span = count - lo_count
            return lo_bound + (bound - lo_bound) * ((rank - lo_count) / span if span else 1.0)
        lo_bound, lo_count = bound, count
    return None
