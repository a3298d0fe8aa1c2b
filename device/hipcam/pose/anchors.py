"""SSD anchors of BlazePose's 224x224 person detector (MediaPipe's SsdAnchorsCalculator settings)."""

from __future__ import annotations

import math

import numpy as np

# pose_detection_cpu.pbtxt: SsdAnchorsCalculatorOptions.
INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
ANCHOR_OFFSET = 0.5
NUM_ANCHORS = 2254


def _anchors_per_cell(first: int, last: int) -> int:
    # Each layer contributes one anchor for aspect ratio 1.0 and one interpolated-scale anchor; with a
    # fixed anchor size only their count matters, not their scales (min_scale/max_scale drop out).
    return 2 * (last - first)


def generate_anchors(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres [A, 2] (x, y) in [0, 1]; width and height are fixed at 1."""
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        # Consecutive layers with the same stride share one feature map; their anchors interleave per cell.
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        size = math.ceil(input_size / strides[layer])
        per_cell = _anchors_per_cell(layer, last)
        grid = (np.arange(size, dtype=np.float32) + ANCHOR_OFFSET) / size
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)
