"""BlazePose maths on generated inputs with known answers: anchors, box decoding, weighted NMS,
ROI geometry (rotation, crop, back-projection), heatmap refinement, world rotation, smoothing,
subject choice; and the interpreter wrapper's errors."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from hipcam.errors import AssetError
from hipcam.pose.anchors import NUM_ANCHORS, generate_anchors
from hipcam.pose.detector import Detection, decode_boxes, iou, sigmoid_scores, weighted_nms
from hipcam.pose.landmarks import decode_world, refine_from_heatmap
from hipcam.pose.roi import Roi, mask_to_image, normalize_radians, roi_from_alignment
from hipcam.pose.runtime import TfliteModel
from hipcam.pose.smoothing import LowPass, OneEuroFilter
from hipcam.pose.tracker import SWITCH_RATIO, select_subject, subject_priority, switch_target


def test_anchor_grid_layout() -> None:
    a = generate_anchors()
    assert a.shape == (NUM_ANCHORS, 2) == (2254, 2)
    # stride 8: 28x28 cells x 2 anchors, row-major, x varying fastest
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28])
    assert np.allclose(a[56], [0.5 / 28, 1.5 / 28])
    # stride 16 starts after 1568 anchors; the three stride-32 layers share a 7x7 map, 6 per cell
    assert np.allclose(a[1568], [0.5 / 14, 0.5 / 14])
    assert np.allclose(a[1568 + 392 : 1568 + 392 + 6], [0.5 / 7, 0.5 / 7])
    assert np.allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_decode_boxes_known_offsets() -> None:
    anchors = np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)
    raw = np.zeros((2, 12), np.float32)
    raw[0, :4] = [22.4, -11.2, 44.8, 22.4]  # centre +0.1/-0.05, size 0.2 x 0.1 (in 224 px units)
    raw[0, 4:6] = [-22.4, 44.8]  # keypoint 0 at anchor + (-0.1, +0.2)
    raw[1, 10:12] = [0.0, -224.0]  # keypoint 3 one input-height above the anchor
    out = decode_boxes(raw, anchors)
    assert np.allclose(out[0, :4], [0.5, 0.4, 0.7, 0.5], atol=1e-6)
    assert np.allclose(out[0, 4:6], [0.4, 0.7], atol=1e-6)
    assert np.allclose(out[1, :4], [0.25, 0.75, 0.25, 0.75])
    assert np.allclose(out[1, 10:12], [0.25, -0.25])


def test_scores_sigmoid_clipped_without_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid_scores(np.array([-1e4, 0.0, 1e4], np.float32))
    assert s[0] == pytest.approx(1 / (1 + math.exp(100))) and s[1] == 0.5 and s[2] == pytest.approx(1.0)


def test_iou() -> None:
    boxes = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [5, 5, 6, 6]], float)
    assert np.allclose(iou(boxes[0], boxes), [1.0, 1 / 7, 0.0])


def test_weighted_nms_merges_overlaps_by_score() -> None:
    def det(box: list[float], kp: float) -> np.ndarray:
        return np.array(box + [kp] * 8, float)

    decoded = np.stack([det([0, 0, 1, 1], 0.0), det([0.1, 0, 1.1, 1], 1.0), det([3, 3, 4, 4], 9.0)])
    scores = np.array([0.6, 0.9, 0.7])
    out = weighted_nms(decoded, scores, threshold=0.3)
    assert [s for s, _ in out] == [0.9, 0.7]  # merged keeps the best score; best first
    w = np.array([0.9, 0.6]) / 1.5
    assert np.allclose(out[0][1][:4], w[0] * decoded[1, :4] + w[1] * decoded[0, :4])
    assert np.allclose(out[0][1][4:], w[0] * 1.0)  # keypoints averaged with the same weights
    assert np.allclose(out[1][1], decoded[2])  # no overlap: untouched


def test_roi_from_alignment_rotation_and_size() -> None:
    up = roi_from_alignment(np.array([100.0, 200.0]), np.array([100.0, 150.0]))
    assert (up.cx, up.cy, up.size, up.rotation) == (100.0, 200.0, 125.0, 0.0)  # 2 * 50 * 1.25
    right = roi_from_alignment(np.array([0.0, 0.0]), np.array([10.0, 0.0]))
    assert right.rotation == pytest.approx(math.pi / 2)  # body lying to the right: turn it upright
    left = roi_from_alignment(np.array([0.0, 0.0]), np.array([-10.0, 0.0]))
    assert left.rotation == pytest.approx(-math.pi / 2)
    assert normalize_radians(3 * math.pi) == pytest.approx(-math.pi)


@pytest.mark.parametrize("rotation", [0.0, 0.4, -1.2, math.pi / 2])
def test_crop_and_back_projection_round_trip(rotation: float) -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    target = np.array([230.0, 140.0])
    cv2.circle(image, (int(target[0]), int(target[1])), 3, (255, 255, 255), -1)
    roi = Roi(cx=200.0, cy=150.0, size=120.0, rotation=rotation)
    crop = roi.crop(image, 256)
    gray = crop[..., 0].astype(float)
    v, u = np.unravel_index(np.argmax(cv2.GaussianBlur(gray, (9, 9), 0)), gray.shape)
    expected = roi.to_crop(target) * 256
    assert np.hypot(u - expected[0], v - expected[1]) <= 2.5
    points = np.random.default_rng(1).uniform(0, 1, (20, 2))
    assert np.allclose(roi.to_crop(roi.to_image(points)), points)
    # the landmark projection and the warp use the same matrix
    uv = points * 256
    m = roi.crop_matrix(256)
    assert np.allclose(uv @ m[:, :2].T + m[:, 2], roi.to_image(points))


def test_rotation_turns_the_crop_clockwise() -> None:
    # A point to the right of the centre lands at the crop's top centre when the ROI is rotated 90 deg.
    roi = Roi(cx=50.0, cy=50.0, size=40.0, rotation=math.pi / 2)
    assert np.allclose(roi.to_crop(np.array([70.0, 50.0])), [0.5, 0.0])


def test_mask_projection_into_the_image() -> None:
    roi = Roi(cx=120.0, cy=90.0, size=100.0, rotation=0.3)
    mask = np.zeros((256, 256), np.float32)
    mask[160:176, 60:76] = 1.0  # a blob centred on crop (68, 168)
    image_mask = mask_to_image(mask, roi, 240, 180)
    assert image_mask.shape == (180, 240)
    ys, xs = np.nonzero(image_mask > 0.5)
    expected = roi.to_image(np.array([68.0, 168.0]) / 256)
    assert np.hypot(xs.mean() - expected[0], ys.mean() - expected[1]) < 1.0
    assert image_mask[0, 0] == 0.0  # outside the ROI


def test_heatmap_refinement() -> None:
    heatmap = np.full((64, 64, 2), -10.0, np.float32)
    yy, xx = np.mgrid[0:64, 0:64]
    heatmap[..., 0] = 8.0 - ((xx - 20) ** 2 + (yy - 30) ** 2)  # confident symmetric peak at cell (20, 30)
    xy = np.array([[21.3 / 64, 29.2 / 64], [10 / 64, 10 / 64]])
    out = refine_from_heatmap(xy, heatmap)
    assert np.allclose(out[0], [20 / 64, 30 / 64], atol=1e-4)
    assert np.allclose(out[1], xy[1])  # channel 1 never reaches 0.5 confidence: unchanged


def test_world_landmarks_rotated_back() -> None:
    raw = np.zeros((39, 3), np.float32)
    raw[0] = [1.0, 0.0, 0.5]
    out = decode_world(raw.ravel(), math.pi / 2)
    assert out.shape == (33, 3) and np.allclose(out[0], [0.0, 1.0, 0.5], atol=1e-7)


def test_one_euro_filter() -> None:
    f = OneEuroFilter(min_cutoff=0.05, beta=80.0)
    assert np.allclose(f.apply(np.array([5.0]), 0.0), 5.0)  # first value passes
    assert np.allclose(f.apply(np.array([5.0]), 1 / 30), 5.0)  # steady stays
    moved = f.apply(np.array([6.0]), 2 / 30, value_scale=1.0)
    assert 5.0 < moved[0] < 6.0
    slow = OneEuroFilter(min_cutoff=0.05, beta=0.0)
    slow.apply(np.array([5.0]), 0.0)
    # without the speed term the cutoff stays at min_cutoff: alpha = 1 / (1 + 30 / (2 pi 0.05))
    alpha = 1 / (1 + 30 / (2 * math.pi * 0.05))
    assert np.allclose(slow.apply(np.array([6.0]), 1 / 30), 5.0 + alpha)
    assert np.allclose(f.apply(np.array([9.0]), 1 / 30), 9.0)  # time going backwards: passed through


def test_low_pass() -> None:
    lp = LowPass(0.1)
    assert np.allclose(lp.apply(np.array([1.0])), 1.0)
    assert np.allclose(lp.apply(np.array([0.0])), 0.9)


def test_main_subject_is_the_big_central_person() -> None:
    bystander = _person((60.0, 300.0), 60.0, score=0.95)  # more confident, small, at the edge
    runner = _person((330.0, 250.0), 150.0, score=0.80)
    assert select_subject([bystander, runner], 640, 480) is runner
    assert select_subject([bystander], 640, 480) is bystander


def _person(hips: tuple[float, float], half_height: float, score: float = 0.9) -> Detection:
    """A detection whose ROI is centred on ``hips``, upright, 2.5 x ``half_height`` wide."""
    kp = np.array([hips, (hips[0], hips[1] - half_height), hips, hips], float)
    return Detection(score=score, box=np.zeros(4), keypoints=kp)


def test_recheck_switches_to_a_clearly_better_subject() -> None:
    width, height = 1280, 720
    bystander = _person((200.0, 300.0), 100.0)  # small, off to the side: the tracker locked on it
    runner = _person((660.0, 380.0), 220.0)  # big and central
    tracked = bystander.roi()
    assert switch_target(tracked, [bystander, runner], width, height) is runner
    assert switch_target(tracked, [runner], width, height) is runner  # the bystander went undetected
    # Tracking the runner: the bystander never takes over, and nothing at all is no reason to move.
    assert switch_target(runner.roi(), [bystander, runner], width, height) is None
    assert switch_target(runner.roi(), [], width, height) is None


def test_recheck_hysteresis_and_same_person() -> None:
    width, height = 1280, 720
    tracked = _person((500.0, 360.0), 150.0).roi()
    held = subject_priority(tracked, width, height)
    # Another person a little better (below the switch ratio) does not take the tracker...
    slightly = _person((900.0, 360.0), 180.0)
    ratio = subject_priority(slightly.roi(), width, height) / held
    assert 1.0 < ratio < SWITCH_RATIO
    assert switch_target(tracked, [slightly], width, height) is None
    # ...one clearly better does.
    clearly = _person((900.0, 360.0), 240.0)
    assert subject_priority(clearly.roi(), width, height) > SWITCH_RATIO * held
    assert switch_target(tracked, [slightly, clearly], width, height) is clearly
    # A bigger detection of the tracked person itself (arms up, a jump) is the same person: no switch.
    same_bigger = _person((510.0, 350.0), 200.0)
    assert switch_target(tracked, [same_bigger], width, height) is None
    # The tracked person's own detection counts for it when it scores better than the tracked ROI.
    held_by_detection = subject_priority(same_bigger.roi(), width, height)
    assert held_by_detection * SWITCH_RATIO > subject_priority(clearly.roi(), width, height)
    assert switch_target(tracked, [same_bigger, clearly], width, height) is None


def test_model_file_errors_are_one_line(tmp_path: Path, models_dir: Path) -> None:
    with pytest.raises(AssetError, match=r"pose_landmark_full\.tflite: missing; run `hipcam fetch`"):
        TfliteModel(tmp_path / "pose_landmark_full.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes((models_dir / "pose_detection.tflite").read_bytes()[:2000])
    for drop in ((), ("Identity",)):
        with pytest.raises(AssetError, match="not a usable TFLite model") as err:
            TfliteModel(broken, drop_outputs=drop)
        assert "\n" not in str(err.value)
    model = TfliteModel(models_dir / "pose_detection.tflite", num_threads=1)
    assert model.input_shape == (1, 224, 224, 3)
    out = model.run(np.zeros(model.input_shape, np.float32))
    assert out["Identity"].shape == (1, 2254, 12) and out["Identity_1"].shape == (1, 2254, 1)


def test_pruned_landmark_model_is_bit_identical(models_dir: Path) -> None:
    full = TfliteModel(models_dir / "pose_landmark_full.tflite", num_threads=1)
    pruned = TfliteModel(models_dir / "pose_landmark_full.tflite", num_threads=1, drop_outputs=("Identity_2",))
    assert "Identity_2" not in pruned.output_names
    x = np.random.default_rng(0).random(full.input_shape, dtype=np.float32)
    a, b = full.run(x), pruned.run(x)
    for name in ("Identity", "Identity_1", "Identity_3", "Identity_4"):
        assert np.array_equal(a[name], b[name]), name
