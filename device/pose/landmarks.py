"""BlazePose landmark model (256x256 crop): decoding, heatmap refinement and projection to the image.

Numerics follow MediaPipe's pose_landmark_by_roi_cpu.pbtxt and
tensors_to_pose_landmarks_and_segmentation.pbtxt: input in [0, 1] with replicated border; 39 x 5
values (x, y, z in crop pixels, visibility and presence logits); x/y refined from the 64x64 heatmap
(9x9 window, weighted mean, only where the heatmap peak is >= 0.5); pose flag thresholded; world
landmarks rotated back by the ROI angle. Internally landmarks are in image pixels (z scaled like x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipcam.pose.roi import Roi
from hipcam.runtime import TfliteModel

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


def sigmoid(x: np.ndarray) -> np.ndarray:
    # The plain formula in the input's precision (as MediaPipe's C++); exp overflow -> 0 is correct.
    with np.errstate(over="ignore"):
        out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


@dataclass
class RawPose:
    """One frame's unsmoothed model output, projected to the image.

    landmarks [35, 5]: x, y, z in image pixels (z on the x scale), visibility, presence;
    world [33, 3] metres, hips-centred, rotated back to the image orientation.
    """

    score: float
    landmarks: np.ndarray
    world: np.ndarray


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap on crop-normalized xy [L, 2] with a heatmap [H, W, >=L].

    Quirks kept on purpose so results match: the centre cell is truncated toward zero and the row
    range check compares the column (upstream bug), the weighted mean uses cell indices, not centres.
    """
    n = xy.shape[0]
    hm_h, hm_w = heatmap.shape[:2]
    cols = np.trunc(xy[:, 0] * hm_w).astype(np.int64)
    rows = np.trunc(xy[:, 1] * hm_h).astype(np.int64)
    inside = (cols >= 0) & (cols < hm_w) & (rows >= 0) & (cols < hm_h)
    offsets = np.arange(HEATMAP_KERNEL) - (HEATMAP_KERNEL - 1) // 2
    r = rows[:, None] + offsets
    c = cols[:, None] + offsets
    r_ok = (r >= 0) & (r < hm_h)
    c_ok = (c >= 0) & (c < hm_w)
    channel = np.arange(n)[:, None, None]
    logits = heatmap[np.clip(r, 0, hm_h - 1)[:, :, None], np.clip(c, 0, hm_w - 1)[:, None, :], channel]
    conf = sigmoid(logits) * (r_ok[:, :, None] & c_ok[:, None, :])
    total = conf.sum(axis=(1, 2))
    refine = inside & (conf.max(axis=(1, 2)) >= MIN_REFINE_CONFIDENCE) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    new_x = (conf * c[:, None, :]).sum(axis=(1, 2)) / hm_w / safe
    new_y = (conf * r[:, :, None]).sum(axis=(1, 2)) / hm_h / safe
    out = xy.copy()
    out[:, 0] = np.where(refine, new_x, xy[:, 0])
    out[:, 1] = np.where(refine, new_y, xy[:, 1])
    return out


def decode_landmarks(raw: np.ndarray, heatmap: np.ndarray | None, roi: Roi) -> np.ndarray:
    """Raw landmark tensor [195] -> [35, 5] image-pixel landmarks (x, y, z, visibility, presence)."""
    lm = raw.reshape(NUM_OUTPUT_LANDMARKS, 5)[:NUM_USED]
    xy = lm[:, :2].astype(np.float64) / INPUT_SIZE
    if heatmap is not None:
        xy = refine_from_heatmap(xy, heatmap)
    out = np.empty((NUM_USED, 5), np.float64)
    out[:, :2] = roi.to_image(xy)
    out[:, 2] = lm[:, 2] / INPUT_SIZE * roi.size
    out[:, 3:5] = sigmoid(lm[:, 3:5].astype(np.float64))
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

    def segmentation_roi(self) -> np.ndarray:
        """The person mask of the last invoke, [256, 256] float32 in [0, 1], in crop space (a copy)."""
        logits = self.model.output_view(OUT_SEGMENTATION)[0, :, :, 0]
        mask: np.ndarray = sigmoid(logits).astype(np.float32)
        return mask
