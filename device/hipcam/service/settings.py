"""Settings the page may change: validated like the config file, applied live, persisted.

Precedence (lowest first): config file < ``HIPCAM_*`` environment < page settings. The page shows
and edits what is applied, so the last explicit choice wins and survives a restart; "Reset" on the
page (``DELETE /api/settings``) drops the page settings and returns to file + environment.

The saved file (``settings.json`` in the data dir) holds only the keys changed from the page, in the
config file's shape (``{"level": {"roll_deg": 2.0}}``), so a later config-file edit of another key
still takes effect. Changes replace whole config sections (one attribute assignment each), which the
frame loop notices (hipcam.service.frame_analysis.Analyzer restarts the gait tracker on a changed
``level`` or ``gait`` section).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hipcam.atomic import write_text
from hipcam.config import HipcamConfig, LevelConfig

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
# section -> keys the page may set; everything else stays with the config file.
EDITABLE: dict[str, tuple[str, ...]] = {
    "level": ("mode", "roll_deg"),
    "gait": ("direction",),
    "server": ("open_viewing",),
}


class SettingsError(ValueError):
    """A page setting that the config models refuse; the message names the field."""


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


def _validated(cfg: HipcamConfig, patch: Mapping[str, Any]) -> HipcamConfig:
    """cfg with the patch applied, validated by the config models (a copy; cfg is untouched)."""
    _check_keys(patch)
    data = cfg.model_dump()
    for section, values in patch.items():
        data[section] = {**data[section], **values}
    try:
        return HipcamConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SettingsError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def _merge(saved: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {section: dict(values) for section, values in saved.items()}
    for section, values in patch.items():
        out.setdefault(section, {}).update(values)
    return out


def _values(cfg: HipcamConfig, patch: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The validated (converted) values of the patched keys: what gets saved."""
    return {section: {key: getattr(getattr(cfg, section), key) for key in keys} for section, keys in patch.items()}


class Settings:
    """The page-editable part of ``cfg``. Thread-safe for writers; readers just read ``cfg``."""

    def __init__(self, cfg: HipcamConfig, data_dir: Path | None) -> None:
        self.cfg = cfg
        self.path = data_dir / SETTINGS_FILE if data_dir is not None else None
        self._lock = threading.Lock()
        self._base = {section: getattr(cfg, section) for section in EDITABLE}  # file + environment
        self._saved: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        """Apply the saved page settings at start-up; a bad file is logged and ignored, never fatal."""
        if self.path is None or not self.path.is_file():
            return
        try:
            saved = json.loads(self.path.read_text())
            self._apply(_validated(self.cfg, saved))
            self._saved = _merge({}, saved)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring the saved page settings in %s: %s", self.path, exc)

    def _apply(self, new: HipcamConfig) -> None:
        for section in EDITABLE:
            if getattr(self.cfg, section) != getattr(new, section):
                setattr(self.cfg, section, getattr(new, section))  # whole section: never half-applied

    def update(self, patch: Mapping[str, Any]) -> None:
        """Validate, save, then apply. Raises SettingsError (bad value) or OSError (not saved)."""
        with self._lock:
            new = _validated(self.cfg, patch)
            saved = _merge(self._saved, _values(new, patch))
            self._write(saved)
            self._saved = saved
            self._apply(new)

    def reset(self) -> None:
        """Forget the page settings: back to the config file and environment."""
        with self._lock:
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            self._saved = {}
            for section, value in self._base.items():
                setattr(self.cfg, section, value)

    def _write(self, saved: Mapping[str, Any]) -> None:
        if self.path is not None:
            write_text(self.path, json.dumps(saved, indent=2, sort_keys=True) + "\n")

    def current(self) -> dict[str, Any]:
        """What the page edits, as applied now, plus the allowed ranges and which keys the page set."""
        lo, hi = roll_range()
        return {
            "level": {"mode": self.cfg.level.mode, "roll_deg": self.cfg.level.roll_deg, "roll_min": lo, "roll_max": hi},
            "gait": {"direction": self.cfg.gait.direction},
            "server": {"open_viewing": self.cfg.server.open_viewing},
            "from_page": {section: sorted(values) for section, values in self._saved.items()},
            "persisted": self.path is not None,
        }
