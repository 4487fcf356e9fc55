"""``classifier=custom``: any emotion model file, ONNX or TFLite, fed as its spec says.

:func:`check_model` opens the file where the run is planned and refuses, in one line,
a file that is not ONNX or TFLite, or whose input or outputs do not fit the spec
(:class:`~femo.config.CustomClassifierConfig`); it returns the file's SHA-256, which the
run records. :class:`CustomClassifier` runs the file on a compute node: it crops each
face (fer's crop or the detector's box), converts colour and value range, runs the
model in the model's own batch size (or any, where the batch is not fixed), applies the
softmax where needed and sums the outputs into femo's 7 emotions.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from ..config import EMOTIONS, ConfigError, CustomClassifierConfig, ExtractConfig
from .classifier import CPU, choose_providers, onnx_threads, provider_line, session_options
from .crops import FER_PADDING, fer_crop_pixels, pad_gray
from .detectors import Face
from .runtime import sha256_file

log = logging.getLogger(__name__)

TFLITE_MAGIC = b"TFL3"  # bytes 4..8 of every TFLite flatbuffer
# A face's outputs are taken as probabilities already (softmax=auto) when they lie in
# [0, 1] and sum to 1 within this.
PROBABILITY_TOLERANCE = 1e-3


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _OnnxModel:
    """An ONNX file on ONNX Runtime: its first input and first output."""

    def __init__(self, path: str, threads: int = 1, device: str = "cpu"):
        import onnxruntime as ort

        wanted, why = choose_providers(device, ort.get_available_providers())
        self.session = ort.InferenceSession(
            path, sess_options=session_options(threads), providers=wanted
        )
        self.provider = self.session.get_providers()[0]
        if device != "cpu":
            log.info(provider_line(wanted, self.provider, threads, why))
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_shape = [d if isinstance(d, int) else None for d in first.shape]
        self.input_type = "float32" if first.type == "tensor(float)" else first.type

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


class _TfliteModel:
    """A TFLite file on LiteRT (no TensorFlow): its first input and first output."""

    provider = "LiteRT"

    def __init__(self, path: str, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=path, num_threads=threads)
        self.interpreter.allocate_tensors()
        first = self.interpreter.get_input_details()[0]
        self.input_index = first["index"]
        self.input_shape = [int(d) if d > 0 else None for d in first["shape_signature"]]
        self.input_type = np.dtype(first["dtype"]).name
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def run(self, batch: np.ndarray) -> np.ndarray:
        if list(self.interpreter.get_input_details()[0]["shape"]) != list(batch.shape):
            self.interpreter.resize_tensor_input(self.input_index, list(batch.shape))
            self.interpreter.allocate_tensors()
        self.interpreter.set_tensor(self.input_index, batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index).copy()


def open_model(spec: CustomClassifierConfig, threads: int = 1, device: str = "cpu"):
    """The runtime for ``spec.model``: ONNX Runtime for .onnx, LiteRT for .tflite.

    Raises :class:`ConfigError` for a missing file, or one that is not what its name says.
    """
    path = Path(str(spec.model))
    if not path.is_file():
        raise ConfigError(f"classifier.model {path} does not exist (or is not a file)")
    with open(path, "rb") as fh:
        head = fh.read(8)
    is_tflite = head[4:8] == TFLITE_MAGIC
    if spec.backend == "tflite" and not is_tflite:
        raise ConfigError(f"classifier.model {path} is not a TFLite model (no TFL3 identifier)")
    if spec.backend == "onnx" and is_tflite:
        raise ConfigError(
            f"classifier.model {path} is a TFLite model named .onnx; rename it .tflite"
        )
    try:
        if spec.backend == "tflite":
            return _TfliteModel(str(path), threads)
        return _OnnxModel(str(path), threads, device)
    except Exception as exc:  # the runtimes raise their own types for a damaged file
        kind = (
            "a TFLite model (LiteRT" if spec.backend == "tflite" else "an ONNX model (ONNX Runtime"
        )
        raise ConfigError(f"classifier.model {path} is not {kind}: {_first_line(exc)})") from None


def expected_input(spec: CustomClassifierConfig) -> list[int]:
    """The input shape the spec describes, less the batch: [h, w, c] or [c, h, w]."""
    if spec.layout == "nhwc":
        return [spec.size, spec.size, spec.channels]
    return [spec.channels, spec.size, spec.size]


def _describe(spec: CustomClassifierConfig) -> str:
    return (
        f"classifier.size={spec.size}, color={spec.color} ({spec.channels} channel"
        f"{'s' if spec.channels > 1 else ''}), layout={spec.layout}"
    )


def check_model(spec: CustomClassifierConfig) -> str:
    """Open ``spec.model``, check it against the spec, and return its SHA-256.

    One :class:`ConfigError` line for a file that is not ONNX or TFLite, an input that
    does not take the spec's faces, an output count that differs from the labels', or a
    SHA-256 other than the one given.
    """
    model = open_model(spec)
    path = spec.model
    shape = model.input_shape
    want = expected_input(spec)
    if len(shape) != 4 or any(
        d is not None and d != w for d, w in zip(shape[1:], want, strict=False)
    ):
        shown = [d if d is not None else "?" for d in shape]
        raise ConfigError(
            f"classifier.model {path} takes input {shown}; the spec ({_describe(spec)}) "
            f"gives [n, {', '.join(map(str, want))}]"
        )
    if model.input_type != "float32":
        raise ConfigError(
            f"classifier.model {path} takes {model.input_type} input; femo feeds float32 "
            "(a quantized model's float version, please)"
        )
    batch = shape[0] or 1
    try:
        out = np.asarray(model.run(np.zeros([batch, *want], np.float32)))
    except Exception as exc:
        raise ConfigError(
            f"classifier.model {path} does not run on a face of the spec ({_describe(spec)}): "
            f"{_first_line(exc)}"
        ) from None
    if out.ndim != 2 or out.shape[1] != len(spec.labels):
        per_face = out.shape[1] if out.ndim == 2 else f"shape {list(out.shape)}"
        raise ConfigError(
            f"classifier.model {path} gives {per_face} outputs per face; classifier.labels "
            f"names {len(spec.labels)} ({', '.join(spec.labels)})"
        )
    digest = sha256_file(str(path))
    if spec.sha256 is not None and spec.sha256.lower() != digest:
        raise ConfigError(
            f"classifier.model {path} has SHA-256 {digest}, not classifier.sha256={spec.sha256}"
        )
    return digest


def with_model_hash(spec: CustomClassifierConfig) -> CustomClassifierConfig:
    """``spec`` as a run planned with it records it: its file checked against it
    (:func:`check_model`) and its SHA-256 filled in."""
    return replace(spec, sha256=check_model(spec))


def label_matrix(labels: tuple[str, ...]) -> list[tuple[int, int]]:
    """(output, emotion) index pairs: each output's emotion, ``drop`` left out."""
    return [(i, EMOTIONS.index(lab)) for i, lab in enumerate(labels) if lab != "drop"]


