"""Decoding: the sampled frames of one clip, and clear errors for clips that fail."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..config import SamplingConfig
from ..dataset import Segment
from ..segments import VideoLength

log = logging.getLogger(__name__)

# A segment starting this few frames past the reader's position is reached by grabbing
# the frames between (exact, and cheaper than a seek that decodes from a keyframe).
GRAB_AHEAD = 64


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


def probe(path: str) -> VideoLength:
    """A video's fps and frame count as its container announces them (nothing decoded),
    or why it cannot be opened: what planning segments needs (:mod:`femo.segments`)."""
    try:
        reader = VideoReader(path)
        cap = reader.open()
    except ClipError as exc:
        return VideoLength(error=str(exc))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        return VideoLength(fps if fps > 0 else None, frames if frames > 0 else None)
    finally:
        reader.close()


class VideoReader:
    """One video file, opened once and read forward by the segments of a shard in turn.

    It seeks only where a segment does not start at the next frame: a little way ahead
    by grabbing frames, further by OpenCV's seek (FFmpeg: from the keyframe before the
    frame, decoding forward to it), which must report the very frame asked for, else the
    file is read again from its start (exact, if slow). A file that cannot be opened
    gives every segment the same reason.
    """

    def __init__(self, path: str, threads: int | None = None) -> None:
        self.path = path
        self.threads = threads
        self.cap: cv2.VideoCapture | None = None
        self.position: int | None = 0  # the next frame read() returns; None: unknown
        self.error: str | None = None
        self.seeks = 0

    def open(self) -> cv2.VideoCapture:
        if self.error is None and self.cap is None:
            self.error = _unreadable(self.path)
            if self.error is None:
                cap = open_video(self.path, self.threads)
                if cap.isOpened():
                    self.cap, self.position = cap, 0
                else:
                    cap.release()
                    self.error = (
                        "cannot be opened as a video (not a video, or a codec OpenCV lacks)"
                    )
        if self.error is not None:
            raise ClipError(self.error)
        assert self.cap is not None
        return self.cap

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, image = self.open().read()
        self._advance(ok and image is not None)
        return ok, image

    def grab(self) -> bool:
        ok = bool(self.open().grab())
        self._advance(ok)
        return ok

    def _advance(self, ok: bool) -> None:
        self.position = self.position + 1 if ok and self.position is not None else None

    def seek(self, frame: int) -> None:
        """Make ``frame`` the next frame read."""
        cap = self.open()
        if self.position == frame:
            return
        if self.position is not None and 0 < frame - self.position <= GRAB_AHEAD:
            self._grab_to(frame)
            return
        self.seeks += 1
        if cap.set(cv2.CAP_PROP_POS_FRAMES, frame) and cap.get(cv2.CAP_PROP_POS_FRAMES) == frame:
            self.position = frame
            return
        log.info("%s: OpenCV did not seek to frame %d exactly; reading from the start",
                 self.path, frame)  # fmt: skip
        self.close()
        self.open()
        self._grab_to(frame)

    def _grab_to(self, frame: int) -> None:
        while self.position is not None and self.position < frame:
            if not self.grab():
                raise ClipError(f"cannot read up to frame {frame} (the video ends before it)")

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
        self.cap, self.position = None, 0


def open_video(path: str, threads: int | None = None) -> cv2.VideoCapture:
    """A capture of ``path``, its decoder limited to ``threads`` threads where given."""
    if threads is not None:
        cap = cv2.VideoCapture(path, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
        if cap.isOpened():
            return cap
        cap.release()  # a backend without that setting may still open it
    return cv2.VideoCapture(path)


def _unreadable(path: str) -> str | None:
    if not os.path.exists(path):
        return "file not found"
    if os.path.getsize(path) == 0:
        return "empty file (0 bytes)"
    return None


def sampled_frames(
    path: str,
    kind: str,
    sampling: SamplingConfig,
    info: ClipInfo,
    segment: Segment | None = None,
    reader: VideoReader | None = None,
    threads: int | None = None,
) -> Iterator[Frame]:
    """Yield the sampled frames of a clip, in order, filling ``info`` as it goes.

    Videos are read sequentially; frames that are not sampled are only grabbed
    (demuxed and decoded, never converted to BGR), which yields the very frames
    ``cv2.VideoCapture.read`` returns for the sampled ones. A ``segment`` is read from
    its first frame (sampling counts from there) to its end, with ``reader`` where the
    caller reads several segments of one file. Raises :class:`ClipError` when nothing
    can be read. ``threads``: the decoder's threads for a reader made here (None:
    OpenCV's default, one per CPU of the machine, whatever the scheduler granted).
    """
    if kind == "image":
        error = _unreadable(path)
        if error is not None:
            raise ClipError(error)
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ClipError("cannot be read as an image (corrupt, or not an image)")
        info.frames_read = info.frames_announced = 1
        yield Frame(0, 0.0, image)
        return
    own = reader is None
    reader = reader or VideoReader(path, threads)
    try:
        yield from _video_frames(reader, sampling, info, segment)
    finally:
        if own:
            reader.close()


def _video_frames(
    reader: VideoReader, sampling: SamplingConfig, info: ClipInfo, segment: Segment | None
) -> Iterator[Frame]:
    cap = reader.open()
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    announced = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    start, end = 0, None
    if segment is not None:
        if segment.start_frame is None or segment.end_frame is None:
            raise ClipError("the segment's frames are unknown (the video did not open when "
                            "the run was planned)")  # fmt: skip
        start, end = segment.start_frame, segment.end_frame
        announced = end - start
    info.fps = fps if fps > 0 else None
    info.frames_announced = announced if announced > 0 else None
    if info.fps is None:
        if sampling.mode == "fps":
            raise ClipError("no fps metadata, so sampling.fps cannot apply (use sampling.every_n)")
        info.notes.append("no fps metadata: time_s left empty")
    info.step = step = sampling.step_for(fps)
    reader.seek(start)
    sampled = 0
    index = 0  # from the clip's (segment's) first frame
    while end is None or start + index < end:
        if index % step == 0:
            ok, image = reader.read()
            if not ok or image is None:
                break
            sampled += 1
            time_s = (start + index) / fps if info.fps else None
            yield Frame(start + index, time_s, image)
        elif not reader.grab():
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
