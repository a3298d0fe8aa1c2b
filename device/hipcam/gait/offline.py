"""Offline gait analysis of a whole clip: zero-lag filtering, events, strides, classes."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from hipcam.config.gait import GaitParams
from hipcam.domain import LEGS, MASK_FEATURES, NUM_LANDMARKS, other_leg
from hipcam.errors import HipcamError, LandmarksFileError
from hipcam.gait.events import FootEvent, find_events, foot_tracks, toe_off_between
from hipcam.gait.filters import design_filter, fill_gaps, odd_window, zero_lag
from hipcam.gait.kinematics import (
    SIDE_VIEW_WINDOW_S,
    clean_pose,
    direction_name,
    direction_votes,
    frame_signals,
    identity_segments,
    joint_ok,
    leg_visibility,
    near_side,
    nearness,
    resolve_direction,
    side_view,
)
from hipcam.gait.level import level_landmarks
from hipcam.gait.strides import (
    GaitReport,
    Stride,
    StrideWindow,
    counted_times,
    measure_stride,
    trunk_frame_for,
)
from hipcam.gait.timing import step_timing
from hipcam.records.landmarks_file import LandmarkSeries, validate


def _check(series: LandmarkSeries, fps: float | None, roll_deg: float | None) -> tuple[float, float]:
    lm = np.asarray(series.image_landmarks)
    if lm.ndim != 3 or lm.shape[1:] != (NUM_LANDMARKS, 5):
        raise LandmarksFileError(f"landmarks have shape {lm.shape}, expected [frames, {NUM_LANDMARKS}, 5]")
    validate(series)
    if len(series) < 2:
        raise LandmarksFileError("landmarks hold a single frame; gait analysis needs a clip")
    rate = series.fps if fps is None else fps
    if not (isinstance(rate, int | float) and math.isfinite(rate) and 1.0 <= rate <= 10000.0):
        raise HipcamError(f"fps is {rate!r}; give the true capture rate, a number from 1 to 10000")
    roll = 0.0 if roll_deg is None else float(roll_deg)
    if not (math.isfinite(roll) and abs(roll) <= 45.0):
        raise HipcamError(f"camera roll {roll_deg!r} deg is not a number within ±45")
    if not np.isfinite(lm[:, :, :2]).any():
        raise LandmarksFileError("no pose in any frame (all landmarks are NaN)")
    return float(rate), roll


def mask_matrix(series: LandmarkSeries) -> np.ndarray | None:
    """The series' mask features re-ordered as domain.MASK_FEATURES (missing ones NaN)."""
    if series.mask_features is None or not series.mask_feature_names:
        return None
    out = np.full((len(series), len(MASK_FEATURES)), np.nan)
    names = list(series.mask_feature_names)
    for i, name in enumerate(MASK_FEATURES):
        if name in names:
            out[:, i] = series.mask_features[:, names.index(name)]
    return out


def near_leg(landmarks: np.ndarray) -> str | None:
    """The leg nearer the camera over the clip (kinematics.nearness, median over the frames)."""
    score = nearness(landmarks)
    finite = np.isfinite(score).all(axis=1)
    return near_side(np.median(score[finite], axis=0)) if finite.any() else None


