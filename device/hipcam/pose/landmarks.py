"""BlazePose landmark model (256x256 crop): decoding, heatmap refinement and projection to the image.

Numerics follow MediaPipe's pose_landmark_by_roi_cpu.pbtxt and
tensors_to_pose_landmarks_and_segmentation.pbtxt: input in [0, 1] with replicated border; 39 x 5
values (x, y, z in crop pixels, visibility and presence logits); x/y refined from the 64x64 heatmap
(9x9 window, weighted mean, only where the heatmap peak is >= 0.5); pose flag thresholded; world
landmarks rotated back by the ROI angle. Internally landmarks are in image pixels (z scaled like x).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from hipcam.pose.roi import Roi
from hipcam.pose.runtime import TfliteModel

INPUT_SIZE = 256
NUM_OUTPUT_LANDMARKS = 39
NUM_LANDMARKS = 33
NUM_USED = 35  # 33 body landmarks + 2 auxiliary ones (hips centre, scale point) for the next ROI
HEATMAP_KERNEL = 9  # the 0.10.14 graph leaves kernel_size at its proto default (9); 9 matches its output
MIN_REFINE_CONFIDENCE = 0.5

OUT_LANDMARKS = "Identity"
OUT_FLAG = "Identity_1"
OUT_SEGMENTATION = "Identity_2"
OUT_HEATMAP = "Identity_3"
OUT_WORLD = "Identity_4"


@dataclass
class RawPose:
    """One frame's unsmoothed model output, projected to the image.

    landmarks [35, 5]: x, y, z in image pixels (z on the x scale), visibility, presence;
    world [33, 3] metres, hips-centred, rotated back to the image orientation.
    """

    score: float
    landmarks: np.ndarray
    world: np.ndarray


def _sigmoid_inplace(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in x's own buffer and precision (as MediaPipe's C++), without temporaries.

    exp overflow -> 0 is correct; the caller silences its warning, once for all its calls.
    """
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    np.divide(1.0, x, out=x)
    return x


# Window offsets of the heatmap refinement (a constant, not state).
_OFFSETS = np.arange(HEATMAP_KERNEL) - (HEATMAP_KERNEL - 1) // 2


