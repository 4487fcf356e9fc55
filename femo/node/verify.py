"""The face check after detection (``detector.verify=mesh``): is each box a face?

A detector finds "faces" in on-screen text (round letters as eyes). MediaPipe checks
each face it tracks with its face mesh model (:mod:`femo.node.face_mesh`), whose
face-presence score is near 1 on a face and near 0 elsewhere. But the mesh does not
recognise profile faces, nor small, blurred ones (it scores them near 0 too), which
are the faces BlazeFace was brought in to find. So only the faces the detector is
unsure of are checked: those scoring under ``verify_below`` (on the shared sets, every
"face" in text scored under 0.61, profile faces from 0.70); a checked face is kept
where the presence reaches ``verify_min``. A detector without scores (Haar) has every
face checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..config import CHECKS, DetectorConfig
from . import face_mesh
from .blazeface import wheel_file
from .detectors import Face
from .face_mesh import FaceMesh, face_roi


@dataclass(frozen=True)
class Verdict:
    """The check of one face: the mesh's presence (None: not checked, the detector was
    sure) and why it was rejected (None: kept)."""

    presence: float | None = None
    reason: str | None = None

    @property
    def kept(self) -> bool:
        return self.reason is None


class FaceCheck:
    """``detector.verify=mesh``: the face mesh's verdict on each face of a frame.

    Safe to call from several threads (each gets its own interpreter, one thread each).
    """

    def __init__(self, config: DetectorConfig):
        self.below = config.verify_below
        self.minimum = config.verify_min
        self.mesh = FaceMesh(threads=1, needed_by="detector.verify=mesh")

    def warm_up_thread(self) -> None:
        self.mesh.warm_up()

    def needs_check(self, face: Face) -> bool:
        """Whether the detector is unsure of ``face`` (no score, or under verify_below)."""
        return self.below is None or face.confidence is None or face.confidence < self.below

    def check(self, frame_bgr: np.ndarray, faces: Sequence[Face]) -> list[Verdict]:
        """One verdict per face of the BGR frame, in order."""
        unsure = [f for f in faces if self.needs_check(f)]
        if not unsure:
            return [Verdict() for _ in faces]
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        presences = iter(
            self.mesh.run(rgb, face_roi((f.x, f.y, f.w, f.h), f.eyes)).presence for f in unsure
        )
        return [self._verdict(next(presences)) if self.needs_check(f) else Verdict() for f in faces]

    def _verdict(self, presence: float) -> Verdict:
        if presence >= self.minimum:
            return Verdict(presence)
        return Verdict(
            presence, f"not a face to the face mesh (presence {presence:.2g} < {self.minimum:g})"
        )


def make_check(config: DetectorConfig) -> FaceCheck | None:
    """The face check ``detector.verify`` asks for (its registry entry's builder), or None
    (``verify=none`` builds nothing)."""
    return CHECKS.require(config.verify).build(config)


def check_installed(config: DetectorConfig) -> None:
    """``detector.verify=mesh``'s preflight: a one-line ConfigError where the runtime or
    the face mesh's model file is missing."""
    wheel_file(face_mesh.MODEL_FILE, "detector.verify=mesh")
