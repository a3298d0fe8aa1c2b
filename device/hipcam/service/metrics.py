"""Prometheus metrics for one running service, in its own registry.

A per-instance ``CollectorRegistry`` (never the process-global default) means two services in
one test process do not collide, and nothing is registered at import time. Board readings
(CPU temperature, throttling, free disk) are taken when /metrics is scraped, not in the frame
loop, and a reading the board does not offer is simply absent from the output.
"""

from __future__ import annotations

import glob
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# The pipeline's stages, in order. A fixed set keeps label cardinality bounded.
STAGES = ("capture", "preprocess", "detector", "landmark", "postprocess", "gait")
# Camera states shown as a one-hot gauge; anything else reported is added on first use.
CAMERA_STATES = ("starting", "streaming", "lost", "reconnecting", "stopped")
# 1 ms .. 2 s: a Pi 4 landmark pass is ~30-80 ms, a detector re-run can exceed 100 ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0)
FPS_WINDOW_S = 2.0

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
THROTTLED_GLOBS = (
    "/sys/devices/platform/soc/soc:firmware/get_throttled",
    "/sys/devices/platform/soc*/*firmware/get_throttled",  # Pi 5 names the soc node differently
)
# Bits of the firmware's get_throttled word (Raspberry Pi documentation, "vcgencmd").
THROTTLE_BITS = {
    0: "under_voltage",
    1: "arm_freq_capped",
    2: "throttled",
    3: "soft_temp_limit",
    16: "under_voltage_occurred",
    17: "arm_freq_capped_occurred",
    18: "throttled_occurred",
    19: "soft_temp_limit_occurred",
}


def read_cpu_temp_c(path: Path = THERMAL_ZONE) -> float | None:
    """CPU temperature in °C from the thermal zone (millidegrees), None if unavailable."""
    try:
        return int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def find_throttled_file(patterns: tuple[str, ...] = THROTTLED_GLOBS) -> Path | None:
    for pattern in patterns:
        for match in sorted(glob.glob(pattern)):
            return Path(match)
    return None


