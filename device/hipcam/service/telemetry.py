"""Hooks the frame loop calls; Prometheus metrics and the systemd watchdog live behind them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from hipcam.service.metrics import STAGES, Metrics
from hipcam.service.notify import Watchdog


class Ops(Protocol):
    def frame_processed(
        self, seconds: float, timings: Mapping[str, float], detector_ran: bool, mask_ran: bool = False
    ) -> None: ...
    def loop_alive(self) -> None: ...
    def frame_dropped(self, n: int) -> None: ...
    def frames_skipped(self, n: int, analysed_share: float) -> None: ...
    def stride_recorded(self) -> None: ...
    def snapshot_skipped_low_disk(self) -> None: ...
    def pipeline_error(self, stage: str) -> None: ...
    def camera_state(self, state: str) -> None: ...
    def pose_loaded(self, info: Mapping[str, Any]) -> None: ...


class NullOps:
    """No metrics, no watchdog (tests, the benchmark)."""

    def frame_processed(
        self, seconds: float, timings: Mapping[str, float], detector_ran: bool, mask_ran: bool = False
    ) -> None:
        pass

    def loop_alive(self) -> None:
        pass

    def frame_dropped(self, n: int) -> None:
        pass

    def frames_skipped(self, n: int, analysed_share: float) -> None:
        pass

    def stride_recorded(self) -> None:
        pass

    def snapshot_skipped_low_disk(self) -> None:
        pass

    def pipeline_error(self, stage: str) -> None:
        pass

    def camera_state(self, state: str) -> None:
        pass

    def pose_loaded(self, info: Mapping[str, Any]) -> None:
        pass


class ServiceOps:
    """Ops backed by Metrics and the frame-driven Watchdog."""

    def __init__(self, metrics: Metrics, watchdog: Watchdog) -> None:
        self.metrics = metrics
        self.watchdog = watchdog

    def frame_processed(
        self, seconds: float, timings: Mapping[str, float], detector_ran: bool, mask_ran: bool = False
    ) -> None:
        for stage, value in timings.items():
            if stage in STAGES:
                self.metrics.observe_stage(stage, value)
        if detector_ran:
            self.metrics.detector_run()
        if mask_ran:
            self.metrics.mask_computed()
        self.metrics.frame_processed(seconds)
        self.watchdog.frame_processed()

    def loop_alive(self) -> None:
        # The frame loop calls this only while the capture thread is actively retrying a lost
        # camera: the process is healthy, and a restart would only burn the unit's start limit.
        self.watchdog.loop_alive()

    def frame_dropped(self, n: int) -> None:
        self.metrics.frame_dropped(n)

    def frames_skipped(self, n: int, analysed_share: float) -> None:
        self.metrics.frames_skipped(n, analysed_share)

    def stride_recorded(self) -> None:
        self.metrics.stride_recorded()

    def snapshot_skipped_low_disk(self) -> None:
        self.metrics.snapshot_skipped_low_disk()

    def pipeline_error(self, stage: str) -> None:
        self.metrics.pipeline_error(stage)

    def camera_state(self, state: str) -> None:
        self.metrics.set_camera_state(state)

    def pose_loaded(self, info: Mapping[str, Any]) -> None:
        self.metrics.set_pose(info)
