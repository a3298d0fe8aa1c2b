"""Live gait analysis, one frame at a time, with the offline path's angle, event and stride functions.

Causal Butterworth (sosfilt with state) on the same signals as offline; events come from the same
find_foot_events() run on the recent buffer: a foot strike is confirmed once the heel has moved back
by `event_prominence` after its forward extreme, and its frame is corrected for the filter's group
delay. A stride is measured and classified by the shared measure_stride() as soon as the next foot
strike of the same leg is confirmed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hipcam.gait import mask_features as mf
from hipcam.gait.events import find_foot_events, toe_off_between
from hipcam.gait.kinematics import (
    CHANNELS,
    HEEL,
    HEEL_Y,
    LEGS,
    THIGH,
    TOE,
    TOE_Y,
    TRUNK,
    CausalFilter,
    design_filter,
    direction_name,
    direction_votes,
    fill_gaps,
    frame_signals,
    group_delay_frames,
    joint_ok,
    leg_visibility,
    odd_window,
    outlier_joints,
    resolve_direction,
)
from hipcam.gait.level import level_landmarks
from hipcam.gait.params import GaitParams
from hipcam.gait.strides import GaitEvent, Stride, measure_stride, rolling_summary
from hipcam.skeleton import NUM_LANDMARKS

_DIRECTION_VOTES = 15  # frames of votes before the running direction is locked
_LIVE_OUTLIER_SLACK = 1.5  # the trailing median lags fast swings: looser threshold than offline
_MAX_STRIDES_KEPT = 200


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
    events: list[GaitEvent] = field(default_factory=list)
    strides: list[Stride] = field(default_factory=list)
    current: dict[str, dict[str, float]] = field(default_factory=dict)


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
        self.fps = float(fps_hint)
        self.roll_deg = float(roll_deg)
        self.width, self.height = frame_size
        self._sos = design_filter(self.fps, params)
        self._delay = round(group_delay_frames(self._sos))
        self._capacity = int((params.max_stride_s + 1.0) * self.fps) + 8
        self._outlier_window = odd_window(params.outlier_window_s * self.fps)
        self._reset_buffers()
        self._votes = 0.0
        self._vote_frames = 0
        self._d = resolve_direction(params, 0.0)
        self._frame = -1
        self._vis_avg = {leg: 0.0 for leg in LEGS}
        self._last: dict[tuple[str, str], int] = {}  # (leg, type) -> frame of the last accepted event
        self._to: dict[str, list[int]] = {leg: [] for leg in LEGS}
        self._durations: dict[str, list[float]] = {leg: [] for leg in LEGS}
        self.strides: list[Stride] = []
        self.latencies_frames: list[int] = []  # confirmation delay of each stride-closing foot strike

    def _reset_buffers(self) -> None:
        self._filter = CausalFilter(self._sos, len(CHANNELS))
        self._xy: list[np.ndarray] = []
        self._ok: list[np.ndarray] = []
        self._raw: list[np.ndarray] = []
        self._filt: list[np.ndarray] = []
        self._vis: dict[str, list[float]] = {leg: [] for leg in LEGS}
        self._mask: list[np.ndarray] = []
        self._base = 0  # absolute frame of buffer index 0

    @property
    def direction(self) -> str:
        return direction_name(self._d)

    def _update_direction(self, xy: np.ndarray, ok: np.ndarray) -> None:
        if self.params.direction != "auto" or self._vote_frames >= _DIRECTION_VOTES:
            return
        vote = float(np.nansum(direction_votes(xy[None], ok[None])))
        if vote == 0:
            return
        self._votes += vote
        self._vote_frames += 1
        d = resolve_direction(self.params, self._votes)
        if d != self._d:  # early flip: the buffered signals used the other sign
            self._d = d
            base = self._frame
            self._reset_buffers()
            self._base = base

    def _append(self, xy: np.ndarray, ok: np.ndarray, vis: dict[str, float], mask_row: np.ndarray) -> None:
        if xy.size:
            self._xy.append(xy)
            self._ok.append(ok)
            win = self._outlier_window
            if len(self._xy) >= win:
                thr = self.params.outlier_threshold * _LIVE_OUTLIER_SLACK
                out = outlier_joints(np.stack(self._xy[-win:]), np.stack(self._ok[-win:]), win, thr, centered=False)
                ok = ok & ~out[-1]
                self._ok[-1] = ok
            raw = frame_signals(xy[None], ok[None], self._d)[0]
        else:
            self._xy.append(np.full((NUM_LANDMARKS, 2), np.nan))
            self._ok.append(np.zeros(NUM_LANDMARKS, dtype=bool))
            raw = np.full(len(CHANNELS), np.nan)
        self._raw.append(raw)
        self._filt.append(self._filter.step(raw))
        for leg in LEGS:
            self._vis[leg].append(vis[leg])
        self._mask.append(mask_row)
        excess = len(self._raw) - self._capacity
        if excess > 0:
            buffers: list[list[Any]] = [self._xy, self._ok, self._raw, self._filt, self._mask, *self._vis.values()]
            for buf in buffers:
                del buf[:excess]
            self._base += excess

    def update(self, t_s: float, landmarks: np.ndarray | None, mask_features: np.ndarray | None = None) -> LiveUpdate:
        """Feed one frame (landmarks [33, 5] normalized as in the landmarks file, or None if no pose)."""
        self._frame += 1
        mask_row = np.full(len(mf.FEATURE_NAMES), np.nan)
        if mask_features is not None and np.shape(mask_features) == mask_row.shape:
            mask_row = np.asarray(mask_features, dtype=np.float64)
        vis = {leg: 0.0 for leg in LEGS}
        xy = np.zeros((0, 2))
        ok = np.zeros(NUM_LANDMARKS, dtype=bool)
        if landmarks is not None and np.shape(landmarks) == (NUM_LANDMARKS, 5):
            lm = np.asarray(landmarks, dtype=np.float64)
            ok = joint_ok(lm, self.params)
            if ok.any():
                xy = level_landmarks(lm, self.width, self.height, self.roll_deg)
                self._update_direction(xy, ok)
                vis = {leg: float(leg_visibility(lm, leg)) for leg in LEGS}
        for leg in LEGS:
            self._vis_avg[leg] += 0.05 * (vis[leg] - self._vis_avg[leg])
        self._append(xy, ok, vis, mask_row)
        events, strides = self._detect()
        return self._make_update(t_s, events, strides)

    def _near_leg(self) -> str | None:
        left, right = self._vis_avg["left"], self._vis_avg["right"]
        if abs(left - right) < 0.02:
            return None
        return "left" if left > right else "right"

    def _make_update(self, t_s: float, events: list[GaitEvent], strides: list[Stride]) -> LiveUpdate:
        row = self._filt[-1]
        near = self._near_leg()
        thigh = {leg: float(row[THIGH[leg]]) for leg in LEGS}
        thigh_near = thigh[near] if near else float(np.nanmax([thigh["left"], thigh["right"], -np.inf]))
        if not math.isfinite(thigh_near):
            thigh_near = math.nan
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
            events=events,
            strides=strides,
            current=rolling_summary(self.strides, self.params.rolling_strides),
        )

    def _accept(self, leg: str, kind: str, frame: int) -> bool:
        gap = 0.5 * self.params.min_stride_s * self.fps
        last = self._last.get((leg, kind))
        if last is not None and frame <= last + gap:
            return False
        self._last[(leg, kind)] = frame
        return True

    def _detect(self) -> tuple[list[GaitEvent], list[Stride]]:
        if len(self._filt) < 5:
            return [], []
        filt = np.asarray(self._filt)
        raw = np.asarray(self._raw)
        bridged = fill_gaps(raw, 2)  # a dropped frame or two still counts as measured
        events: list[GaitEvent] = []
        strides: list[Stride] = []
        shift = self._base - self._delay  # buffer index -> event frame (group delay removed)
        for leg in LEGS:
            fs, to = find_foot_events(
                filt[:, HEEL[leg]], filt[:, TOE[leg]], filt[:, HEEL_Y[leg]], filt[:, TOE_Y[leg]], self.fps,
                self.params, measured=(np.isfinite(bridged[:, HEEL[leg]]), np.isfinite(bridged[:, TOE[leg]])),
                raw=(raw[:, HEEL[leg]], raw[:, TOE[leg]]),
            )  # fmt: skip
            for t in to:
                if self._accept(leg, "toe_off", int(t) + shift):
                    self._to[leg].append(int(t) + shift)
                    events.append(GaitEvent(int(t) + shift, leg, "toe_off"))
            for f in fs:
                prev = self._last.get((leg, "foot_strike"))
                frame = int(f) + shift
                if not self._accept(leg, "foot_strike", frame):
                    continue
                events.append(GaitEvent(frame, leg, "foot_strike"))
                self.latencies_frames.append(self._frame - frame)
                if prev is not None and (frame - prev) / self.fps <= self.params.max_stride_s:
                    stride = self._stride(leg, prev, frame, filt, shift)
                    if stride is not None:
                        strides.append(stride)
        self.strides.extend(strides)
        del self.strides[:-_MAX_STRIDES_KEPT]
        return events, strides

    def _stride(self, leg: str, start: int, end: int, filt: np.ndarray, shift: int) -> Stride | None:
        a, b = start - shift, end - shift
        if a < 0:
            return None  # the buffer no longer holds the stride's start
        toe = filt[:, TOE[leg]]
        tof = toe_off_between(self._to[leg], start, end, toe, offset=shift)
        self._to[leg] = [t for t in self._to[leg] if t >= start]
        history = self._durations[leg][-self.params.rolling_strides :]
        median = float(np.median(history)) if len(history) >= 3 else None
        stride = measure_stride(
            leg, a, None if tof is None else tof - shift, b, filt, np.asarray(self._vis[leg]),
            np.asarray(self._mask), self._d, self.roll_deg, self.fps, self.params, median, offset=shift,
        )  # fmt: skip
        if tof is not None:
            self._durations[leg].append(stride.duration_s)
            del self._durations[leg][: -self.params.rolling_strides]
        return stride
