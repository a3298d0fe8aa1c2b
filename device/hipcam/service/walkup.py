"""The walk-up check (docs/walkup.md): a form check that starts by itself, shared by the frame loop
(each frame's running strides and whether a runner is in view) and the web (the card, its QR link).

Phases: ``off`` (walkup.enabled is false) -> ``idle`` -> ``settling`` (a runner in view and running
strides arriving steadily, for settle_s) -> ``checking`` (counting classified running strides per leg
up to strides_per_leg) -> ``result`` (the card is shown; it stays while the runner runs on and for
card_hold_s after they stepped off) -> ``idle``. A runner who leaves during settling or checking
ends the check without a result.

Needs no session and writes no session record: a finished card goes to its own results file
(hipcam.records.walkup_results, no name), which is purged of rows older than keep_hours at start and
every ``PURGE_EVERY_S``; the day's count of checks is kept and handed to ``on_count`` (MQTT).

Each card gets a short-lived random link (``secrets.token_urlsafe``) for the member's phone; links live
in memory only (a restart ends them), for link_ttl_s but never longer than the result is kept.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hipcam.config import WalkupConfig
from hipcam.domain import LEGS, RUNNING
from hipcam.feedback.walkup import counts, make_card
from hipcam.records.stride import StrideRecord
from hipcam.records.walkup_results import WalkupResults, day_of
from hipcam.service.settings import Settings

log = logging.getLogger(__name__)

STEADY_GAP_S = 2.5  # no running stride for this long: not running steadily (a stride takes ~0.7 s)
GONE_S = 2.0  # no runner in view for this long ends a check in progress
PURGE_EVERY_S = 600.0
SECONDS_PER_STRIDE = 3.0  # a stride takes ~0.7 s: four times that per counted stride is overdue
LINKS_KEPT = 64  # issued links remembered (an expired one answers "expired", not "forged")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass
class _Link:
    card: dict[str, Any]
    expires_at: float


@dataclass
class _Check:
    phase: str = "idle"
    since: float = 0.0  # when the phase began
    last_stride_at: float = 0.0
    by_leg: dict[str, list[StrideRecord]] = field(default_factory=lambda: {leg: [] for leg in LEGS})
    card: dict[str, Any] | None = None
    token: str | None = None


class WalkupCheck:
    def __init__(
        self,
        settings: Settings | None,
        results: WalkupResults | None,
        cfg: WalkupConfig | None = None,
        clock: Callable[[], float] = time.time,
        on_count: Callable[[str, int], None] | None = None,
    ) -> None:
        self.settings, self.results, self.clock, self.on_count = settings, results, clock, on_count
        self._cfg = cfg or WalkupConfig()
        self._lock = threading.Lock()
        self._check = _Check()
        self._links: dict[str, _Link] = {}
        self._last_seen = 0.0  # last frame with a runner in view
        self._purged_at: float | None = None
        self.purge(clock())

    def config(self) -> WalkupConfig:
        return self.settings.applied().walkup if self.settings is not None else self._cfg

    # ---- the frame loop ----------------------------------------------------------------------
    def on_frame(self, strides: Sequence[StrideRecord], status: str, now: float | None = None) -> None:
        """One analysed frame: its completed strides and the pipeline's status (``running``: a
        person in view). Cheap unless a check finishes (one small SQLite write)."""
        now = self.clock() if now is None else now
        cfg = self.config()
        if now - (self._purged_at or 0.0) >= PURGE_EVERY_S:
            self.purge(now)
        with self._lock:
            if not cfg.enabled:
                if self._check.phase != "off":
                    self._check = _Check(phase="off", since=now)
                return
            if status == "running":
                self._last_seen = now
            running = [s for s in strides if getattr(s, "locomotion", RUNNING) == RUNNING]
            finished = self._step_locked(cfg, running, now)
        if finished is not None:
            self._finish(cfg, finished, now)

    def _step_locked(self, cfg: WalkupConfig, running: list[StrideRecord], now: float) -> dict[str, Any] | None:
        c = self._check
        present = now - self._last_seen < GONE_S
        if running:
            c.last_stride_at = now
        steady = present and now - c.last_stride_at < STEADY_GAP_S
        self._expire_locked(cfg, now)
        if c.phase in ("off", "idle"):
            if running and present:
                self._check = _Check(phase="settling", since=now, last_stride_at=now)
        elif c.phase == "settling":
            if not steady:
                self._check = _Check(since=now)
            elif now - c.since >= cfg.settle_s:
                self._check = _Check(phase="checking", since=now, last_stride_at=c.last_stride_at)
        elif c.phase == "checking":
            if not steady:
                log.info("walk-up check ended without a result: the runner left")
                self._check = _Check(since=now)
                return None
            for s in running:
                kept = c.by_leg.setdefault(s.leg, [])
                if counts(s) and len(kept) < cfg.strides_per_leg:
                    kept.append(s)
            done = [len(c.by_leg.get(leg, ())) >= cfg.strides_per_leg for leg in LEGS]
            # A far leg the camera rarely classifies must not hold the check forever: after
            # SECONDS_PER_STRIDE per counted stride, one complete leg is enough (the other says how
            # many it had, or "not enough strides seen").
            overdue = now - c.since >= SECONDS_PER_STRIDE * cfg.strides_per_leg
            if all(done) or (overdue and any(done)):
                return make_card(c.by_leg, now)
        return None

    def _expire_locked(self, cfg: WalkupConfig, now: float) -> None:
        """A shown card clears card_hold_s after the runner was last in view; a check in progress
        ends when no runner has been in view for GONE_S (also with no frames coming at all)."""
        phase, away = self._check.phase, now - self._last_seen
        if (phase == "result" and away >= cfg.card_hold_s) or (phase in ("settling", "checking") and away >= GONE_S):
            self._check = _Check(since=now)

    def _finish(self, cfg: WalkupConfig, card: dict[str, Any], now: float) -> None:
        token = secrets.token_urlsafe(18)
        expires = now + min(cfg.link_ttl_s, cfg.keep_hours * 3600.0)
        with self._lock:
            self._check = _Check(phase="result", since=now, card=card, token=token)
            self._links[token] = _Link(card, expires)
            while len(self._links) > LINKS_KEPT:
                self._links.pop(next(iter(self._links)))
        log.info("walk-up check finished: %s (left %s, right %s)", card["class"],
                 card["legs"]["left"]["class"], card["legs"]["right"]["class"])  # fmt: skip
        if self.results is None:
            return
        try:
            _, day, count = self.results.save(card, now)
        except Exception as exc:  # a full disk or a damaged file: the card is still shown
            log.warning("walk-up result not saved (%s)", exc)
            return
        if self.on_count is not None:
            self.on_count(day, count)

    def purge(self, now: float) -> None:
        self._purged_at = now
        if self.results is None:
            return
        try:
            gone = self.results.purge(self.config().keep_hours, now)
        except Exception as exc:
            log.warning("walk-up results not purged (%s); retried in %.0f s", exc, PURGE_EVERY_S)
            return
        if gone:
            log.info("walk-up: %d results older than %g h deleted", gone, self.config().keep_hours)
        with self._lock:
            for token in [t for t, link in self._links.items() if link.expires_at <= now - 3600.0]:
                del self._links[token]  # long expired: forgotten (it then answers "forged")

    # ---- the web -------------------------------------------------------------------------------
    def view(self, now: float | None = None) -> dict[str, Any]:
        """What the runner view and the live page show now."""
        now = self.clock() if now is None else now
        cfg = self.config()
        with self._lock:
            if cfg.enabled:
                self._expire_locked(cfg, now)
            c = self._check
            phase = c.phase if cfg.enabled else "off"
            link = self._links.get(c.token) if c.token else None
            return {
                "enabled": cfg.enabled,
                "phase": phase,
                "progress": {leg: len(c.by_leg.get(leg, ())) for leg in LEGS},
                "strides_per_leg": cfg.strides_per_leg,
                "settle_s": cfg.settle_s,
                "card": c.card if phase == "result" else None,
                "token": c.token if phase == "result" else None,
                "link_expires_at": link.expires_at if link is not None and phase == "result" else None,
                "checks_today": self.results.count_on(day_of(now)) if self.results is not None else None,
            }

    def by_token(self, token: str, now: float | None = None) -> tuple[str, dict[str, Any] | None]:
        """A link's card: ("ok", card), ("expired", None) or ("forged", None) (forged or forgotten)."""
        now = self.clock() if now is None else now
        if not TOKEN_RE.fullmatch(token):
            return "forged", None
        with self._lock:
            link = self._links.get(token)
        if link is None:
            return "forged", None
        if now >= link.expires_at:
            return "expired", None
        return "ok", link.card
