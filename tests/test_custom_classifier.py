"""classifier=custom: a model file the user brings (ONNX or TFLite), fed as its spec says.

The tests build their own small models (a linear layer over the face's pixels) and
compute what femo must give from the weights with numpy, independently of femo's code.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from femo.config import EMOTIONS, ConfigError, classifier_config
from femo.node.classifier import OnnxClassifier, onnx_model_path
from femo.node.crops import face_crop, pad_gray
from femo.node.custom import CustomClassifier, check_model, to_scores
from femo.node.detectors import Face

from .conftest import assert_no_run_folder, error_line

FER_LABELS = list(EMOTIONS)
# Eight outputs as AffectNet orders them: contempt summed into disgust; one dropped.
AFFECT_LABELS = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "disgust"]
SIDE = 8


def linear_weights(side: int, channels: int, outputs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.05, (side * side * channels, outputs)).astype(np.float32)
    bias = rng.normal(0, 0.1, outputs).astype(np.float32)
    return weights, bias


def write_onnx(path: Path, shape: list, weights: np.ndarray, bias: np.ndarray) -> Path:
    """A linear layer over the flattened input, as an ONNX file (``shape[0]`` None: any batch)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "w", "b"], ["y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape[0], weights.shape[1]])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def spec(model: Path, **kw):
    values = {"name": "custom", "model": str(model), "size": SIDE, "labels": AFFECT_LABELS}
    return classifier_config({**values, **kw})


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def expected_scores(logits: np.ndarray, labels: list[str]) -> np.ndarray:
    """femo's 7 scores, from the model's logits: softmax, then summed per emotion."""
    probs = softmax(logits.astype(np.float64))
    out = np.zeros((len(logits), 7))
    for i, label in enumerate(labels):
        if label != "drop":
            out[:, EMOTIONS.index(label)] += probs[:, i]
    return out


@pytest.fixture
def onnx_rgb(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    weights, bias = linear_weights(SIDE, 3, len(AFFECT_LABELS))
    return write_onnx(tmp_path / "m.onnx", [None, SIDE, SIDE, 3], weights, bias), weights, bias


# ---------------------------------------------------------------- the spec


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "classifier=custom needs classifier.model=PATH (.onnx or .tflite)"),
        ({"model": "/m.pt"}, "classifier=custom needs classifier.model=PATH to an .onnx or "
         ".tflite file, not '/m.pt'"),
        ({"model": "m.onnx", "size": None}, "classifier.size must be an integer >= 1 (the input "
         "side), not None"),
        ({"model": "m.onnx", "size": 8, "color": "grey"}, "classifier.color must be gray, gray3, "
         "rgb or bgr, not 'grey'"),
        ({"model": "m.onnx", "size": 8, "range": [1, 1]}, "classifier.range must be two "
         "different numbers [lo, hi] (0..255 is mapped onto them), not [1, 1]"),
        ({"model": "m.onnx", "size": 8, "labels": ["happy", "joy"]}, "classifier.labels names "
         "the model's outputs in order, each one of angry, disgust, fear, happy, sad, surprise, "
         "neutral or drop; 'joy' is not one (labels: ['happy', 'joy'])"),
        ({"model": "m.onnx", "size": 8, "labels": ["drop"]}, "classifier.labels names the "
         "model's outputs in order, each one of angry, disgust, fear, happy, sad, surprise, "
         "neutral or drop; none is one (labels: ['drop'])"),
        ({"model": "m.onnx", "size": 8, "labels": ["happy"], "layout": "chw"},
         "classifier.layout must be nhwc or nchw, not 'chw'"),
    ],
)  # fmt: skip
def test_a_bad_spec_is_one_line(values, message):
    with pytest.raises(ConfigError) as caught:
        classifier_config({"name": "custom", **values})
    assert str(caught.value) == message


def test_fers_section_is_saved_as_before():
    from femo.config import to_dict

    assert to_dict(classifier_config({"name": "fer", "backend": "keras"})) == {"backend": "keras"}
    assert classifier_config(None).name == "fer"


def test_a_relative_model_path_is_made_absolute(tmp_path):
    config = classifier_config(
        {"name": "custom", "model": "m.onnx", "size": 8, "labels": ["happy"]}, str(tmp_path)
    )
    assert config.model == str(tmp_path / "m.onnx")
    assert config.backend == "onnx"


