"""Live gait analysis, one frame at a time, with the offline path's event, angle and stride functions.

Events: the offline definition (gait.events: foot contact from the foot's height and its velocity
against the ground, after the offline repairs) run over the trailing buffer every 0.1 s; an event is
reported once two searches in a row found it and the buffer reaches `events.settle_s` (~0.2 s) past
it, and each (leg, type) only once: 0.2-0.4 s after the event. Strides: when a foot
strike closes a stride, the buffer's signals are filtered zero-lag, as offline, and the shared
measure_stride() measures and classifies it, so live and offline strides agree. The causal
Butterworth (read back with its group delay removed) only serves the per-frame angles on the page.

Time base: the frame rate is estimated from the t_s timestamps (gait.frame_rate: the median frame
interval, which a few dropped frames do not move, or the mean where frames are skipped in a pattern)
and replaces the rate in use when they disagree by more than 10 % for 10 frames in a row; stride times
come from the timestamps, so a dropped frame does not shorten a stride. Frame numbers stay one per
update() call (the service keys its snapshot ring by them).

LiveGait orchestrates: the recent frames live in a FrameHistory (gait.history), the rate estimate in a
FrameRateEstimator (gait.frame_rate), the person check in an IdentityGuard (gait.identity) and the
running direction in a DirectionVote (gait.direction_vote).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from hipcam.config.gait import GaitParams
from hipcam.domain import LEGS, MASK_FEATURES, NUM_LANDMARKS, UNKNOWN, other_leg
from hipcam.gait.direction_vote import DirectionVote
from hipcam.gait.events import FootEvent, find_events, foot_tracks, settle_s, toe_off_between
from hipcam.gait.filters import CausalFilter, design_filter, fill_gaps, odd_window, zero_lag
from hipcam.gait.frame_rate import FrameRateEstimator
from hipcam.gait.history import FrameHistory
from hipcam.gait.identity import IdentityGuard
from hipcam.gait.kinematics import (
    CHANNELS,
    SIDE_VIEW_WINDOW_S,
    THIGH,
    TRUNK,
    TRUNK_SIDE,
    body_width,
    clean_pose,
    direction_name,
    frame_signals,
    joint_ok,
    leg_visibility,
    near_side,
    nearness,
    outlier_joints,
    repair_swaps,
)
from hipcam.gait.level import level_landmarks
from hipcam.gait.locomotion import from_correlation, pelvis_gait_correlation
from hipcam.gait.strides import Stride, StrideWindow, measure_stride, trunk_frame_for
from hipcam.gait.timing import StepTiming, step_timing
from hipcam.records.landmarks_file import LandmarkSeries

_LIVE_OUTLIER_SLACK = 1.5  # the trailing median lags fast swings: looser threshold than offline
_MAX_LATENCIES_KEPT = 200
_EVENTS_EVERY_S = 0.1  # how often the buffer is searched for events (a search costs ~8 ms on x86)
_MIN_BUFFER_S = 1.0  # the ground level and velocity need about a stride of data
_TIMING_KEPT_S = 20.0  # the events behind the live cadence, stance and flight


@dataclass
class LiveUpdate:
    t_s: float
    frame: int
    direction: str
    near_leg: str | None
    thigh_deg: float  # near-side leg (NaN when unknown)
    trunk_lean_deg: float
    hip_extension_deg: float
    thigh_deg_by_leg: dict[str, float]
    timing: StepTiming | None = None  # cadence, stance, flight over the last _TIMING_KEPT_S
    locomotion: str | None = None  # domain.Locomotion over the last second or so; None: not known yet
    fps: float = math.nan  # the rate of the frames analysed (from their timestamps)
    events: list[FootEvent] = field(default_factory=list)
    strides: list[Stride] = field(default_factory=list)


class LiveGait:
    """Stateful per-frame analysis. Not thread-safe: feed it from one thread."""

    def __init__(
        self,
        params: GaitParams,
        fps_hint: float = 30.0,
        roll_deg: float = 0.0,
        frame_size: tuple[int, int] = (640, 480),
    ) -> None:
        """fps_hint: the true capture rate; frame_size: (width, height) the normalized landmarks refer to."""
        if not (math.isfinite(fps_hint) and 1.0 <= fps_hint <= 10000.0):
            raise ValueError(f"fps_hint {fps_hint} out of range 1..10000")
        self.params = params
        self.fps_hint = float(fps_hint)
        self.roll_deg = float(roll_deg)
        self.width, self.height = frame_size
        self._vote = DirectionVote(params)
        self._identity = IdentityGuard()
        self._rate = FrameRateEstimator()
        self._frame = -1
        self._nearness = np.zeros(2)  # running mean of kinematics.nearness
        self._widths: list[float] = []
        self.latencies_frames: list[int] = []  # update index minus the frame of each recent stride-closing strike
        self._configure(self.fps_hint, first_frame=0)

    def _configure(self, fps: float, first_frame: int) -> None:
        """(Re)build everything that depends on the frame rate; the buffers restart at `first_frame`."""
        p = self.params
        self.fps = fps
        self._sos = design_filter(fps, p)
        self._hist = FrameHistory(int((p.max_stride_s + 1.0) * fps) + 8, len(CHANNELS), len(MASK_FEATURES))
        self._outlier_window = odd_window(p.outlier_window_s * fps)
        self._forget_strides()
        self._restart(first_frame)

    def _forget_strides(self) -> None:
        self._last_strike: dict[str, int | None] = {leg: None for leg in LEGS}
        self._to: dict[str, list[int]] = {leg: [] for leg in LEGS}
        self._durations: list[float] = []  # accepted strides of both legs (equal in steady running)
        self._timed: list[tuple[float, str, str]] = []  # recent events (t_s, leg, type)
        self._reported: dict[tuple[str, str], int] = {}  # last reported frame per (leg, type)
        self._toe_offs: list[tuple[int, str]] = []  # the last few toe-offs of both legs (frame, leg)

    def _restart(self, first_frame: int) -> None:
        """Empty the buffers (the next frame is `first_frame`) and start a new causal filter."""
        self._filter = CausalFilter(self._sos, len(CHANNELS))
        self._hist.clear(first_frame)
        self._reported = {}
        self._candidates: list[FootEvent] = []  # what the last search found
        self._search_next = first_frame
        self._locomotion: str | None = None
        self._cleaned = (self._hist.xy, self._hist.ok)

    @property
    def direction(self) -> str:
        return direction_name(self._vote.d)

    def _check_identity(self, xy: np.ndarray, ok: np.ndarray) -> None:
        """Restart (buffers, detectors, direction vote) when the tracked person changes."""
        if self._identity.changed(self._frame, xy, ok, self._hist.capacity):
            self._vote.reset()
            self._forget_strides()
            self._restart(self._frame)

    def _facing_camera(self, xy: np.ndarray, ok: np.ndarray) -> bool:
        """Not a side view (median body width over the last SIDE_VIEW_WINDOW_S above max_body_width)."""
        self._widths.append(float(body_width(xy, ok)))
        del self._widths[: -max(1, round(SIDE_VIEW_WINDOW_S * self.fps))]
        widths = [w for w in self._widths if math.isfinite(w)]
        return bool(widths) and float(np.median(widths)) > self.params.max_body_width

    def _clean_pose(self, xy: np.ndarray, ok: np.ndarray) -> None:
        """Trailing-window versions of the offline leg-swap repair and outlier test, on this frame's
        pose (in place) against the previous outlier_window - 1 frames."""
        win, held = self._outlier_window, len(self._hist)
        if held + 1 < win:
            return
        pts = np.concatenate([self._hist.xy[held - (win - 1) :], xy[None]])
        oks = np.concatenate([self._hist.ok[held - (win - 1) :], ok[None]])
        if repair_swaps(pts, oks, win, centered=False, last_only=True)[-1]:
            xy[:], ok[:] = pts[-1], oks[-1]
        thr = self.params.outlier_threshold * _LIVE_OUTLIER_SLACK
        ok &= ~outlier_joints(pts, oks, win, thr, centered=False, last_only=True)[-1]

    def _append(self, t_s: float, xy: np.ndarray, ok: np.ndarray, vis: dict[str, float], mask_row: np.ndarray) -> None:
        """Store the pose as measured; the per-frame signals (the page's angles) from a trailing repair."""
        if xy.size:
            shown, shown_ok = xy.copy(), ok.copy()
            self._clean_pose(shown, shown_ok)
            raw = frame_signals(shown[None], shown_ok[None], self._vote.d)[0]
        else:
            xy, ok = np.full((NUM_LANDMARKS, 2), np.nan), np.zeros(NUM_LANDMARKS, dtype=bool)
            raw = np.full(len(CHANNELS), np.nan)
        self._hist.append(t_s, xy, ok, raw, self._filter.step(raw), vis, mask_row)

    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None = None) -> LiveUpdate:
        """Feed one frame (landmarks [33, 5] normalized as in the landmarks file, or None if no pose)."""
        self._frame += 1
        fps = self._rate.update(float(t_s), self.fps)
        if fps is not None:
            self._configure(fps, first_frame=self._frame)
        mask_row = np.full(len(MASK_FEATURES), np.nan)
        if mask_features is not None and np.shape(mask_features) == mask_row.shape:
            mask_row = np.asarray(mask_features, dtype=np.float64)
        vis: dict[str, float] = {leg: 0.0 for leg in LEGS}
        xy = np.zeros((0, 2))
        ok = np.zeros(NUM_LANDMARKS, dtype=bool)
        if landmarks is not None and np.shape(landmarks) == (NUM_LANDMARKS, 5):
            lm = np.asarray(landmarks, dtype=np.float64)
            ok = joint_ok(lm, self.params)
            if ok.any():
                xy = level_landmarks(lm, self.width, self.height, self.roll_deg)
                self._check_identity(xy, ok)
                if self._facing_camera(xy, ok):
                    xy = np.zeros((0, 2))  # no side view: no events or angles from this frame
                else:
                    if self._vote.update(xy, ok):  # early flip: the buffered signals used the other sign
                        self._restart(self._frame)
                    vis = {leg: float(leg_visibility(lm, leg)) for leg in LEGS}
                    score = nearness(lm)
                    if np.isfinite(score).all():
                        self._nearness += 0.05 * (score - self._nearness)
        self._append(float(t_s), xy, ok, vis, mask_row)
        events, strides = self._detect()
        return self._make_update(t_s, events, strides)

    def _near_leg(self) -> str | None:
        return near_side(self._nearness)

    def _make_update(self, t_s: float, events: list[FootEvent], strides: list[Stride]) -> LiveUpdate:
        row = self._hist.filt[-1]
        near = self._near_leg()
        thigh: dict[str, float] = {leg: float(row[THIGH[leg]]) for leg in LEGS}
        thigh_near = thigh[near] if near else float(np.nanmax([thigh["left"], thigh["right"], -np.inf]))
        if not math.isfinite(thigh_near):
            thigh_near = math.nan
        trunk = float(row[TRUNK_SIDE[near]]) if near else math.nan
        if not math.isfinite(trunk):
            trunk = float(row[TRUNK])
        return LiveUpdate(
            t_s=t_s,
            frame=self._frame,
            direction=self.direction,
            near_leg=near,
            thigh_deg=thigh_near,
            trunk_lean_deg=trunk,
            hip_extension_deg=thigh_near - trunk,
            thigh_deg_by_leg=thigh,
            timing=step_timing(self._timed, self.params.max_stride_s) if strides else None,
            locomotion=self._locomotion,
            fps=self.fps,
            events=events,
            strides=strides,
        )

    def _new_events(self) -> list[FootEvent]:
        """Events in the buffer that are final (settled) and not reported yet, oldest first."""
        p, hist, i = self.params, self._hist, self._frame
        if i < self._search_next or len(hist) < min(_MIN_BUFFER_S * self.fps, hist.capacity):
            return []
        self._search_next = i + max(1, round(_EVENTS_EVERY_S * self.fps))
        self._update_locomotion()
        final = i - math.ceil(settle_s(p) * self.fps)
        gap = 0.5 * p.min_stride_s * self.fps  # the same leg's same event again: the same event, re-found
        xy, ok = hist.xy.copy(), hist.ok.copy()
        clean_pose(xy, ok, self.fps, p)  # as offline: centered windows over the buffer
        self._cleaned = (xy, ok)  # the strides this update closes are measured on it
        found = [
            replace(e, frame=e.frame + hist.base) for e in find_events(foot_tracks(xy, ok, self._vote.d), self.fps, p)
        ]
        # An event must also have been found by the previous search (within a frame): close to the
        # buffer's end a contact's start can still move as later frames arrive.
        before, self._candidates = self._candidates, found
        out = []
        for e in found:
            last = self._reported.get((e.leg, e.type))
            seen = any(b.leg == e.leg and b.type == e.type and abs(b.frame - e.frame) <= 1 for b in before)
            if seen and e.frame <= final and (last is None or e.frame - last >= gap):
                self._reported[(e.leg, e.type)] = e.frame
                out.append(e)
            elif e.inferred and last is not None and 0 < abs(e.frame - last) < gap:
                self._retime_strike(e.leg, last, e.frame)
        return out

    def _update_locomotion(self) -> None:
        """Walking or running over the trailing window (the causal signals: both share one delay); an
        undecided window keeps the last answer, one without a pose forgets it."""
        r = pelvis_gait_correlation(self._hist.filt, len(self._hist), self.fps)
        decided = from_correlation(r)
        if decided is not None:
            self._locomotion = decided
        elif not math.isfinite(r):
            self._locomotion = None

    def _retime_strike(self, leg: str, reported: int, frame: int) -> None:
        """A hidden landing re-timed once the flight time it needs is known (gait.hidden_landing):
        the stride it opens, still open, starts there."""
        self._reported[(leg, "foot_strike")] = frame
        if self._last_strike[leg] == reported:
            self._last_strike[leg] = frame

    def _detect(self) -> tuple[list[FootEvent], list[Stride]]:
        events = self._new_events()
        strides: list[Stride] = []
        for ev in events:
            self._timed.append((self._time(ev.frame), ev.leg, ev.type))
            if ev.type == "toe_off":
                self._to[ev.leg].append(ev.frame)
                self._toe_offs.append((ev.frame, ev.leg))
                del self._toe_offs[:-8]
                continue
            self.latencies_frames.append(self._frame - ev.frame)
            prev, self._last_strike[ev.leg] = self._last_strike[ev.leg], ev.frame
            if prev is not None and self._seconds(prev, ev.frame) <= self.params.max_stride_s:
                stride = self._stride(ev.leg, prev, ev.frame)
                if stride is not None:
                    strides.append(stride)
        del self.latencies_frames[:-_MAX_LATENCIES_KEPT]  # the tracker runs for weeks on a device
        if self._timed:
            newest = self._timed[-1][0]
            self._timed = [e for e in self._timed if newest - e[0] <= _TIMING_KEPT_S]
        return events, strides

    def _time(self, frame: int) -> float:
        j = frame - self._hist.base
        t = self._hist.t
        return float(t[j]) if 0 <= j < len(t) and math.isfinite(t[j]) else frame / self.fps

    def _seconds(self, start: int, end: int) -> float:
        """Time between two frames from the timestamps (frame count / fps where they are missing)."""
        t = self._hist.t
        a, b = start - self._hist.base, end - self._hist.base
        if 0 <= a < len(t) and 0 <= b < len(t):
            dt = t[b] - t[a]
            if math.isfinite(dt) and dt > 0:
                return float(dt)
        return (end - start) / self.fps

    def _stride(self, leg: str, start: int, end: int) -> Stride | None:
        hist = self._hist
        base = hist.base
        if start < base:
            return None  # the buffer no longer holds the stride's start
        tof = toe_off_between(self._to[leg], start, end)
        self._to[leg] = [t for t in self._to[leg] if t >= end]
        history = self._durations[-self.params.rolling_strides :]
        duration = self._seconds(start, end)
        xy, ok = self._cleaned  # from this update's event search
        raw = frame_signals(xy, ok, self._vote.d)
        near = self._near_leg()
        near_to = [f for f, lg in self._toe_offs if lg == near]
        frame = trunk_frame_for(leg, tof, near, near_to, self.fps, self.params.max_stride_s / 2)
        window = StrideWindow(
            leg=leg,
            start=start - base,
            toe_off=None if tof is None else tof - base,
            end=end - base,
            filtered=zero_lag(fill_gaps(raw, int(self.params.max_gap_s * self.fps)), self._sos),
            quality=hist.vis(leg),
            mask=hist.mask,
            d=self._vote.d,
            roll_deg=self.roll_deg,
            fps=self.fps,
            duration_s=duration,
            stance_s=None if tof is None else self._seconds(start, tof),
            swing_s=None if tof is None else self._seconds(tof, end),
            median_duration_s=float(np.median(history)) if len(history) >= 3 else None,
            offset=base,
            near=near,
            raw=raw,
            trunk_frame=None if frame is None else frame - base,
            other_strikes=tuple(f - base for f in [self._last_strike[other_leg(leg)]] if f is not None),
            other_toe_offs=tuple(t - base for t in self._to[other_leg(leg)]),  # for the flight time
        )
        stride = measure_stride(window, self.params)
        if duration < self.params.min_stride_s and not stride.reason:
            # A false strike mid-stride (a foot BlazePose lost and found again) splits the stride in two.
            stride.reason, stride.cls = "stride too short (split stride)", UNKNOWN
        if not stride.reason:  # only accepted strides set the expected duration
            self._durations.append(duration)
            del self._durations[: -self.params.rolling_strides]
        return stride


def replay(series: LandmarkSeries, params: GaitParams, fps: float, roll_deg: float = 0.0) -> list[Stride]:
    """Feed a whole landmarks series through the live path at `fps` (frame i at i / fps); its strides.
    The check that live and offline agree (tests) and a way to see what the page would have shown."""
    from hipcam.gait.offline import mask_matrix

    live = LiveGait(params, fps_hint=fps, roll_deg=roll_deg, frame_size=(series.width, series.height))
    lm = np.asarray(series.image_landmarks, dtype=np.float64)
    mask = mask_matrix(series)
    strides: list[Stride] = []
    for i in range(len(series)):
        pose = lm[i] if series.found[i] and np.isfinite(lm[i, :, :2]).any() else None
        strides += live.update(i / fps, pose, None if mask is None else mask[i]).strides
    return strides
