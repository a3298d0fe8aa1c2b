"""Real pixels, known posture: edit a static-camera clip so the runner leans further forward by a known angle.

Per frame, hipcam's own BlazePose (keep_mask=True) gives the person mask and the hip and shoulder
midpoints. The body is then bent at the hip midpoint: every pixel keeps its distance from the hip and
has its angle about the hip turned by ``lean * w(phi)``, phi being the pixel's angle from the trunk
axis (0 toward the shoulders, +90 toward the running direction). w is 1 above the cut line through
the hip perpendicular to the trunk and 0 below it, feathered by a smoothstep over +-FEATHER_DEG
around the line: the upper body turns rigidly (the shoulders exactly by ``lean``), the legs stay
where they were, and the lower back bends over the feather instead of tearing or overlapping at a
hard cut. The original upper body (its mask, grown by HALO_PX) is replaced by the background before
the bent person is pasted back with the bent mask as alpha.

Background: the clip's per-pixel temporal median shows the empty scene only where the runner covers
a pixel in fewer than half the frames. On a treadmill he never leaves: comparing the plain median
with the frames shows his torso and shorts in it (``Background.runner_px`` counts the pixels where
the plain median is more than RUNNER_DIFF levels from the median of the person-free frames). So each
pixel the runner ever covers takes the median over the frames where BlazePose's mask (grown by
HALO_PX) leaves it free, and the pixels free in fewer than MIN_FREE frames (his torso core, always
covered) are filled with cv2.inpaint (Telea). The mask also flickers onto the treadmill's handrail
now and then; there the free-frame median keeps the rail instead of erasing it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hipcam.config import HipcamConfig
from hipcam.domain import HIPS, SHOULDERS
from hipcam.gait.kinematics import frame_direction
from hipcam.pose.tracker import BlazePose

FEATHER_DEG = 20.0  # half-width of the bend around the cut line (smoothstep), degrees about the hip
MASK_ON = 0.3  # mask probability counted as the person
HALO_PX = 6  # the mask is grown by this much: the person's soft edge and hair lie just outside it
MIN_FREE = 8  # frames a pixel must be person-free in for its free-frame median; fewer: inpainted
SCENE_DIFF = (10.0, 30.0)  # frame-background difference (levels) ramped from 'scene' to 'person'
RUNNER_DIFF = 25  # plain median further than this (max over channels) from the free median: runner
INPAINT_RADIUS = 7
FOURCC = "mp4v"


@dataclass
class Tracked:
    """A clip's frames (BGR) and what BlazePose saw in each."""

    frames: list[np.ndarray]
    masks: list[np.ndarray]  # uint8 [H, W], person probability x 255 (zeros where nobody was found)
    hips: np.ndarray  # [N, 2] hip midpoint in pixels, NaN where nobody was found
    shoulders: np.ndarray  # [N, 2] shoulder midpoint in pixels
    direction: int  # +1 running toward +x (image right), -1 toward -x
    fps: float  # the file's rate (the edited clips are written at it)


@dataclass
class Background:
    image: np.ndarray  # BGR uint8, the empty scene
    reliable: np.ndarray  # bool [H, W]: seen empty (not inpainted)
    hole_px: int  # pixels filled by cv2.inpaint (never person-free)
    runner_px: int  # pixels where the plain median shows the runner


@dataclass
class EditedClips:
    baseline: Path  # the same frames re-encoded unedited (the reference, same codec and size)
    clips: dict[float, Path]  # added lean (deg) -> edited clip
    frames: int
    fps: float
    direction: int
    background: Background
    seconds: dict[str, float] = field(default_factory=dict)  # time per phase


