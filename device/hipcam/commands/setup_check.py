"""`hipcam setup-check`: ~20 s of a runner on the treadmill -> the camera set-up checks (issue 16).

The frames come from a video file or the configured camera (as `serve` picks it), go through the pose
pipeline and into hipcam.service.setup_check's collector, the same the live page's check uses; the
checks themselves: hipcam.gait.setup_check.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from hipcam.atomic import write_text
from hipcam.capture import FrameSource, OpenCVSource
from hipcam.config import HipcamConfig
from hipcam.errors import HipcamError, VideoError
from hipcam.gait import setup_check
from hipcam.pose.tracker import BlazePose
from hipcam.service.setup_check import SetupCollector, people_detector


def gather(source: FrameSource, pose: BlazePose, seconds: float) -> SetupCollector:
    """Read ``seconds`` of capture time from an open source through the pose pipeline."""
    collector = SetupCollector(detect=people_detector(pose))
    while True:
        frame = source.read()
        if frame is None or collector.elapsed(frame.timestamp_s) >= seconds:
            break
        result = pose.process(frame.image, frame.timestamp_s)
        if result is None:
            collector.add(frame.image, frame.timestamp_s, None, None)
        else:
            collector.add(frame.image, frame.timestamp_s, result.landmarks, result.score)
    return collector


def _open(cfg: HipcamConfig, video: Path | None, fps: float | None) -> FrameSource:
    if video is not None:
        if not video.is_file():
            raise VideoError(f"{video}: no such file")
        source: FrameSource = OpenCVSource(str(video), "file", true_fps=fps or cfg.capture.true_fps, loop=False)
    else:
        from hipcam.commands.serve import build_source

        source = build_source(cfg, None)
    source.open()
    return source


def _write_image(path: Path, collector: SetupCollector, roll_deg: float | None) -> None:
    picture = collector.picture(roll_deg)
    if picture is None:
        raise HipcamError(f"{path}: not written, the runner was never found")
    ok, buf = cv2.imencode(path.suffix or ".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:
        raise HipcamError(f"{path}: cannot encode the picture as {path.suffix!r} (use .jpg or .png)")
    path.write_bytes(buf.tobytes())


def run_setup_check(
    cfg: HipcamConfig,
    *,
    video: Path | None,
    fps: float | None,
    seconds: float,
    json_out: Path | None,
    image_out: Path | None = None,
) -> int:
    """Print the checks; 0 when none fails, 1 when one does."""
    if fps is not None and not 1.0 <= fps <= 10000.0:
        raise HipcamError(f"--fps {fps}: expected the true capture rate, from 1 to 10000 frames/s")
    if not 1.0 <= seconds <= 600.0:
        raise HipcamError(f"--seconds {seconds}: expected 1 to 600")
    source = _open(cfg, video, fps)
    try:
        pose = BlazePose.from_config(cfg)
        collector = gather(source, pose, seconds)
        nominal = source.fps if video is not None else None
    finally:
        source.close()
    inp = collector.to_input(nominal)
    if inp is None:
        raise VideoError(f"{source.name}: no frames could be read")
    checks = setup_check.run_checks(inp)
    print(setup_check.format_table(checks))
    if json_out is not None:
        write_text(json_out, json.dumps(setup_check.to_dict(checks), indent=2) + "\n")
    if image_out is not None:
        _write_image(image_out, collector, inp.frames.roll_deg)
    return 1 if setup_check.overall(checks) == setup_check.FAIL else 0
