"""Face identities: dlib's 128-number face embedding of a face box (``identity=dlib``).

dlib's ResNet face recogniser (``dlib-bin``) with its weights from the
``face-recognition-models`` wheel: the femo[identity] extra. The weights are found in the
installed wheel without importing it (its ``__init__`` imports ``pkg_resources``, gone
from recent setuptools); nothing is downloaded. Embeddings of one person lie closer than
about 0.6 to each other (Euclidean), those of two people farther.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import threading
from pathlib import Path

import numpy as np

from ..config import ConfigError, IdentityConfig

EXTRA = "pip install 'femo[identity]' (dlib-bin, face-recognition-models)"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
# dlib's documented threshold: two faces closer than this are one person's.
SAME_PERSON = 0.6


def model_file(name: str) -> Path:
    """The path of one of face-recognition-models' weight files, found without importing it."""
    candidates = []
    spec = importlib.util.find_spec("face_recognition_models")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(folder) / "models" / name)
    try:
        dist = importlib.metadata.distribution("face-recognition-models")
        candidates += [Path(dist.locate_file(f)) for f in dist.files or [] if f.name == name]
    except importlib.metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(f"identity=dlib needs face-recognition-models' {name}: {EXTRA}")


def check_installed(config: IdentityConfig | None = None) -> None:
    """Raise a one-line :class:`ConfigError` unless dlib and its weight files are installed
    (``identity=dlib``'s preflight; every ``config`` needs the same)."""
    try:
        import dlib  # noqa: F401
    except ImportError:
        raise ConfigError(f"identity=dlib needs dlib: {EXTRA}") from None
    model_file(SHAPE_MODEL)
    model_file(RECOGNITION_MODEL)


class Embedder:
    """Embeddings of face boxes in RGB images; dlib's models are loaded once per thread
    (a dlib network keeps per-call buffers, so threads never share one)."""

    def __init__(self) -> None:
        check_installed()
        self._local = threading.local()

    def _models(self):
        local = self._local
        if not hasattr(local, "recogniser"):
            import dlib

            local.shapes = dlib.shape_predictor(str(model_file(SHAPE_MODEL)))
            local.recogniser = dlib.face_recognition_model_v1(str(model_file(RECOGNITION_MODEL)))
        return local.shapes, local.recogniser

    def embed(self, rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
        """One float32 embedding per ``(x, y, w, h)`` box of the RGB image ``rgb``."""
        if not boxes:
            return []
        import dlib

        shapes, recogniser = self._models()
        image = np.ascontiguousarray(rgb, dtype=np.uint8)
        landmarks = dlib.full_object_detections()
        for x, y, w, h in boxes:
            landmarks.append(shapes(image, dlib.rectangle(x, y, x + w, y + h)))
        vectors = recogniser.compute_face_descriptor(image, landmarks)
        return [np.asarray(v, dtype=np.float32) for v in vectors]
