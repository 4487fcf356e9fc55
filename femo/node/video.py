"""Decoding: the sampled frames of one clip, and clear errors for clips that fail."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..config import SamplingConfig


class ClipError(Exception):
    """A clip that cannot be analysed; the message is the clip's status line."""


@dataclass
class ClipInfo:
    """What decoding learnt about a clip; filled in while frames are read."""

    fps: float | None = None
    frames_announced: int | None = None
    frames_read: int = 0
    step: int = 1
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float | None
    image: np.ndarray  # BGR, as cv2 decodes it and fer analyses it


def sampled_frames(
    path: str, kind: str, sampling: SamplingConfig, info: ClipInfo, threads: int | None = None
) -> Iterator[Frame]:
    """Yield the sampled frames of a clip, in order, filling ``info`` as it goes.

    Videos are read sequentially; frames that are not sampled are only grabbed
    (demuxed and decoded, never converted to BGR), which yields the very frames
    ``cv2.VideoCapture.read`` returns for the sampled ones. Raises :class:`ClipError`
    when nothing can be read. ``threads``: the decoder's threads (None: OpenCV's
    default, one per CPU of the machine, whatever the scheduler granted).
    """
    if not os.path.exists(path):
        raise ClipError("file not found")
    if os.path.getsize(path) == 0:
        raise ClipError("empty file (0 bytes)")
    if kind == "image":
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ClipError("cannot be read as an image (corrupt, or not an image)")
        info.frames_read = info.frames_announced = 1
        yield Frame(0, 0.0, image)
        return
    yield from _video_frames(path, sampling, info, threads)


def open_video(path: str, threads: int | None = None) -> cv2.VideoCapture:
    """A capture of ``path``, its decoder limited to ``threads`` threads where given."""
    if threads is not None:
        cap = cv2.VideoCapture(path, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
        if cap.isOpened():
            return cap
        cap.release()  # a backend without that setting may still open it
    return cv2.VideoCapture(path)


def _video_frames(
    path: str, sampling: SamplingConfig, info: ClipInfo, threads: int | None = None
) -> Iterator[Frame]:
    cap = open_video(path, threads)
    try:
        if not cap.isOpened():
            raise ClipError("cannot be opened as a video (not a video, or a codec OpenCV lacks)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        announced = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        info.fps = fps if fps > 0 else None
        info.frames_announced = announced if announced > 0 else None
        if info.fps is None:
            if sampling.mode == "fps":
                raise ClipError(
                    "no fps metadata, so sampling.fps cannot apply (use sampling.every_n)"
                )
            info.notes.append("no fps metadata: time_s left empty")
        info.step = step = sampling.step_for(fps)
        sampled = 0
        index = 0
        while True:
            if index % step == 0:
                ok, image = cap.read()
                if not ok or image is None:
                    break
                sampled += 1
                time_s = index / fps if info.fps else None
                yield Frame(index, time_s, image)
            elif not cap.grab():
                break
            index += 1
            info.frames_read = index
            if sampling.max_frames is not None and sampled >= sampling.max_frames:
                break
        info.frames_read = index
        if index == 0:
            raise ClipError("no frame could be decoded (zero frames, or a broken stream)")
        if sampling.max_frames is None and info.frames_announced and index < info.frames_announced:
            info.notes.append(
                f"decoded {index} of the {info.frames_announced} frames the container announces "
                "(truncated or damaged file?)"
            )
    finally:
        cap.release()
