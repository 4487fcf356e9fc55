"""What flows between the extraction engine's stages (:mod:`femo.node.engine`): the row
buffer, a clip's end in the frame stream, frames grouped into detector calls, the
seconds each stage spends, and a clip's status from what decoding and detection said."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..config import EMOTIONS
from ..dataset import Clip
from ..shard_files import SCHEMA
from .video import ClipInfo, Frame


class Columns:
    """Column-wise row buffer; scores are filled in later, per classifier batch."""

    def __init__(self) -> None:
        self.data: dict[str, list] = {f.name: [] for f in SCHEMA}

    def add(self, **values) -> int:
        for name, column in self.data.items():
            column.append(values.get(name))
        return len(self.data["video"]) - 1

    def set_scores(self, row: int, scores: np.ndarray) -> None:
        for e, s in zip(EMOTIONS, scores, strict=True):
            self.data[e][row] = float(s)

    def table(self, metadata: dict[bytes, bytes]) -> pa.Table:
        return pa.table(self.data, schema=SCHEMA).replace_schema_metadata(metadata)


@dataclass(frozen=True)
class ClipEnd:
    """Marks the end of a clip in the frame stream, with what decoding learnt."""

    clip: Clip
    info: ClipInfo
    error: str | None
    sampled: int


@dataclass
class Unit:
    """One detector call: consecutive sampled frames of one clip, or a clip's end."""

    clip: Clip
    frames: list[Frame] = field(default_factory=list)
    end: ClipEnd | None = None


class StageClock:
    """Seconds spent per stage, summed over the threads that run it."""

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        self._lock = threading.Lock()
        self.seconds = dict.fromkeys(("decode", "detect", "classify", *extra), 0.0)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.seconds)


@dataclass(frozen=True)
class Tagged:
    clip: Clip
    frame: Frame


def by_file(clips: Iterable[Clip]) -> Iterator[list[Clip]]:
    """Consecutive clips of one file together (segments); every other clip alone."""
    for _, run in itertools.groupby(clips, key=lambda c: c.file if c.segment else c):
        yield list(run)


def detector_calls(stream: Iterable[Tagged | ClipEnd], frames_per_call: int) -> Iterator[Unit]:
    """Group consecutive frames of a clip into detector calls of ``frames_per_call``."""
    current: Unit | None = None
    for item in stream:
        if isinstance(item, ClipEnd):
            if current is not None:
                yield current
                current = None
            yield Unit(item.clip, end=item)
            continue
        if current is None:
            current = Unit(item.clip)
        current.frames.append(item.frame)
        if len(current.frames) >= frames_per_call:
            yield current
            current = None
    if current is not None:
        yield current


def clip_status(end: ClipEnd, detect_error: str | None) -> tuple[str, str | None]:
    error = end.error or detect_error
    if error is not None:
        return "error", error
    notes = end.info.notes
    if not notes:
        return "ok", None
    status = "partial" if any("decoded" in n for n in notes) else "ok"
    return status, "; ".join(notes)
