"""User-facing errors: the CLI prints the message as one line and exits non-zero."""


class HipcamError(Exception):
    """An error whose message is written for the person at the keyboard, not for a developer."""

    exit_code = 2


class AssetError(HipcamError):
    """A model or demo clip is missing, unreachable or fails its checksum."""


class LandmarksFileError(HipcamError):
    """A landmarks .npz file is missing or not in the hipcam/MediaPipe reference format."""


class VideoError(HipcamError):
    """A video source cannot be opened or decoded."""


class ConfigError(HipcamError):
    """The configuration file or an override is invalid."""
