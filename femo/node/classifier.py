"""The emotion classifier: fer's on either backend (Keras on TensorFlow, or ONNX Runtime),
or any other its registry entry builds (:data:`femo.config.CLASSIFIERS`).

Every classifier the node runs has: ``predict(faces)`` (n, 7) scores for faces stacked
as ``crops`` gives them; ``crops(image, gray, faces, offsets)``, each face's input (None
for an empty crop); ``face_shape``, one face's input shape; ``batch_size``;
``model_path``, the file it runs, and ``emotion_model_path``, the file whose weights
made the scores (shard metadata); ``device_note``, what the extractor's device line adds.

``classifier.backend=keras`` is :class:`EmotionClassifier`, fer's own
model as fer runs it (the study). ``onnx`` runs the same weights, converted by
``scripts/export_emotion_onnx.py`` and shipped in ``femo/node/data``, on ONNX Runtime:
same scores within ~1e-6, same top emotion and 2-decimal scores, and no TensorFlow in the
process unless the detector needs it (MTCNN). ONNX Runtime's threads are sized from what
the scheduler granted (:func:`onnx_threads`); ``device=gpu`` or ``auto`` uses its CUDA
provider where ``onnxruntime-gpu`` is installed (``femo[gpu]``).
"""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path

import numpy as np

from ..config import CLASSIFIERS, FER_BACKENDS, ExtractConfig
from .crops import FerInput
from .runtime import emotion_model_path

log = logging.getLogger(__name__)


class EmotionClassifier(FerInput):
    """fer's 7-emotion model (backend keras), loaded once, called through one tf.function."""

    device_note = ""  # the extractor's device line is TensorFlow's already

    def __init__(self, model_path: str | None = None, batch_size: int = 64):
        import tensorflow as tf

        self.model_path = str(model_path or emotion_model_path())
        self.emotion_model_path = str(emotion_model_path())
        self.model = tf.keras.models.load_model(self.model_path, compile=False)
        height, width = self.model.input_shape[1:3]
        self.target_size = (int(width), int(height))
        self.batch_size = int(batch_size)
        # A tf.function with a fixed signature traces once; calling the Keras model
        # eagerly costs ~60 ms of Python overhead per call.
        self._predict = tf.function(
            lambda x: self.model(x, training=False),
            input_signature=[tf.TensorSpec([None, int(height), int(width), 1], tf.float32)],
        )

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Scores (n, 7) float32 for preprocessed faces (n, h, w) in [-1, 1]."""
        if len(faces) == 0:
            return np.zeros((0, 7), dtype=np.float32)
        out = []
        for start in range(0, len(faces), self.batch_size):
            chunk = np.ascontiguousarray(faces[start : start + self.batch_size, :, :, None])
            out.append(self._predict(chunk).numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
NO_CUDA = "no CUDA provider in this ONNX Runtime (install onnxruntime-gpu: pip install 'femo[gpu]')"


def needs_tensorflow(config: ExtractConfig) -> bool:
    """Whether extraction with ``config`` loads TensorFlow (Keras classifier, MTCNN): its
    plug-ins' registry entries say."""
    return any(entry.loads_tensorflow(settings) for entry, settings in config.plugins)


def onnx_model_path() -> Path:
    """The ONNX model shipped with femo (fer 22.4.0's weights)."""
    return Path(str(importlib.resources.files(__package__).joinpath("data", "emotion_model.onnx")))


def onnx_threads(granted: int, busy: int) -> int:
    """ONNX Runtime's intra-op threads: the granted CPUs that detection leaves, at least one.

    ``busy`` is how many CPUs detection keeps busy at once (its threads, or all of them
    for a TensorFlow detector, whose own pool is sized to the grant). Decoding mostly
    waits on detection, so it is not counted; one classifier thread is enough beside
    Haar (2,000+ faces/s against 30-60 frames/s a detector thread).
    """
    return max(1, granted - busy)


def choose_providers(device: str, available: list[str]) -> tuple[list[str], str | None]:
    """ONNX Runtime providers for ``device`` (auto/cpu/gpu), and why not CUDA where asked."""
    if device == "cpu":
        return [CPU], None
    if CUDA in available:
        return [CUDA, CPU], None
    return [CPU], (NO_CUDA if device == "gpu" else None)


