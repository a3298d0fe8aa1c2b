"""Reading the small secret files the hub is given (device tokens, the broker password)."""

from __future__ import annotations

from pathlib import Path

from hipcam.errors import ConfigError


def read_secret(path: Path, what: str) -> str:
    """The first line of a secret file; a ConfigError naming ``what`` if it cannot be read or is empty."""
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path}: file not found") from None
    except PermissionError:
        raise ConfigError(f"{what} {path}: not readable by this user (permission denied)") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path}: is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not line:
        raise ConfigError(f"{what} {path}: the file is empty")
    return line
