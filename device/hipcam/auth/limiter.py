"""Wrong-PIN limiter: guessing is slowed, the clinician is never locked out.

- Every attempt is counted *before* the PIN is checked (under one lock), so parallel guesses from
  one client cannot all slip through while the first ones are being checked.
- A client is a trusted device (the signed device cookie a right PIN once earned: its own budget,
  free of the rules below) or else an address. After ``free`` misses a client waits 2^k s (capped).
- A global bucket catches guessing spread over many addresses: while more than
  ``global_per_minute`` untrusted attempts (refused ones too) came in the last minute, an address
  gets one free attempt instead of ``free``. It slows the sprayers without refusing anybody who has
  not missed, so the right PIN from a new address or a trusted device still gets in.
- At most ``concurrent_checks`` scrypt checks run at once (16 MiB and ~50 ms each on a Pi 4),
  plus one slot kept for trusted devices, so a burst of logins bounds memory and CPU. They run on
  a pool of that many threads, not on the request threads: glibc gives each thread its own malloc
  arena, and an arena keeps scrypt's 16 MiB after a check, so checks spread over 16 request
  threads held ~16 x 16 MiB for good.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

FORGET_S = 86_400.0  # a client's misses are forgotten after a day without attempts
MAX_CLIENTS = 10_000  # records kept, against address spraying


class Refused(Exception):
    """No PIN check now: ``wait_s`` until the client may try again, and why."""

    def __init__(self, wait_s: float, message: str) -> None:
        super().__init__(message)
        self.wait_s = wait_s
        self.message = message


@dataclass(frozen=True)
class _Record:
    misses: int
    until: float  # no attempt before this
    last: float  # when the last attempt came


class AttemptLimiter:
    def __init__(
        self,
        free: int = 5,
        max_delay_s: float = 300.0,
        global_per_minute: int = 30,
        concurrent_checks: int = 2,
        check_wait_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.max_delay_s = max_delay_s
        self.global_per_minute = global_per_minute
        self.check_wait_s = check_wait_s
        self.clock = clock
        self.checked = 0  # PIN checks actually run (for /metrics and the tests)
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._recent: deque[float] = deque()  # untrusted attempts of the last minute
        self._slots = threading.BoundedSemaphore(concurrent_checks)
        self._trusted_slot = threading.BoundedSemaphore(1)
        self._checkers = ThreadPoolExecutor(concurrent_checks + 1, thread_name_prefix="pin-check")

    def check(self, address: str, device: str | None, verify: Callable[[], bool]) -> bool:
        """Run ``verify`` (the PIN check) if the client may try now; raises Refused otherwise."""
        trusted = device is not None
        key = f"device:{device}" if trusted else f"address:{address}"
        before = self._reserve(key, trusted)
        slot = self._trusted_slot if trusted else self._slots
        if not slot.acquire(timeout=self.check_wait_s):
            self._restore(key, before)
            raise Refused(2.0, "the device is busy checking PINs; try again in a few seconds")
        try:
            with self._lock:
                self.checked += 1
            ok = self._checkers.submit(verify).result()
        finally:
            slot.release()
        if ok:
            self._restore(key, None)
        return ok

    def _reserve(self, key: str, trusted: bool) -> _Record | None:
        now = self.clock()
        with self._lock:
            before = self._records.get(key)
            if before is not None and now - before.last > FORGET_S:
                before = None
            if not trusted:
                self._recent.append(now)
            if before is not None and before.until > now:
                who = "this device" if trusted else "this address"
                raise Refused(before.until - now, f"too many wrong PINs from {who}")
            free = self.free if trusted or not self._busy(now) else 1
            misses = (before.misses if before else 0) + 1
            delay = 0.0 if misses < free else min(self.max_delay_s, 2.0 ** (misses - free + 1))
            self._records[key] = _Record(misses, now + delay, now)
            self._bound(now)
            return before

    def _restore(self, key: str, record: _Record | None) -> None:
        """Undo a reservation: back to ``record`` (the check did not run), or cleared (right PIN)."""
        with self._lock:
            if record is None:
                self._records.pop(key, None)
            else:
                self._records[key] = record

    def _busy(self, now: float) -> bool:
        while self._recent and now - self._recent[0] >= 60.0:
            self._recent.popleft()
        return len(self._recent) >= self.global_per_minute

    def _bound(self, now: float) -> None:
        if len(self._records) <= MAX_CLIENTS:
            return
        # Forget the waiting-over ones first, oldest first; then the oldest of the rest.
        order = sorted(self._records, key=lambda k: (self._records[k].until > now, self._records[k].last))
        for k in order[: len(order) - MAX_CLIENTS // 2]:
            del self._records[k]
