"""Service benchmark: capture->readout latency and frame rate with 0 vs 10 live viewers.

Runs the real pipeline (pose + gait) on the demo clip paced like a 30 fps camera (dropping frames
when busy), serves the real app with waitress on 127.0.0.1, and reads the SSE stream from viewer
processes (separate processes, like tablets: they do not share the service's GIL). Latency is
wall-clock time from the frame leaving the capture source to the event being parsed by a viewer.
Only 127.0.0.1 is contacted; every phase is bounded in time. `hipcam bench-service` -> main().
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PHASE_S = 12.0
WARMUP_S = 4.0


def _viewer(port: int, seconds: float, out: Any) -> None:
    """One SSE viewer: parse every event like the page does; report readout latencies (s)."""
    lat: list[float] = []
    deliver: list[float] = []
    deadline = time.time() + seconds
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/stream/events")
        resp = conn.getresponse()
        if resp.status != 200:
            out.put(("error", f"status {resp.status}"))
            return
        while time.time() < deadline:
            line = resp.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                snap = json.loads(line[6:])
                if snap.get("captured_at"):
                    now = time.time()
                    lat.append(now - snap["captured_at"])
                    deliver.append(now - snap["published_at"])
        conn.close()
    except OSError as exc:
        out.put(("error", str(exc)))
        return
    out.put(("ok", (lat, deliver)))


def _viewers_proc(port: int, n: int, seconds: float, out: Any) -> None:
    threads = [threading.Thread(target=_viewer, args=(port, seconds, out)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))] if s else float("nan")


def run_bench(clip: Path | None = None, viewers: int = 10, phase_s: float = PHASE_S, rounds: int = 2) -> dict[str, Any]:
    from waitress.server import create_server

    from hipcam.config import load_config
    from hipcam.service.pipeline import Pipeline
    from hipcam.service.state import LiveState
    from hipcam.service.store import Store
    from web_ui import create_app

    tmp = Path(tempfile.mkdtemp(prefix="hipcam-bench-"))
    cfg = load_config(None, {}, {"storage": {"data_dir": str(tmp)}, "server": {"threads": viewers + 6}})
    clip = clip or cfg.paths.models_dir / "demo.mp4"
    state, store = LiveState(), Store(tmp)
    app = create_app(state, store, cfg)
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=viewers + 6)
    port = int(server.effective_port)
    threading.Thread(target=server.run, daemon=True).start()
    pipe = Pipeline(cfg, str(clip), state, store)
    pipe.capture.lossless = False  # behave like a live camera: drop when busy, never queue
    pipe.start()
    ctx = mp.get_context("spawn")
    results: dict[str, list[float]] = {"fps_0": [], "fps_n": [], "lat_1": [], "lat_n": [], "deliver": []}
    try:
        time.sleep(WARMUP_S)
        for _ in range(rounds):
            for n in (0, 1, viewers):
                q = ctx.Queue()
                proc = None
                if n:
                    proc = ctx.Process(target=_viewers_proc, args=(port, n, phase_s + 2.0, q))
                    proc.start()
                    time.sleep(2.0)  # let the viewers connect and settle
                f0, t0 = pipe.frames_processed, time.monotonic()
                time.sleep(phase_s)
                fps = (pipe.frames_processed - f0) / (time.monotonic() - t0)
                lat: list[float] = []
                if proc is not None:
                    proc.join(phase_s + 20)
                    while not q.empty():
                        kind, payload = q.get()
                        if kind == "ok":
                            lat.extend(payload[0])
                            results["deliver"].extend(payload[1])
                        else:
                            print(f"viewer error: {payload}", file=sys.stderr)
                if n == 0:
                    results["fps_0"].append(fps)
                elif n == 1:
                    results["lat_1"].extend(lat)
                else:
                    results["fps_n"].append(fps)
                    results["lat_n"].extend(lat)
    finally:
        state.close()  # ends the SSE generators first, so no thread writes to a closed server
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        pipe.stop()
        store.close()
    return {
        "viewers": viewers,
        "fps_0_viewers": statistics.median(results["fps_0"]),
        "fps_n_viewers": statistics.median(results["fps_n"]),
        "fps_drop_pct": 100.0 * (1 - statistics.median(results["fps_n"]) / statistics.median(results["fps_0"])),
        "latency_1_viewer_ms": (1000 * _pct(results["lat_1"], 0.5), 1000 * _pct(results["lat_1"], 0.95)),
        "latency_n_viewers_ms": (1000 * _pct(results["lat_n"], 0.5), 1000 * _pct(results["lat_n"], 0.95)),
        "delivery_ms": (1000 * _pct(results["deliver"], 0.5), 1000 * _pct(results["deliver"], 0.95)),
        "events": (len(results["lat_1"]), len(results["lat_n"])),
        "dropped_frames": pipe.slot.dropped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hipcam bench-service", description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=None, help="video clip (default: models/demo.mp4)")
    parser.add_argument("--viewers", type=int, default=10, choices=range(1, 31), metavar="1..30")
    parser.add_argument("--seconds", type=float, default=PHASE_S, help="length of each phase (max 60)")
    args = parser.parse_args(argv)
    r = run_bench(args.clip, args.viewers, min(args.seconds, 60.0))
    n = r["viewers"]
    print(f"{'':28s}{'0 viewers':>12s}{f'{n} viewers':>14s}")
    print(f"{'pipeline fps (median)':28s}{r['fps_0_viewers']:12.1f}{r['fps_n_viewers']:14.1f}"
          f"   (change with viewers {-r['fps_drop_pct']:+.1f}%; target: no worse than -10%)")  # fmt: skip
    p50, p95 = r["latency_1_viewer_ms"]
    q50, q95 = r["latency_n_viewers_ms"]
    print(f"{'latency p50 / p95 (ms)':28s}{f'{p50:.0f} / {p95:.0f} (1 viewer)':>26s}   {q50:.0f} / {q95:.0f} ({n} viewers)"
          "   target p95 < 150 ms")  # fmt: skip
    d50, d95 = r["delivery_ms"]
    print(f"of which publish->viewer (SSE delivery) p50 / p95: {d50:.0f} / {d95:.0f} ms")
    print(
        f"events read: {r['events'][0]} (1 viewer), {r['events'][1]} ({n} viewers); frames dropped: {r['dropped_frames']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
