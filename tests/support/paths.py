"""Where things are, for the tests: the repository, its test data, the shared clips beside it, and
the models `hipcam fetch` put where the configuration says."""

from __future__ import annotations

from pathlib import Path

from hipcam.assets import load_manifest
from hipcam.config import load_config

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
FAKES = REPO / "tests" / "support" / "fakes"
SHARED_DATA = REPO.parent / "shared" / "data"
MODELS_DIR = load_config().paths.models()
FETCHED = tuple(asset.file for asset in load_manifest())  # the models and the demo clip
