"""Frame sources (cameras, files, streams) behind one interface; see ``open_source``."""

from __future__ import annotations

from pathlib import Path

from hipcam.capture.base import Frame, FrameSource
from hipcam.capture.opencv_source import OpenCVSource
from hipcam.capture.picamera import PicameraSource, picamera_available
from hipcam.config import HipcamConfig
from hipcam.errors import AssetError

__all__ = ["Frame", "FrameSource", "OpenCVSource", "PicameraSource", "demo_clip", "make_source", "open_source"]

DEMO_CLIP = "demo.mp4"
URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


def demo_clip(cfg: HipcamConfig) -> Path:
    path = cfg.paths.models() / DEMO_CLIP
    if not path.is_file():
        raise AssetError(f"{path}: missing; run `hipcam fetch`")
    return path


def make_source(spec: str | None, cfg: HipcamConfig) -> FrameSource:
    """Build (not open) the source named by ``spec`` (default: capture.source).

    spec: auto | picamera | demo | a camera index ("0") | a device path (/dev/video2) | an
    rtsp/http URL | a video file. auto = the Pi camera if present, else /dev/video0, else the demo clip.
    """
    cap = cfg.capture
    spec = (spec or cap.source).strip()
    if spec == "auto":
        if picamera_available():
            spec = "picamera"
        elif Path("/dev/video0").exists():
            spec = "0"
        else:
            spec = "demo"
    if spec == "picamera":
        return PicameraSource(cap.width, cap.height, cap.fps)
    if spec.isdigit() or spec.startswith("/dev/"):
        device: int | str = int(spec) if spec.isdigit() else spec
        return OpenCVSource(device, "camera", width=cap.width, height=cap.height, fps=cap.fps)
    if spec.startswith(URL_SCHEMES):
        return OpenCVSource(spec, "url")
    path = demo_clip(cfg) if spec == "demo" else Path(spec).expanduser()
    return OpenCVSource(str(path), "file", true_fps=cap.true_fps, loop=cap.loop_files)


def open_source(spec: str | None, cfg: HipcamConfig) -> FrameSource:
    """``make_source`` + ``open()``: raises VideoError/AssetError with a one-line reason."""
    source = make_source(spec, cfg)
    source.open()
    return source
