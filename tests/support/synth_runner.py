"""Synthetic side-view treadmill runner: 33-landmark sequences with known gait and posture.

Per leg, a phase runs from foot strike (0) through toe-off (`duty`) to the next strike (1). The
thigh angle follows cosine blends between key values (zero slope at each key, so the key values are
its extremes: the peak thigh angle falls exactly on toe-off). The foot moves backward at belt speed
on the ground during stance and swings forward in the air, so relative to the pelvis the heel is
furthest forward at strike and the foot tip furthest back at toe-off (the events' ground truth).
The far leg is less visible, the whole picture is rolled by `roll_deg`, Gaussian pixel noise is added
and some frames / landmarks are dropped. `render_mask` draws a matching silhouette.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from hipcam.records.landmarks_file import LandmarkSeries
from hipcam.vision import mask_features as mf


@dataclass
class RunnerSpec:
    cadence_spm: float = 170.0
    trunk_lean_deg: float = 5.0  # positive forward; negative = tipped backward
    peak_thigh_deg: float = 20.0  # thigh behind vertical at toe-off
    lumbar_depth_ratio: float = 0.03  # rendered mask: constant lordosis / build / clothing (must not read as D)
    arch_increase_ratio: float = 0.0  # rendered mask: extra lumbar depth at each push-off (the D pattern)
    roll_deg: float = 0.0
    direction: str = "right"
    fps: float = 60.0
    duration_s: float = 8.0
    duty: float = 0.38
    noise_px: float = 0.8
    drop_frame_prob: float = 0.01
    drop_landmark_prob: float = 0.01
    far_visibility: float = 0.8
    width: int = 640
    height: int = 480
    seed: int = 0
    scale: float = 1.0  # body size factor
    overground: bool = False  # walk across the frame: the pelvis moves, the stance foot stays put in the image
    start_x: float | None = None  # pelvis x at t=0 (px); default: centre, or the left/right edge overground
    walking: bool = False  # the pelvis vaults (highest at mid-stance) instead of bouncing: see `walker()`
    bob_px: float | None = None  # pelvis bob amplitude (x scale; range 2x); None: 4 running, -5 walking
    # The side-view metric set with known values (`_known_leg`): the foot's inclination at contact and
    # the shank's angle are prescribed (zero slope at contact), the knee sits on the shank; the truth
    # per frame is in Synth.known. Off by default: the legs every other test relies on stay as they are.
    known_leg: bool = False
    foot_strike_deg: float = 15.0  # heel -> foot tip against the ground at contact, + toes up
    shank_strike_deg: float = 8.0  # knee -> ankle from the vertical at contact, + ankle ahead of the knee
    shank_mid_stance_deg: float = -18.0
    shank_toe_off_deg: float = -32.0


@dataclass
class Synth:
    series: LandmarkSeries
    spec: RunnerSpec
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (time s, leg, type)
    px: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [N, 33, 2] rolled pixels, noise-free
    lumbar_depth: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [N] rendered concavity depth
    # known_leg: per frame truth, keys "<metric>_<leg>" (foot_incl, shank, knee_flex in deg, overstride
    # in trunk lengths), from the noise-free, un-rolled geometry; "pelvis_range" in trunk lengths.
    known: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def stance_s(self) -> float:
        return self.spec.duty * 120.0 / self.spec.cadence_spm

    @property
    def flight_s(self) -> float:
        """Per stride: two flight phases of (0.5 - duty) strides each (0 with double support)."""
        return 2.0 * max(0.0, 0.5 - self.spec.duty) * 120.0 / self.spec.cadence_spm

    def event_frames(self, leg: str, kind: str) -> np.ndarray:
        return np.array([t * self.spec.fps for t, lg, k in self.events if lg == leg and k == kind])

    @property
    def hip_extension_deg(self) -> float:
        return self.spec.peak_thigh_deg - self.spec.trunk_lean_deg


def walker(**overrides: object) -> RunnerSpec:
    """A treadmill walker: 110 steps/min, stance 62 % of the stride (double support), pelvis vaulting."""
    base: dict[str, object] = {"cadence_spm": 110.0, "duty": 0.62, "peak_thigh_deg": 15.0, "walking": True}
    return RunnerSpec(**{**base, **overrides})  # type: ignore[arg-type]


def _blend(phase: np.ndarray, keys: list[tuple[float, float]]) -> np.ndarray:
    """Cosine interpolation through (phase, value) keys on [0, 1] (periodic: last key = first)."""
    out = np.empty_like(phase)
    for (p0, v0), (p1, v1) in itertools.pairwise(keys):
        sel = (phase >= p0) & (phase < p1)
        s = (phase[sel] - p0) / (p1 - p0)
        out[sel] = v0 + (v1 - v0) * (0.5 - 0.5 * np.cos(np.pi * s))
    return out


def generate(spec: RunnerSpec) -> Synth:
    rng = np.random.default_rng(spec.seed)
    n = int(spec.duration_s * spec.fps)
    t = np.arange(n) / spec.fps
    period = 120.0 / spec.cadence_spm  # one stride = two steps
    d = 1.0 if spec.direction == "right" else -1.0
    k = spec.scale
    trunk, thigh_len, shank, foot = 150 * k, 105 * k, 100 * k, 45 * k
    a, b = 0.45 * trunk, 0.55 * trunk  # foot ahead of / behind the pelvis at strike / toe-off
    # Overground the pelvis moves at the speed the stance foot slides back relative to it on a
    # treadmill, so the stance foot stands still in the image (relative to the pelvis nothing changes).
    speed = (a + b) / (spec.duty * period) if spec.overground else 0.0
    x0 = spec.start_x if spec.start_x is not None else (0.1 * spec.width if d > 0 else 0.9 * spec.width)
    hip0 = np.array([x0 if spec.overground or spec.start_x is not None else spec.width / 2, spec.height * 0.42])
    ground = hip0[1] + 0.93 * (thigh_len + shank)
    pts = np.full((n, 33, 2), np.nan)
    # Running bounces: the pelvis is lowest (image y largest) at each leg's mid-stance; walking vaults
    # over the stance leg: highest there (gait.locomotion).
    amplitude = spec.bob_px if spec.bob_px is not None else (-5.0 if spec.walking else 4.0)
    bob = amplitude * k * np.cos(2 * np.pi * 2 * (t / period - spec.duty / 2))
    hip = np.stack([hip0[0] + d * speed * t, hip0[1] + bob], axis=-1)
    lean = np.radians(spec.trunk_lean_deg + 0.8 * np.sin(2 * np.pi * 2 * t / period))
    sh = hip + trunk * np.stack([d * np.sin(lean), -np.cos(lean)], axis=-1)
    events: list[tuple[float, str, str]] = []
    known: dict[str, np.ndarray] = {"pelvis_range": np.full(n, 2 * abs(amplitude) * k / trunk)}
    push_off = np.zeros(n)
    for leg, offset, side in (("right", 0.0, 1.0), ("left", 0.5, -1.0)):
        phase = (t / period + offset) % 1.0
        # The arch builds up toward toe-off and is gone by mid-stance/mid-swing (a bump in phase).
        push_off = np.maximum(push_off, np.exp(-((((phase - spec.duty + 0.5) % 1.0 - 0.5) / 0.1) ** 2)))
        first = (-offset) % 1.0 * period
        for s0 in np.arange(first - period, spec.duration_s + period, period):
            events += [(s0, leg, "foot_strike"), (s0 + spec.duty * period, leg, "toe_off")]
        thigh = np.radians(_blend(phase, [(0.0, -24.0), (spec.duty, spec.peak_thigh_deg), (0.8, -38.0), (1.0, -24.0)]))
        stance = phase < spec.duty
        s_sw = (phase - spec.duty) / (1 - spec.duty)
        heel_fwd = np.where(stance, a - (a + b) * phase / spec.duty, -b + (a + b) * (0.5 - 0.5 * np.cos(np.pi * s_sw)))
        lift = np.where(stance, 0.0, 0.35 * trunk * np.sin(np.pi * np.clip(s_sw, 0, 1)) ** 1.5)
        heel_raise = np.where(stance, 0.12 * trunk * np.clip((phase / spec.duty - 0.6) / 0.4, 0, 1) ** 2, 0.0)
        hip_leg = hip + np.array([side * 2.0 * k, 0.0])
        knee = hip_leg + thigh_len * np.stack([-d * np.sin(thigh), np.cos(thigh)], axis=-1)
        heel = np.stack([hip[:, 0] + d * heel_fwd, ground - lift - heel_raise], axis=-1)
        toe_y = np.where(stance, ground, ground - lift + 0.05 * trunk * np.sin(np.pi * np.clip(s_sw, 0, 1)))
        toe = np.stack(
            [heel[:, 0] + d * foot * np.cos(np.arcsin(np.clip((ground - toe_y) / foot, 0, 0.9))), toe_y],
            axis=-1,
        )
        # During stance the toe stays on the ground; when the heel rises the foot pivots on the toe.
        toe[:, 0] = np.where(stance, heel[:, 0] + d * np.sqrt(np.maximum(foot**2 - heel_raise**2, 0)), toe[:, 0])
        ankle = heel + np.array([d * 8 * k, -12 * k])
        if spec.known_leg:
            knee, ankle, heel, toe = _known_leg(spec, phase, heel[:, 0], ground - lift, heel_raise, k)
            known |= _truth(leg, hip_leg, knee, ankle, heel, toe, hip, d, trunk)
        li = 0 if leg == "left" else 1
        pts[:, 23 + li], pts[:, 25 + li], pts[:, 27 + li] = hip_leg, knee, ankle
        pts[:, 29 + li], pts[:, 31 + li] = heel, toe
        # Arms swing opposite to the same-side leg.
        arm = np.radians(-0.8 * np.degrees(thigh) * 0.6)
        sh_side = sh + np.array([side * 2.0 * k, 0.0])
        elbow = sh_side + 0.45 * trunk * np.stack([-d * np.sin(arm), np.cos(arm)], axis=-1)
        wrist = elbow + 0.4 * trunk * np.stack([d * np.cos(arm) * 0.9, -0.3 * np.ones(n)], axis=-1)
        pts[:, 11 + li], pts[:, 13 + li], pts[:, 15 + li] = sh_side, elbow, wrist
        pts[:, 17 + li] = pts[:, 19 + li] = pts[:, 21 + li] = wrist + np.array([d * 6 * k, 0.0])
    head = sh + np.array([0.0, -0.3 * trunk])
    pts[:, 0] = head + np.array([d * 0.12 * trunk, 0.0])
    for i in range(1, 11):
        pts[:, i] = head + np.array([d * (0.06 * trunk if i < 7 else -0.02 * trunk), -3 * k])
    pts[:, 9] = pts[:, 10] = head + np.array([d * 0.09 * trunk, 0.08 * trunk])
    sy = _finish(spec, rng, pts, events)
    sy.lumbar_depth = spec.lumbar_depth_ratio + spec.arch_increase_ratio * push_off
    sy.known = known if spec.known_leg else {}
    return sy


def _known_leg(
    spec: RunnerSpec, phase: np.ndarray, heel_x: np.ndarray, sole_y: np.ndarray, heel_raise: np.ndarray, k: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(knee, ankle, heel, toe) [N, 2] of a leg with a prescribed foot inclination and shank angle.

    The foot (45 px x k) turns from `foot_strike_deg` at contact to flat by 30 % of stance (about the
    heel on the ground for a rearfoot strike, the foot tip for a forefoot one), stays flat, then pivots on
    the tip as the heel rises (as the default runner), and turns back to `foot_strike_deg` over the
    swing. The ankle is fixed in the foot; the knee sits one shank length (100 px x k) up the shank, whose
    angle from the vertical is blended through the keys (zero slope at contact, so one frame of event
    timing moves it little). The thigh is what joins the hip to that knee."""
    d = 1.0 if spec.direction == "right" else -1.0
    duty, foot, shank_len = spec.duty, 45.0 * k, 100.0 * k
    stance = phase < duty
    late = -np.degrees(np.arcsin(np.clip(heel_raise / foot, 0.0, 0.9)))  # the pivot on the foot tip
    at_toe_off = float(-np.degrees(np.arcsin(min(0.12 * 150 * k / foot, 0.9))))
    early = _blend(np.clip(phase, 0, 0.3 * duty), [(0.0, spec.foot_strike_deg), (0.3 * duty, 0.0), (1.0, 0.0)])
    swing = _blend(np.clip(phase, duty, 0.999999), [(0.0, 0.0), (duty, at_toe_off), (1.0, spec.foot_strike_deg)])
    beta = np.radians(np.where(stance, np.where(phase < 0.6 * duty, early, late), swing))
    pivot = stance & (phase >= 0.6 * duty)  # the heel rising, the foot tip on the ground
    heel_y = np.where(pivot, sole_y - heel_raise, sole_y - foot * np.maximum(0.0, -np.sin(beta)))
    heel = np.stack([heel_x, heel_y], axis=-1)
    toe = np.stack([heel_x + d * foot * np.cos(beta), heel_y - foot * np.sin(beta)], axis=-1)
    fwd, up = 8 * k * np.cos(beta) - 12 * k * np.sin(beta), 8 * k * np.sin(beta) + 12 * k * np.cos(beta)
    ankle = np.stack([heel[:, 0] + d * fwd, heel[:, 1] - up], axis=-1)
    keys = [(0.0, spec.shank_strike_deg), (duty / 2, spec.shank_mid_stance_deg), (duty, spec.shank_toe_off_deg),
            (0.72, -70.0), (1.0, spec.shank_strike_deg)]  # fmt: skip
    phi = np.radians(_blend(phase, keys))
    knee = ankle - shank_len * np.stack([d * np.sin(phi), np.cos(phi)], axis=-1)
    return knee, ankle, heel, toe


