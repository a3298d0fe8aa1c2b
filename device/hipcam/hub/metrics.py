"""The hub's Prometheus figures, in a registry of its own (never the process-global one)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hipcam.hub.archive import Archive, ArchiveError
from hipcam.hub.board import Board
from hipcam.hub.puller import PullResult

ARCHIVE_COUNT_EVERY_S = 30.0


class _BoardCollector(Collector):
    def __init__(self, board: Board, archive_count: Callable[[], int | None]) -> None:
        self.board, self.archive_count = board, archive_count

    def collect(self) -> Iterator[Metric]:
        devices = GaugeMetricFamily("hipcam_hub_devices", "Devices known to the hub by availability", labels=["state"])
        for state, n in self.board.counts().items():
            devices.add_metric([state], n)
        yield devices
        yield GaugeMetricFamily("hipcam_hub_mqtt_connected", "1 while the hub is connected to the broker",
                                value=int(self.board.broker_connected))  # fmt: skip
        yield GaugeMetricFamily("hipcam_hub_mqtt_messages_accepted", "MQTT messages used", value=self.board.accepted)
        yield GaugeMetricFamily("hipcam_hub_mqtt_messages_ignored", "MQTT messages ignored (junk, foreign topics)",
                                value=self.board.ignored)  # fmt: skip
        count = self.archive_count()
        yield GaugeMetricFamily(
            "hipcam_hub_archive_up", "1 while the archive database answers", value=int(count is not None)
        )
        if count is not None:
            yield GaugeMetricFamily("hipcam_hub_archived_sessions", "Sessions in the archive", value=count)


class HubMetrics:
    def __init__(self, board: Board, archive: Archive, version: str) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.archive = archive
        self._count: tuple[float, int | None] = (-ARCHIVE_COUNT_EVERY_S, None)
        Gauge("hipcam_hub_info", "The hub's version", ["version"], registry=r).labels(version).set(1)
        self._pulls = Counter("hipcam_hub_pulls", "Pull rounds per device and result", ["device", "result"], registry=r)
        self._sessions = Counter("hipcam_hub_sessions_archived", "Sessions written to the archive", ["device", "kind"],
                                 registry=r)  # fmt: skip
        self._last_ok = Gauge("hipcam_hub_last_pull_ok_timestamp_seconds", "When a device's last good pull ended",
                              ["device"], registry=r)  # fmt: skip
        r.register(_BoardCollector(board, self.archive_count))

    def archive_count(self) -> int | None:
        """The archive's session count, asked at most every ARCHIVE_COUNT_EVERY_S (None: unreachable)."""
        at, cached = self._count
        if time.monotonic() - at >= ARCHIVE_COUNT_EVERY_S:
            count: int | None
            try:
                count = self.archive.count()
            except ArchiveError:
                count = None
            self._count = (time.monotonic(), count)
            return count
        return cached

    def pulled(self, device_id: str, result: PullResult) -> None:
        self._pulls.labels(device_id, "ok" if result.error is None else "failed").inc()
        if result.error is None:
            self._last_ok.labels(device_id).set(time.time())
        for kind in ("new", "updated"):
            if n := getattr(result, kind):
                self._sessions.labels(device_id, kind).inc(n)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