def read_throttled(path: Path | None) -> int | None:
    """The firmware's throttle word (hex text in sysfs), None if the board has none."""
    if path is None:
        return None
    try:
        return int(path.read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def throttle_flags(word: int) -> dict[str, bool]:
    return {name: bool(word >> bit & 1) for bit, name in THROTTLE_BITS.items()}


def board_warnings() -> list[str]:
    """Cheap, human-readable hardware warnings for /healthz; empty when all is well or unknown."""
    warnings: list[str] = []
    word = read_throttled(find_throttled_file())
    if word is not None:
        flags = throttle_flags(word)
        if flags["under_voltage"]:
            warnings.append("under-voltage: use the official 5 V power supply")
        elif flags["under_voltage_occurred"]:
            warnings.append("under-voltage occurred since boot: check the power supply")
        if flags["throttled"] or flags["soft_temp_limit"]:
            warnings.append("CPU is throttled: the board is too hot; give it air or a heatsink")
    temp = read_cpu_temp_c()
    if temp is not None and temp >= 80.0:
        warnings.append(f"CPU temperature {temp:.0f} °C")
    return warnings


class StoreReport(Protocol):
    """The stride writer's state (hipcam.service.stride_writer.StoreHealth satisfies it)."""

    @property
    def disk_full(self) -> bool: ...
    @property
    def pending(self) -> int: ...
    @property
    def lost(self) -> int: ...
    @property
    def snapshots_skipped(self) -> tuple[tuple[str, int], ...]: ...


class MqttReport(Protocol):
    """The MQTT connection (hipcam.service.mqtt.MqttStatus satisfies it)."""

    @property
    def state(self) -> str: ...
    @property
    def queued(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def sent(self) -> int: ...


MQTT_STATES = ("connected", "connecting", "disconnected")


class MqttCollector(Collector):
    """The MQTT publisher's connection and counts, read at scrape time (never from the frame loop)."""

    def __init__(self, report: Callable[[], MqttReport]) -> None:
        self._report = report

    def collect(self) -> Iterator[Metric]:
        r = self._report()
        yield GaugeMetricFamily("hipcam_mqtt_connected", "1 while connected to the MQTT broker",
                                value=1.0 if r.state == "connected" else 0.0)  # fmt: skip
        states = GaugeMetricFamily("hipcam_mqtt_state", "MQTT connection state (one-hot)", labels=["state"])
        for state in MQTT_STATES:
            states.add_metric([state], 1.0 if r.state == state else 0.0)
        yield states
        yield GaugeMetricFamily("hipcam_mqtt_queued", "Strides waiting to be published", value=r.queued)
        yield CounterMetricFamily("hipcam_mqtt_dropped", "Strides dropped unpublished (queue full)", value=r.dropped)
        yield CounterMetricFamily("hipcam_mqtt_sent", "MQTT messages handed to the broker connection", value=r.sent)


class BoardCollector(Collector):
    """Reads temperature, throttling and free disk at scrape time."""

    def __init__(
        self,
        data_dir: Path | None,
        thermal_path: Path = THERMAL_ZONE,
        throttled_path: Path | Callable[[], Path | None] | None = find_throttled_file,
    ) -> None:
        self._data_dir = data_dir
        self._thermal = thermal_path
        self._throttled_source = throttled_path
        self._throttled_path: Path | None = None
        self._resolved = False

    def _throttled(self) -> Path | None:
        # Resolve the glob once: the sysfs layout does not change while we run.
        if not self._resolved:
            src = self._throttled_source
            self._throttled_path = src() if callable(src) else src
            self._resolved = True
        return self._throttled_path

    def collect(self) -> Iterator[Metric]:
        temp = read_cpu_temp_c(self._thermal)
        if temp is not None:
            yield GaugeMetricFamily("hipcam_cpu_temperature_celsius", "SoC temperature", value=temp)
        word = read_throttled(self._throttled())
        if word is not None:
            yield GaugeMetricFamily("hipcam_throttled_word", "Raw firmware get_throttled bits", value=word)
            flags = GaugeMetricFamily(
                "hipcam_throttled", "Firmware throttling/under-voltage flags (1 = set)", labels=["flag"]
            )
            for name, on in throttle_flags(word).items():
                flags.add_metric([name], 1.0 if on else 0.0)
            yield flags
        if self._data_dir is not None:
            try:
                usage = shutil.disk_usage(self._data_dir)
            except OSError:
                return
            yield GaugeMetricFamily(
                "hipcam_data_dir_free_bytes", "Free bytes on the data directory's filesystem", value=usage.free
            )
            yield GaugeMetricFamily(
                "hipcam_data_dir_size_bytes", "Size of the data directory's filesystem", value=usage.total
            )


class Metrics:
    """The service's counters, gauges and histograms. Thread-safe; cheap enough per frame."""

    def __init__(
        self,
        data_dir: Path | None = None,
        version: str = "",
        board: Collector | None = None,
        clock: Callable[[], float] = time.monotonic,
        process_metrics: bool = True,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._frame_times: deque[float] = deque()
        self._last_frame: float | None = None
        self._frame_count = 0
        self._camera_state = "starting"
        r = self.registry
        self._add_frame_counters(r)
        self._strides = Counter("hipcam_strides_recorded", "Strides committed to the store", registry=r)
        self._snap_skipped = Counter(
            "hipcam_snapshots_skipped_low_disk", "Stride snapshots not saved because disk was low", registry=r
        )
        self._disk_full = Gauge("hipcam_store_disk_full", "1 while the disk refuses strides (full)", registry=r)
        self._pending = Gauge("hipcam_strides_pending", "Strides held in memory, not saved yet", registry=r)
        self._lost = Gauge("hipcam_strides_lost", "Strides dropped unsaved since start (held too long)", registry=r)
        self._skipped = Gauge(
            "hipcam_snapshots_skipped", "Stride snapshots not saved since start, by reason", ["reason"], registry=r
        )
        self._errors = Counter("hipcam_pipeline_errors", "Frames that raised in analysis", ["stage"], registry=r)
        self._stage = Histogram(
            "hipcam_stage_seconds", "Per-stage processing latency", ["stage"], buckets=LATENCY_BUCKETS, registry=r
        )
        self._frame_latency = Histogram(
            "hipcam_frame_seconds", "Whole-frame processing latency", buckets=LATENCY_BUCKETS, registry=r
        )
        self._camera = Gauge("hipcam_camera_state", "Camera state (one-hot)", ["state"], registry=r)
        self._viewers = Gauge("hipcam_live_viewers", "Open live-stream connections", registry=r)
        Gauge("hipcam_frames_per_second", f"Analysed frames/s over {FPS_WINDOW_S:g} s", registry=r).set_function(
            self.fps
        )
        Gauge(
            "hipcam_last_frame_age_seconds", "Seconds since the last analysed frame (-1: none yet)", registry=r
        ).set_function(self._age_or_minus_one)
        Info("hipcam_build", "Software version", registry=r).info({"version": version})
        self._pose_info = Info("hipcam_pose", "Landmark model precision, why, and interpreter threads", registry=r)
        self._pose: dict[str, Any] = {}
        for stage in STAGES:
            self._stage.labels(stage)  # pre-create so dashboards see every stage from the start
        self._known_states: set[str] = set()
        for state in CAMERA_STATES:
            self._add_state(state)
        self.set_camera_state("starting")
        r.register(board if board is not None else BoardCollector(data_dir))
        if process_metrics:
            ProcessCollector(registry=r)  # RSS, CPU seconds, open fds
            PlatformCollector(registry=r)

    def _add_frame_counters(self, r: CollectorRegistry) -> None:
        self._frames = Counter("hipcam_frames_processed", "Frames analysed end to end", registry=r)
        self._dropped = Counter("hipcam_frames_dropped", "Frames dropped because analysis was busy", registry=r)
        self._skipped_evenly = Counter(
            "hipcam_frames_skipped_evenly", "Frames skipped evenly: analysis cannot keep the camera's rate", registry=r
        )
        self._analysed_share = Gauge("hipcam_analysed_share", "Share of the camera's frames analysed", registry=r)
        self._analysed_share.set(1.0)
        self._detector = Counter("hipcam_detector_runs", "Person-detector runs (re-acquisitions)", registry=r)
        self._masks = Counter(
            "hipcam_mask_frames", "Frames whose segmentation mask was computed (pose.mask_frames)", registry=r
        )

    # --- frame loop -------------------------------------------------------------------------
    def observe_stage(self, stage: str, seconds: float) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        self._stage.labels(stage).observe(seconds)

    def frame_processed(self, seconds: float | None = None) -> None:
        now = self._clock()
        self._frames.inc()
        if seconds is not None:
            self._frame_latency.observe(seconds)
        with self._lock:
            self._frame_count += 1
            self._last_frame = now
            self._frame_times.append(now)
            self._trim(now)

    def frame_dropped(self, n: int = 1) -> None:
        self._dropped.inc(n)

    def frames_skipped(self, n: int, analysed_share: float) -> None:
        self._skipped_evenly.inc(n)
        self._analysed_share.set(analysed_share)

    def detector_run(self) -> None:
        self._detector.inc()

    def mask_computed(self) -> None:
        self._masks.inc()

    def stride_recorded(self) -> None:
        self._strides.inc()

    def set_pose(self, info: Mapping[str, Any]) -> None:
        """What the pose model runs in (hipcam.pose.precision), for /healthz and /metrics."""
        with self._lock:
            self._pose = dict(info)
        self._pose_info.info({k: str(v) for k, v in info.items()})

    def pose(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._pose)

    def snapshot_skipped_low_disk(self) -> None:
        self._snap_skipped.inc()

    def store_health(self, report: StoreReport) -> None:
        self._disk_full.set(1.0 if report.disk_full else 0.0)
        self._pending.set(report.pending)
        self._lost.set(report.lost)
        for reason, n in report.snapshots_skipped:
            self._skipped.labels(reason).set(n)

    def pipeline_error(self, stage: str = "other") -> None:
        self._errors.labels(stage).inc()

    def set_camera_state(self, state: str) -> None:
        state = str(state)
        with self._lock:
            self._add_state(state)
            self._camera_state = state
            for known in self._known_states:
                self._camera.labels(known).set(1.0 if known == state else 0.0)

    def set_viewers(self, n: int) -> None:
        self._viewers.set(n)

    def watch_mqtt(self, report: Callable[[], MqttReport]) -> None:
        """Export the MQTT publisher's state (``[mqtt] enabled``) from now on."""
        self.registry.register(MqttCollector(report))

    # --- readers ----------------------------------------------------------------------------
    @property
    def camera_state(self) -> str:
        return self._camera_state

    def fps(self) -> float:
        with self._lock:
            now = self._clock()
            self._trim(now)
            n = len(self._frame_times)
            if n < 2:
                return 0.0
            span = now - self._frame_times[0]
            return (n - 1) / span if span > 0 else 0.0

    def last_frame_age_s(self) -> float | None:
        with self._lock:
            return None if self._last_frame is None else self._clock() - self._last_frame

    def frames_processed_total(self) -> int:
        return self._frame_count

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # --- internals --------------------------------------------------------------------------
    def _age_or_minus_one(self) -> float:
        age = self.last_frame_age_s()
        return -1.0 if age is None else age

    def _trim(self, now: float) -> None:
        cutoff = now - FPS_WINDOW_S
        while self._frame_times and self._frame_times[0] < cutoff:
            self._frame_times.popleft()

    def _add_state(self, state: str) -> None:
        if state not in self._known_states:
            self._known_states.add(state)
            self._camera.labels(state).set(0.0)