def test_check_model_returns_the_files_sha256(onnx_rgb):
    path = onnx_rgb[0]
    assert check_model(spec(path)) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ConfigError, match="has SHA-256 [0-9a-f]{64}, not classifier.sha256=abc"):
        check_model(spec(path, sha256="abc"))


# ----------------------------------------------------------- the scores


@pytest.mark.parametrize("color", ["rgb", "bgr"])
@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_box_crops_give_the_models_softmax_summed_per_emotion(tmp_path, face_image, color, layout):
    weights, bias = linear_weights(SIDE, 3, len(AFFECT_LABELS), seed=1)
    shape = [None, SIDE, SIDE, 3] if layout == "nhwc" else [None, 3, SIDE, SIDE]
    path = write_onnx(tmp_path / "m.onnx", shape, weights, bias)
    classifier = CustomClassifier(spec(path, color=color, layout=layout, crop="box", range=[-2, 3]))
    height, width = face_image.shape[:2]
    faces = [Face(0, 0, width, height), Face(width // 4, height // 5, width // 2, height // 2)]
    crops = classifier.crops(face_image, None, faces, (10, 10))
    scores = classifier.predict(np.stack(crops))
    for face, got in zip(faces, scores, strict=True):
        pixels = cv2.resize(face_image[face.y : face.y + face.h, face.x : face.x + face.w], (8, 8))
        if color == "rgb":
            pixels = pixels[:, :, ::-1]
        x = pixels.astype(np.float64) / 255 * 5 - 2
        if layout == "nchw":
            x = x.transpose(2, 0, 1)
        logits = x.reshape(1, -1) @ weights + bias
        np.testing.assert_allclose(got, expected_scores(logits, AFFECT_LABELS)[0], atol=1e-5)
    assert scores[:, EMOTIONS.index("disgust")].min() > 0  # outputs 5 and 7 summed


def test_softmax_auto_leaves_probabilities_alone():
    config = classifier_config(
        {"name": "custom", "model": "m.onnx", "size": 8, "labels": ["happy", "sad", "drop"]}
    )
    probs = np.array([[0.7, 0.2, 0.1]], np.float32)
    logits = np.array([[2.0, -1.0, 0.5]], np.float32)
    np.testing.assert_allclose(to_scores(probs, config)[0, [3, 4]], [0.7, 0.2])
    np.testing.assert_allclose(
        to_scores(logits, config)[0], expected_scores(logits, config.labels)[0], atol=1e-6
    )
    assert to_scores(probs, config).sum() == pytest.approx(0.9)  # drop is discarded


def test_a_model_with_a_fixed_batch_of_one_is_run_face_by_face(tmp_path, face_image):
    weights, bias = linear_weights(SIDE, 1, 7, seed=2)
    path = write_onnx(tmp_path / "one.onnx", [1, SIDE, SIDE, 1], weights, bias)
    classifier = CustomClassifier(spec(path, color="gray", labels=FER_LABELS, softmax="yes"))
    gray = cv2.cvtColor(face_image, cv2.COLOR_BGR2GRAY)
    faces = [Face(5 * k, 3 * k, 90, 100) for k in range(5)]
    crops = np.stack(classifier.crops(face_image, gray, faces, (10, 10)))
    assert crops.shape == (5, SIDE, SIDE)
    logits = crops.reshape(5, -1).astype(np.float64) @ weights + bias
    np.testing.assert_allclose(classifier.predict(crops), softmax(logits), atol=1e-5)


def test_fers_onnx_declared_as_custom_gives_fers_scores_bit_for_bit(face_image):
    """The README's worked example: the same crops and the same float32 scores."""
    config = classifier_config(
        {"name": "custom", "model": str(onnx_model_path()), "size": 64, "color": "gray",
         "range": [-1, 1], "labels": FER_LABELS, "softmax": "no", "crop": "fer"}
    )  # fmt: skip
    custom = CustomClassifier(config)
    gray = cv2.cvtColor(face_image, cv2.COLOR_BGR2GRAY)
    faces = [Face(40 * k, 30 * k, 150 + 20 * k, 170) for k in range(6)] + [Face(-20, -20, 50, 60)]
    mine = custom.crops(face_image, gray, faces, (10, 10))
    fers = [face_crop(pad_gray(gray), f, (10, 10), (64, 64)) for f in faces]
    for a, b in zip(mine, fers, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(custom.predict(np.stack(mine)), OnnxClassifier().predict(np.stack(fers)))


# ------------------------------------------------------------- the command


def fer_spec_args(model: Path | str, size: int = 64, labels: list[str] = FER_LABELS) -> list[str]:
    return [
        "classifier=custom",
        f"classifier.model={model}",
        f"classifier.size={size}",
        "classifier.color=gray",
        "classifier.range=[-1,1]",
        f"classifier.labels=[{','.join(labels)}]",
        "classifier.softmax=no",
    ]


@pytest.fixture
def demo_root(tmp_path) -> Path:
    from femo.demo import build_demo

    folder = tmp_path / "demo"
    folder.mkdir()
    build_demo(folder)
    return folder


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": 48}, "classifier.model {model} takes input ['?', 64, 64, 1]; the spec "
         "(classifier.size=48, color=gray (1 channel), layout=nhwc) gives [n, 48, 48, 1]"),
        ({"labels": AFFECT_LABELS}, "classifier.model {model} gives 7 outputs per face; "
         f"classifier.labels names 8 ({', '.join(AFFECT_LABELS)})"),
        ({"labels": ["angry", "disgust", "anger"]}, "classifier.labels names the model's outputs "
         "in order, each one of angry, disgust, fear, happy, sad, surprise, neutral or drop; "
         "'anger' is not one (labels: ['angry', 'disgust', 'anger'])"),
    ],
)  # fmt: skip
def test_a_spec_that_does_not_fit_the_file_stops_the_run(
    fast_femo, tmp_path, demo_root, change, message
):
    out = tmp_path / "out"
    model = onnx_model_path()
    proc = fast_femo(
        "run", f"dataset.root={demo_root}", f"output_root={out}", *fer_spec_args(model, **change)
    )
    assert error_line(proc) == f"femo: error: {message.format(model=model)}"
    assert_no_run_folder(out)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("junk.onnx", b"not a model", "classifier.model {model} is not an ONNX model (ONNX "
         "Runtime: [ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from {model} failed:"
         "Protobuf parsing failed.)"),
        ("junk.tflite", b"not a model", "classifier.model {model} is not a TFLite model (no TFL3 "
         "identifier)"),
        ("missing.onnx", None, "classifier.model {model} does not exist (or is not a file)"),
        ("model.h5", b"", "classifier=custom needs classifier.model=PATH to an .onnx or .tflite "
         "file, not '{model}'"),
    ],
)  # fmt: skip
def test_a_file_that_is_neither_onnx_nor_tflite_stops_the_run(
    fast_femo, tmp_path, demo_root, name, content, message
):
    model = tmp_path / name
    if content is not None:
        model.write_bytes(content)
    out = tmp_path / "out"
    proc = fast_femo("run", f"dataset.root={demo_root}", f"output_root={out}",
                     *fer_spec_args(model))  # fmt: skip
    assert error_line(proc) == f"femo: error: {message.format(model=model)}"
    assert_no_run_folder(out)


