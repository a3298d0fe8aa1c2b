"""`hipcam soak`: run the real service on the looped demo clip with live viewers and watch it.

The service runs as a child process (as under systemd), bound to 127.0.0.1 with a throw-away
data directory. N viewers hold Server-Sent-Event streams (ended by the server's stream time limit and
reopened, as the page's EventSource does) and fetch the camera JPEG a few times a second.
Every ``report_every_s`` it prints analysed frames/s, frame-latency percentiles (from the
service's own Prometheus histogram), dropped and evenly skipped frames and the service's RSS; at
the end, RSS growth and the longest gap between analysed frames seen by a viewer.

A session is started in the soaked service (with a throw-away PIN), so strides, their landmarks and
replay clips are really written: at the end it prints the clips' disk use against
``storage.clip_budget_mb``. The demo clip's walker records no running strides; ``--source`` takes a
runner's clip (e.g. the shared treadmill_home_side.mp4) to soak the clip recording too.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hipcam.auth import hash_pin
from hipcam.commands import loadgen
from hipcam.config import ENV_PREFIX, HipcamConfig, ServerConfig
from hipcam.errors import HipcamError

STAGGER_S = 60.0  # the viewers' first streams end spread over this; later ones run until the server ends them
FRAME_POLL_HZ = 4.0
STARTUP_TIMEOUT_S = 180.0


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


# ---- viewers -----------------------------------------------------------------------------
@dataclass
class ViewerStats:
    events: int = 0
    frames: int = 0
    errors: int = 0
    max_gap_s: float = 0.0
    max_gap_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _viewer(port: int, stop: threading.Event, stats: ViewerStats, first_request_s: float) -> None:
    """One tablet: an SSE stream plus camera-frame polling.

    Like the page's EventSource, a stream is read until the server ends it (after its stream time
    limit) and then reopened; the first one is closed early, at the viewer's share of STAGGER_S,
    so the viewers' reconnects are spread out rather than falling together."""
    poller = threading.Thread(target=_frame_poller, args=(port, stop, stats), daemon=True)
    poller.start()
    request_s = first_request_s
    while not stop.is_set():
        try:
            _read_events(port, stop, stats, request_s)
        except (OSError, http.client.HTTPException):
            with stats.lock:
                stats.errors += 1
            stop.wait(1.0)
        request_s = math.inf
    poller.join(5)


def _read_events(port: int, stop: threading.Event, stats: ViewerStats, request_s: float) -> None:
    last_frames: int | None = None
    last_change: float | None = None
    for snap in loadgen.live_events(port, request_s, stop):
        now = time.monotonic()
        frames = (snap.get("live") or {}).get("frames_processed")
        with stats.lock:
            stats.events += 1
            if frames is not None and frames != last_frames:
                if last_change is not None and last_frames is not None and now - last_change > stats.max_gap_s:
                    stats.max_gap_s, stats.max_gap_at = now - last_change, time.time()
                last_frames, last_change = frames, now


def _frame_poller(port: int, stop: threading.Event, stats: ViewerStats) -> None:
    while not stop.wait(1.0 / FRAME_POLL_HZ):
        try:
            status, _ = loadgen.get(port, "/stream/frame.jpg")
        except (OSError, http.client.HTTPException):
            status = 0
        with stats.lock:
            if status == 200:
                stats.frames += 1
            elif status not in (204, 304):
                stats.errors += 1


# ---- the run -----------------------------------------------------------------------------
@dataclass
class Report:
    minute: float
    fps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    dropped: float  # found analysis busy
    skipped: float  # skipped evenly (analysis below the camera's rate)
    rss_mb: float
    viewers: int
    max_gap_s: float


def _fmt_ms(v: float | None) -> str:
    return "  n/a" if v is None else f"{v * 1000:5.0f}"


def service_env(cfg: HipcamConfig, workdir: Path, port: int, source: str = "demo") -> dict[str, str]:
    """The soaked service's configuration as HIPCAM_* environment overrides (every key, as the config
    loader reads them): ``cfg`` (already valid, so its viewer limit fits its threads) on the looped
    demo clip, a scratch data dir and a local port."""
    data = cfg.model_dump(mode="json")
    data["storage"]["data_dir"] = str(workdir / "data")
    data["capture"].update(source=source, loop_files=True)
    data["server"].update(host=loadgen.HOST, port=port)
    return {
        f"{ENV_PREFIX}{section.upper()}__{key.upper()}": value if isinstance(value, str) else json.dumps(value)
        for section, values in data.items()
        for key, value in values.items()
        if value is not None
    }