def provider_line(wanted: list[str], ran: str, threads: int, why: str | None) -> str:
    """The one log line that says where the classifier runs (and why not on the GPU)."""
    line = f"classifier: ONNX Runtime on {ran}"
    if ran == CPU:
        line += f" ({threads} thread{'s' if threads > 1 else ''})"
    if why is None and wanted[0] != ran:
        why = f"{wanted[0]} could not start (CUDA or cuDNN libraries missing?)"
    return line + (f"; device=gpu asked for CUDA, falling back to the CPU: {why}" if why else "")


def session_options(threads: int):
    """Session options: ``threads`` intra-op threads that sleep when idle, one inter-op."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle pool threads spin by default, taking cores from the detector threads.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class OnnxClassifier(FerInput):
    """fer's 7-emotion model on ONNX Runtime; the same interface as ``EmotionClassifier``."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        batch_size: int = 64,
        threads: int = 1,
        device: str = "auto",
    ):
        import onnxruntime as ort

        self.model_path = str(model_path or onnx_model_path())
        self.emotion_model_path = str(emotion_model_path())  # the weights it was made from
        wanted, why = choose_providers(device, ort.get_available_providers())
        self.session = ort.InferenceSession(
            self.model_path, sess_options=session_options(threads), providers=wanted
        )
        self.provider = self.session.get_providers()[0]
        self.threads = threads
        self.on_gpu = self.provider == CUDA
        log.info(provider_line(wanted, self.provider, threads, why))
        meta = self.session.get_modelmeta().custom_metadata_map
        self.source_sha256 = meta.get("source_sha256")
        faces = self.session.get_inputs()[0]
        self._input = faces.name
        height, width = faces.shape[1:3]
        self.target_size = (int(width), int(height))
        self.batch_size = int(batch_size)
        self.device_note = f"; classifier: ONNX Runtime {self.provider}"

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Scores (n, 7) float32 for preprocessed faces (n, h, w) in [-1, 1]."""
        if len(faces) == 0:
            return np.zeros((0, 7), dtype=np.float32)
        out = []
        for start in range(0, len(faces), self.batch_size):
            chunk = faces[start : start + self.batch_size, :, :, None]
            chunk = np.ascontiguousarray(chunk, dtype=np.float32)
            out.append(self.session.run(None, {self._input: chunk})[0])
        return np.concatenate(out).astype(np.float32, copy=False)


def make_classifier(config: ExtractConfig, tf_device: str, threads: int, busy: int):
    """The classifier ``config`` asks for (its registry entry's builder), with ``on_gpu``
    set and its batch size per device.

    ``tf_device`` is what TensorFlow runs on (Keras); ``threads`` the CPUs granted; ``busy``
    the CPUs detection keeps busy (:func:`onnx_threads`).
    """
    return CLASSIFIERS.require(config.classifier.name).build(config, tf_device, threads, busy)


def build_onnx(config: ExtractConfig, tf_device: str, threads: int, busy: int) -> OnnxClassifier:
    """fer's model on ONNX Runtime (``classifier.backend=onnx``), on the CPUs detection leaves."""
    classifier = OnnxClassifier(threads=onnx_threads(threads, busy), device=config.device)
    return _batched(classifier, config)


def build_keras(
    config: ExtractConfig, tf_device: str, threads: int, busy: int
) -> EmotionClassifier:
    """fer's model on TensorFlow (``classifier.backend=keras``), on ``tf_device``."""
    classifier = EmotionClassifier()
    classifier.on_gpu = tf_device.startswith("GPU")
    return _batched(classifier, config)


def _batched(classifier, config: ExtractConfig):
    classifier.batch_size = config.batch_size or default_batch_size(
        config.classifier.backend, classifier.on_gpu
    )
    return classifier


def default_batch_size(backend: str, on_gpu: bool) -> int:
    """Faces per call of fer's model on ``backend`` where ``batch_size`` is null.

    On a GPU, large batches; on a CPU, the backend's own (its entry's ``cpu_batch``: Keras
    64, a call costs milliseconds of Python; ONNX Runtime 8, which on one thread
    classifies about 1.4x as many faces a second as 64, docs/speed.md, same scores).
    """
    if on_gpu:
        return 256
    return FER_BACKENDS.require(backend).cpu_batch
