"""The guided camera set-up check (issue 16): ~20 s of landmarks + a few frame measures -> checks.

Pure numpy. Each check is pass / warn / fail with its measured value and a one-sentence fix; the
thresholds and why they are where they are: docs/setup-check.md. The frame measures (brightness,
foot sharpness, camera roll, other people) come from hipcam.vision and the pose detector, gathered
by whoever runs the frames (the `hipcam setup-check` command, the live service).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hipcam.domain import Landmark as L

PASS, WARN, FAIL = "pass", "warn", "fail"
STATUSES = (PASS, WARN, FAIL)

NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = L.NOSE, L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP
FEET = (L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)
BODY_EDGE = (0, *FEET)  # the head and both feet: the whole body is inside when these are

# Side-on: the left-right spread of the shoulders and of the hips over the trunk length. Seen side-on
# both pairs overlap (0-0.2 with the arm swing and a little turn); front-on a shoulder width is ~0.8 of
# the trunk length. Above 0.3 the hip and knee angles shrink by several degrees (cos of the turn).
SIDE_WARN, SIDE_FAIL = 0.30, 0.50
# Whole body in frame: the head, heels and toes this far inside the image edges (share of the side)...
EDGE_MARGIN = 0.01
# ...in this share of the frames with a person: a foot outside the frame in more than 1 stride in 20
# loses that stride's foot strike or toe-off.
IN_FRAME_PASS, IN_FRAME_WARN = 0.95, 0.80
# Runner size, stature in pixels: the landmark model sees a 256 px crop; below ~200 px the feet and
# hips are a few pixels wide and their landmarks jitter by degrees. Stature = nose-to-sole / 0.9 (the
# nose sits ~10 % of the stature below the top of the head).
SIZE_FAIL_PX, SIZE_WARN_PX = 200.0, 300.0
NOSE_TO_SOLE = 0.9
# Camera height: the hips' row (share of the image height from the top). At hip height the thigh is
# seen square-on; a camera far above or below tilts the view and foreshortens the thigh. Beyond 15 %
# from an edge the legs (half the stature) or the trunk cannot fit on that side.
HIP_ROW_PASS = (0.33, 0.67)
HIP_ROW_WARN = (0.15, 0.85)
# Roll (deg): the analysis levels a known roll, but beyond a few degrees the trunk lean and hip
# extension read off by the same amount when the estimate misses it.
ROLL_WARN, ROLL_FAIL = 3.0, 5.0
# Frame rate: foot contact lasts ~200 ms when running; 60 fps gives 12 frames per contact (events to
# +-8 ms), 30 fps 6 (usable, coarse), below 25 events are off by more than a frame of 40 ms.
FPS_PASS, FPS_FAIL = 60.0, 25.0
DROP_WARN, DROP_FAIL = 0.02, 0.10  # share of the camera's frames lost (intervals longer than 1.5x)
# The live analysis takes the freshest frame: skipping some only coarsens the events (a warning).
ANALYSED_WARN = 0.90
# Exposure (8-bit luma): the runner's median brightness; below 45 the landmark model loses the feet
# against the treadmill, below 70 it works but jitters. Backlight: the background this much brighter.
LUMA_FAIL, LUMA_WARN = 45.0, 70.0
BACKLIGHT_WARN = 70.0
SHARP_WARN = 20.0  # Laplacian variance on the feet: a smeared foot (slow shutter) scores lower
# Other people: the detector's periodic re-check may move to someone who is in view this often.
OTHERS_WARN, OTHERS_FAIL = 0.10, 0.50
# Detector confidence: the share of frames with a person and the landmark model's median pose score.
FOUND_PASS, FOUND_WARN = 0.95, 0.80
SCORE_PASS = 0.90


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail
    value: str  # the measured value, for the table
    fix: str  # one sentence; what to do (or that nothing needs doing)
    number: float | None = None  # the measure behind `value`, for JSON and tests


@dataclass
class FrameMeasures:
    """What the frames (not the landmarks) say, gathered on a few sampled frames."""

    roll_deg: float | None = None  # the camera roll estimated from the image's lines
    roll_confidence: float = 0.0
    person_luma: float | None = None  # median 8-bit luma inside the runner's box
    background_luma: float | None = None  # median luma outside it
    foot_sharpness: float | None = None  # median Laplacian variance on the feet
    others_share: float | None = None  # share of the sampled frames with another person in view
    samples: int = 0


@dataclass
class SetupInput:
    landmarks: np.ndarray  # [N, 33, >=4] normalized x, y, z, visibility (NaN: nobody)
    width: int
    height: int
    timestamps_s: np.ndarray  # [N] capture times
    scores: np.ndarray  # [N] the landmark model's pose score (NaN: nobody)
    frames: FrameMeasures = field(default_factory=FrameMeasures)
    nominal_fps: float | None = None  # the source's stated rate (files: the only one there is)
    frame_indices: np.ndarray | None = None  # [N] the source's frame numbers (None: consecutive)


def _grade(value: float, warn: float, fail: float) -> str:
    """Higher is worse."""
    return FAIL if value > fail else WARN if value > warn else PASS


def _found(inp: SetupInput) -> np.ndarray:
    return np.isfinite(inp.landmarks[:, 0, 0])


def _px(inp: SetupInput) -> np.ndarray:
    lm = inp.landmarks[_found(inp)]
    return np.asarray(lm[..., :2], np.float64) * [inp.width, inp.height]


def check_side_view(inp: SetupInput) -> Check:
    px = _px(inp)
    if len(px) == 0:
        return Check("side view", FAIL, "no runner", "Put the runner in front of the camera.")
    shoulders = np.abs(px[:, L_SHOULDER, 0] - px[:, R_SHOULDER, 0])
    hips = np.abs(px[:, L_HIP, 0] - px[:, R_HIP, 0])
    mid_s = (px[:, L_SHOULDER] + px[:, R_SHOULDER]) / 2
    mid_h = (px[:, L_HIP] + px[:, R_HIP]) / 2
    trunk = np.maximum(np.hypot(*(mid_s - mid_h).T), 1.0)
    ratio = float(np.median((shoulders + hips) / 2 / trunk))
    status = _grade(ratio, SIDE_WARN, SIDE_FAIL)
    fix = (
        "The camera sees the runner side-on."
        if status == PASS
        else "Turn the camera to face the treadmill's side square-on, its axis across the belt."
    )
    return Check("side view", status, f"width/trunk {ratio:.2f}", fix, ratio)


def inside(landmarks: np.ndarray, points: tuple[int, ...] = BODY_EDGE) -> np.ndarray:
    """Per frame (landmarks [..., 33, >=2], normalized): all `points` at least EDGE_MARGIN inside every
    edge (a NaN point is not). The set-up check's test, also the live page's (service.limits)."""
    xy = np.asarray(landmarks, np.float64)[..., list(points), :2]
    with np.errstate(invalid="ignore"):
        return np.asarray(((xy >= EDGE_MARGIN) & (xy <= 1.0 - EDGE_MARGIN)).all(axis=(-2, -1)))


def check_in_frame(inp: SetupInput) -> Check:
    found = _found(inp)
    if not found.any():
        return Check("whole body in frame", FAIL, "no runner", "Put the runner in front of the camera.")
    share = float(inside(inp.landmarks[found]).mean() * found.mean())
    feet = np.asarray(inp.landmarks[found][:, FEET, 1], np.float64)
    where = "the feet" if np.mean(feet > 1.0 - EDGE_MARGIN) > 0.02 else "the head or feet"
    status = PASS if share >= IN_FRAME_PASS else WARN if share >= IN_FRAME_WARN else FAIL
    fix = (
        "Head and both feet stay in frame across the stride."
        if status == PASS
        else f"Move the camera back or widen the view until {where} stay inside the picture all stride."
    )
    return Check("whole body in frame", status, f"{share:.0%} of frames", fix, share)


def check_size(inp: SetupInput) -> Check:
    px = _px(inp)
    if len(px) == 0:
        return Check("runner size", FAIL, "no runner", "Put the runner in front of the camera.")
    tall = np.nanmax(px[:, FEET, 1], axis=1) - px[:, NOSE, 1]
    height = float(np.median(tall)) / NOSE_TO_SOLE
    status = FAIL if height < SIZE_FAIL_PX else WARN if height < SIZE_WARN_PX else PASS
    fix = (
        "The runner is big enough in the picture."
        if status == PASS
        else "Move the camera closer or raise the resolution so the runner is taller in the picture."
    )
    return Check("runner size", status, f"{height:.0f} px tall", fix, height)


def check_height(inp: SetupInput) -> Check:
    found = _found(inp)
    if not found.any():
        return Check("camera height", FAIL, "no runner", "Put the runner in front of the camera.")
    lm = np.asarray(inp.landmarks[found], np.float64)
    row = float(np.median((lm[:, L_HIP, 1] + lm[:, R_HIP, 1]) / 2))
    if HIP_ROW_PASS[0] <= row <= HIP_ROW_PASS[1]:
        status = PASS
    else:
        status = WARN if HIP_ROW_WARN[0] <= row <= HIP_ROW_WARN[1] else FAIL
    if status == PASS:
        fix = "The camera is near hip height."
    elif row < 0.5:  # hips high in the picture: the camera looks below them
        fix = "Raise the camera (or tilt it up) so the runner's hips are near the picture's middle row."
    else:  # hips low in the picture: the camera looks above them
        fix = "Lower the camera (or tilt it down) so the runner's hips are near the picture's middle row."
    return Check("camera height", status, f"hips at {row:.0%} of height", fix, row)


def check_roll(inp: SetupInput) -> Check:
    roll = inp.frames.roll_deg
    if roll is None:
        return Check(
            "camera roll",
            WARN,
            "not measurable",
            "No straight edges were found: check with a spirit level that the camera is level.",
        )
    status = _grade(abs(roll), ROLL_WARN, ROLL_FAIL)
    side = "clockwise" if roll > 0 else "anticlockwise"
    fix = (
        "The camera is level."
        if status == PASS
        else f"Turn the camera {abs(roll):.0f} deg {side} (seen from behind it) to level it."
    )
    return Check("camera roll", status, f"{roll:+.1f} deg", fix, roll)


def frame_rate(
    timestamps_s: np.ndarray, nominal: float | None, indices: np.ndarray | None = None
) -> tuple[float, float, float]:
    """(the camera's frames per second, share of its frames dropped, share of its frames analysed)
    from the analysed frames' timestamps and source frame numbers (None: consecutive), else the
    nominal rate. The camera's rate is per source frame, so frames the analysis skipped (the frame
    loop takes the freshest) do not lower it; the camera's frames missing from the time span, at the
    median rate, are the dropped ones."""
    t = np.asarray(timestamps_s, np.float64)
    idx = np.arange(len(t), dtype=np.float64) if indices is None else np.asarray(indices, np.float64)
    ok = np.isfinite(t) & np.isfinite(idx)
    t, idx = t[ok], idx[ok]
    dt, di = np.diff(t), np.diff(idx)
    good = (dt > 0) & (di > 0)
    if good.sum() < 5:
        return (nominal or 0.0), 0.0, 1.0
    per_frame = dt[good] / di[good]
    median = float(np.median(per_frame))
    span = float(t[-1] - t[0])
    seen = float(idx[-1] - idx[0])  # source frames after the first
    expected = span / median
    dropped = float(np.clip(1.0 - seen / expected, 0.0, 1.0)) if expected > 0 else 0.0
    analysed = float(len(t) - 1) / seen if seen > 0 else 1.0
    return 1.0 / median, dropped, analysed


def check_fps(inp: SetupInput) -> Check:
    fps, dropped, analysed = frame_rate(inp.timestamps_s, inp.nominal_fps, inp.frame_indices)
    value = f"{fps:.0f} fps, {dropped:.0%} dropped" + (f", {analysed:.0%} analysed" if analysed < 0.99 else "")
    if fps < FPS_FAIL or dropped > DROP_FAIL:
        status = FAIL
    elif fps < FPS_PASS or dropped > DROP_WARN or analysed < ANALYSED_WARN:
        status = WARN
    else:
        status = PASS
    if fps < FPS_PASS:
        fix = "Set the camera to 60 fps (or more) for accurate foot strikes and toe-offs."
    elif dropped > DROP_WARN:
        fix = "The camera drops frames: lower its resolution or give it more light (shorter exposures)."
    elif analysed < ANALYSED_WARN:
        fix = "The analysis skips frames: lower the capture resolution or close other programs."
    else:
        fix = "The frame rate is enough for stride events."
    return Check("frame rate", status, value, fix, fps)


def check_exposure(inp: SetupInput) -> Check:
    fm = inp.frames
    if fm.person_luma is None:
        return Check("exposure", FAIL, "no runner", "Light the treadmill so the runner can be seen.")
    luma, back = fm.person_luma, fm.background_luma
    backlight = back - luma if back is not None else 0.0
    sharp = fm.foot_sharpness
    value = f"runner {luma:.0f}/255, background {back or 0:.0f}" + (f", feet sharpness {sharp:.0f}" if sharp else "")
    if luma < LUMA_FAIL:
        return Check("exposure", FAIL, value, "Too dark: add light on the runner or raise the exposure.", luma)
    if backlight > BACKLIGHT_WARN:
        fix = "Backlit: move the camera so no window or lamp is behind the runner, or light the runner."
        return Check("exposure", WARN, value, fix, luma)
    if luma < LUMA_WARN:
        return Check("exposure", WARN, value, "Dim: add light on the runner for steadier landmarks.", luma)
    if sharp is not None and sharp < SHARP_WARN:
        fix = "The feet are blurred: use a shorter shutter time (more light) to freeze the foot."
        return Check("exposure", WARN, value, fix, luma)
    return Check("exposure", PASS, value, "The runner is well exposed.", luma)


def check_others(inp: SetupInput) -> Check:
    share = inp.frames.others_share
    if share is None:
        return Check("other people", WARN, "not measured", "Keep other people out of the camera's view.")
    status = FAIL if share >= OTHERS_FAIL else WARN if share >= OTHERS_WARN else PASS
    fix = (
        "Only the runner is in view."
        if status == PASS
        else "Someone else is in view: aim the camera so only the treadmill is in the picture."
    )
    return Check("other people", status, f"in {share:.0%} of samples", fix, share)


def check_confidence(inp: SetupInput) -> Check:
    found = _found(inp)
    share = float(found.mean()) if len(found) else 0.0
    scores = np.asarray(inp.scores, np.float64)
    scores = scores[np.isfinite(scores)]
    score = float(np.median(scores)) if len(scores) else 0.0
    value = f"found in {share:.0%}, score {score:.2f}"
    reliable = share >= FOUND_PASS and score >= SCORE_PASS
    status = PASS if reliable else WARN if share >= FOUND_WARN else FAIL
    fix = (
        "The detector finds the runner reliably."
        if status == PASS
        else "The runner is often lost: improve the light, clear the background and fill more of the picture."
    )
    return Check("detector confidence", status, value, fix, share)


CHECKS = (
    check_side_view,
    check_in_frame,
    check_size,
    check_height,
    check_roll,
    check_fps,
    check_exposure,
    check_others,
    check_confidence,
)


def run_checks(inp: SetupInput) -> list[Check]:
    """Every check, in the order the installer should fix them."""
    return [check(inp) for check in CHECKS]


def overall(checks: list[Check]) -> str:
    """The worst status."""
    statuses = {c.status for c in checks}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS


def to_dict(checks: list[Check]) -> dict[str, object]:
    return {
        "status": overall(checks),
        "checks": [
            {"name": c.name, "status": c.status, "value": c.value, "fix": c.fix, "number": c.number} for c in checks
        ],
    }


def format_table(checks: list[Check]) -> str:
    name_w = max(len(c.name) for c in checks)
    value_w = max(len(c.value) for c in checks)
    lines = [f"{'check':<{name_w}}  status  {'measured':<{value_w}}  fix"]
    lines += [f"{c.name:<{name_w}}  {c.status:<6}  {c.value:<{value_w}}  {c.fix}" for c in checks]
    lines.append(f"overall: {overall(checks)}")
    return "\n".join(lines)