def _truth(
    leg: str, hip_leg: np.ndarray, knee: np.ndarray, ankle: np.ndarray, heel: np.ndarray, toe: np.ndarray,
    hip: np.ndarray, d: float, trunk: float,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The leg's true side-view angles per frame, from the noise-free un-rolled points (the knee by the
    law of cosines, not the analysis's own formula)."""
    a, b = np.hypot(*(hip_leg - knee).T), np.hypot(*(ankle - knee).T)
    c = np.hypot(*(hip_leg - ankle).T)
    included = np.degrees(np.arccos(np.clip((a**2 + b**2 - c**2) / (2 * a * b), -1.0, 1.0)))
    foot, shank = toe - heel, ankle - knee
    return {
        f"foot_incl_{leg}": np.degrees(np.arctan2(-foot[:, 1], d * foot[:, 0])),
        f"shank_{leg}": np.degrees(np.arctan2(d * shank[:, 0], shank[:, 1])),
        f"knee_flex_{leg}": 180.0 - included,
        f"overstride_{leg}": d * (heel[:, 0] - hip[:, 0]) / trunk,
    }


def _finish(spec: RunnerSpec, rng: np.random.Generator, pts: np.ndarray, events: list) -> Synth:
    n = pts.shape[0]
    c, s = np.cos(np.radians(spec.roll_deg)), np.sin(np.radians(spec.roll_deg))
    cx, cy = spec.width / 2, spec.height / 2
    x, y = pts[..., 0] - cx, pts[..., 1] - cy
    rolled = np.stack([c * x - s * y + cx, s * x + c * y + cy], axis=-1)
    noisy = rolled + rng.normal(0.0, spec.noise_px, rolled.shape)
    lm = np.zeros((n, 33, 5), dtype=np.float32)
    lm[..., 0] = noisy[..., 0] / spec.width
    lm[..., 1] = noisy[..., 1] / spec.height
    near = "right" if spec.direction == "right" else "left"
    far_idx = [i for i in range(11, 33) if (i % 2 == 1) == (near == "right")]
    vis = np.clip(rng.normal(0.97, 0.02, (n, 33)), 0, 1)
    vis[:, far_idx] = np.clip(rng.normal(spec.far_visibility, 0.08, (n, len(far_idx))), 0, 1)
    lm[..., 3] = vis
    lm[..., 4] = np.clip(vis + 0.02, 0, 1)
    drop = rng.random((n, 33)) < spec.drop_landmark_prob
    lm[drop, 3] = 0.05
    found = rng.random(n) >= spec.drop_frame_prob
    lm[~found] = np.nan
    series = LandmarkSeries(image_landmarks=lm, found=found, fps=spec.fps, width=spec.width, height=spec.height)
    events = sorted(e for e in events if 0 <= e[0] < n / spec.fps)
    return Synth(series=series, spec=spec, events=events, px=rolled)


def _box(pts: np.ndarray, pad: float, width: int, height: int) -> tuple[slice, slice]:
    """Rows, columns of the image around the points, padded (rendering only there keeps it fast)."""
    lo = np.floor(np.nanmin(pts, axis=0) - pad).astype(int)
    hi = np.ceil(np.nanmax(pts, axis=0) + pad).astype(int) + 1
    return slice(max(lo[1], 0), min(hi[1], height)), slice(max(lo[0], 0), min(hi[0], width))


def _capsule(mask: np.ndarray, p: np.ndarray, q: np.ndarray, r: float) -> None:
    """Paint the capsule p-q of radius r into mask (in place)."""
    rows, cols = _box(np.stack([p, q]), r + 1, mask.shape[1], mask.shape[0])
    yy, xx = np.mgrid[rows, cols].astype(np.float64)
    v = q - p
    t = np.clip(((xx - p[0]) * v[0] + (yy - p[1]) * v[1]) / max(float(v @ v), 1e-9), 0, 1)
    dist = np.hypot(xx - (p[0] + t * v[0]), yy - (p[1] + t * v[1]))
    mask[rows, cols] = np.maximum(mask[rows, cols], np.clip(0.5 + r - dist, 0.0, 1.0))  # 1 px soft edge


def render_mask(px: np.ndarray, width: int, height: int, direction: str, lumbar_depth_ratio: float) -> np.ndarray:
    """Silhouette probability [H, W] for one frame of noise-free pixel landmarks px [33, 2].

    The trunk's back outline bulges at the upper back and the buttock with a lumbar concavity of the
    given depth (x trunk length) in between; limbs are capsules; 1 px soft edges. Each part is drawn only in its own
    bounding box (~2 ms a frame instead of ~150 ms for the whole image).
    """
    d = 1.0 if direction == "right" else -1.0
    sh, hp = (px[11] + px[12]) / 2, (px[23] + px[24]) / 2
    axis = hp - sh
    trunk = float(np.hypot(*axis))
    u = axis / trunk  # down the trunk
    mask = np.zeros((height, width), dtype=np.float64)
    rows, cols = _box(np.stack([sh, hp]), 0.45 * trunk, width, height)
    yy, xx = np.mgrid[rows, cols].astype(np.float64)
    rel_x, rel_y = xx - sh[0], yy - sh[1]
    along = (rel_x * u[0] + rel_y * u[1]) / trunk  # 0 at shoulders, 1 at hips
    nrm = np.array([u[1], -u[0]])  # perpendicular; sign fixed below to point backward
    if nrm[0] * d > 0:
        nrm = -nrm
    side = rel_x * nrm[0] + rel_y * nrm[1]  # > 0 behind the centre line
    # A straight back from the upper back to the buttock (no concavity of its own), the buttock's own
    # rounded bulge (a local maximum, as on a real body), then the lumbar dip.
    bulge = 0.18 + 0.06 * np.clip(along, 0.0, 1.1) / 1.1 + 0.02 * np.exp(-(((along - 1.0) / 0.08) ** 2))
    concavity = lumbar_depth_ratio * np.exp(-(((along - 0.7) / 0.15) ** 2))
    half_back = (bulge - concavity) * trunk
    half_front = 0.17 * trunk
    # A 1 px soft edge, as the model's probability mask has: the measures interpolate it to sub-pixel.
    edge = np.minimum(half_back - side, half_front + side)
    mask[rows, cols] = np.where((along >= -0.05) & (along <= 1.25), np.clip(0.5 + edge, 0.0, 1.0), 0.0)
    limbs = [(11, 13, 0.06), (13, 15, 0.05), (12, 14, 0.06), (14, 16, 0.05), (23, 25, 0.11), (24, 26, 0.11),
             (25, 27, 0.07), (26, 28, 0.07), (29, 31, 0.05), (30, 32, 0.05)]  # fmt: skip
    for i, j, r in limbs:
        _capsule(mask, px[i], px[j], r * trunk)
    _capsule(mask, px[0], (px[7] + px[8]) / 2, 0.13 * trunk)
    return mask.astype(np.float32)


def add_loose_shorts(
    mask: np.ndarray, px: np.ndarray, direction: str, flare: float, length: float = 0.55
) -> np.ndarray:
    """The silhouette with loose shorts on both thighs: from the hip down `length` of the thigh,
    flaring at the hem by `flare` trunk lengths behind the thigh and half that in front."""
    d = 1.0 if direction == "right" else -1.0
    trunk = float(np.hypot(*((px[11] + px[12]) / 2 - (px[23] + px[24]) / 2)))
    out = mask.copy()
    for hip_i, knee_i in ((23, 25), (24, 26)):
        hip, knee = px[hip_i], px[knee_i]
        along = (knee - hip) / float(np.hypot(*(knee - hip)))
        back = np.array([along[1], -along[0]])
        back = -back if back[0] * d > 0 else back
        r, hem = 0.11 * trunk, hip + (knee - hip) * length
        poly = np.array([hip + back * 1.3 * r, hem + back * (r + flare * trunk),
                         hem - back * (r + 0.5 * flare * trunk), hip - back * 1.3 * r])  # fmt: skip
        yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
        inside = np.ones(mask.shape, dtype=bool)
        for a, b in zip(poly, np.roll(poly, -1, axis=0), strict=True):  # a convex polygon
            inside &= (b[0] - a[0]) * (yy - a[1]) - (b[1] - a[1]) * (xx - a[0]) <= 0
        if not inside.any():  # the other winding
            inside = np.ones(mask.shape, dtype=bool)
            for a, b in zip(poly, np.roll(poly, -1, axis=0), strict=True):
                inside &= (b[0] - a[0]) * (yy - a[1]) - (b[1] - a[1]) * (xx - a[0]) >= 0
        out = np.maximum(out, inside.astype(out.dtype))
    return out


def mask_features(sy: Synth) -> np.ndarray:
    """Per-frame mask features [N, K] as hipcam's extraction would measure them: the silhouette is
    drawn from the noise-free pose with the frame's lumbar depth, measured with the noisy landmarks."""
    spec = sy.spec
    out = np.full((len(sy.px), len(mf.FEATURE_NAMES)), np.nan, dtype=np.float32)
    lm = np.asarray(sy.series.image_landmarks, dtype=np.float64).copy()
    lm[..., 0] *= spec.width
    lm[..., 1] *= spec.height
    for i in range(len(sy.px)):
        if not sy.series.found[i]:
            continue
        mask = render_mask(sy.px[i], spec.width, spec.height, spec.direction, float(sy.lumbar_depth[i]))
        out[i] = mf.measure(mask, lm[i], 1 if spec.direction == "right" else -1)
    return out


LEG_PARTS = {"left": (23, 25, 27, 29, 31), "right": (24, 26, 28, 30, 32)}  # hip, knee, ankle, heel, foot tip


def swap_legs(series: LandmarkSeries, frames: np.ndarray) -> None:
    """Exchange the left and right leg landmarks in `frames` (BlazePose's label swap), in place."""
    lm = series.image_landmarks
    left, right = list(LEG_PARTS["left"]), list(LEG_PARTS["right"])
    lm[np.ix_(frames, np.array(left + right))] = lm[np.ix_(frames, np.array(right + left))]


def snap_foot(series: LandmarkSeries, leg: str, frames: np.ndarray, dx: float, dy: float) -> None:
    """Misplace a leg's ankle, heel and foot tip by (dx, dy) normalized units in `frames`, in place
    (BlazePose putting a swinging foot on the handrail)."""
    lm = series.image_landmarks
    for j in LEG_PARTS[leg][2:]:
        lm[frames, j, 0] += dx
        lm[frames, j, 1] += dy
