"""Foot contact with the belt or ground, and the gait events it gives: one definition, offline and live.

A foot is in contact while it is down and moves with the ground. Per leg, the heel and the foot tip
(BlazePose's foot index) are followed in the levelled image, in trunk lengths:
- down: within `contact_height` of the point's ground level (its 95th-percentile image height, per
  leg and point, since the far foot lands higher in the image and the heel sits above the sole);
- moving with the ground: its forward velocity within `contact_speed` (+ `contact_speed_share` of the
  ground's speed) of the ground's velocity. The ground's velocity is the running median of the
  velocities of every foot point that is down (a stance foot is down most of the time): belt speed
  backward on a treadmill, zero for a static camera overground, the pan speed for a panning camera.
  This is what separates a swinging foot that passes low over the belt, or hangs just above it
  before landing (swing-leg retraction), from a foot that stands on it.
The foot is in contact while either point is; dropouts up to `max_contact_gap_s` are closed and
contacts shorter than `min_contact_s` dropped. Foot strike = the first frame of a contact, toe-off =
its last frame (the truth convention of `hipcam label`). An edge next to unmeasured frames or the end
of the data gives no event: the contact began or ended out of sight.

Glitches are removed first (`glitches`): BlazePose snaps a hidden foot onto the handrail or the other
leg, which takes a jump faster than any foot moves (`event_max_speed`) and a jump back; the samples
between are dropped. Positions are low-passed zero-lag at `event_cutoff_hz` before velocities are
taken. Offline runs this over each identity segment of the clip; live runs the same function over
its trailing buffer (every 0.1 s) and reports an event once the buffer extends `settle_s(params)` beyond it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from hipcam.config.gait import GaitParams
from hipcam.domain import LEG_JOINTS, LEGS
from hipcam.gait.filters import fill_gaps, nanpercentile_last_axis, running_nanmedian, zero_lag
from hipcam.gait.hidden_landing import time_hidden_strikes
from hipcam.gait.kinematics import trunk_lengths

FOOT_POINTS = ("heel", "foot_index")
_GROUND_PERCENTILE = 95
_GROUND_SPEED_WINDOW_S = 1.5  # the ground's velocity is a running median over this long
_GROUND_WINDOW_S = 2.0  # the ground level, a running percentile over this long (live: within its buffer)
_MIN_JUMP = 0.15  # trunk lengths: a smaller step is noise, whatever the frame rate
_SPIKE_WINDOW = 7
_SPIKE_MIN = 0.1  # trunk lengths
_MIN_SEEN_SWING_S = 0.05  # a strike needs the foot seen off the ground this long before it


@dataclass(frozen=True)
class FootEvent:
    frame: int
    leg: str
    type: str  # "foot_strike" | "toe_off"
    inferred: bool = False  # a strike whose landing was hidden, timed from the other leg (gait.hidden_landing)


def foot_tracks(xy: np.ndarray, ok: np.ndarray, d: int | np.ndarray) -> dict[str, np.ndarray]:
    """Per leg [N, 2 points, 2]: (forward, down) in trunk lengths, NaN where not measured.

    xy: levelled pixel landmarks [N, 33, 2]; ok: joint_ok [N, 33]; d: running direction (+1 toward +x),
    one for all frames or one per frame.
    """
    lengths = trunk_lengths(xy, ok)
    scale = float(np.median(lengths[np.isfinite(lengths)])) if np.isfinite(lengths).any() else np.nan
    d_col = np.broadcast_to(np.asarray(d, dtype=np.float64), (xy.shape[0],))[:, None]
    out: dict[str, np.ndarray] = {}
    for leg in LEGS:
        idx = [LEG_JOINTS[leg][p] for p in FOOT_POINTS]
        p = np.where(ok[:, idx, None], xy[:, idx, :], np.nan) / scale
        out[leg] = np.stack([d_col * p[..., 0], p[..., 1]], axis=-1)
    return out


def glitches(
    track: np.ndarray, fps: float, max_speed: float, max_glitch_s: float = 0.3, spiked: np.ndarray | None = None
) -> np.ndarray:
    """bool [N]: samples of a foot point [N, 2] that are glitches. Two kinds:
    - a jump away faster than `max_speed` (trunk lengths/s, and at least _MIN_JUMP) and a jump back,
      at most `max_glitch_s` later: the samples between (a jump with no return within the data marks
      the rest: live, the buffer ends mid-glitch and the next call decides);
    - a spike of a sample or two off its neighbours (a Hampel test over _SPIKE_WINDOW samples), which
      a jump test misses next to a gap or at high frame rates where one frame is a small step
      (`spikes`; pass `spiked` when it was computed for several points at once).
    """
    bad = (spikes(track) if spiked is None else spiked).copy()
    idx = np.flatnonzero(np.isfinite(track).all(axis=1) & ~bad)
    if idx.size < 2:
        return bad
    pts = track[idx]
    moves = pts[1:] - pts[:-1]
    size = np.hypot(*moves.T)
    fast = (size * fps / np.maximum(np.diff(idx), 1) > max_speed) & (size > _MIN_JUMP)
    horizon = max(2, round(max_glitch_s * fps))
    jumps = np.flatnonzero(fast).tolist()
    while jumps:
        k = jumps.pop(0)
        back = next((j for j in jumps if idx[j + 1] - idx[k] <= horizon and moves[j] @ moves[k] < 0), None)
        if back is not None:
            bad[idx[k + 1] : idx[back + 1]] = True
            jumps = [j for j in jumps if j > back]
        elif idx[-1] - idx[k] <= horizon:  # still away at the end of the data
            bad[idx[k + 1] :] = True
    return bad


def spikes(track: np.ndarray) -> np.ndarray:
    """bool [N, ...]: samples of points [N, ..., 2] further than max(3 sigma, _SPIKE_MIN) from the
    median of their _SPIKE_WINDOW neighbours (in either coordinate)."""
    med = running_nanmedian(track, _SPIKE_WINDOW, centered=True)
    dev = np.abs(track - med)
    sigma = 1.4826 * running_nanmedian(dev, _SPIKE_WINDOW, centered=True)
    with np.errstate(invalid="ignore"):
        return np.any(dev > np.maximum(3.0 * sigma, _SPIKE_MIN), axis=-1)


@functools.lru_cache(maxsize=8)
def _event_filter(cutoff_hz: float, fps: float) -> np.ndarray:
    return signal.butter(2, min(cutoff_hz, 0.4 * fps), btype="low", fs=fps, output="sos")


def _smooth(track: np.ndarray, fps: float, params: GaitParams) -> np.ndarray:
    """Short gaps interpolated, zero-lag low-pass (any shape [N, ...]); long gaps stay NaN."""
    flat = fill_gaps(track.reshape(len(track), -1), int(params.max_gap_s * fps))
    return zero_lag(flat, _event_filter(params.event_cutoff_hz, fps)).reshape(track.shape)


def _running(values: np.ndarray, fps: float, window_s: float, q: float, pooled: bool = False) -> np.ndarray:
    """The q-th percentile of each column of values [N, K] over a centered window of `window_s`
    ([N, K]), or of all columns together (pooled: [N]). Evaluated every eighth of a window and
    interpolated between: the ground changes slowly."""
    n, k = values.shape
    half = max(1, round(window_s * fps / 2))
    at = np.unique(np.r_[np.arange(0, n, max(1, half // 4)), n - 1])
    pad = np.full((n + 2 * half, k), np.nan)
    pad[half : half + n] = values
    windows = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1, axis=0)[at]  # [len(at), K, W]
    got = nanpercentile_last_axis(windows.reshape(len(at), -1) if pooled else windows, q).reshape(len(at), -1)
    out = np.full((n, got.shape[1]), np.nan)
    for c in range(got.shape[1]):
        good = np.isfinite(got[:, c])
        if good.any():
            out[:, c] = np.interp(np.arange(n), at[good], got[good, c])
    return out[:, 0] if pooled else out


def _ground_velocity(vel: np.ndarray, down: np.ndarray, fps: float) -> np.ndarray:
    """[N]: running median of the forward velocity of every foot point that is down (0 if none is)."""
    v = np.where(down, vel, np.nan).reshape(len(vel), -1)
    ground = _running(v, fps, _GROUND_SPEED_WINDOW_S, 50.0, pooled=True)
    return np.where(np.isfinite(ground), ground, 0.0)


def _ground_level(y: np.ndarray, fps: float) -> np.ndarray:
    """[N, ...]: each foot point's ground level, its running 95th-percentile image height. Running, not
    one level per clip: a runner who drifts fore and aft on the belt lands higher or lower in the
    image (perspective), by 0.1 trunk lengths on the home clip."""
    return _running(y.reshape(len(y), -1), fps, _GROUND_WINDOW_S, _GROUND_PERCENTILE).reshape(y.shape)


def _eroded(mask: np.ndarray, k: int) -> np.ndarray:
    """mask [N, C] without the first and last k samples of each of its runs."""
    out = mask.copy()
    for c in range(mask.shape[1]):
        for a, b in _runs(mask[:, c]):
            out[a : min(a + k, b + 1), c] = False
            out[max(b - k + 1, a) : b + 1, c] = False
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


def _tidy(contact: np.ndarray, known: np.ndarray, fps: float, params: GaitParams) -> np.ndarray:
    """Close short dropouts inside a contact, then drop contacts too short to be a stance (unless
    the data end or a gap cut them short: the rest of the contact was not seen)."""
    out = contact.copy()
    for a, b in _runs(~out & known):
        if a > 0 and b < len(out) - 1 and out[a - 1] and out[b + 1] and (b - a + 1) / fps <= params.max_contact_gap_s:
            out[a : b + 1] = True
    n = len(out)
    for a, b in _runs(out):
        cut_short = a == 0 or b == n - 1 or not known[a - 1] or not known[b + 1]  # seen in part only
        if (b - a + 1) / fps < params.min_contact_s and not cut_short:
            out[a : b + 1] = False
    return out


@dataclass(frozen=True)
class Contact:
    """Per leg, bool [N] each: the foot is on the ground (`on`); its state is measured well enough to
    bound a toe-off (`known`) or a strike (`settled`): the zero-lag filter disturbs the velocities for
    ~1/cutoff at each end of a measured stretch, a strike (the velocity settling onto the ground's)
    needs the frame before it clear of all of that, a toe-off the frame after it clear of half; it was
    seen, not interpolated over a gap or a glitch (`seen`)."""

    on: dict[str, np.ndarray]
    known: dict[str, np.ndarray]
    settled: dict[str, np.ndarray]
    seen: dict[str, np.ndarray]


def foot_contact(tracks: dict[str, np.ndarray], fps: float, params: GaitParams) -> Contact:
    """Where each foot is in contact (module docstring)."""
    legs = list(tracks)
    pts = np.stack([tracks[leg] for leg in legs], axis=1)  # [N, legs, points, 2]
    spiked = spikes(pts)
    for li, pi in np.ndindex(*pts.shape[1:3]):
        pts[glitches(pts[:, li, pi], fps, params.event_max_speed, spiked=spiked[:, li, pi]), li, pi] = np.nan
    seen = np.isfinite(pts[..., 1]).any(axis=2)  # [N, legs]
    pts = _smooth(pts, fps, params)
    ground = _ground_level(pts[..., 1], fps)  # per leg and point
    with np.errstate(invalid="ignore"):
        down = pts[..., 1] >= ground - params.contact_height
    vel = np.gradient(pts[..., 0], axis=0) * fps if len(pts) > 1 else np.zeros(pts.shape[:3])
    ground_v = _ground_velocity(vel, down, fps)[:, None, None]
    with np.errstate(invalid="ignore"):
        with_ground = np.abs(vel - ground_v) <= params.contact_speed + params.contact_speed_share * np.abs(ground_v)
    measured = np.isfinite(pts[..., 1]).any(axis=2)  # [N, legs]: seen, or interpolated over a short gap
    on = (down & with_ground).any(axis=2) & measured
    contact = {leg: _tidy(on[:, i], measured[:, i], fps, params) for i, leg in enumerate(legs)}
    edge = 0.5 / params.event_cutoff_hz * fps
    known, settled = _eroded(measured, math.ceil(edge)), _eroded(measured, math.ceil(2 * edge))

    def per_leg(a: np.ndarray) -> dict[str, np.ndarray]:
        return {leg: a[:, i] for i, leg in enumerate(legs)}

    return Contact(contact, per_leg(known), per_leg(settled), per_leg(seen))


def contact_events(
    contact: dict[str, np.ndarray],
    known: dict[str, np.ndarray],
    min_frames: int = 1,
    settled: dict[str, np.ndarray] | None = None,
    swing_frames: int = 1,
) -> list[FootEvent]:
    """Foot strikes (first contact frame) and toe-offs (last), where the frame beyond is measured
    (`known`; for a strike `settled`, default `known`): a strike of a contact at least `min_frames`
    long (one cut short by the data's end is not a stance yet), a toe-off of one as long, or of any
    length where the data's start cut it. A strike needs `swing_frames` measured frames before it."""
    events: list[FootEvent] = []
    for leg in contact:
        c, k = contact[leg], known[leg]
        ks = k if settled is None else settled[leg]
        for a, b in _runs(c):
            frames = b - a + 1
            # The foot seen in the air just before (not only at the edge of what was measured).
            seen_start = a >= swing_frames and bool(ks[a - swing_frames : a].all())
            # A strike needs its contact confirmed (as live waits for it) and the foot seen before it,
            # or at least some data before a gap: then its landing was hidden (gait.hidden_landing
            # times it from the other leg). A toe-off ends a contact seen ending, also one whose start
            # was not seen (then however little of it was seen).
            before = k[:a]
            after_gap = not seen_start and before.any() and not before[int(np.argmax(before)) :].all()
            if (seen_start or after_gap) and frames >= min_frames:
                events.append(FootEvent(a, leg, "foot_strike"))
            if b < len(c) - 1 and k[b + 1] and (frames >= min_frames or not seen_start):
                events.append(FootEvent(b, leg, "toe_off"))
    return sorted(events, key=lambda e: (e.frame, e.leg))


def find_events(tracks: dict[str, np.ndarray], fps: float, params: GaitParams) -> list[FootEvent]:
    """Foot strikes and toe-offs of both legs from their foot tracks (`foot_tracks`); a strike whose
    landing was hidden is timed from the other leg (`hidden_landing.time_hidden_strikes`)."""
    contact = foot_contact(tracks, fps, params)
    min_frames = math.ceil(params.min_contact_s * fps - 1e-9)
    swing = max(2, round(_MIN_SEEN_SWING_S * fps))
    events = contact_events(contact.on, contact.known, min_frames, contact.settled, swing)
    return time_hidden_strikes(events, contact.seen, fps)


def settle_s(params: GaitParams) -> float:
    """How far the data must extend beyond an event before it is final (live): the dropout and
    minimum-contact rules look that far ahead, and the zero-lag filter's edge needs a little more."""
    return max(params.max_contact_gap_s, params.min_contact_s) + 1.0 / params.event_cutoff_hz


def toe_off_between(toe_offs: list[int] | np.ndarray, start: int, end: int) -> int | None:
    """The one toe-off strictly inside (start, end); None if there is none or several (a contact that
    broke up without a new strike: the stride's timing is not known)."""
    inside = [int(t) for t in toe_offs if start < t < end]
    return inside[0] if len(inside) == 1 else None