def read_frames(video: Path, max_frames: int) -> tuple[list[np.ndarray], float]:
    """The first ``max_frames`` BGR frames of ``video`` and its file rate."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise OSError(f"{video}: cannot open")
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frames: list[np.ndarray] = []
    while len(frames) < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, fps


def _midpoint(landmarks: np.ndarray, pair: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    return np.asarray(landmarks[list(pair), :2].mean(axis=0) * np.asarray(size), dtype=np.float64)


def track(frames: list[np.ndarray], fps: float, cfg: HipcamConfig) -> Tracked:
    """BlazePose with its mask over the frames, timed like `hipcam analyze` (frame index / file rate)."""
    pose = BlazePose.from_config(cfg, keep_mask=True)
    height, width = frames[0].shape[:2]
    masks, hips, shoulders = [], np.full((len(frames), 2), np.nan), np.full((len(frames), 2), np.nan)
    votes = 0
    for i, frame in enumerate(frames):
        result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), i / fps)
        mask = result.mask_image() if result is not None else None
        if result is None or mask is None:
            masks.append(np.zeros((height, width), np.uint8))
            continue
        masks.append(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8))
        hips[i] = _midpoint(result.landmarks, HIPS, (width, height))
        shoulders[i] = _midpoint(result.landmarks, SHOULDERS, (width, height))
        votes += frame_direction(result.landmarks[:, :2] * [width, height])
    return Tracked(frames, masks, hips, shoulders, 1 if votes >= 0 else -1, fps)


def _grown(mask: np.ndarray) -> np.ndarray:
    """The person (mask >= MASK_ON) grown by HALO_PX, as uint8 0/1."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * HALO_PX + 1, 2 * HALO_PX + 1))
    return cv2.dilate((mask >= MASK_ON * 255).astype(np.uint8), kernel)


