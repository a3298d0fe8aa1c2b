"""Shared fixtures: where the fetched assets and the shared test data are."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from hipcam.config import load_config

# The machine is shared and noisy: no per-example deadline; CI explores a fixed, reproducible set.
settings.register_profile("hipcam", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("hipcam")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# Where `hipcam fetch` put the models: the config's paths.models_dir, as the environment sets it.
MODELS_DIR = load_config().paths.models()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    if not (MODELS_DIR / "pose_landmark_full.tflite").is_file():
        pytest.skip(f"models are not fetched into {MODELS_DIR}: run scripts/setup (it runs `hipcam fetch`)")
    return MODELS_DIR


@pytest.fixture(scope="session")
def demo_clip(models_dir: Path) -> Path:
    return models_dir / "demo.mp4"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (clone with ../shared beside the repo)")
    return SHARED_DATA
