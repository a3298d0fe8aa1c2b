"""PIN guessing against the real server on loopback (other 127.x addresses stand in for other
hosts on the gym Wi-Fi): guessing is slowed, the clinician is never locked out, parallel guesses
are counted before they are checked, and parallel logins do not blow up memory."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from web_server import PIN, cookie_of, fresh_session, login, send, serve_app

from hipcam.auth import AttemptLimiter

pytestmark = pytest.mark.integration
ATTACKERS = [f"127.0.0.{i}" for i in range(2, 10)]


class Clock:
    """The limiter's clock, moved by the test: a minute of guessing takes no minute to run."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, s: float) -> None:
        with self._lock:
            self.now += s


def _try_pin(port: int, pin: str, source: str, device_cookie: str = "") -> tuple[int, str]:
    cookie, token = fresh_session(port, source)
    cookies = f"{cookie}; {device_cookie}" if device_cookie else cookie
    status, headers, _ = send(port, "POST", "/api/login", json.dumps({"pin": pin}).encode(), source=source,
                              Cookie=cookies, Content_Type="application/json", X_CSRF_Token=token)  # fmt: skip
    return status, cookie_of(headers, "hipcam_device")


def test_spread_guessing_never_locks_the_clinician_out(tmp_path: Path) -> None:
    clock = Clock()
    with serve_app(tmp_path, limiter=AttemptLimiter(clock=clock)) as served:
        # The clinician's tablet logged in once before the attack: it holds a trusted-device cookie.
        status, tablet = _try_pin(served.port, PIN, ATTACKERS[3])
        assert status == 200 and tablet.startswith("hipcam_device=")
        answers: list[int] = []
        clinician: list[int] = []
        for second in range(0, 180, 2):  # 30 wrong PINs a minute, 8 addresses in turn, for 3 minutes
            answers.append(_try_pin(served.port, f"{1000 + second:04d}", ATTACKERS[second // 2 % 8])[0])
            if second % 20 == 0:  # the clinician, on the tablet (its address is an attacker's too) and on a new one
                clinician.append(_try_pin(served.port, PIN, ATTACKERS[3], tablet)[0])
                clinician.append(_try_pin(served.port, PIN, f"127.0.1.{second // 20 + 1}")[0])
            clock.advance(2.0)
        assert clinician == [200] * len(clinician), clinician
        # Guessing is slowed: 30 a minute were sent; in the third minute few were checked.
        per_minute = [answers[i : i + 30].count(401) for i in (0, 30, 60)]
        print(f"wrong PINs checked per minute: {per_minute} of 30 sent")
        assert per_minute[2] <= 10 and sum(per_minute) < 60, per_minute


def test_parallel_guesses_from_one_address_are_counted_before_the_check(tmp_path: Path) -> None:
    # 40 connections at once from one address: above the per-client connection cap, which is not tested here.
    with serve_app(tmp_path, server={"threads": 16, "max_connections_per_client": 64}) as served:
        limiter = served.deps.limiter
        with ThreadPoolExecutor(40) as pool:
            codes = list(pool.map(lambda i: _try_pin(served.port, f"{i:04d}", "127.0.0.2")[0], range(40)))
        assert limiter.checked == limiter.free, (limiter.checked, codes)
        assert codes.count(401) == limiter.free and codes.count(429) == 40 - limiter.free


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def test_parallel_logins_keep_memory_bounded(tmp_path: Path) -> None:
    if not _reset_peak_rss():
        pytest.skip("/proc/self/clear_refs cannot be written here (needed to measure the peak RSS)")
    with serve_app(tmp_path, server={"threads": 24}) as served:
        login(served.port)  # warm: the first scrypt, the templates, the store
        base = (_reset_peak_rss(), _peak_rss_kib())[1]
        sources = [f"127.0.2.{i}" for i in range(1, 33)]
        with ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(lambda s: login(served.port, PIN if s.endswith("1") else "0000", s)[0], sources))
        grown_mib = (_peak_rss_kib() - base) / 1024
    print(f"peak RSS grew {grown_mib:.0f} MiB during 32 parallel logins")
    # scrypt needs 16 MiB a check: 32 at once would be ~512 MiB; the limiter lets 2 (+1 trusted) run.
    assert grown_mib < 80, f"peak RSS grew {grown_mib:.0f} MiB during 32 parallel logins"
    assert set(codes) <= {200, 401, 429} and 200 in codes, codes


def test_logged_in_cookie_is_set_on_right_pin_only(tmp_path: Path) -> None:
    with serve_app(tmp_path) as served:
        status, cookie, _ = login(served.port, "0000")
        assert status == 401
        status, headers, text = send(served.port, "GET", "/api/auth", Cookie=cookie)
        assert json.loads(text)["logged_in"] is False
        status, cookie, _ = login(served.port)
        _, headers, text = send(served.port, "GET", "/api/auth", Cookie=cookie)
        assert status == 200 and json.loads(text)["logged_in"] is True
        assert cookie_of(headers).startswith("hipcam_session=")
