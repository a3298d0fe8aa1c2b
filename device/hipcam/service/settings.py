"""Settings the page may change: validated like the config file, persisted, and applied through one
versioned channel.

Precedence (lowest first): config file < ``HIPCAM_*`` environment < page settings. The page shows
and edits what is applied, so the last explicit choice wins and survives a restart; "Reset" on the
page (``DELETE /api/settings``) drops the page settings and returns to file + environment.

One exception, a floor the page cannot lift: ``server.open_viewing = false`` set in the config file
or the environment (the administrator closed viewing; pydantic's ``model_fields_set`` of the loaded
section says it was set there). The key is then locked (``locked()``, ``current()["locked"]``): a
change of it raises ``SettingLocked``, and a page value saved before the floor was set is ignored at
start-up (and dropped from the file at the next save). Closing viewing from the page stays possible
whenever the config leaves it open.

The saved file (``settings.json`` in the data dir) holds only the keys changed from the page, in the
config file's shape (``{"level": {"roll_deg": 2.0}}``), so a later config-file edit of another key
still takes effect. The start-up configuration is never changed: what is in force is ``applied()``,
an immutable snapshot with a version number that goes up with every change. The frame loop reads
it once per frame and rebuilds the gait tracker when the version moves
(hipcam.service.frame_analysis); the web reads ``open_viewing`` from it. Every page-editable key
names the consumer that applies it (``EDITABLE``), so a key cannot be saved and then ignored.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hipcam.atomic import write_text
from hipcam.config import HipcamConfig, LevelConfig, WalkupConfig, first_error, merge
from hipcam.config.gait import GaitParams

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
VIEWING_CLOSED = "closed in the config file / environment by the administrator (server.open_viewing = false)"


@dataclass(frozen=True)
class AppliedSettings:
    """The page-editable configuration in force. ``version`` goes up with every change."""

    version: int
    level: LevelConfig  # consumer: the frame analyzer (camera roll of the gait tracker)
    gait: GaitParams  # consumer: the frame analyzer (the gait tracker's parameters)
    open_viewing: bool  # consumer: the web's viewing check (web_ui.security)
    walkup: WalkupConfig  # consumer: the walk-up check (hipcam.service.walkup)

    @classmethod
    def of(cls, cfg: HipcamConfig, version: int) -> AppliedSettings:
        return cls(version, cfg.level, cfg.gait, cfg.server.open_viewing, cfg.walkup)


# section -> key -> the AppliedSettings field that carries it to its consumer. Everything else stays
# with the config file.
EDITABLE: dict[str, dict[str, str]] = {
    "level": {"mode": "level", "roll_deg": "level"},
    "gait": {"direction": "gait"},
    "server": {"open_viewing": "open_viewing"},
    "walkup": dict.fromkeys(WalkupConfig.model_fields, "walkup"),
}


class SettingsError(ValueError):
    """A page setting that the config models refuse; the message names the field."""


class SettingLocked(SettingsError):
    """A page setting that the config file or environment has fixed; the message says why."""


def locked(cfg: HipcamConfig) -> dict[str, dict[str, str]]:
    """The page-editable keys the config file or environment fixes (section -> key -> why): viewing
    closed there (``open_viewing = false`` set explicitly) is a floor the page cannot lift."""
    server = cfg.server
    if "open_viewing" in server.model_fields_set and not server.open_viewing:
        return {"server": {"open_viewing": VIEWING_CLOSED}}
    return {}


def _check_locks(base: HipcamConfig, effective: HipcamConfig, locks: Mapping[str, Mapping[str, str]]) -> None:
    """A locked key must keep the value of the config file / environment."""
    for section, keys in locks.items():
        for key, why in keys.items():
            if getattr(getattr(effective, section), key) != getattr(getattr(base, section), key):
                raise SettingLocked(f"{section}.{key}: {why}; the page cannot change it")


def _unlocked(saved: Mapping[str, Any], locks: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """``saved`` without the locked keys: the page never owns one (a new object)."""
    out = merge({}, saved)
    for section, keys in locks.items():
        values = out.get(section)
        if isinstance(values, dict):
            for key in keys:
                values.pop(key, None)
            if not values:
                del out[section]
    return out


def _lock_names(locks: Mapping[str, Mapping[str, str]]) -> str:
    return ", ".join(f"{section}.{key}" for section, keys in locks.items() for key in keys)


def check_editable(editable: Mapping[str, Mapping[str, str]]) -> None:
    """Every page-editable key must reach a consumer: an AppliedSettings field that carries it."""
    carried = {f.name for f in fields(AppliedSettings)} - {"version"}
    for section, keys in editable.items():
        for key, field in keys.items():
            if field not in carried:
                raise SettingsError(f"{section}.{key}: page-editable, but no consumer applies it ({field!r})")


def roll_range() -> tuple[float, float]:
    """Allowed manual roll (deg), read from the config model so the page and the file agree."""
    prop = LevelConfig.model_json_schema()["properties"]["roll_deg"]
    return float(prop["minimum"]), float(prop["maximum"])


def _check_keys(patch: Mapping[str, Any]) -> None:
    for section, values in patch.items():
        if section not in EDITABLE or not isinstance(values, Mapping):
            raise SettingsError(f"{section}: not a page setting (allowed: {', '.join(EDITABLE)})")
        unknown = sorted(set(values) - set(EDITABLE[section]))
        if unknown:
            raise SettingsError(f"{section}.{unknown[0]}: not a page setting")


def _validated(base: HipcamConfig, saved: Mapping[str, Any]) -> HipcamConfig:
    """``base`` with the page settings laid on top, validated by the config models (a new object)."""
    _check_keys(saved)
    try:
        return HipcamConfig.model_validate(merge(base.model_dump(), saved))
    except ValidationError as exc:
        raise SettingsError(first_error(exc)) from None


def _values(cfg: HipcamConfig, patch: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The validated (converted) values of the patched keys: what gets saved."""
    return {section: {key: getattr(getattr(cfg, section), key) for key in keys} for section, keys in patch.items()}