def _viewers_fit(cfg: HipcamConfig, viewers: int) -> HipcamConfig:
    """``cfg`` with room for all the soak's viewers on one address (they all come from this host)."""
    fits = viewers <= cfg.server.max_viewers_per_client and viewers + 8 <= cfg.server.max_connections_per_client
    if fits and cfg.server.tls_cert is None:
        return cfg
    server = cfg.server.model_dump()
    server.update(  # the probes' and the page's connections come from this host too; all plain HTTP
        max_viewers_per_client=max(viewers, cfg.server.max_viewers_per_client),
        max_connections_per_client=max(viewers + 8, cfg.server.max_connections_per_client),
        tls_cert=None,
        tls_key=None,
    )
    return cfg.model_copy(update={"server": ServerConfig.model_validate(server)})


def _start_service(cfg: HipcamConfig, workdir: Path, port: int, source: str = "demo") -> subprocess.Popen[bytes]:
    log = (workdir / "service.log").open("wb")
    cmd = [sys.executable, "-m", "hipcam", "serve", "--source", source]
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) and k != "HIPCAM_CONFIG"}
    env = {
        **inherited,
        **service_env(cfg, workdir, port, source),
        "HIPCAM_CONFIG": os.devnull,  # no config file: everything comes from the overrides
        "HIPCAM_LOG_LEVEL": os.environ.get("HIPCAM_LOG_LEVEL", "warning"),
        "MALLOC_ARENA_MAX": "2",  # as systemd/hipcam.service runs it
    }
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int) -> float:
    start = time.monotonic()
    while time.monotonic() - start < STARTUP_TIMEOUT_S:
        if proc.poll() is not None:
            raise HipcamError(f"the service exited during start-up (code {proc.returncode})")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if loadgen.get(port, "/healthz", timeout=2)[0] == 200:
                return time.monotonic() - start
        time.sleep(0.5)
    raise HipcamError(f"the service did not become healthy within {STARTUP_TIMEOUT_S:.0f} s")


SOAK_PIN = "".join(str(b % 10) for b in os.urandom(6))  # the soaked service's own, thrown away with it


def _start_session(port: int) -> int:
    """Log in with the soak's PIN and start a session in the service; its id."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(method: str, path: str, body: object, csrf: str) -> dict[str, object]:
        req = urllib.request.Request(f"http://{loadgen.HOST}:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())  # fmt: skip
        req.add_header("Content-Type", "application/json")
        req.add_header("X-CSRF-Token", csrf)
        with opener.open(req, timeout=10) as r:
            return dict(json.loads(r.read()))

    csrf = str(call("GET", "/api/auth", None, "")["csrf_token"])
    csrf = str(call("POST", "/api/login", {"pin": SOAK_PIN}, csrf)["csrf_token"])
    return int(str(call("POST", "/api/sessions", {"runner": "soak"}, csrf)["id"]))


def _clip_report(workdir: Path, session_id: int | None, cfg: HipcamConfig) -> bool:
    """Print the session's strides, clips and their disk use against the budget; whether it held."""
    if session_id is None:
        return True
    folder = workdir / "data" / "snapshots" / str(session_id) / "clips"
    files = [f for f in folder.glob("*.clip") if f.is_file()] if folder.is_dir() else []
    used = sum(f.stat().st_size for f in files) / (1024 * 1024)
    budget = cfg.storage.clip_budget_mb
    held = used <= budget
    print(f"soak: session {session_id}: {len(files)} replay clips kept, {used:.1f} MB of the "
          f"{budget:g} MB budget ({'holds' if held else 'EXCEEDED'})", flush=True)  # fmt: skip
    if not files:
        print("soak: no clip was written (the demo clip's walker records no running strides; "
              "try --source with a runner's clip)", flush=True)  # fmt: skip
    return held


