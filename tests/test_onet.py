"""MTCNN's face classifier (ONet) on ONNX Runtime: the evidence check's second opinion."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from femo.node.onet import FaceClassifier, mtcnn_patch, onet_model_path

pytestmark = pytest.mark.usefixtures("no_tensorflow")


def test_the_shipped_model_is_made_from_the_installed_mtcnns_weights():
    import onnx

    spec = importlib.util.find_spec("mtcnn")
    weights = Path(list(spec.submodule_search_locations)[0]) / "assets" / "weights" / "onet.lz4"
    meta = {p.key: p.value for p in onnx.load(str(onet_model_path())).metadata_props}
    assert meta["source_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_the_patch_is_the_box_made_square_and_grey_outside_the_frame():
    rows, cols = np.mgrid[0:100, 0:200]
    rgb = np.stack([cols % 256, rows, np.full_like(rows, 200)], axis=-1).astype(np.uint8)
    # A 20x40 box made a 40x40 square about its centre: columns 90-130, rows 30-70.
    patch = mtcnn_patch(rgb, 100, 30, 20, 40)
    assert patch.shape == (48, 48, 3) and patch.dtype == np.float32
    # TensorFlow's crop_and_resize as mtcnn calls it: the box over the frame's size,
    # sampled at (size - 1) per unit.
    first, last = 90 / 200 * 199, 130 / 200 * 199
    assert patch[0, 0, 0] * 128 + 127.5 == pytest.approx(first, abs=1e-3)
    assert patch[0, -1, 0] * 128 + 127.5 == pytest.approx(last, abs=1e-3)
    assert patch[0, 0, 1] * 128 + 127.5 == pytest.approx(30 / 100 * 99, abs=1e-3)
    assert np.allclose(patch[..., 2], (200 - 127.5) / 128)
    # Half the box left of the frame: those samples are 0, MTCNN's grey.
    half_out = mtcnn_patch(rgb, -20, 30, 40, 40)
    assert np.all(half_out[:, :23] == 0) and np.all(half_out[:, 25:, 2] > 0)


def test_a_flat_grey_box_is_no_face():
    grey = np.full((120, 120, 3), 128, np.uint8)
    assert FaceClassifier().face_probability(grey, 20, 20, 80, 80) < 0.5


@pytest.mark.slow
def test_femos_onet_is_mtcnns_own_cut_and_network():
    """The ONNX model and femo's cut against mtcnn's own (TensorFlow), on random boxes."""
    pytest.importorskip("tensorflow")
    from mtcnn.stages.stage_onet import StageONet
    from mtcnn.utils.images import extract_patches, normalize_images

    rng = np.random.default_rng(1)
    model = StageONet()._model
    classifier = FaceClassifier()
    for _ in range(8):
        height, width = (int(v) for v in rng.integers(40, 300, 2))
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        w = float(rng.uniform(8, min(width, height)))
        h = w * float(rng.uniform(0.7, 1.4))
        x, y = (
            float(rng.uniform(-0.3 * w, width - 0.7 * w)),
            float(rng.uniform(-0.3 * h, height - 0.7 * h)),
        )
        side = max(w, h)
        x1, y1 = x + w / 2 - side / 2, y + h / 2 - side / 2
        boxes = np.array([[0, x1, y1, x1 + side, y1 + side, 1.0]])
        theirs = extract_patches(normalize_images(frame[None]), boxes, expected_size=(48, 48))
        theirs = np.asarray(theirs)[0]
        assert np.abs(mtcnn_patch(frame, x, y, w, h) - theirs).max() < 1e-5
        want = float(np.asarray(model(theirs[None], training=False)[2])[0, 1])
        assert classifier.face_probability(frame, x, y, w, h) == pytest.approx(want, abs=1e-5)
