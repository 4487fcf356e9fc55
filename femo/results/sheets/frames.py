"""Reading a clip's sampled frames again, by index, to draw what was scored on them.

The node side decoded them once (``femo.node.video``); the results side must not import
it, so this is its own small reader. Frames are read in order and the others only
grabbed, as the node did, so frame ``k`` here is the frame ``k`` that was analysed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np


class FrameReadError(Exception):
    """A clip that cannot be read again from where the results are made."""


def read_frames(
    path: str | os.PathLike[str], kind: str, wanted: Iterable[int]
) -> dict[int, np.ndarray]:
    """The frames ``wanted`` (indices in the clip) of the clip at ``path``, BGR, by index.

    An image is frame 0. Frames past the end of the stream are left out. Raises
    :class:`FrameReadError` when the file is missing or nothing can be decoded.
    """
    path = Path(path)
    indices = sorted({int(k) for k in wanted})
    if not path.is_file():
        raise FrameReadError(f"{path}: file not found")
    if not os.access(path, os.R_OK):
        raise FrameReadError(f"{path}: not readable")
    if kind == "image":
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FrameReadError(f"{path}: cannot be read as an image")
        return {0: image} if 0 in indices else {}
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise FrameReadError(f"{path}: cannot be opened as a video")
        frames: dict[int, np.ndarray] = {}
        todo = set(indices)
        index, last = 0, indices[-1] if indices else -1
        while index <= last:
            if index in todo:
                ok, image = cap.read()
                if not ok or image is None:
                    break
                frames[index] = image
            elif not cap.grab():
                break
            index += 1
    finally:
        cap.release()
    if indices and index == 0:
        raise FrameReadError(f"{path}: no frame could be decoded")
    return frames