def run_soak(
    cfg: HipcamConfig, minutes: float, viewers: int, report_every_s: float = 60.0, source: str = "demo"
) -> int:
    """Soak the service; print a report line per interval and a summary. 0 if it held up."""
    if not (math.isfinite(minutes) and minutes > 0):
        raise HipcamError(f"--minutes {minutes:g}: expected a positive number of minutes")
    if not (math.isfinite(report_every_s) and report_every_s > 0):
        raise HipcamError(f"--every {report_every_s:g}: expected a positive number of seconds")
    if viewers < 0:
        raise HipcamError(f"--viewers {viewers}: expected 0 or more")
    if viewers > cfg.server.max_viewers:
        raise HipcamError(f"{viewers} viewers is more than server.max_viewers ({cfg.server.max_viewers})")
    workdir = Path(tempfile.mkdtemp(prefix="hipcam-soak-"))
    port = loadgen.free_port()
    cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update={"pin_hash": hash_pin(SOAK_PIN)})})
    proc = _start_service(_viewers_fit(cfg, viewers), workdir, port, source)
    session_id: int | None = None
    stop = threading.Event()
    stats = ViewerStats()
    threads: list[threading.Thread] = []
    reports: list[Report] = []
    try:
        startup = _wait_healthy(proc, port)
        print(f"soak: service pid {proc.pid} healthy after {startup:.1f} s on :{port}; "
              f"{viewers} viewers, {minutes:g} min; log {workdir / 'service.log'}", flush=True)  # fmt: skip
        session_id = _start_session(port)
        for i in range(viewers):
            first_s = STAGGER_S * (i + 1) / viewers
            t = threading.Thread(target=_viewer, args=(port, stop, stats, first_s), name=f"viewer-{i}", daemon=True)
            t.start()
            threads.append(t)
        reports = _monitor(proc, port, minutes, report_every_s, stats, viewers)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        code = _stop_service(proc)
    held = _clip_report(workdir, session_id, cfg)
    return _summarise(reports, stats, code, proc.pid) or int(not held)


def _monitor(
    proc: subprocess.Popen[bytes], port: int, minutes: float, every: float, stats: ViewerStats, viewers: int
) -> list[Report]:
    print(" min    fps  p50ms  p90ms  p99ms  dropped  skipped  rss_MB  max_gap_s", flush=True)
    start = time.monotonic()
    end = start + minutes * 60.0
    before = loadgen.scrape(port)
    t_before = time.monotonic()
    reports: list[Report] = []
    while time.monotonic() < end:
        time.sleep(max(0.0, min(every, end - time.monotonic())))
        if proc.poll() is not None:
            raise HipcamError(f"the service died during the soak (code {proc.returncode})")
        now = loadgen.scrape(port)
        t_now = time.monotonic()
        frames = loadgen.counter_delta(now, before, "hipcam_frames_processed_total")
        pct = loadgen.histogram_percentiles(now, before, "hipcam_frame_seconds", (0.5, 0.9, 0.99))
        with stats.lock:
            gap = stats.max_gap_s
        rep = Report(
            minute=(t_now - start) / 60.0,
            fps=frames / (t_now - t_before),
            p50_ms=pct[0.5],
            p90_ms=pct[0.9],
            p99_ms=pct[0.99],
            dropped=loadgen.counter_delta(now, before, "hipcam_frames_dropped_total"),
            skipped=loadgen.counter_delta(now, before, "hipcam_frames_skipped_evenly_total"),
            rss_mb=(_rss_kb(proc.pid) or 0) / 1024.0,
            viewers=int(now.get(("hipcam_live_viewers", ()), 0.0)),
            max_gap_s=gap,
        )
        reports.append(rep)
        print(f"{rep.minute:4.1f} {rep.fps:6.1f} {_fmt_ms(rep.p50_ms)}  {_fmt_ms(rep.p90_ms)}  "
              f"{_fmt_ms(rep.p99_ms)}  {rep.dropped:7.0f}  {rep.skipped:7.0f}  {rep.rss_mb:6.1f}  {gap:9.2f}"
              f"   (viewers {rep.viewers}/{viewers})", flush=True)  # fmt: skip
        before, t_before = now, t_now
    return reports


def _stop_service(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            return None
    return proc.returncode


def _summarise(reports: list[Report], stats: ViewerStats, code: int | None, pid: int) -> int:
    if not reports:
        print("soak: no report collected", file=sys.stderr)
        return 1
    base = reports[0].rss_mb  # after the first interval: models loaded, buffers warm
    last = reports[-1].rss_mb
    growth = (last - base) / base * 100.0 if base else float("nan")
    peak = max(r.rss_mb for r in reports)
    fps = sorted(r.fps for r in reports)
    print(
        f"soak: {len(reports)} intervals; fps median {fps[len(fps) // 2]:.1f} (min {fps[0]:.1f}); "
        f"RSS {base:.1f} -> {last:.1f} MB ({growth:+.1f} %, peak {peak:.1f}); "
        f"largest gap between analysed frames {stats.max_gap_s:.2f} s; "
        f"viewer events {stats.events}, frames {stats.frames}, errors {stats.errors}; "
        f"service exit {'killed' if code is None else code}",
        flush=True,
    )
    ok = code == 0 and fps[0] > 0
    return 0 if ok else 1
