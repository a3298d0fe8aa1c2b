"""The one parser of a source spec (``capture.source``, ``--source``): what kind of source, and where.

``make_source`` builds from it and ``hipcam config check`` validates with it, so the two can never
disagree about what a spec means. Parsing is pure (no file or device is touched); whether the file
exists or the camera opens is the caller's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from hipcam.errors import VideoError

SourceKind = Literal["auto", "picamera", "demo", "camera", "url", "file"]
NAMED: tuple[SourceKind, ...] = ("auto", "picamera", "demo")
# What OpenCV's FFmpeg backend opens as a live network stream. file:// is not a stream: it is
# read as the local path it names (FFmpeg would open it, but the file checks need the path).
URL_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp", "rtp", "srt")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Query parameters whose value is a secret (matched on the name, case-insensitively).
_SECRET_PARAM = re.compile(r"(?i)([?&;](?:[\w.-]*(?:pass|pwd|token|secret|key|auth|sig|credential)[\w.-]*)=)[^&;#]*")
REDACTED = "***"


class SourceSpecError(VideoError):
    """A source spec that names no source hipcam can open (e.g. an unsupported URL scheme)."""


@dataclass(frozen=True)
class SourceSpec:
    """A parsed spec. target: the camera index (int) or device path for ``camera``, the URL for
    ``url``, the expanded path for ``file``, None for the named kinds (auto, picamera, demo)."""

    kind: SourceKind
    target: int | str | None = None


def redacted(spec: str) -> str:
    """``spec`` as it may be shown or logged: a URL's user and password, and the values of query
    parameters named like secrets (password=, pwd=, token=, ...), replaced by ``***``. What the
    source opens is the spec itself; every name a person or a log sees goes through here."""
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, spec)
    match = _SCHEME.match(text.strip())
    if match is None:
        return text
    try:
        parts = urlsplit(text.strip())
    except ValueError:  # e.g. an unbalanced [ in the host: show only the scheme
        return f"{match.group(1)}://{REDACTED}"
    if "@" not in parts.netloc:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def parse_source(spec: str) -> SourceSpec:
    """Parse a spec; raises SourceSpecError (one line) when it cannot name a source."""
    text = spec.strip()
    if not text:
        raise SourceSpecError("source is empty (auto | picamera | demo | camera index | /dev path | URL | video file)")
    for name in NAMED:
        if text == name:
            return SourceSpec(name)
    # isascii: "²".isdigit() is True but int("²") fails.
    if text.isascii() and text.isdigit():
        return SourceSpec("camera", int(text))
    if text.startswith("/dev/"):
        return SourceSpec("camera", text)
    match = _SCHEME.match(text)
    if match is None:
        return SourceSpec("file", str(Path(text).expanduser()))
    scheme = match.group(1).lower()
    if scheme in URL_SCHEMES:
        return SourceSpec("url", text)
    if scheme == "file":
        return SourceSpec("file", _file_url_path(text))
    supported = ", ".join(URL_SCHEMES)
    raise SourceSpecError(f"{redacted(text)}: unsupported URL scheme {scheme}:// (supported: {supported}, file)")


def _file_url_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise SourceSpecError(f"{redacted(url)}: a file:// URL must name a local file (file:///path/to/video.mp4)")
    if not parts.path:
        raise SourceSpecError(f"{url}: no file path after file://")
    return unquote(parts.path)