def to_scores(outputs: np.ndarray, spec: CustomClassifierConfig) -> np.ndarray:
    """The model's outputs (n, k) as femo's 7 emotion scores (n, 7) float32."""
    outputs = np.asarray(outputs, dtype=np.float32)
    if spec.softmax != "no":
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        soft = shifted / shifted.sum(axis=1, keepdims=True)
        if spec.softmax == "auto":
            sums = outputs.sum(axis=1)
            already = (
                (outputs >= 0).all(axis=1)
                & (outputs <= 1).all(axis=1)
                & (np.abs(sums - 1) <= PROBABILITY_TOLERANCE)
            )
            soft = np.where(already[:, None], outputs, soft)
        outputs = soft.astype(np.float32, copy=False)
    scores = np.zeros((len(outputs), len(EMOTIONS)), dtype=np.float32)
    for out, emotion in label_matrix(spec.labels):
        scores[:, emotion] += outputs[:, out]
    return scores


def to_input(pixels: np.ndarray, spec: CustomClassifierConfig) -> np.ndarray:
    """A face's crop (0..255; grey, or BGR) in the spec's colour and value range, float32."""
    if spec.color == "gray3":
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    elif spec.color == "rgb":
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    lo, hi = spec.range
    # Divided first, then scaled: with [-1, 1] this is bit for bit fer's (x/255 - 0.5)*2.
    return pixels.astype(np.float32) / 255.0 * (hi - lo) + lo


