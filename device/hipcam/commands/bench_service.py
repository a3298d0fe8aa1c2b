"""`hipcam bench-service`: capture->readout latency and pipeline fps with 0 vs N live viewers.

Runs the real pipeline (pose + mask measures + gait) on a source (default: the demo clip, paced at
its playback rate and dropping frames when busy, like a camera), serves the real app with waitress on
127.0.0.1, and alternates phases without and with N Server-Sent-Event viewers (2 rounds, so a noisy
neighbour hits both sides). Viewers run in a separate process, like tablets, and each request is
bounded in time. Latency is from the moment a frame left the source to the moment its readout is in
the state snapshot; SSE delivery (snapshot -> viewer) is reported apart.

A session with a continuous feedback plan runs throughout, and one runner view (its own process,
connected from the start, so "0 viewers" means no other viewer) reads ``/stream/cues``: stride->cue
is from the capture of the frame that completed a stride to the moment its cue reached that view.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing as mp
import queue as queue_module
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
from hipcam.feedback import Plan, Schedule, Target
from hipcam.records.store import Store
from hipcam.service.pipeline import Pipeline
from hipcam.service.state import LiveState
from web_ui.deps import WebDeps
from web_ui.server import make_server

ROUNDS = 2
WARMUP_S = 4.0
SETTLE_S = 1.5  # after viewers connect, before measuring
MIN_PHASE_S = 3.0
FOLLOW_S = 60.0  # for the frame loop to load the model and follow the session
FEW_CUES = 20
MORE_STRIDES = "../shared/data/treadmill_home_side.mp4"  # real time, ~2.7 strides/s; the demo clip ~0.3/s
CueSample = tuple[float, float, float]  # a cue's captured_at, capture->runner view s, post->runner view s


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


def _cue_client(port: int, stop: Any, out: Any) -> None:
    """The runner view: (captured_at, capture->view s, post->view s) of every cue, received as the
    page receives it, until ``stop`` is set; a stream the server ends (server.stream_max_s) is opened again."""
    samples: list[CueSample] = []
    try:
        while not stop.is_set():
            _read_cues(port, stop, samples)
    except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
        out.put(("error", f"runner view: {exc}"))
    out.put(("cues", samples))


def _read_cues(port: int, stop: Any, samples: list[CueSample]) -> None:
    conn = http.client.HTTPConnection(loadgen.HOST, port, timeout=15)
    try:
        conn.request("GET", "/stream/cues", headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise http.client.HTTPException(f"/stream/cues: HTTP {resp.status}")
        event = ""
        while not stop.is_set() and (line := resp.readline()):  # a status each second: stop is seen
            if line.startswith(b"event: "):
                event = line[7:].strip().decode()
            elif line.startswith(b"data: ") and event == "cue":
                received = time.time()
                cue = json.loads(line[6:])
                captured_at, posted_at = float(cue["captured_at"]), float(cue["posted_at"])
                samples.append((captured_at, received - captured_at, received - posted_at))
    finally:
        conn.close()


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
    windows: list[tuple[float, float]] = field(default_factory=list)  # wall-clock spans measured
    cues: list[float] = field(default_factory=list)  # stride->cue delays (s) in those spans
    cue_delivery: list[float] = field(default_factory=list)  # of which from the post to the view

    def take_cues(self, samples: list[CueSample]) -> None:
        mine = [s for s in samples if any(w0 <= s[0] <= w1 for w0, w1 in self.windows)]
        self.cues, self.cue_delivery = [s[1] for s in mine], [s[2] for s in mine]


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
    f0, t0, w0 = pipe.frames_processed, time.monotonic(), time.time()
    time.sleep(seconds)
    into.fps.append((pipe.frames_processed - f0) / (time.monotonic() - t0))
    into.windows.append((w0, time.time()))
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
    for n, p in ((0, base), (viewers, loaded)):
        print(f"stride->cue p50 {1000 * _pct(p.cues, 0.5):.0f} ms p95 {1000 * _pct(p.cues, 0.95):.0f} ms "
              f"({n} other viewers, {len(p.cues)} cues; of it post->runner view p50 {1000 * _pct(p.cue_delivery, 0.5):.0f} "
              f"/ p95 {1000 * _pct(p.cue_delivery, 0.95):.0f} ms; target p95 <= 100 ms)")  # fmt: skip
    if min(len(base.cues), len(loaded.cues)) < FEW_CUES:
        print(f"few cues: a source with more strides (e.g. --source {MORE_STRIDES}) or more --seconds measure better")


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
    # the viewers and the runner view come from this one address, so it may hold them all.
    streams = viewers + 1
    cfg.server = ServerConfig.model_validate(
        {**cfg.server.model_dump(), "threads": streams + 6, "max_viewers": streams, "max_viewers_per_client": streams,
         "max_connections_per_client": max(cfg.server.max_connections_per_client, streams + 8),
         "tls_cert": None, "tls_key": None}  # its clients speak plain HTTP
    )  # fmt: skip
    frames = make_source(source, cfg)
    state, store = LiveState(rolling_strides=cfg.gait.rolling_strides), Store(tmp)
    web = WebDeps(state, store, cfg)
    server: Any = make_server(create_app(web), cfg, "127.0.0.1", 0)
    port = int(server.effective_port)
    threading.Thread(target=server.run, name="bench-http", daemon=True).start()
    pipe = Pipeline(cfg, frames, state, store, feedback=web.live_feedback)
    probe = ReadoutProbe(state)
    results = {0: Phase(), viewers: Phase()}
    print(f"bench-service: {frames.name}, {ROUNDS} rounds x (0, {viewers} viewers) x {phase_s:.0f} s")
    pipe.start()
    probe.start()
    runner_view = _RunnerView(port)
    try:
        _start_feedback(web, state)
        runner_view.start()
        time.sleep(WARMUP_S)
        for _ in range(ROUNDS):
            for n in (0, viewers):
                _run_phase(pipe, probe, port, n, phase_s, results[n])
    finally:
        samples = runner_view.stop()
        probe.stop()
        state.close()  # ends the SSE generators first, so no thread writes to a closed server
        web.cues.close()
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        pipe.stop()
        store.close()
    for phase in results.values():
        phase.take_cues(samples)
    _print(results, viewers, pipe.slot.dropped)
    return 0


def _start_feedback(web: WebDeps, state: LiveState) -> None:
    """A session with one long continuous block, so every stride posts a cue. The plan starts once
    the frame loop follows the session: a run whose session the loop does not know yet is ended."""
    session_id = int(web.store.start_session("bench-service")["id"])
    deadline = time.monotonic() + FOLLOW_S
    while state.flag("session_id") != session_id:
        if time.monotonic() > deadline:
            raise HipcamError(f"the frame loop did not pick up the bench's session within {FOLLOW_S:.0f} s")
        time.sleep(0.05)
    schedule = Schedule(kind="continuous", block_s=1800.0, blocks=1, probes=False)
    web.live_feedback.start(Plan(target=Target(kind="pattern_b"), schedule=schedule), session_id)


class _RunnerView:
    """The runner view's process, connected for the whole bench."""

    def __init__(self, port: int) -> None:
        ctx = mp.get_context("spawn")
        self._stop, self._queue = ctx.Event(), ctx.Queue()
        self._proc = ctx.Process(target=_cue_client, args=(port, self._stop, self._queue), daemon=True)

    def start(self) -> None:
        self._proc.start()

    def stop(self) -> list[CueSample]:
        """Its (captured_at, delay) samples (none if it failed: the error is printed)."""
        self._stop.set()
        if self._proc.pid is None:  # never started (the bench failed before)
            return []
        samples: list[CueSample] = []
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                kind, payload = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue_module.Empty:
                break
            if kind == "cues":
                samples = payload
                break
            print(payload)
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
        return samples
