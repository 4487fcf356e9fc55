"""``landmarks=mesh``: each face's 468-point mesh, in the compact form the shard keeps.

:class:`MeshLandmarks` runs MediaPipe's face mesh (:class:`femo.node.face_mesh.FaceMesh`) on
every face box of a frame, whatever found it (Haar, MTCNN, BlazeFace, or the whole frame
with ``detector=none``): an upright square crop 1.5 times the box's longer side, as
MediaPipe crops a detection. :func:`normalise` turns the points into the shard's
``mesh`` column (README, "The face's shape"):

- the 468 points (x, y, z) less their mean (the face's centroid);
- turned in the image plane so that the outer eye corners (points 33 and 263) are level;
- divided by the distance between those corners (x, y and z alike);
- flattened point by point, ``[x0, y0, z0, x1, ...]``, 1,404 float32.

So the form is the face's shape, free of where the face is, how large, and how tilted
in the picture. A face MediaPipe's presence score puts below 0.5 (its own threshold: not
a face, to the mesh model) gets no mesh (null).
"""

from __future__ import annotations

import numpy as np

from ..config import LandmarksConfig
from . import face_mesh
from .blazeface import wheel_file
from .detectors import Face
from .face_mesh import POINTS, FaceMesh

# MediaPipe's mesh indices of the outer corners of the subject's right and left eye.
RIGHT_EYE, LEFT_EYE = 33, 263
# MediaPipe's face graph drops a face whose presence score is below this.
MIN_PRESENCE = 0.5
MESH_VALUES = 3 * POINTS


def normalise(points: np.ndarray) -> np.ndarray | None:
    """The shard's form of a mesh ``points`` (468, 3), float32 (1404,); None where the
    eye corners coincide (no scale to divide by)."""
    centred = np.asarray(points, dtype=np.float64) - np.mean(points, axis=0)
    dx, dy = centred[LEFT_EYE, :2] - centred[RIGHT_EYE, :2]
    distance = float(np.hypot(dx, dy))
    if not distance > 0:
        return None
    cos, sin = dx / distance, dy / distance
    x, y = centred[:, 0], centred[:, 1]
    level = np.column_stack([cos * x + sin * y, -sin * x + cos * y, centred[:, 2]])
    return (level / distance).astype(np.float32).reshape(-1)


class MeshLandmarks:
    """The mesh of every face of a frame, in :func:`normalise`'s form (None: no mesh).

    Called from the detector threads; :class:`FaceMesh` keeps one interpreter per thread.
    """

    def __init__(self) -> None:
        self.model = FaceMesh(threads=1, needed_by="landmarks=mesh")

    def warm_up_thread(self) -> None:
        """Load this thread's interpreter before any clip is timed."""
        self.model(np.zeros((64, 64, 3), np.uint8), [(8, 8, 48, 48)])

    def frame(self, rgb: np.ndarray, faces: list[Face]) -> list[np.ndarray | None]:
        """Each face's normalised mesh, from the frame in RGB."""
        meshes = self.model(rgb, [(f.x, f.y, f.w, f.h) for f in faces])
        return [normalise(m.points) if m.presence >= MIN_PRESENCE else None for m in meshes]


def check_installed(config: LandmarksConfig) -> None:
    """``landmarks=mesh``'s preflight: a one-line ConfigError where the runtime or the
    face mesh's model file is missing."""
    wheel_file(face_mesh.MODEL_FILE, "landmarks=mesh")