def pad_color(image: np.ndarray) -> np.ndarray:
    """:func:`pad_gray` for a colour frame: each channel's border is that channel's mean
    over the two bottom rows."""
    rows = image.shape[0]
    means = cv2.mean(image[rows - 2 : rows])[:3]
    return cv2.copyMakeBorder(
        image, FER_PADDING, FER_PADDING, FER_PADDING, FER_PADDING,
        borderType=cv2.BORDER_CONSTANT, value=list(means),
    )  # fmt: skip


def box_pixels(image: np.ndarray, face: Face, size: int) -> np.ndarray | None:
    """The detector's box, clipped to the frame and resized; None if nothing is left."""
    crop = image[max(0, face.y) : face.y + face.h, max(0, face.x) : face.x + face.w]
    if crop.size == 0:
        return None
    return cv2.resize(crop, (size, size))


class CustomClassifier:
    """A user's emotion model; the interface of femo's fer classifiers, plus :meth:`crops`."""

    def __init__(self, spec: CustomClassifierConfig, threads: int = 1, device: str = "auto"):
        digest = sha256_file(str(spec.model))
        if spec.sha256 is not None and digest != spec.sha256:
            raise RuntimeError(
                f"classifier.model {spec.model} changed since the run was planned "
                f"(SHA-256 {digest}, planned with {spec.sha256})"
            )
        self.spec = spec
        self.model_path = str(spec.model)
        self.model = open_model(spec, threads, device)
        self.provider = self.model.provider
        self.on_gpu = self.provider not in (CPU, "LiteRT")
        self.target_size = (spec.size, spec.size)
        # One face as :meth:`crops` gives it: (h, w) grey, (h, w, 3) in colour.
        self.face_shape = self.target_size if spec.channels == 1 else (*self.target_size, 3)
        self.fixed_batch = self.model.input_shape[0]
        self.batch_size = 64
        self.emotion_model_path = self.model_path  # the file whose weights made the scores
        self.device_note = f"; classifier: custom on {self.provider}"
        log.info(
            "classifier: custom %s model %s on %s (sha256 %s)",
            spec.backend, spec.model, self.provider, digest,
        )  # fmt: skip

    def crops(
        self,
        image: np.ndarray,
        gray: np.ndarray | None,
        faces: list[Face],
        offsets: tuple[int, int],
    ) -> list[np.ndarray | None]:
        """Each face's model input (h, w) or (h, w, c), float32; None for an empty crop."""
        if not faces:
            return []
        source = image
        if self.spec.color in ("gray", "gray3"):
            source = gray if gray is not None else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if self.spec.crop == "fer":
            padded = pad_gray(source) if source.ndim == 2 else pad_color(source)
            pixels = [fer_crop_pixels(padded, f, offsets, self.target_size) for f in faces]
        else:
            pixels = [box_pixels(source, f, self.spec.size) for f in faces]
        return [None if p is None else to_input(p, self.spec) for p in pixels]

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Scores (n, 7) float32 for faces from :meth:`crops`, stacked."""
        if len(faces) == 0:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        batch = faces[..., None] if faces.ndim == 3 else faces
        if self.spec.layout == "nchw":
            batch = batch.transpose(0, 3, 1, 2)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        step = self.fixed_batch or self.batch_size
        out = []
        for start in range(0, len(batch), step):
            chunk = batch[start : start + step]
            n = len(chunk)
            if self.fixed_batch and n < step:  # a model with a fixed batch: pad the last one
                chunk = np.concatenate([chunk, np.zeros((step - n, *chunk.shape[1:]), np.float32)])
            out.append(np.asarray(self.model.run(chunk))[:n])
        return to_scores(np.concatenate(out), self.spec)


def build_custom(
    config: ExtractConfig, tf_device: str, threads: int, busy: int
) -> CustomClassifier:
    """The custom classifier ``config`` asks for (``classifier=custom``'s builder), on the
    CPUs detection leaves, with its batch size per device."""
    classifier = CustomClassifier(config.classifier, onnx_threads(threads, busy), config.device)
    classifier.batch_size = config.batch_size or (256 if classifier.on_gpu else 64)
    return classifier