def frame_rows(run_dir: Path) -> list[dict]:
    rows = []
    for shard in sorted((run_dir / "shards").glob("shard-*.parquet")):
        rows += [r for r in pq.read_table(shard).to_pylist() if r["kind"] == "frame"]
    return rows


def run_custom(fast_femo, tmp_path, root: Path, model: Path, *args: str) -> Path:
    run_dir = tmp_path / "run"
    proc = fast_femo(
        "run", f"dataset.root={root}", "detector=none", "sampling.every_n=16",
        f"hydra.run.dir={run_dir}", "classifier=custom", f"classifier.model={model}",
        f"classifier.size={SIDE}", f"classifier.labels=[{','.join(AFFECT_LABELS)}]", *args,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def check_against_numpy(run_dir: Path, root: Path, weights, bias, color: str, layout: str):
    """Each face's scores in the shards against numpy's forward pass on the frame."""
    rows = frame_rows(run_dir)
    assert len(rows) >= 10
    frames: dict[str, list[np.ndarray]] = {}
    for row in rows:
        video = frames.setdefault(row["video"], _frames(root / row["video"]))
        pixels = cv2.resize(video[row["frame"]], (SIDE, SIDE))  # detector=none: the frame
        if color == "rgb":
            pixels = pixels[:, :, ::-1]
        x = pixels.astype(np.float64) / 255
        x = x.transpose(2, 0, 1) if layout == "nchw" else x
        want = expected_scores(x.reshape(1, -1) @ weights + bias, AFFECT_LABELS)[0]
        got = np.array([row[e] for e in EMOTIONS])
        np.testing.assert_allclose(got, want, atol=1e-5)


def _frames(path: Path) -> list[np.ndarray]:
    from .conftest import read_all

    return [cv2.imread(str(path))] if path.suffix == ".jpg" else read_all(path)


def test_an_onnx_model_runs_end_to_end_and_is_recorded(fast_femo, tmp_path, demo_root, onnx_rgb):
    model, weights, bias = onnx_rgb
    run_dir = run_custom(fast_femo, tmp_path, demo_root, model, "classifier.crop=box")
    check_against_numpy(run_dir, demo_root, weights, bias, "rgb", "nhwc")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    manifest = json.loads((run_dir / "femo.json").read_text())
    saved = manifest["config"]["classifier"]
    assert saved == {"name": "custom", "model": str(model), "size": SIDE, "color": "rgb",
                     "range": [0.0, 1.0], "layout": "nhwc", "labels": AFFECT_LABELS,
                     "softmax": "auto", "crop": "box", "sha256": digest}  # fmt: skip
    shard = next((run_dir / "shards").glob("*.parquet"))
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(shard).metadata.items()}
    assert meta["femo.classifier_model_sha256"] == digest
    assert json.loads(meta["femo.extract_config"])["classifier"] == saved
    with open(run_dir / "report" / "videos.csv", newline="") as fh:
        assert {r["status"] for r in csv.DictReader(fh)} == {"ok"}


