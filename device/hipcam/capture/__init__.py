"""Frame sources (cameras, files, streams) behind one interface: ``spec.parse_source`` says what a
source spec means, ``make_source`` builds it, ``open_source`` opens it.

Independent of pose and gait; may import vision, config, domain and errors.
"""

from __future__ import annotations

from pathlib import Path

from hipcam.capture.base import Frame, FrameSource
from hipcam.capture.opencv_source import OpenCVSource
from hipcam.capture.picamera import PicameraSource, picamera_available
from hipcam.capture.spec import SourceSpec, SourceSpecError, parse_source
from hipcam.config import HipcamConfig
from hipcam.errors import AssetError

__all__ = [
    "Frame",
    "FrameSource",
    "OpenCVSource",
    "PicameraSource",
    "SourceSpec",
    "SourceSpecError",
    "demo_clip",
    "make_source",
    "open_source",
    "parse_source",
    "resolve_auto",
]

DEMO_CLIP = "demo.mp4"


def demo_clip(cfg: HipcamConfig) -> Path:
    path = cfg.paths.models() / DEMO_CLIP
    if not path.is_file():
        raise AssetError(f"{path}: missing; run `hipcam fetch`")
    return path


def resolve_auto() -> SourceSpec:
    """auto = the Pi camera if present, else /dev/video0, else the demo clip."""
    if picamera_available():
        return SourceSpec("picamera")
    if Path("/dev/video0").exists():
        return SourceSpec("camera", 0)
    return SourceSpec("demo")


def make_source(spec: str | None, cfg: HipcamConfig) -> FrameSource:
    """Build (not open) the source named by ``spec`` (default: capture.source); see ``parse_source``.

    Raises SourceSpecError for a spec that names no source, AssetError for a missing demo clip.
    """
    cap = cfg.capture
    parsed = parse_source(spec or cap.source)
    if parsed.kind == "auto":
        parsed = resolve_auto()
    if parsed.kind == "picamera":
        return PicameraSource(cap.width, cap.height, cap.fps)
    if parsed.kind == "camera":
        assert parsed.target is not None
        return OpenCVSource(parsed.target, "camera", width=cap.width, height=cap.height, fps=cap.fps)
    if parsed.kind == "url":
        return OpenCVSource(str(parsed.target), "url")
    path = demo_clip(cfg) if parsed.kind == "demo" else Path(str(parsed.target))
    return OpenCVSource(str(path), "file", true_fps=cap.true_fps, loop=cap.loop_files)


def open_source(spec: str | None, cfg: HipcamConfig) -> FrameSource:
    """``make_source`` + ``open()``: raises VideoError/AssetError with a one-line reason."""
    source = make_source(spec, cfg)
    source.open()
    return source