class Settings:
    """The page-editable part of the configuration. Thread-safe; ``applied()`` is lock-free to read."""

    def __init__(self, cfg: HipcamConfig, data_dir: Path | None) -> None:
        check_editable(EDITABLE)
        self._base = cfg  # file + environment, never changed
        self.path = data_dir / SETTINGS_FILE if data_dir is not None else None
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}
        self._effective = cfg
        self._applied = AppliedSettings.of(cfg, 0)
        self._locks = locked(cfg)
        self._load()

    def locked(self) -> dict[str, dict[str, str]]:
        """The keys the page cannot change (section -> key -> why)."""
        return {section: dict(keys) for section, keys in self._locks.items()}

    def applied(self) -> AppliedSettings:
        return self._applied  # one attribute read: a consistent snapshot without the lock

    def _load(self) -> None:
        """Apply the saved page settings at start-up; a bad file is logged and ignored, never fatal."""
        if self.path is None or not self.path.is_file():
            return
        try:
            saved = json.loads(self.path.read_text())
            kept = _unlocked(saved, self._locks)
            if kept != saved:
                log.warning("ignoring the page's %s in %s: %s", _lock_names(self._locks), self.path, VIEWING_CLOSED)
            self._set(_validated(self._base, kept), kept)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring the saved page settings in %s: %s", self.path, exc)

    def _set(self, effective: HipcamConfig, saved: dict[str, Any]) -> None:
        self._effective, self._saved = effective, saved
        self._applied = AppliedSettings.of(effective, self._applied.version + 1)

    def update(self, patch: Mapping[str, Any]) -> None:
        """Validate, save, then apply. Raises SettingsError (bad value) or OSError (not saved)."""
        with self._lock:
            _check_keys(patch)
            candidate = merge(self._saved, patch)
            effective = _validated(self._base, candidate)
            _check_locks(self._base, effective, self._locks)
            saved = _unlocked(merge(self._saved, _values(effective, patch)), self._locks)
            self._write(saved)
            self._set(effective, saved)

    def reset(self) -> None:
        """Forget the page settings: back to the config file and environment."""
        with self._lock:
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            self._set(self._base, {})

    def _write(self, saved: Mapping[str, Any]) -> None:
        if self.path is not None:
            write_text(self.path, json.dumps(saved, indent=2, sort_keys=True) + "\n")

    def current(self) -> dict[str, Any]:
        """What the page edits, as applied now, plus the allowed ranges and which keys the page set."""
        lo, hi = roll_range()
        cfg = self._effective
        return {
            "level": {"mode": cfg.level.mode, "roll_deg": cfg.level.roll_deg, "roll_min": lo, "roll_max": hi},
            "gait": {"direction": cfg.gait.direction},
            "server": {"open_viewing": cfg.server.open_viewing},
            "walkup": cfg.walkup.model_dump(),
            "from_page": {section: sorted(values) for section, values in self._saved.items()},
            "locked": self.locked(),
            "persisted": self.path is not None,
        }
