"""fer's face crop, exactly as fer builds the classifier's input: the grey frame padded
(``FER.pad``), the box squared (``FER.tosquare``), fer's offsets added, resized."""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np


class Box(Protocol):
    """A face's box in frame pixels (a :class:`femo.node.detectors.Face`; detectors imports this
    module, so it is named by what the crops read)."""

    x: int
    y: int
    w: int
    h: int


# fer pads the gray frame by this many pixels before cropping faces (fer.fer.PADDING).
FER_PADDING = 40


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


def fer_crop_pixels(
    padded: np.ndarray, face: Box, offsets: tuple[int, int], target_size: tuple[int, int]
) -> np.ndarray | None:
    """fer's crop of one face from a padded frame (grey or colour), resized to
    ``target_size``, still 0..255; None if the crop is empty."""
    x, y, w, h = square_box(face.x, face.y, face.w, face.h)
    x_off, y_off = offsets
    x1, x2 = x - x_off + FER_PADDING, x + w + x_off + FER_PADDING
    y1, y2 = y - y_off + FER_PADDING, y + h + y_off + FER_PADDING
    crop = padded[max(0, y1) : y2, max(0, x1) : x2]
    if crop.size == 0:
        return None
    return cv2.resize(crop, target_size)


def face_crop(
    padded_gray: np.ndarray, face: Box, offsets: tuple[int, int], target_size: tuple[int, int]
) -> np.ndarray | None:
    """The classifier input for one face, exactly as fer builds it; None if the crop is empty."""
    crop = fer_crop_pixels(padded_gray, face, offsets, target_size)
    if crop is None:
        return None
    return (crop.astype(np.float32) / 255.0 - 0.5) * 2.0


class FerInput:
    """What both backends of fer's model take: fer's grey crop of each face, resized to
    ``target_size`` (the classifier's ``crops`` and ``face_shape``)."""

    target_size: tuple[int, int]

    @property
    def face_shape(self) -> tuple[int, int]:
        """One face as :meth:`crops` gives it: (h, w)."""
        return self.target_size[::-1]

    def crops(
        self,
        image: np.ndarray,
        gray: np.ndarray | None,
        faces: list[Box],
        offsets: tuple[int, int],
    ) -> list[np.ndarray | None]:
        """The classifier's input for each face of a BGR frame (``gray``: its grey frame,
        or None to convert here); None for an empty crop."""
        if not faces:
            return []
        if gray is None:
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        padded = pad_gray(gray)
        return [face_crop(padded, face, offsets, self.target_size) for face in faces]
