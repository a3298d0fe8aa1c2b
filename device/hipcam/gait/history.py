"""The live analysis' recent frames: preallocated per-frame arrays read back as ordered views.

Rows are written one after another into arrays of twice the capacity; when the end is reached the
last `capacity` rows are copied to the front (once every `capacity` frames). So the held frames are
always one contiguous slice: reading the last n frames costs no copy, and nothing is allocated per
frame (the per-frame Python lists this replaces were trimmed with a copy of each list every frame).
"""

from __future__ import annotations

import numpy as np

from hipcam.domain import LEGS, NUM_LANDMARKS


class FrameHistory:
    """The last `capacity` frames' pose (levelled xy, joint_ok), raw and filtered signals, timestamps,
    mask-feature rows and per-leg visibility. `base` is the absolute frame number of index 0.

    The views (xy, ok, raw, filt, t, mask, vis(leg)) are read-only by convention and valid until the
    next append.
    """

    def __init__(self, capacity: int, channels: int, mask_columns: int, first_frame: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity {capacity} must be at least 1")
        self.capacity = capacity
        size = 2 * capacity
        self._xy = np.full((size, NUM_LANDMARKS, 2), np.nan)
        self._ok = np.zeros((size, NUM_LANDMARKS), dtype=bool)
        self._raw = np.full((size, channels), np.nan)
        self._filt = np.full((size, channels), np.nan)
        self._t = np.full(size, np.nan)
        self._mask = np.full((size, mask_columns), np.nan)
        self._vis: dict[str, np.ndarray] = {leg: np.zeros(size) for leg in LEGS}
        self._start = self._stop = 0
        self.base = first_frame

    def clear(self, first_frame: int) -> None:
        """Forget every frame; the next append is frame `first_frame`."""
        self._start = self._stop = 0
        self.base = first_frame

    def __len__(self) -> int:
        return self._stop - self._start

    def _arrays(self) -> list[np.ndarray]:
        return [self._xy, self._ok, self._raw, self._filt, self._t, self._mask, *self._vis.values()]

    def append(
        self,
        t_s: float,
        xy: np.ndarray,
        ok: np.ndarray,
        raw: np.ndarray,
        filt: np.ndarray,
        vis: dict[str, float],
        mask_row: np.ndarray,
    ) -> None:
        """Add the newest frame, dropping the oldest once `capacity` frames are held."""
        if self._stop == len(self._t):
            held = len(self)
            for a in self._arrays():
                a[:held] = a[self._start : self._stop]
            self._start, self._stop = 0, held
        i = self._stop
        self._xy[i], self._ok[i], self._raw[i], self._filt[i] = xy, ok, raw, filt
        self._t[i], self._mask[i] = t_s, mask_row
        for leg in LEGS:
            self._vis[leg][i] = vis[leg]
        self._stop += 1
        if len(self) > self.capacity:
            self._start += 1
            self.base += 1

    def _view(self, a: np.ndarray) -> np.ndarray:
        return a[self._start : self._stop]

    @property
    def xy(self) -> np.ndarray:
        """[n, 33, 2] levelled pixel landmarks (NaN without a pose), oldest first."""
        return self._view(self._xy)

    @property
    def ok(self) -> np.ndarray:
        """[n, 33] joint_ok after the live repairs."""
        return self._view(self._ok)

    @property
    def raw(self) -> np.ndarray:
        """[n, CHANNELS] unfiltered signals."""
        return self._view(self._raw)

    @property
    def filt(self) -> np.ndarray:
        """[n, CHANNELS] causally filtered signals (lagging by the filter's group delay)."""
        return self._view(self._filt)

    @property
    def t(self) -> np.ndarray:
        """[n] timestamps in seconds."""
        return self._view(self._t)

    @property
    def mask(self) -> np.ndarray:
        """[n, K] mask features (domain.MASK_FEATURES order; NaN where not measured)."""
        return self._view(self._mask)

    def vis(self, leg: str) -> np.ndarray:
        """[n] the leg's landmark visibility (0 without a side-view pose)."""
        return self._view(self._vis[leg])
