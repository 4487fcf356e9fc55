"""MTCNN's face classifier, its third network (ONet), as a second opinion on a face box.

ONet was trained to tell faces from what MTCNN's first two networks mistake for faces:
given a box cut as MTCNN cuts it (the box made square, sampled at 48x48, grey outside
the frame), it says how likely the box holds a face. MTCNN keeps a box above
:data:`MTCNN_THRESHOLD`, its own default. The weights are the ``mtcnn`` package's
(a dependency of fer), converted to ONNX by ``scripts/export_onet_onnx.py`` and shipped in
``femo/node/data``, so no TensorFlow is loaded.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np

from .classifier import session_options

SIZE = 48
# mtcnn 1.0's stage-3 threshold (MTCNN(...).detect_faces(threshold_onet=0.8)).
MTCNN_THRESHOLD = 0.8


def onet_model_path() -> Path:
    """The ONNX file of ONet inside the installed femo."""
    return Path(str(importlib.resources.files(__package__).joinpath("data", "mtcnn_onet.onnx")))


def _samples(low: float, high: float, extent: int) -> tuple[np.ndarray, np.ndarray]:
    """Where MTCNN samples one axis of a box (TensorFlow's ``crop_and_resize`` on a box
    divided by the frame's size, in float32), and which samples fall inside the frame."""
    low32, high32 = np.float32(low / extent), np.float32(high / extent)
    step = np.float32((high32 - low32) * np.float32(extent - 1) / np.float32(SIZE - 1))
    at = low32 * np.float32(extent - 1) + np.arange(SIZE, dtype=np.float32) * step
    return at, (at >= 0) & (at <= extent - 1)


def mtcnn_patch(rgb: np.ndarray, x: float, y: float, w: float, h: float) -> np.ndarray:
    """The 48x48x3 float32 patch ONet sees for box (x, y, w, h) of the RGB frame: the box
    made square about its centre (its longer side), sampled bilinearly, scaled to
    ``(v - 127.5) / 128``; 0 (mid grey) outside the frame. As mtcnn 1.0 cuts it
    (``scripts/export_onet_onnx.py`` compares the two)."""
    height, width = rgb.shape[:2]
    side = max(w, h)
    left, top = x + w / 2 - side / 2, y + h / 2 - side / 2
    rows, rows_in = _samples(top, top + side, height)
    cols, cols_in = _samples(left, left + side, width)
    rows, cols = np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
    top_row, bottom_row = np.floor(rows).astype(int), np.ceil(rows).astype(int)
    left_col, right_col = np.floor(cols).astype(int), np.ceil(cols).astype(int)
    down = (rows - top_row)[:, None, None]
    across = (cols - left_col)[None, :, None]

    def across_row(r: np.ndarray) -> np.ndarray:
        """Row ``r`` of the samples, each interpolated between its two columns."""
        left = rgb[np.ix_(r, left_col)].astype(np.float32)
        return left + (rgb[np.ix_(r, right_col)].astype(np.float32) - left) * across

    upper, lower = across_row(top_row), across_row(bottom_row)
    patch = (upper + (lower - upper) * down - 127.5) / 128
    patch[~rows_in] = 0.0
    patch[:, ~cols_in] = 0.0
    return patch.astype(np.float32)


class FaceClassifier:
    """ONet on ONNX Runtime, one thread: the probability that a box holds a face. Safe to
    call from several threads (one session; ONNX Runtime runs calls side by side)."""

    def __init__(self, model_path: str | Path | None = None):
        import onnxruntime as ort

        self.model_path = str(model_path or onet_model_path())
        self.session = ort.InferenceSession(
            self.model_path, sess_options=session_options(1), providers=["CPUExecutionProvider"]
        )

    def face_probability(self, rgb: np.ndarray, x: float, y: float, w: float, h: float) -> float:
        """ONet's face probability for the box (x, y, w, h) of the RGB frame."""
        patch = mtcnn_patch(rgb, x, y, w, h)[None]
        (scores,) = self.session.run(["prob"], {"patches": patch})
        return float(scores[0, 1])