def segment_directions(params: GaitParams, votes: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Running direction (+1/-1) per frame, voted per identity segment (people may walk either way)."""
    out = np.empty(len(segments), dtype=np.intp)
    for seg in np.unique(segments):
        sel = segments == seg
        out[sel] = resolve_direction(params, float(np.nansum(votes[sel])))
    return out


def _main_direction(d_frame: np.ndarray, segments: np.ndarray, side: np.ndarray) -> int:
    """The direction of the longest side-view segment (the person the clip is mostly about)."""
    counts = np.bincount(segments[side]) if side.any() else np.bincount(segments)
    longest = counts.argmax()
    return int(d_frame[segments == longest][0])


@dataclass
class _Clip:
    """A clip's cleaned-up signals, everything the per-leg event and stride search reads."""

    rate: float
    roll: float
    landmarks: np.ndarray  # [N, 33, 5]
    raw: np.ndarray  # frame_signals [N, CHANNELS], NaN facing the camera
    filtered: np.ndarray  # zero-lag filtered, short gaps filled
    tracks: dict[str, np.ndarray]  # foot_tracks per leg, NaN facing the camera
    segments: np.ndarray  # identity (and side-view) segment per frame
    d_frame: np.ndarray  # running direction per frame
    direction: int  # the clip's main running direction
    mask: np.ndarray | None
    near: str | None  # the leg nearer the camera


def _prepare(series: LandmarkSeries, params: GaitParams, rate: float, roll: float) -> _Clip:
    lm = np.asarray(series.image_landmarks, dtype=np.float64)
    ok = joint_ok(lm, params)
    xy = level_landmarks(lm, series.width, series.height, roll)
    clean_pose(xy, ok, rate, params)
    side = side_view(xy, ok, params.max_body_width, odd_window(SIDE_VIEW_WINDOW_S * rate))
    # A turn away from the side view also ends a segment: no stride spans it.
    segments = identity_segments(xy, ok) + np.concatenate(([0], np.cumsum(side[1:] != side[:-1])))
    d_frame = segment_directions(params, direction_votes(xy, ok), segments)
    raw = frame_signals(xy, ok, d_frame)
    raw[~side] = np.nan  # no events or angles facing the camera
    tracks = foot_tracks(xy, ok & side[:, None], d_frame)
    sos = design_filter(rate, params)
    return _Clip(
        rate=rate,
        roll=roll,
        landmarks=lm,
        raw=raw,
        filtered=zero_lag(fill_gaps(raw, int(params.max_gap_s * rate)), sos),
        tracks=tracks,
        segments=segments,
        d_frame=d_frame,
        direction=_main_direction(d_frame, segments, side),
        mask=mask_matrix(series),
        near=near_leg(lm),
    )


def clip_events(clip: _Clip, params: GaitParams) -> list[FootEvent]:
    """Foot strikes and toe-offs of both legs, found per identity segment (one person, one side view)."""
    events: list[FootEvent] = []
    for seg in np.unique(clip.segments):
        frames = np.flatnonzero(clip.segments == seg)
        a, b = int(frames[0]), int(frames[-1]) + 1  # segments are contiguous runs of frames
        part = {leg: tr[a:b] for leg, tr in clip.tracks.items()}
        events += [replace(e, frame=e.frame + a) for e in find_events(part, clip.rate, params)]
    return events


def _leg(clip: _Clip, leg: str, events: list[FootEvent], params: GaitParams) -> tuple[list[FootEvent], list[Stride]]:
    """One leg's events and strides."""
    rate = clip.rate
    fs = [e.frame for e in events if e.leg == leg and e.type == "foot_strike"]
    to = [e.frame for e in events if e.leg == leg and e.type == "toe_off"]
    leg_events = [e for e in events if e.leg == leg]
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(fs)
        if (b - a) / rate <= params.max_stride_s and clip.segments[a] == clip.segments[b]  # one person per stride
    ]
    toe_offs = [toe_off_between(to, a, b) for a, b in pairs]
    durations = [(b - a) / rate for (a, b), tof in zip(pairs, toe_offs, strict=True) if tof is not None]
    median = float(np.median(durations)) if durations else None
    quality = leg_visibility(clip.landmarks, leg)
    near_to = [e.frame for e in events if e.leg == clip.near and e.type == "toe_off"]
    other_fs = tuple(e.frame for e in events if e.leg == other_leg(leg) and e.type == "foot_strike")
    other_to = tuple(e.frame for e in events if e.leg == other_leg(leg) and e.type == "toe_off")
    strides: list[Stride] = []
    for (a, b), tof in zip(pairs, toe_offs, strict=True):
        duration, stance, swing = counted_times(a, tof, b, rate)
        window = StrideWindow(
            leg=leg,
            start=a,
            toe_off=tof,
            end=b,
            filtered=clip.filtered,
            quality=quality,
            mask=clip.mask,
            d=int(clip.d_frame[a]),
            roll_deg=clip.roll,
            fps=rate,
            duration_s=duration,
            stance_s=stance,
            swing_s=swing,
            median_duration_s=median,
            near=clip.near,
            raw=clip.raw,
            trunk_frame=trunk_frame_for(leg, tof, clip.near, near_to, rate, params.max_stride_s / 2),
            other_strikes=tuple(f for f in other_fs if a <= f <= b),
            other_toe_offs=tuple(t for t in other_to if a <= t <= 2 * b - a),  # its toe-off may follow b (walking)
        )
        strides.append(measure_stride(window, params))
    return leg_events, strides


def analyze(
    series: LandmarkSeries, params: GaitParams, fps: float | None = None, roll_deg: float | None = None
) -> GaitReport:
    """Analyse a whole clip. fps overrides the file's rate (slow-motion footage: the true capture rate)."""
    rate, roll = _check(series, fps, roll_deg)
    clip = _prepare(series, params, rate, roll)
    found = clip_events(clip, params)
    events: list[FootEvent] = []
    strides: list[Stride] = []
    for leg in LEGS:
        leg_events, leg_strides = _leg(clip, leg, found, params)
        events += leg_events
        strides += leg_strides
    events.sort(key=lambda e: (e.frame, e.leg))
    strides.sort(key=lambda s: (s.foot_strike_frame, s.leg))
    timed = [(e.frame / rate, e.leg, e.type) for e in events]
    lm = clip.landmarks
    return GaitReport(
        fps=rate,
        frames=len(series),
        frames_with_pose=int(np.sum(series.found & np.isfinite(lm[:, :, 0]).any(axis=1))),
        direction=direction_name(clip.direction),
        roll_deg=roll,
        near_leg=clip.near,
        events=events,
        strides=strides,
        timing=step_timing(timed, params.max_stride_s),
    )
