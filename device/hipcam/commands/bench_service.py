"""`hipcam bench-service`: capture->readout latency and pipeline fps with 0 vs N live viewers.

Runs the real pipeline (pose + mask measures + gait) on a source (default: the demo clip, paced at
its playback rate and dropping frames when busy, like a camera), serves the real app with waitress on
127.0.0.1, and alternates phases without and with N Server-Sent-Event viewers (2 rounds, so a noisy
neighbour hits both sides). Viewers run in a separate process, like tablets, and each request is
bounded in time. Latency is from the moment a frame left the source to the moment its readout is in
the state snapshot; SSE delivery (snapshot -> viewer) is reported apart.
"""

from __future__ import annotations

import http.client
import math
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipcam.capture import make_source
from hipcam.commands import loadgen
from hipcam.config import HipcamConfig, ServerConfig
from hipcam.errors import HipcamError
from hipcam.records.store import Store
from hipcam.service.pipeline import Pipeline
from hipcam.service.state import LiveState
from web_ui.deps import WebDeps
from web_ui.server import make_server

ROUNDS = 2
WARMUP_S = 4.0
SETTLE_S = 1.5  # after viewers connect, before measuring
MIN_PHASE_S = 3.0


def _viewer(port: int, seconds: float, out: Any) -> None:
    """One SSE viewer: parse every event like the page does; report delivery delays (s)."""
    delays: list[float] = []
    try:
        for snap in loadgen.live_events(port, seconds):
            if snap.get("published_at"):
                delays.append(time.time() - snap["published_at"])
    except (OSError, http.client.HTTPException) as exc:
        out.put(("error", str(exc)))
        return
    out.put(("ok", delays))


def _viewers_proc(port: int, n: int, seconds: float, out: Any) -> None:
    threads = [threading.Thread(target=_viewer, args=(port, seconds, out)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)


class ReadoutProbe:
    """Records capture->readout latency of every frame published to the state (in-process)."""

    def __init__(self, state: LiveState) -> None:
        self._state = state
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-probe", daemon=True)
        self.samples: list[float] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def take(self) -> list[float]:
        out, self.samples = self.samples, []
        return out

    def _run(self) -> None:
        version, last_index = self._state.version, None
        while not self._stop.is_set():
            version = self._state.wait_for_change(version, timeout=0.5)
            index, captured_at, published_at = self._state.readout_times()
            if index != last_index and captured_at is not None and published_at is not None:
                self.samples.append(published_at - captured_at)
                last_index = index


@dataclass
class Phase:
    fps: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))] if s else float("nan")


def _run_phase(pipe: Pipeline, probe: ReadoutProbe, port: int, viewers: int, seconds: float, into: Phase) -> None:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = None
    if viewers:
        proc = ctx.Process(target=_viewers_proc, args=(port, viewers, seconds + SETTLE_S + 1.0, queue), daemon=True)
        proc.start()
    time.sleep(SETTLE_S)
    probe.take()
    f0, t0 = pipe.frames_processed, time.monotonic()
    time.sleep(seconds)
    into.fps.append((pipe.frames_processed - f0) / (time.monotonic() - t0))
    into.latency.extend(probe.take())
    if proc is not None:
        proc.join(seconds + 20)
        if proc.is_alive():
            proc.terminate()
        while not queue.empty():
            kind, payload = queue.get()
            if kind == "ok":
                into.delivery.extend(payload)
            else:
                print(f"viewer error: {payload}")


def _print(results: dict[int, Phase], viewers: int, dropped: int) -> None:
    base, loaded = results[0], results[viewers]
    fps0, fpsn = statistics.median(base.fps), statistics.median(loaded.fps)
    change = 100.0 * (fpsn / fps0 - 1.0) if fps0 else float("nan")
    print(f"{'':34s}{'0 viewers':>16s}{f'{viewers} viewers':>16s}")
    print(f"{'pipeline fps (median of rounds)':34s}{fps0:16.1f}{fpsn:16.1f}   change {change:+.1f}% (target > -10%)")
    cells = [f"{1000 * _pct(p.latency, 0.5):.0f} / {1000 * _pct(p.latency, 0.95):.0f}" for p in (base, loaded)]
    print(f"{'capture->readout p50 / p95 (ms)':34s}{cells[0]:>16s}{cells[1]:>16s}   (target p95 < 150 ms)")
    print(f"{'frames measured':34s}{len(base.latency):16d}{len(loaded.latency):16d}")
    d = loaded.delivery
    print(f"SSE delivery snapshot->viewer p50 / p95: {1000 * _pct(d, 0.5):.0f} / {1000 * _pct(d, 0.95):.0f} ms "
          f"({len(d)} events; the page is updated at most 10 times/s); frames dropped by capture: {dropped}")  # fmt: skip


def run_service_bench(cfg: HipcamConfig, seconds: float, viewers: int, source: str) -> int:
    """`hipcam bench-service`; ``seconds`` is the measured time, split over 2 rounds of 0 and N viewers."""
    from web_ui import create_app

    if not 1 <= viewers <= 50:
        raise HipcamError(f"--viewers {viewers}: expected 1 to 50")
    if not (math.isfinite(seconds) and seconds > 0):
        raise HipcamError(f"--seconds {seconds:g}: expected a positive number of seconds")
    phase_s = max(MIN_PHASE_S, min(seconds, 600.0) / (2 * ROUNDS))
    tmp = Path(tempfile.mkdtemp(prefix="hipcam-bench-"))
    cfg = cfg.model_copy(deep=True)
    cfg.storage.data_dir = tmp
    # Both at once: each is validated against the other (a viewer holds a thread, 2 stay free). All
    # the viewers come from this one address, so it may hold them all.
    cfg.server = ServerConfig.model_validate(
        {**cfg.server.model_dump(), "threads": viewers + 6, "max_viewers": viewers, "max_viewers_per_client": viewers,
         "max_connections_per_client": max(cfg.server.max_connections_per_client, viewers + 8),
         "tls_cert": None, "tls_key": None}  # its clients speak plain HTTP
    )  # fmt: skip
    frames = make_source(source, cfg)
    state, store = LiveState(rolling_strides=cfg.gait.rolling_strides), Store(tmp)
    server: Any = make_server(create_app(WebDeps(state, store, cfg)), cfg, "127.0.0.1", 0)
    port = int(server.effective_port)
    threading.Thread(target=server.run, name="bench-http", daemon=True).start()
    pipe = Pipeline(cfg, frames, state, store)
    probe = ReadoutProbe(state)
    results = {0: Phase(), viewers: Phase()}
    print(f"bench-service: {frames.name}, {ROUNDS} rounds x (0, {viewers} viewers) x {phase_s:.0f} s")
    pipe.start()
    probe.start()
    try:
        time.sleep(WARMUP_S)
        for _ in range(ROUNDS):
            for n in (0, viewers):
                _run_phase(pipe, probe, port, n, phase_s, results[n])
    finally:
        probe.stop()
        state.close()  # ends the SSE generators first, so no thread writes to a closed server
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        pipe.stop()
        store.close()
    _print(results, viewers, pipe.slot.dropped)
    return 0
