"""The report's records along time (sections of ``metrics.json``, :mod:`.metrics`): the
scores of a clip's scored face frame by frame (:class:`Timeline`), and a long video's
segments in time order (:class:`VideoOverTime`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import Record


@dataclass(frozen=True, eq=False)
class TimelineFrame(Record):
    frame: int = 0
    time_s: float | None = None
    scores: dict[str, float] | None = None  # None: no face in this sampled frame
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class Timeline(Record):
    """The 7 scores of the scored face along one clip."""

    video: str = ""
    group: str | None = None
    golden: str | None = None
    predict: str | None = None
    correct: bool | None = None
    confidence: float | None = None
    frames: list[TimelineFrame] = field(default_factory=list)
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class PersonInSegment(Record):
    """One reference person's faces in one segment: how many, and their classes' shares
    (of each face's top emotion)."""

    faces: int = 0
    class_share: dict[str, float] | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class SegmentResult(Record):
    """One segment of a long video: its span, predicted and golden class, status, group,
    and the shares of its frames with a face (top emotion, class) and of each person's
    faces (reference photos given)."""

    start_frame: int | None = None
    end_frame: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    predict: str | None = None
    golden: str | None = None
    status: str = ""
    group: str | None = None
    frames_with_face: int | None = None
    emotion_share: dict[str, float] | None = None
    class_share: dict[str, float] | None = None
    persons: dict[str, PersonInSegment] | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class VideoOverTime(Record):
    """One long video's segments in time order."""

    video: str = ""
    segments: list[SegmentResult] = field(default_factory=list)
    absent: frozenset[str] = frozenset()

    @property
    def in_seconds(self) -> bool:
        """Whether every segment's span is known in seconds (else frames are the axis)."""
        return all(s.start_s is not None and s.end_s is not None for s in self.segments)
