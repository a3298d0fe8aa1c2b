"""Everything the web app uses, handed to ``create_app`` in one object and kept in
``app.extensions["hipcam"]``: no globals, no closures over services, no config mutated in place.

The web reads the live snapshot (hipcam.service.state), the page settings channel
(hipcam.service.settings), the store (hipcam.records) and the PIN check (hipcam.auth); what it
needs of the rest of the service comes in through the small protocols below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from flask import current_app

from hipcam.auth import AttemptLimiter, LoginRegistry, pin_tag
from hipcam.auth.logins import LOGINS_FILE
from hipcam.auth.tokens import TOKENS_FILE, TokenRegistry
from hipcam.config import HipcamConfig
from hipcam.records.store import HipCalibration, Store
from hipcam.records.walkup_results import WALKUP_FILE, WalkupResults
from hipcam.service.cues import CueBoard
from hipcam.service.feedback import Feedback
from hipcam.service.settings import Settings
from hipcam.service.state import LiveState
from hipcam.service.walkup import WalkupCheck

EXTENSION = "hipcam"


class HealthSource(Protocol):
    """What /healthz needs to know (hipcam.service.metrics.Metrics satisfies it)."""

    def last_frame_age_s(self) -> float | None: ...

    @property
    def camera_state(self) -> str: ...

    def fps(self) -> float: ...

    def pose(self) -> dict[str, Any]:
        """What the landmark model runs in: precision, why, threads (empty before it loads)."""
        ...

    def render(self) -> tuple[bytes, str]:
        """The Prometheus exposition and its content type, for /metrics."""
        ...


class CalibrationSource(Protocol):
    """Turns a tap on a paused frame into a runner's stored hip calibration
    (hipcam.service.calibration.HipCalibrator satisfies it). Raises ValueError for a tap that
    cannot calibrate (a mis-tap: the message says why) and LookupError when the frame is gone."""

    def from_live(self, runner: str, seq: int, tap: tuple[float, float]) -> HipCalibration: ...

    def from_stride(self, runner: str, session_id: int, stride_id: int, tap: tuple[float, float]) -> HipCalibration: ...


class SetupCheckSource(Protocol):
    """The live camera set-up check (hipcam.service.setup_check.SetupCheckRunner satisfies it):
    ``request`` starts ~20 s of gathering, ``status`` says how far it is and holds the report,
    ``image`` is the JPEG of the frame with the lines it measured."""

    def request(self) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]: ...

    def image(self) -> bytes | None: ...


class BoardSource(Protocol):
    """Hardware warnings for /healthz (hipcam.service.metrics.board_warnings satisfies it)."""

    def __call__(self) -> list[str]: ...


@dataclass
class WebDeps:
    state: LiveState
    store: Store
    cfg: HipcamConfig  # the start-up configuration; page-editable values come from ``settings``
    settings: Settings | None = None  # default: saved in the store's data dir
    limiter: AttemptLimiter = field(default_factory=AttemptLimiter)
    logins: LoginRegistry | None = None  # default: kept beside the store's database
    tokens: TokenRegistry | None = None  # read-only device tokens; default: beside the store's database
    health: HealthSource | None = None  # without it there is no /healthz or /metrics
    board: BoardSource | None = None
    calibrator: CalibrationSource | None = None  # without it a hip calibration cannot be tapped (503)
    secret_key: bytes | None = None  # signs the login cookie; persist it so logins survive a restart
    on_viewers: Callable[[int], None] | None = None  # told how many live streams are open
    stream_max_s: float = 300.0
    cues: CueBoard = field(default_factory=CueBoard)  # the runner view's per-stride cues
    feedback: Feedback | None = None  # default: a run kept with ``state``, ``cues`` and ``store``
    mqtt: Callable[[], Mapping[str, Any]] | None = None  # the MQTT connection for /healthz (None: MQTT off)
    walkup: WalkupCheck | None = None  # default: the walk-up check, results beside the store's database
    setup_check: SetupCheckSource | None = None  # the camera set-up check (None: 503 on its API)

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = Settings(self.cfg, self.store.data_dir)
        if self.feedback is None:
            self.feedback = Feedback(self.state, self.cues, self.store)
        if self.walkup is None:
            self.walkup = WalkupCheck(self.settings, WalkupResults(self.store.data_dir / WALKUP_FILE))
        if self.tokens is None:
            self.tokens = TokenRegistry(self.store.data_dir / TOKENS_FILE)
        if self.logins is None:
            self.logins = LoginRegistry(self.store.data_dir / LOGINS_FILE, pin_tag(self.cfg.server.pin_hash))

    @property
    def live_feedback(self) -> Feedback:
        assert self.feedback is not None  # set in __post_init__
        return self.feedback

    @property
    def walkup_check(self) -> WalkupCheck:
        assert self.walkup is not None  # set in __post_init__
        return self.walkup

    @property
    def token_registry(self) -> TokenRegistry:
        assert self.tokens is not None  # set in __post_init__
        return self.tokens

    @property
    def login_registry(self) -> LoginRegistry:
        assert self.logins is not None  # set in __post_init__
        return self.logins

    @property
    def page_settings(self) -> Settings:
        assert self.settings is not None  # set in __post_init__
        return self.settings


def deps() -> WebDeps:
    """The app's WebDeps (inside a request or app context)."""
    return cast(WebDeps, current_app.extensions[EXTENSION])
