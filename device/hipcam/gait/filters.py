"""Signal filters shared by the offline and live gait paths: the Butterworth low-pass (zero-lag offline,
causal with state live), gap filling, and running medians (the outlier and side-view tests' reference).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import signal

from hipcam.config.gait import GaitParams


def design_filter(fps: float, params: GaitParams) -> np.ndarray:
    """Butterworth low-pass (second-order sections); cutoff clamped below 0.4 x fps."""
    cutoff = min(params.filter_cutoff_hz, 0.4 * fps)
    return signal.butter(params.filter_order, cutoff, btype="low", fs=fps, output="sos")


def group_delay_frames(sos: np.ndarray) -> float:
    """Low-frequency group delay of the causal filter, in frames (subtracted from live event times)."""
    b, a = signal.sos2tf(sos)
    _, gd = signal.group_delay((b, a), w=[0.01])
    return float(gd[0])


def fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate interior NaN runs of at most max_gap samples, per column of x [N, C]."""
    out = np.array(x, dtype=np.float64, copy=True)
    n = out.shape[0]
    idx = np.arange(n)
    for c in range(out.shape[1]):
        col = out[:, c]
        bad = ~np.isfinite(col)
        if not bad.any() or bad.all():
            continue
        good = ~bad
        filled = np.interp(idx, idx[good], col[good])
        # Length of each NaN run, to leave long gaps (and the ends) untouched.
        run_id = np.cumsum(good)
        run_len = np.bincount(run_id[bad], minlength=run_id[-1] + 1)
        interior = bad & (run_id > 0) & (run_id < run_id[-1])
        short = interior & (run_len[run_id] <= max_gap)
        col[short] = filled[short]
    return out


def zero_lag(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """sosfiltfilt over each finite stretch of each column (long gaps stay NaN, short ones unfiltered).

    Columns with the same gaps (the x and y of one landmark, or a gapless buffer) are filtered in one
    call: a call per column and stretch cost most of the live event search."""
    out = np.full(x.shape, np.nan)
    padlen_full = 3 * (2 * len(sos) + 1)
    finite = np.isfinite(x)
    groups: dict[bytes, list[int]] = {}
    for c in range(x.shape[1]):
        groups.setdefault(np.packbits(finite[:, c]).tobytes(), []).append(c)
    for cols in groups.values():
        edges = np.flatnonzero(np.diff(np.concatenate(([0], finite[:, cols[0]].astype(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            seg = x[start:stop][:, cols]
            out[start:stop, cols] = signal.sosfiltfilt(sos, seg, axis=0) if len(seg) > padlen_full else seg
    return out


class CausalFilter:
    """Per-channel causal sosfilt with state; a channel restarts cleanly after a NaN gap.

    One sample of all channels at a time, vectorized over the channels (transposed direct form II,
    as scipy's sosfilt): a per-channel sosfilt call costs ~0.2 ms each, too much per frame on a Pi.
    """

    def __init__(self, sos: np.ndarray, channels: int) -> None:
        self._sos = np.asarray(sos, dtype=np.float64)
        self._zi0 = signal.sosfilt_zi(sos)  # [sections, 2] steady state for a unit step
        self._z = np.zeros((channels, len(self._sos), 2))
        self._live = np.zeros(channels, dtype=bool)

    def step(self, row: np.ndarray) -> np.ndarray:
        x = np.asarray(row, dtype=np.float64)
        finite = np.isfinite(x)
        start = finite & ~self._live
        # A (re)starting channel begins as if the signal had been constant: no start-up transient.
        self._z[start] = self._zi0[None] * x[start, None, None]
        self._live = finite
        y = np.where(finite, x, 0.0)
        z = self._z
        for k, (b0, b1, b2, _, a1, a2) in enumerate(self._sos):
            xin = y
            y = b0 * xin + z[:, k, 0]
            z0 = b1 * xin - a1 * y + z[:, k, 1]
            z[:, k, 1] = np.where(finite, b2 * xin - a2 * y, z[:, k, 1])
            z[:, k, 0] = np.where(finite, z0, z[:, k, 0])
        return np.where(finite, y, np.nan)


def odd_window(frames: float) -> int:
    """An odd window length (>= 1) close to `frames`."""
    n = max(1, round(frames))
    return n if n % 2 else n + 1


def trailing_nanmedian_last(a: np.ndarray, window: int) -> np.ndarray:
    """running_nanmedian(a, window, centered=False), computed for the last sample only (rest NaN)."""
    out = np.full(a.shape, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out[-1] = np.nanmedian(a[-window:], axis=0)
    return out


def running_nanmedian(a: np.ndarray, window: int, centered: bool) -> np.ndarray:
    """Median over `window` samples along axis 0 ignoring NaN (centered, or trailing: ending at each sample).

    Missing samples are left out rather than filled: filling a rejected glitch with its nearest value
    would copy the glitch's edge into the window and drag the median toward it.
    """
    half = window // 2
    before, after = (half, half) if centered else (window - 1, 0)
    pad = np.full((before + a.shape[0] + after, *a.shape[1:]), np.nan)
    pad[before : before + a.shape[0]] = a
    win = np.lib.stride_tricks.sliding_window_view(pad, window, axis=0)
    return nanmedian_last_axis(win)


def nanmedian_last_axis(a: np.ndarray) -> np.ndarray:
    """np.nanmedian(a, axis=-1) without its slow masked-array path for many short rows."""
    return nanpercentile_last_axis(a, 50.0)


def nanpercentile_last_axis(a: np.ndarray, q: float) -> np.ndarray:
    """np.nanpercentile(a, q, axis=-1) (linear interpolation) in one sort: NaN sort last, so each row's
    finite values lead it. All-NaN rows give NaN."""
    ordered = np.sort(a, axis=-1)
    count = np.isfinite(a).sum(axis=-1)
    pos = (q / 100.0) * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(np.intp)[..., None]
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0)[..., None])
    low, high = np.take_along_axis(ordered, lo, -1)[..., 0], np.take_along_axis(ordered, hi, -1)[..., 0]
    frac = pos - lo[..., 0]
    return np.where(count > 0, low + frac * (high - low), np.nan)
