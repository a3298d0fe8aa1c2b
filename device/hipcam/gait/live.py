"""Live gait analysis, one frame at a time, with the offline path's angle and stride functions.

Angles: causal Butterworth (sosfilt with state) on the same signals as offline, read back with the
filter's group delay removed. Events: a `StreamingPeak` per leg on the unfiltered heel / foot-tip
forward positions (after the live leg-swap repair and outlier test), so no filter delay: a foot strike
is confirmed as soon as the heel has moved `event_confirm_drop` back from its forward extreme for
`event_confirm_s` (ceil(0.02 s * fps): 1 frame at 30 fps, 2 at 60, 5 at 240). A stride is measured
and classified by the shared measure_stride() in the update that confirms the next foot strike of
the same leg.

Time base: the frame rate is estimated from the t_s timestamps (median frame interval, which a few
dropped frames do not move) and replaces fps_hint when they disagree by more than 3 %; stride times
come from the timestamps, so a dropped frame does not shorten a stride. Frame numbers stay one per
update() call (the service keys its snapshot ring by them).

LiveGait orchestrates: the recent frames live in a FrameHistory (gait.history), the rate estimate in a
FrameRateEstimator (gait.frame_rate), the person check in an IdentityGuard (gait.identity) and the
running direction in a DirectionVote (gait.direction_vote).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from hipcam.config.gait import GaitParams
from hipcam.domain import LEGS, MASK_FEATURES, NUM_LANDMARKS, UNKNOWN
from hipcam.gait.direction_vote import DirectionVote
from hipcam.gait.events import JumpGate, StreamingPeak, toe_off_between
from hipcam.gait.filters import CausalFilter, design_filter, group_delay_frames, odd_window
from hipcam.gait.frame_rate import FrameRateEstimator
from hipcam.gait.history import FrameHistory
from hipcam.gait.identity import IdentityGuard
from hipcam.gait.kinematics import (
    CHANNELS,
    HEEL,
    HEEL_Y,
    THIGH,
    TOE,
    TOE_Y,
    TRUNK,
    body_width,
    direction_name,
    frame_signals,
    joint_ok,
    leg_visibility,
    outlier_joints,
    repair_swaps,
)
from hipcam.gait.level import level_landmarks
from hipcam.gait.strides import GaitEvent, Stride, StrideWindow, measure_stride

_LIVE_OUTLIER_SLACK = 1.5  # the trailing median lags fast swings: looser threshold than offline
_MAX_LATENCIES_KEPT = 200
_GROUND_EVERY = 8  # frames between updates of the ground level and fore-aft range (percentiles of the buffer)


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
        self._vis_avg: dict[str, float] = {leg: 0.0 for leg in LEGS}
        self._widths: list[float] = []
        self.latencies_frames: list[int] = []  # update index minus the frame of each recent stride-closing strike
        self._configure(self.fps_hint, first_frame=0)

    def _configure(self, fps: float, first_frame: int) -> None:
        """(Re)build everything that depends on the frame rate; the buffers restart at `first_frame`."""
        p = self.params
        self.fps = fps
        self._sos = design_filter(fps, p)
        self._delay = round(group_delay_frames(self._sos))
        self._hist = FrameHistory(int((p.max_stride_s + 1.0) * fps) + 8, len(CHANNELS), len(MASK_FEATURES))
        self._outlier_window = odd_window(p.outlier_window_s * fps)
        self._forget_strides()
        self._restart(first_frame)

    def _forget_strides(self) -> None:
        self._last_strike: dict[str, int | None] = {leg: None for leg in LEGS}
        self._to: dict[str, list[int]] = {leg: [] for leg in LEGS}
        self._durations: list[float] = []  # accepted strides of both legs (equal in steady running)

    def _restart(self, first_frame: int) -> None:
        """Empty the buffers (the next frame is `first_frame`) and start new filters and detectors."""
        p = self.params
        self._filter = CausalFilter(self._sos, len(CHANNELS))
        self._hist.clear(first_frame)
        confirm = max(1, math.ceil(p.event_confirm_s * self.fps - 1e-9))
        distance = max(1, int(0.8 * p.min_stride_s * self.fps))
        self._strike_det = {
            leg: StreamingPeak(p.event_prominence, p.event_confirm_drop, confirm, distance) for leg in LEGS
        }
        self._toe_det = {
            leg: StreamingPeak(p.event_prominence, p.event_confirm_drop, confirm, distance) for leg in LEGS
        }
        self._ground: dict[str, tuple[float, float]] = {leg: (math.nan, math.nan) for leg in LEGS}
        self._mid: dict[str, tuple[float, float]] = {leg: (math.nan, math.nan) for leg in LEGS}
        self._ground_next = -1  # frame of the next refresh of _ground and _mid
        step, resync = p.event_max_speed / self.fps, max(2, round(0.1 * self.fps))
        self._gates = {(leg, c): JumpGate(step, resync) for leg in LEGS for c in ("heel", "toe")}

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
        """Not a side view (median body width over the last ~0.3 s above max_body_width)."""
        self._widths.append(float(body_width(xy, ok)))
        del self._widths[: -max(1, round(0.3 * self.fps))]
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
        if xy.size:
            xy, ok = xy.copy(), ok.copy()
            self._clean_pose(xy, ok)
            raw = frame_signals(xy[None], ok[None], self._vote.d)[0]
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
        for leg in LEGS:
            self._vis_avg[leg] += 0.05 * (vis[leg] - self._vis_avg[leg])
        self._append(float(t_s), xy, ok, vis, mask_row)
        events, strides = self._detect()
        return self._make_update(t_s, events, strides)

    def _near_leg(self) -> str | None:
        left, right = self._vis_avg["left"], self._vis_avg["right"]
        if abs(left - right) < 0.02:
            return None
        return "left" if left > right else "right"

    def _make_update(self, t_s: float, events: list[GaitEvent], strides: list[Stride]) -> LiveUpdate:
        row = self._hist.filt[-1]
        near = self._near_leg()
        thigh: dict[str, float] = {leg: float(row[THIGH[leg]]) for leg in LEGS}
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
        )

    def _refresh_ground(self) -> None:
        """Both legs' ground levels (95th percentile of the buffered heel / foot tip heights) and the
        middles of their fore-aft ranges (10th-90th percentile), from the whole buffer."""
        hist = self._hist.raw
        heights = hist[:, [c for leg in LEGS for c in (HEEL_Y[leg], TOE_Y[leg])]]
        fore_aft = hist[:, [c for leg in LEGS for c in (HEEL[leg], TOE[leg])]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (no pose yet)
            ground = np.nanpercentile(heights, 95, axis=0)
            lo, hi = np.nanpercentile(fore_aft, [10, 90], axis=0)
        mid = (lo + hi) / 2
        for k, leg in enumerate(LEGS):
            self._ground[leg] = (float(ground[2 * k]), float(ground[2 * k + 1]))
            self._mid[leg] = (float(mid[2 * k]), float(mid[2 * k + 1]))
        self._ground_next = self._frame + _GROUND_EVERY

    def _usable(self, leg: str, row: np.ndarray) -> tuple[bool, bool]:
        """(heel, foot tip) may be a foot strike / toe-off: near the ground and in the right half of the
        foot's fore-aft range.

        Ground: within ground_band of the 95th percentile of the buffered heights. Range: a strike lands
        in the front half of the heel's 10th-90th percentile range, a toe-off leaves in the rear half of
        the foot tip's; this rejects a swinging foot that BlazePose briefly puts on the ground behind
        the body (a causal detector cannot wait to see that it was a glitch). Both are refreshed every
        _GROUND_EVERY frames (_refresh_ground), so they follow the runner once the buffer is full.
        """
        band = self.params.ground_band
        (heel_g, toe_g), (heel_mid, toe_mid) = self._ground[leg], self._mid[leg]
        with np.errstate(invalid="ignore"):
            heel = bool(row[HEEL_Y[leg]] >= heel_g - band and not row[HEEL[leg]] < heel_mid)
            toe = bool(row[TOE_Y[leg]] >= toe_g - band and not row[TOE[leg]] > toe_mid)
        return heel, toe

    def _detect(self) -> tuple[list[GaitEvent], list[Stride]]:
        row = self._hist.raw[-1]
        i = self._frame
        events: list[GaitEvent] = []
        strides: list[Stride] = []
        ready = len(self._hist) >= self.params.min_stride_s * self.fps  # history for the ground level and range
        if ready and i >= self._ground_next:
            self._refresh_ground()
        for leg in LEGS:
            heel_ok, toe_ok = self._usable(leg, row) if ready else (False, False)
            heel = self._gates[(leg, "heel")].step(i, float(row[HEEL[leg]]))
            toe = self._gates[(leg, "toe")].step(i, float(row[TOE[leg]]))
            t = self._toe_det[leg].step(i, -toe, toe_ok)
            if t is not None:
                self._to[leg].append(t)
                events.append(GaitEvent(t, leg, "toe_off"))
            f = self._strike_det[leg].step(i, heel, heel_ok)
            if f is None:
                continue
            events.append(GaitEvent(f, leg, "foot_strike"))
            self.latencies_frames.append(i - f)
            prev, self._last_strike[leg] = self._last_strike[leg], f
            if prev is not None and self._seconds(prev, f) <= self.params.max_stride_s:
                stride = self._stride(leg, prev, f)
                if stride is not None:
                    strides.append(stride)
        del self.latencies_frames[:-_MAX_LATENCIES_KEPT]  # the tracker runs for weeks on a device
        return events, strides

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
        shift = hist.base - self._delay  # filtered-buffer index -> frame (group delay removed)
        if start < hist.base:
            return None  # the buffer no longer holds the stride's start (start - shift >= 0 then: the delay is >= 0)
        tof = toe_off_between(self._to[leg], start, end, hist.filt[:, TOE[leg]], offset=shift)
        self._to[leg] = [t for t in self._to[leg] if t >= end]
        history = self._durations[-self.params.rolling_strides :]
        duration = self._seconds(start, end)
        window = StrideWindow(
            leg=leg,
            start=start - shift,
            toe_off=None if tof is None else tof - shift,
            end=end - shift,
            filtered=hist.filt,
            quality=self._delayed(hist.vis(leg)),
            mask=self._delayed(hist.mask),
            d=self._vote.d,
            roll_deg=self.roll_deg,
            fps=self.fps,
            duration_s=duration,
            stance_s=None if tof is None else self._seconds(start, tof),
            swing_s=None if tof is None else self._seconds(tof, end),
            median_duration_s=float(np.median(history)) if len(history) >= 3 else None,
            offset=shift,
        )
        stride = measure_stride(window, self.params)
        if duration < self.params.min_stride_s and not stride.reason:
            # A false strike mid-stride (a foot BlazePose lost and found again) splits the stride in two.
            stride.reason, stride.cls = "stride too short (split stride)", UNKNOWN
        if not stride.reason:  # only accepted strides set the expected duration
            self._durations.append(duration)
            del self._durations[: -self.params.rolling_strides]
        return stride

    def _delayed(self, a: np.ndarray) -> np.ndarray:
        """A per-frame buffer re-indexed like the filtered one (which lags by the group delay)."""
        if not a.size or self._delay <= 0:
            return a
        return np.concatenate([np.repeat(a[:1], self._delay, axis=0), a])[: len(a)]