def median_background(frames: list[np.ndarray], masks: list[np.ndarray]) -> Background:
    """The empty scene: plain median, free-frame median where the runner passes, inpaint where he stays."""
    stack = np.stack(frames)
    person = np.stack([_grown(m) for m in masks]).astype(bool)
    image = np.median(stack, axis=0).astype(np.uint8)
    ys, xs = np.nonzero(person.any(axis=0))
    covered = person[:, ys, xs]  # [N, P]
    values = stack[:, ys, xs, :].astype(np.int16)  # [N, P, 3]
    values[covered] = np.iinfo(np.int16).max  # sorted after every free sample
    values.sort(axis=0)
    free = (~covered).sum(axis=0)
    lower_median = np.clip((free - 1) // 2, 0, None)
    free_median = np.take_along_axis(values, lower_median[None, :, None].repeat(3, axis=2), axis=0)[0]
    usable = free >= MIN_FREE
    diff = np.abs(image[ys, xs].astype(np.int16) - free_median).max(axis=1)
    runner_px = int((usable & (diff > RUNNER_DIFF)).sum())
    image[ys[usable], xs[usable]] = free_median[usable].astype(np.uint8)
    hole = np.zeros(image.shape[:2], np.uint8)
    hole[ys[~usable], xs[~usable]] = 255
    hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    filled = cv2.inpaint(image, hole, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return Background(filled, hole == 0, int((hole > 0).sum()), runner_px + int((~usable).sum()))


def _weight(phi: np.ndarray, feather: float) -> np.ndarray:
    """w(phi): 1 above the cut line (|phi| < 90 deg), 0 below, smoothstep across +-feather."""
    t = np.clip((math.pi / 2 + feather - np.abs(phi)) / (2 * feather), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


def _inverse_bend(lean_deg: float, samples: int = 7201) -> tuple[np.ndarray, np.ndarray]:
    """(bent angle, source angle) tables of phi -> phi + lean * w(phi), increasing (lean * |w'| < 1)."""
    theta, feather = math.radians(lean_deg), math.radians(FEATHER_DEG)
    assert theta * 1.5 / (2 * feather) < 1.0, "the bend would fold over: widen FEATHER_DEG"
    src = np.linspace(-math.pi, math.pi, samples)
    return src + theta * _weight(src, feather), src


def _trunk_frame(hip: np.ndarray, shoulder: np.ndarray, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors: up the trunk (hip -> shoulders), and perpendicular to it toward the running direction."""
    up = (shoulder - hip) / np.linalg.norm(shoulder - hip)
    forward = np.array([-up[1], up[0]])
    return up, forward if forward[0] * direction >= 0 else -forward


def bend_maps(
    box: tuple[int, int, int, int], hip: np.ndarray, shoulder: np.ndarray, lean_deg: float, direction: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cv2.remap maps (source x, y of each pixel of ``box`` = x0, y0, x1, y1) of the bend by
    ``lean_deg`` forward, and the weight w of each box pixel's own angle (how far it turns)."""
    x0, y0, x1, y1 = box
    up, forward = _trunk_frame(hip, shoulder, direction)
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    vx, vy = gx - hip[0], gy - hip[1]
    radius = np.hypot(vx, vy)
    phi = np.arctan2(vx * forward[0] + vy * forward[1], vx * up[0] + vy * up[1])
    bent, source = _inverse_bend(lean_deg)
    src = np.interp(phi, bent, source)
    map_x = hip[0] + radius * (np.cos(src) * up[0] + np.sin(src) * forward[0])
    map_y = hip[1] + radius * (np.cos(src) * up[1] + np.sin(src) * forward[1])
    return map_x.astype(np.float32), map_y.astype(np.float32), _weight(phi, math.radians(FEATHER_DEG))


def _box(mask: np.ndarray, hip: np.ndarray, shoulder: np.ndarray, lean: float, d: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 holding the person's pixels that the bend turns, where they were and where they go."""
    ys, xs = np.nonzero(mask >= MASK_ON * 255)
    up, forward = _trunk_frame(hip, shoulder, d)
    v = np.stack([xs - hip[0], ys - hip[1]], axis=1)
    a, b = v @ up, v @ forward  # along the trunk, toward the running direction
    turned = np.abs(np.arctan2(b, a)) < math.pi / 2 + math.radians(FEATHER_DEG)
    a, b = a[turned], b[turned]
    c, s = math.cos(math.radians(lean)), math.sin(math.radians(lean))
    moved = np.outer(a * c - b * s, up) + np.outer(a * s + b * c, forward)
    points = np.concatenate([v[turned], moved, [[0.0, 0.0]]]) + hip
    margin = 2 * HALO_PX + 4  # the halo, the blur, and the arcs' bulge between the two ends
    height, width = mask.shape
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + margin + 1
    return max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1))


def person_alpha(frame: np.ndarray, mask: np.ndarray, background: Background) -> np.ndarray:
    """The mask (0..1) without what matches the empty scene: it flickers onto the treadmill's handrail,
    which must stay put. Kept whole where the background was inpainted (no empty view to compare)."""
    blur = (5, 5)
    diff = np.abs(cv2.GaussianBlur(frame, blur, 0).astype(np.int16) - cv2.GaussianBlur(background.image, blur, 0))
    lo, hi = SCENE_DIFF
    person = np.clip((diff.max(axis=2) - lo) / (hi - lo), 0.0, 1.0)
    person = cv2.morphologyEx(person.astype(np.float32), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return mask.astype(np.float32) / 255.0 * np.where(background.reliable, person, 1.0)


@dataclass(frozen=True)
class Bend:
    hip: np.ndarray
    shoulder: np.ndarray
    lean: float
    direction: int
    box: tuple[int, int, int, int]


def _bend(frame: np.ndarray, person: np.ndarray, halo: np.ndarray, background: Background, bend: Bend) -> np.ndarray:
    """The frame with the bend applied; person, halo: full-frame float alphas of the person and of its
    grown outline (what is replaced by the background where the bend moves pixels)."""
    x0, y0, x1, y1 = bend.box
    map_x, map_y, turned = bend_maps(bend.box, bend.hip, bend.shoulder, bend.lean, bend.direction)
    window = (slice(y0, y1), slice(x0, x1))
    a = cv2.remap(person, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
    bent = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    remove = (halo[window] * np.clip(4.0 * turned, 0.0, 1.0))[..., None]  # only where the bend moves pixels
    base = frame[window].astype(np.float32) * (1.0 - remove) + background.image[window].astype(np.float32) * remove
    out = frame.copy()
    out[window] = np.clip(base * (1.0 - a) + bent * a + 0.5, 0, 255).astype(np.uint8)
    return out


def edit_frame(
    frame: np.ndarray,
    mask: np.ndarray,
    hip: np.ndarray,
    shoulder: np.ndarray,
    background: Background,
    leans: tuple[float, ...],
    d: int,
) -> list[np.ndarray]:
    """The frame with the upper body bent forward about the hip midpoint by each of ``leans`` (deg)."""
    if not (np.isfinite(hip).all() and np.isfinite(shoulder).all() and mask.any()):
        return [frame.copy() for _ in leans]  # nobody found: nothing to bend
    bends = [Bend(hip, shoulder, lean, d, _box(mask, hip, shoulder, lean, d)) for lean in leans]
    boxes = np.array([b.box for b in bends])
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    window = (slice(int(y0), int(y1)), slice(int(x0), int(x1)))
    # remap reads at source coordinates anywhere in the frame: the alphas are full-frame
    person, halo = np.zeros(mask.shape, np.float32), np.zeros(mask.shape, np.float32)
    crop = Background(background.image[window], background.reliable[window], 0, 0)
    person[window] = person_alpha(frame[window], mask[window], crop)
    halo[window] = cv2.GaussianBlur(_grown(mask[window]).astype(np.float32), (5, 5), 0)
    return [_bend(frame, person, halo, background, bend) for bend in bends]


def _writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC), fps, size)
    if not writer.isOpened():
        raise OSError(f"{path}: cv2.VideoWriter({FOURCC}) cannot write")
    return writer


def side_by_side(left: np.ndarray, right: np.ndarray, path: Path, labels: tuple[str, str]) -> Path:
    """The two frames next to each other with a label on each, as a PNG."""
    panels = []
    for image, label in zip((left, right), labels, strict=True):
        panel = image.copy()
        cv2.putText(panel, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(panel, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(panel)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.hstack(panels))
    return path


def make_posture_clips(
    video: Path,
    leans: tuple[float, ...],
    out_dir: Path,
    *,
    cfg: HipcamConfig | None = None,
    max_frames: int = 540,
    preview: tuple[float, int, Path] | None = None,
) -> EditedClips:
    """The first ``max_frames`` of ``video`` unedited (re-encoded) and bent forward by each of ``leans``.

    preview: (lean, frame index, PNG path) for a side-by-side picture of that frame, unedited vs edited.
    """
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    frames, fps = read_frames(video, max_frames)
    tracked = track(frames, fps, cfg or HipcamConfig())
    seconds["track"], t = time.perf_counter() - t, time.perf_counter()
    background = median_background(tracked.frames, tracked.masks)
    seconds["background"], t = time.perf_counter() - t, time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    size = (frames[0].shape[1], frames[0].shape[0])
    baseline, clips = out_dir / "lean+0.mp4", {lean: out_dir / f"lean+{lean:g}.mp4" for lean in leans}
    writers = [_writer(path, fps, size) for path in (baseline, *clips.values())]
    for i, (frame, mask, hip, shoulder) in enumerate(
        zip(tracked.frames, tracked.masks, tracked.hips, tracked.shoulders, strict=True)
    ):
        edited = edit_frame(frame, mask, hip, shoulder, background, leans, tracked.direction)
        for writer, image in zip(writers, [frame, *edited], strict=True):
            writer.write(image)
        if preview is not None and preview[1] == i:
            labels = ("original", f"upper body +{preview[0]:g} deg")
            side_by_side(frame, edited[leans.index(preview[0])], preview[2], labels)
    for writer in writers:
        writer.release()
    seconds["edit+write"] = time.perf_counter() - t
    return EditedClips(baseline, clips, len(frames), fps, tracked.direction, background, seconds)
