"""hipcam: treadmill-side camera firmware measuring hip extension live.

Layers, top to bottom (checked by import-linter, see ``[tool.importlinter]`` in pyproject.toml):
``commands`` (the CLI and the composition roots) > ``web_ui`` > ``service`` > ``pose`` | ``gait`` |
``capture`` (independent of one another) > ``vision`` > ``records`` | ``config`` | ``auth`` >
``domain`` | ``errors`` | ``atomic``. A module imports only from its own layer's package or below.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hipcam")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
