"""The face check on evidence (``detector.verify=evidence``): is each box a face,
whatever the detector scored it?

A detector's score does not separate faces from face-like things: BlazeFace scores a
cat's face 0.78 and a coffee cup 0.69, and the face mesh's presence score alone gives
animal faces and lettering 0.07-0.98. So every face is checked, and a face is kept
only on two independent pieces of evidence, after one that rules it out:

1. **not flat**: a drawing, a logo or lettering is mostly flat colour. The share of the
   box's centre (its middle 80 %) whose 3x3 neighbourhood spans at most
   :data:`FLAT_RANGE` grey levels must stay under :data:`FLAT_MAX` (on photos, real
   faces stay under about 0.5; drawn faces and lettering are mostly over it).
2. **found again**: seen by the detector at two scales (two of BlazeFace's calls, the
   letterbox, a pyramid level or the back-camera model, found it: ``Face.views``), or
   else found again close up: BlazeFace's short-range model, shown the box as MediaPipe
   shows it a close-up (a square :data:`CONTEXT` times the box's longer side, upright,
   at its own 128 px), must find a box there (IoU >= :data:`SAME_BOX`) scoring at least
   :data:`AGAIN_MIN`. A face found at a small scale in a busy frame is seen again;
   texture that happened to fire a detector at one scale mostly is not.
3. then either **a profile by its eyes** (the detector's eye keypoints closer than
   :data:`PROFILE_SPAN` of the box's width: the face mesh does not know profiles and
   scores them near 0), or **a face to the face mesh** (its presence on MediaPipe's crop,
   turned by the eyes, at least ``detector.verify_min``).

A face not flat that fails 2 or 3 is still kept where **a second detector's face
classifier** calls it a face: MTCNN's third network (ONet, :mod:`.onet`), trained to
tell faces from what a detector mistakes for them, on the box cut as MTCNN cuts it, above
MTCNN's own threshold (:data:`~.onet.MTCNN_THRESHOLD`). Two models, trained apart, agree.
It speaks for faces the other evidence cannot see well: a few pixels wide, turned, or
cut by the frame's edge, where the close-up is a blur and the mesh scores near 0.

A face the detector gave no eyes (Haar, MTCNN) goes through 1, 2 and the mesh. The
rejected boxes stay in the shard (kind "rejected") with their reason.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import cv2
import numpy as np

from ..config import BlazeFaceConfig, DetectorConfig
from .blazeface import box_iou
from .detectors import BlazeFaceDetector, Face
from .face_mesh import FaceMesh, face_roi
from .onet import MTCNN_THRESHOLD, FaceClassifier
from .verify import Verdict

FLAT_RANGE = 2
FLAT_MAX = 0.6
CONTEXT = 2.2
SAME_BOX = 0.3
AGAIN_MIN = 0.5
PROFILE_SPAN = 0.2
# The re-detection keeps weak boxes (its own threshold is MediaPipe's 0.5) so that the
# verdict can name the score the face got.
_AGAIN_FLOOR = 0.05


def flatness(frame_bgr: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    """The share of the box's middle 80 % (each way) whose 3x3 grey range is at most
    :data:`FLAT_RANGE`; 0 for a box too small to tell."""
    height, width = frame_bgr.shape[:2]
    left, right = int(max(0, x + 0.1 * w)), int(min(width, x + 0.9 * w))
    top, bottom = int(max(0, y + 0.1 * h)), int(min(height, y + 0.9 * h))
    if right - left < 3 or bottom - top < 3:
        return 0.0
    gray = cv2.cvtColor(frame_bgr[top:bottom, left:right], cv2.COLOR_BGR2GRAY)
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(gray, kernel).astype(np.int16) - cv2.erode(gray, kernel)
    return float((spread <= FLAT_RANGE).mean())


def close_up(rgb: np.ndarray, face: Face, size: int) -> tuple[np.ndarray, float]:
    """The square centred on ``face``, :data:`CONTEXT` times its longer side (black
    outside the frame), at ``size`` pixels a side; and the crop pixels per frame pixel.
    The square is cut before it is resized: never the whole frame per face."""
    side = max(1, round(max(face.w, face.h) * CONTEXT))
    left = round(face.x + face.w / 2 - side / 2)
    top = round(face.y + face.h / 2 - side / 2)
    height, width = rgb.shape[:2]
    square = np.zeros((side, side, 3), np.uint8)
    x0, y0, x1, y1 = max(0, left), max(0, top), min(width, left + side), min(height, top + side)
    if x1 > x0 and y1 > y0:
        square[y0 - top : y1 - top, x0 - left : x1 - left] = rgb[y0:y1, x0:x1]
    shrink = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=shrink), size / side


def eye_span(face: Face) -> float | None:
    """The distance between the face's eye keypoints over its box's width; None
    without keypoints."""
    if face.eyes is None:
        return None
    (rx, ry), (lx, ly) = face.eyes
    return float(np.hypot(lx - rx, ly - ry)) / max(face.w, 1)


class EvidenceCheck:
    """``detector.verify=evidence``: a verdict on each face of a frame (module docstring).

    Safe to call from several threads: the short-range model and the mesh each load
    one interpreter per thread.
    """

    def __init__(self, config: DetectorConfig):
        self.below = config.verify_below
        self.minimum = config.verify_min
        self.mesh = FaceMesh(threads=1, needed_by="detector.verify=evidence")
        short = BlazeFaceConfig(model="short", min_score=_AGAIN_FLOOR, min_face=None, verify="none")
        self.short = BlazeFaceDetector(short)
        self.onet = FaceClassifier()
        self._local = threading.local()

    def warm_up_thread(self) -> None:
        self.mesh.warm_up()
        self.short.warm_up_thread()

    def needs_check(self, face: Face) -> bool:
        """Whether ``face`` is checked: every face, unless ``verify_below`` spares the
        ones the detector scores at or above it."""
        return self.below is None or face.confidence is None or face.confidence < self.below

    def check(self, frame_bgr: np.ndarray, faces: Sequence[Face]) -> list[Verdict]:
        """One verdict per face of the BGR frame, in order."""
        if not any(self.needs_check(f) for f in faces):
            return [Verdict() for _ in faces]
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        return [
            self.verdict(frame_bgr, rgb, f) if self.needs_check(f) else Verdict() for f in faces
        ]

    def verdict(self, frame_bgr: np.ndarray, rgb: np.ndarray, face: Face) -> Verdict:
        """The check of one face (module docstring)."""
        flat = flatness(frame_bgr, face.x, face.y, face.w, face.h)
        if flat >= FLAT_MAX:
            return Verdict(None, f"flat like a drawing ({flat:.2f} of it flat >= {FLAT_MAX:g})")
        verdict = self.evidence(rgb, face)
        if verdict.kept:
            return verdict
        onet = self.onet.face_probability(rgb, face.x, face.y, face.w, face.h)
        if onet > MTCNN_THRESHOLD:
            return Verdict(verdict.presence)
        return Verdict(
            verdict.presence,
            f"{verdict.reason}, nor a face to MTCNN's classifier "
            f"({onet:.2f} <= {MTCNN_THRESHOLD:g})",
        )

    def evidence(self, rgb: np.ndarray, face: Face) -> Verdict:
        """Steps 2 and 3 of the module docstring: found again, then a profile or a face
        to the mesh."""
        if face.views < 2:  # seen at two scales, it has been found again already
            again = self.found_again(rgb, face)
            if again < AGAIN_MIN:
                return Verdict(
                    None, f"not found again close up (score {again:.2f} < {AGAIN_MIN:g})"
                )
        span = eye_span(face)
        if span is not None and span < PROFILE_SPAN:
            return Verdict(None)  # a profile: the mesh would score it near 0
        presence = self.mesh.run(
            rgb, face_roi((face.x, face.y, face.w, face.h), face.eyes)
        ).presence
        if presence >= self.minimum:
            return Verdict(presence)
        return Verdict(
            presence, f"not a face to the face mesh (presence {presence:.2g} < {self.minimum:g})"
        )

    def found_again(self, rgb: np.ndarray, face: Face) -> float:
        """Short range's best score for a box at the face's place in its close-up (0 where
        it finds none there)."""
        size = self.short.specs[0].size
        crop, scale = close_up(rgb, face, size)
        boxes, scores = self.short.model_boxes(crop)
        if not len(scores):
            return 0.0
        half_w, half_h = face.w * scale / 2, face.h * scale / 2
        wanted = np.array(
            [size / 2 - half_w, size / 2 - half_h, size / 2 + half_w, size / 2 + half_h]
        )
        same = box_iou(wanted, boxes) >= SAME_BOX
        return float(scores[same].max()) if same.any() else 0.0