@functools.lru_cache(maxsize=4)
def _window_tables(hm_h: int, hm_w: int, depth: int) -> tuple[np.ndarray, ...]:
    """Per window centre row (0 .. hm_h + half) and column (0 .. hm_w - 1), the 9 window cells':
    flat offsets into the heatmap (clipped to it), whether they lie on it, and their indices.

    Rows further down than hm_h + half have no cell on the heatmap, exactly like row hm_h + half.
    """
    rows = np.arange(hm_h + (HEATMAP_KERNEL - 1) // 2 + 1)[:, None] + _OFFSETS
    cols = np.arange(hm_w)[:, None] + _OFFSETS
    tables = (
        np.clip(rows, 0, hm_h - 1) * (hm_w * depth),
        (rows >= 0) & (rows < hm_h),
        rows,
        np.clip(cols, 0, hm_w - 1) * depth,
        (cols >= 0) & (cols < hm_w),
        cols,
    )
    for t in tables:
        t.flags.writeable = False  # shared by every caller
    return tables


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap on crop-normalized xy [L, 2] with a heatmap [H, W, >=L].

    Quirks kept on purpose so results match: the centre cell is truncated toward zero and the row
    range check compares the column (upstream bug), the weighted mean uses cell indices, not centres.
    Only landmarks whose centre cell passes that check get a window; the windows come from
    precomputed per-row/per-column tables and one flat ``take``, which keeps the number of numpy
    calls (each slow right after an invoke has flushed the caches) low. Same values, same sums.
    """
    hm_h, hm_w, depth = heatmap.shape
    with np.errstate(over="ignore"):
        return _refine(xy, heatmap, hm_h, hm_w, depth)


def _refine(xy: np.ndarray, heatmap: np.ndarray, hm_h: int, hm_w: int, depth: int) -> np.ndarray:
    cr = np.trunc(xy * (hm_w, hm_h)).astype(np.int64)
    out = xy.copy()
    sel = np.flatnonzero((cr.min(axis=1) >= 0) & (cr[:, 0] < min(hm_w, hm_h)))
    if sel.size == 0:
        return out
    row_off, row_ok, row_idx, col_off, col_ok, col_idx = _window_tables(hm_h, hm_w, depth)
    r = np.minimum(cr[sel, 1], len(row_off) - 1)
    c = cr[sel, 0]
    index = row_off[r][:, :, None] + col_off[c][:, None, :]
    index += sel[:, None, None]  # the landmark's channel
    conf = _sigmoid_inplace(heatmap.ravel().take(index))
    conf *= row_ok[r][:, :, None] & col_ok[c][:, None, :]
    total = conf.sum(axis=(1, 2))
    ok = np.flatnonzero((conf.max(axis=(1, 2)) >= MIN_REFINE_CONFIDENCE) & (total > 0))
    if ok.size:
        conf, total, r, c = conf[ok], total[ok], r[ok], c[ok]
        out[sel[ok], 0] = (conf * col_idx[c][:, None, :]).sum(axis=(1, 2)) / hm_w / total
        out[sel[ok], 1] = (conf * row_idx[r][:, :, None]).sum(axis=(1, 2)) / hm_h / total
    return out


def decode_landmarks(raw: np.ndarray, heatmap: np.ndarray | None, roi: Roi) -> np.ndarray:
    """Raw landmark tensor [195] -> [35, 5] image-pixel landmarks (x, y, z, visibility, presence)."""
    with np.errstate(over="ignore"):  # once for both sigmoids: exp overflow is harmless there
        return _decode(raw.reshape(NUM_OUTPUT_LANDMARKS, 5)[:NUM_USED], heatmap, roi)


def _decode(lm: np.ndarray, heatmap: np.ndarray | None, roi: Roi) -> np.ndarray:
    xy = lm[:, :2].astype(np.float64)
    xy /= INPUT_SIZE
    if heatmap is not None:
        xy = _refine(xy, heatmap, *heatmap.shape)
    out = np.empty((NUM_USED, 5), np.float64)
    out[:, :2] = roi.to_image(xy)
    out[:, 2] = lm[:, 2] / INPUT_SIZE * roi.size
    out[:, 3:5] = lm[:, 3:5]
    _sigmoid_inplace(out[:, 3:5])
    return out


def decode_world(raw: np.ndarray, rotation: float) -> np.ndarray:
    """Raw world tensor [117] -> [33, 3] metres, rotated by the ROI angle (WorldLandmarkProjection)."""
    w = raw.reshape(NUM_OUTPUT_LANDMARKS, 3)[:NUM_LANDMARKS].astype(np.float64)
    c, s = math.cos(rotation), math.sin(rotation)
    out = w.copy()
    out[:, 0] = c * w[:, 0] - s * w[:, 1]
    out[:, 1] = s * w[:, 0] + c * w[:, 1]
    return out


class LandmarkModel:
    """Runs the landmark model on a rotated crop of the frame."""

    def __init__(self, model: TfliteModel, presence_threshold: float = 0.5, refine: bool = True) -> None:
        if model.input_shape != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"landmark input {model.input_shape}, expected (1, {INPUT_SIZE}, {INPUT_SIZE}, 3)")
        self.model = model
        self.presence_threshold = presence_threshold
        self.refine = refine
        self._crop = np.empty((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)

    def preprocess(self, image: np.ndarray, roi: Roi) -> None:
        """One warpAffine into a preallocated crop, scaled to [0, 1] straight into the input tensor."""
        roi.crop(image, INPUT_SIZE, dst=self._crop)
        x = self.model.input_view()
        np.multiply(self._crop, np.float32(1.0 / 255.0), out=x[0], casting="unsafe")
        del x

    def postprocess(self, roi: Roi) -> RawPose | None:
        score = float(self.model.output_view(OUT_FLAG)[0, 0])
        if not score > self.presence_threshold:  # strict, as MediaPipe's ThresholdingCalculator
            return None
        heatmap = self.model.output_view(OUT_HEATMAP)[0] if self.refine else None
        landmarks = decode_landmarks(self.model.output_view(OUT_LANDMARKS)[0], heatmap, roi)
        world = decode_world(self.model.output_view(OUT_WORLD)[0], roi.rotation)
        return RawPose(score=score, landmarks=landmarks, world=world)

    def segmentation_logits(self) -> np.ndarray:
        """The person-mask logits of the last invoke, [256, 256] float32 in crop space (a copy);
        ``segmentation_mask`` turns them into probabilities."""
        return np.array(self.model.output_view(OUT_SEGMENTATION)[0, :, :, 0])


class MaskBranch:
    """The segmentation branch as a graph of its own (hipcam.pose.graph_split): it reads the trunk's
    feature maps (``links``) of the last invoke and computes the same mask as the complete graph."""

    def __init__(self, model: TfliteModel, links: tuple[str, ...]) -> None:
        self.model, self.links = model, links

    def run(self, trunk: TfliteModel) -> None:
        for name in self.links:
            view = self.model.input_view(name)
            view[...] = trunk.output_view(name)
            del view
        self.model.invoke()

    def logits(self) -> np.ndarray:
        """[256, 256] float32 logits in crop space (a copy), as ``LandmarkModel.segmentation_logits``."""
        return np.array(self.model.output_view(OUT_SEGMENTATION)[0, :, :, 0])


def segmentation_mask(logits: np.ndarray) -> np.ndarray:
    """Segmentation logits -> person probabilities in [0, 1], a new float32 array."""
    with np.errstate(over="ignore"):
        return _sigmoid_inplace(np.array(logits, np.float32))
