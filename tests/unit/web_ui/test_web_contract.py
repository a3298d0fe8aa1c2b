"""The web's contracts: openapi.yaml says exactly what the app serves, with the one stride shape,
and every page-editable setting reaches the part of the device that applies it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from paths import REPO
from service_fakes import web_app

from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from hipcam.records.stride import COLUMNS
from hipcam.service import settings as settings_module
from hipcam.service.settings import EDITABLE, Settings, SettingsError

OPENAPI = REPO / "web_ui" / "openapi.yaml"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture()
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path)
    yield s
    s.close()


def _spec_paths() -> dict[str, list[str]]:
    """openapi.yaml's paths and their methods (read by indentation: the file keeps the plain
    two-space block style, so no YAML library is needed)."""
    text = OPENAPI.read_text()
    paths: dict[str, list[str]] = {}
    current = None
    for line in text[text.index("\npaths:\n") + len("\npaths:\n") :].splitlines():
        if m := re.match(r"^  (/\S*):\s*$", line):
            current = paths.setdefault(m.group(1), [])
        elif (m := re.match(r"^    (get|put|post|patch|delete|head|options):", line)) and current is not None:
            current.append(m.group(1))
        elif line and not line.startswith(" "):
            break
    return paths


def _schema_properties(name: str) -> list[str]:
    text = OPENAPI.read_text()
    block = text[text.index(f"\n    {name}:\n") :]
    names = []
    for line in block[block.index("      properties:\n") :].splitlines()[1:]:
        if not line.startswith("        "):
            break  # the end of this schema's properties
        if m := re.match(r"^        (\w+):", line):
            names.append(m.group(1))
    return names


def test_openapi_paths_and_methods_are_the_apps_routes(store: Store) -> None:
    from hipcam.service.metrics import Metrics

    app = web_app(store, health=Metrics(process_metrics=False))
    served = {
        (re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith("/static") and rule.rule.startswith(("/api/", "/stream/", "/healthz", "/metrics"))
        for method in rule.methods or ()
        if method not in IGNORED_METHODS
    }
    spec = _spec_paths()
    # The spec names the session parameter {id}; the app's rules say {session_id}.
    documented = {
        (path.replace("{id}", "{session_id}"), method.upper())
        for path, ops in spec.items()
        for method in ops
        if method.upper() not in IGNORED_METHODS
    }
    assert len(documented) > 20  # the reader found the spec's operations
    assert served - documented == set(), "served but not in openapi.yaml"
    assert documented - served == set(), "in openapi.yaml but not served"


def test_openapi_stride_is_the_one_record_shape() -> None:
    assert _schema_properties("Stride") == list(COLUMNS)


def _consumer_sees(app: Any, section: str, key: str) -> Any:
    """What the consumer of a page setting reads: the settings channel's applied snapshot."""
    applied = app.extensions["hipcam"].settings.applied()
    field = EDITABLE[section][key]
    value = getattr(applied, field)
    return getattr(value, key) if hasattr(value, key) else value


# A value other than the default for every page-editable key.
CHANGED: dict[tuple[str, str], Any] = {
    ("level", "mode"): "manual",
    ("level", "roll_deg"): 3.5,
    ("gait", "direction"): "left",
    ("walkup", "enabled"): True,
    ("walkup", "settle_s"): 8.0,
    ("walkup", "strides_per_leg"): 12,
    ("walkup", "card_hold_s"): 30.0,
    ("walkup", "link_ttl_s"): 600.0,
    ("walkup", "keep_hours"): 48.0,
    ("server", "open_viewing"): False,
}


def test_every_page_editable_key_is_applied(store: Store) -> None:
    from test_api import PIN_HASH, _login

    cfg = HipcamConfig.model_validate({"server": {"pin_hash": PIN_HASH}})
    app = web_app(store, cfg)
    client = app.test_client()
    h = {"X-CSRF-Token": _login(client)}
    editable = {(section, key) for section, keys in EDITABLE.items() for key in keys}
    assert editable == set(CHANGED), "a page-editable key without a test value here"
    for (section, key), value in CHANGED.items():
        version = app.extensions["hipcam"].settings.applied().version
        r = client.post("/api/settings", json={section: {key: value}}, headers=h)
        assert r.status_code == 200, r.get_json()
        assert _consumer_sees(app, section, key) == value, f"{section}.{key} saved but not applied"
        assert app.extensions["hipcam"].settings.applied().version == version + 1
    assert client.get("/api/auth").get_json()["open_viewing"] is False


def test_a_page_editable_key_without_a_consumer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(settings_module.EDITABLE, "capture", {"fps": "capture_fps"})
    with pytest.raises(SettingsError, match=r"capture\.fps: page-editable, but no consumer"):
        Settings(HipcamConfig(), None)
