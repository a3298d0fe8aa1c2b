"""BlazePose person detector: letterboxed 224x224 input, SSD box decoding, weighted NMS.

Numerics follow MediaPipe's pose_detection_cpu.pbtxt: input in [-1, 1] with zero border, 12 values
per anchor (x, y, w, h, then 4 keypoints) scaled by 224, sigmoid scores clipped at +-100, weighted
non-max suppression at IoU 0.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hipcam.pose.anchors import INPUT_SIZE, generate_anchors
from hipcam.pose.roi import Roi, roi_from_alignment
from hipcam.pose.runtime import TfliteModel

SCORE_CLIP = 100.0
NMS_IOU = 0.3


@dataclass(frozen=True)
class Detection:
    """One person, in image pixels: box (xmin, ymin, xmax, ymax) and 4 keypoints [4, 2]."""

    score: float
    box: np.ndarray
    keypoints: np.ndarray

    def roi(self) -> Roi:
        """Crop for the landmark model: keypoint 0 (hips centre) and 1 (above the head) align it."""
        return roi_from_alignment(self.keypoints[0], self.keypoints[1])


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, scale: float = INPUT_SIZE) -> np.ndarray:
    """Raw regressors [A, 12] -> [A, 12] in input-normalized units: xmin, ymin, xmax, ymax, 4 x (x, y).

    With a fixed anchor size (w = h = 1) offsets are simply divided by the input size.
    """
    out = np.empty_like(raw, dtype=np.float32)
    cx = raw[:, 0] / scale + anchors[:, 0]
    cy = raw[:, 1] / scale + anchors[:, 1]
    half_w = raw[:, 2] / scale / 2
    half_h = raw[:, 3] / scale / 2
    out[:, 0] = cx - half_w
    out[:, 1] = cy - half_h
    out[:, 2] = cx + half_w
    out[:, 3] = cy + half_h
    out[:, 4::2] = raw[:, 4::2] / scale + anchors[:, :1]
    out[:, 5::2] = raw[:, 5::2] / scale + anchors[:, 1:2]
    return out


def sigmoid_scores(raw: np.ndarray) -> np.ndarray:
    # float64 so exp(100) does not overflow; the clip matches MediaPipe's score_clipping_thresh.
    return 1.0 / (1.0 + np.exp(-np.clip(raw.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box [4] against boxes [N, 4] (xmin, ymin, xmax, ymax)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(decoded: np.ndarray, scores: np.ndarray, threshold: float = NMS_IOU) -> list[tuple[float, np.ndarray]]:
    """MediaPipe's WEIGHTED non-max suppression.

    The best remaining candidate absorbs every candidate overlapping it by more than ``threshold``
    (itself included); the merged box and keypoints are their score-weighted mean, the merged score
    is the best one's. Returns (score, values[12]) best first.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = decoded[order]
    rem_scores = scores[order]
    out: list[tuple[float, np.ndarray]] = []
    while len(remaining):
        overlap = iou(remaining[0, :4], remaining[:, :4]) > threshold
        overlap[0] = True
        w = rem_scores[overlap]
        merged = (remaining[overlap] * w[:, None]).sum(axis=0) / w.sum()
        out.append((float(rem_scores[0]), merged))
        remaining = remaining[~overlap]
        rem_scores = rem_scores[~overlap]
    return out


class PoseDetector:
    """Runs the detector model on a whole frame; returns people found, best score first."""

    def __init__(self, model: TfliteModel, min_score: float = 0.5) -> None:
        if model.input_shape != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"detector input {model.input_shape}, expected (1, {INPUT_SIZE}, {INPUT_SIZE}, 3)")
        self.model = model
        self.min_score = min_score
        self.anchors = generate_anchors()
        self._crop = np.empty((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)

    def letterbox_roi(self, width: int, height: int) -> Roi:
        """The whole frame padded to a square around its centre (keep_aspect_ratio)."""
        return Roi(cx=width / 2, cy=height / 2, size=float(max(width, height)), rotation=0.0)

    def preprocess(self, image: np.ndarray) -> Roi:
        """Letterbox the frame into the input tensor, values in [-1, 1]."""
        height, width = image.shape[:2]
        roi = self.letterbox_roi(width, height)
        roi.crop(image, INPUT_SIZE, dst=self._crop, border=cv2.BORDER_CONSTANT)
        x = self.model.input_view()
        np.multiply(self._crop, 2.0 / 255.0, out=x[0], casting="unsafe")
        x -= 1.0
        del x
        return roi

    def postprocess(self, roi: Roi) -> list[Detection]:
        raw_scores = self.model.output_view("Identity_1")[0, :, 0]
        scores = sigmoid_scores(raw_scores)
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        raw = self.model.output_view("Identity")[0][keep]
        decoded = decode_boxes(raw, self.anchors[keep])
        people = []
        for score, values in weighted_nms(decoded, scores[keep]):
            pts = roi.to_image(values.reshape(-1, 2))  # 2 box corners + 4 keypoints, letterbox removed
            people.append(Detection(score=score, box=pts[:2].ravel(), keypoints=pts[2:]))
        return people