def test_the_spec_is_a_shard_key(fast_femo, tmp_path, demo_root, onnx_rgb):
    run_dir = run_custom(fast_femo, tmp_path, demo_root, onnx_rgb[0], "classifier.crop=box")
    proc = fast_femo("reduce", str(run_dir), "classifier.size=16")
    assert error_line(proc).startswith(
        "femo: error: femo reduce cannot change 'classifier.size': it changes the shards"
    )


@pytest.fixture(scope="module")
def tflite_model(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A linear layer over an NCHW RGB face, converted by TensorFlow's own TFLite converter."""
    tf = pytest.importorskip("tensorflow")
    weights, bias = linear_weights(SIDE, 3, len(AFFECT_LABELS), seed=3)

    @tf.function(input_signature=[tf.TensorSpec([None, 3, SIDE, SIDE], tf.float32)])
    def linear(x):
        return tf.matmul(tf.reshape(x, [-1, 3 * SIDE * SIDE]), weights) + bias

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [linear.get_concrete_function()], linear
    )
    path = tmp_path_factory.mktemp("tflite") / "linear.tflite"
    path.write_bytes(converter.convert())
    return path, weights, bias


def test_a_tflite_model_runs_end_to_end_without_tensorflow(
    fast_femo, tmp_path, demo_root, tflite_model
):
    model, weights, bias = tflite_model
    run_dir = run_custom(
        fast_femo, tmp_path, demo_root, model, "classifier.layout=nchw", "classifier.crop=box"
    )
    check_against_numpy(run_dir, demo_root, weights, bias, "rgb", "nchw")
    log = (run_dir / "logs" / "shard-00000.log").read_text()
    assert f"classifier: custom tflite model {model} on LiteRT" in log


@pytest.mark.slow
def test_fers_onnx_as_a_custom_model_gives_the_built_in_videos_csv(tmp_path, dev_clips):
    """The README's worked example, on the dev clips: the same report/videos.csv."""
    from .conftest import femo

    common = [f"dataset.root={dev_clips}", f"dataset.labels={dev_clips}/labels.csv"]
    runs = {
        "fer": [],
        "custom": [*fer_spec_args(onnx_model_path()), "classifier.crop=fer"],
    }
    for name, args in runs.items():
        proc = femo("run", *common, *args, f"hydra.run.dir={tmp_path / name}", cwd=tmp_path,
                    timeout=1200)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    fer, custom = ((tmp_path / n / "report" / "videos.csv").read_text() for n in runs)
    assert fer == custom
    assert fer.count("\n") == 25  # a header and the 24 clips
    assert fer.count(",ok,") + fer.count(",no_face,") == 24
