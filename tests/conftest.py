"""Shared fixtures: where the fetched assets and the shared test data are; the fake picamera2."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings
from paths import FAKES, FETCHED, MODELS_DIR, SHARED_DATA

# The machine is shared and noisy: no per-example deadline; CI explores a fixed, reproducible set.
settings.register_profile("hipcam", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("hipcam")


def models_missing() -> str | None:
    """Why the fetched assets cannot be used (a skip reason), or None when they are all there."""
    missing = [name for name in FETCHED if not (MODELS_DIR / name).is_file()]
    if not missing:
        return None
    return f"{', '.join(missing)} not fetched into {MODELS_DIR}: run scripts/setup (it runs `hipcam fetch`)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # For tests that reach the assets without the fixtures (a subprocess serving the demo clip).
    if reason := models_missing():
        for item in items:
            if item.get_closest_marker("needs_models"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The fetched models and demo clip; the test is skipped, with the reason, when any is missing."""
    if reason := models_missing():
        pytest.skip(reason)
    return MODELS_DIR


@pytest.fixture(scope="session")
def demo_clip(models_dir: Path) -> Path:
    return models_dir / "demo.mp4"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (clone with ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """tests/fakes/picamera2 as ``picamera2`` for one test (even on a Pi with the real one), fresh state."""
    real = sys.modules.pop("picamera2", None)
    monkeypatch.syspath_prepend(str(FAKES))
    module = importlib.import_module("picamera2")
    assert Path(str(module.__file__)).is_relative_to(FAKES), module.__file__
    module.reset()
    yield module
    sys.modules.pop("picamera2", None)
    if real is not None:
        sys.modules["picamera2"] = real
