"""Long videos in segments: which spans of which videos are the run's clips.

A segment ``[start, end)`` of a video is everywhere what a clip is (its own vote, label,
group, status row, sheet). Segments come from a labels file with ``start_frame`` and
``end_frame`` columns (or ``start_s`` and ``end_s``), one per row, or from
``dataset.segment_s`` / ``dataset.segment_frames``, which cut every video into
consecutive segments. Like :mod:`femo.dataset`, everything here runs before any work is
queued: overlapping segments and segments past a video's end are one line each.

Videos are only probed (fps and frame count, from the container), through the
``probe`` callable the caller passes (:func:`femo.node.video.probe`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, DatasetConfig
from .dataset import (
    FRAME_COLUMNS,
    SEGMENT_COLUMNS,
    Clip,
    Segment,
    clip_id,
    read_csv,
    segment_id,
    span_columns,
    span_number,
)


@dataclass(frozen=True)
class VideoLength:
    """What probing a video file says: its fps and frame count, or why it cannot open."""

    fps: float | None = None
    frames: int | None = None
    error: str | None = None


Probe = Callable[[str], VideoLength]


@dataclass(frozen=True)
class SpanRow:
    """One segment row of a labels file, as written (frames, seconds, or both)."""

    file: str
    line: int
    start_frame: int | None
    end_frame: int | None
    start_s: float | None
    end_s: float | None


def span_rows(path: str | Path, config: DatasetConfig) -> list[SpanRow] | None:
    """The segment rows of the labels file at ``path``; None when it names no spans."""
    header, rows = read_csv(path)
    columns = span_columns(header, f"labels file {path}")
    if columns is None:
        return None
    spans = []
    for line, row in enumerate(rows, start=2):
        where = f"labels file {path}, line {line}"
        raw_video = (row.get(config.video_column) or "").strip()
        if raw_video in ("", "."):
            raise ConfigError(f"{where}: empty {config.video_column!r}")
        values = {c: span_number(row, c, int if c in FRAME_COLUMNS else float, where)
                  for c in SEGMENT_COLUMNS if c in header}  # fmt: skip
        for column in columns:
            if values[column] is None:
                raise ConfigError(f"{where}: empty {column!r}; every segment needs its span")
        spans.append(
            SpanRow(
                clip_id(raw_video, config.root, where), line,
                *(values.get(c) for c in SEGMENT_COLUMNS),  # type: ignore[arg-type]
            )
        )  # fmt: skip
    return spans


def row_segment(row: SpanRow, length: VideoLength) -> Segment:
    """A labels row as a segment: seconds become the frame they fall on (rounded, so
    that 3.92 s at 25 fps is frame 98) and frames get their times, where fps is known."""
    fps = length.fps
    start_f, end_f, start_s, end_s = row.start_frame, row.end_frame, row.start_s, row.end_s
    if start_f is None and fps:
        start_f, end_f = round(start_s * fps), round(end_s * fps)  # type: ignore[operator]
    if start_s is None and fps:
        start_s, end_s = start_f / fps, end_f / fps  # type: ignore[operator]
    return Segment(row.file, start_f, end_f, start_s, end_s)


def check_segments(
    file: str, rows: list[SpanRow], segments: list[Segment], length: VideoLength, where: str
) -> None:
    """Refuse an empty or negative span, overlapping segments and a segment past the
    video's end (where its frame count is known), each in one line naming the row."""
    for row, seg in zip(rows, segments, strict=True):
        start, end = _span(row)
        if start < 0 or end <= start:
            raise ConfigError(
                f"{where}, line {row.line}: segment [{start:g}, {end:g}) of {file} is empty "
                "or negative; a segment is [start, end) with start >= 0 and end > start"
            )
        if seg.start_frame is not None and seg.end_frame <= seg.start_frame:  # type: ignore[operator]
            raise ConfigError(
                f"{where}, line {row.line}: segment [{start:g}, {end:g}) of {file} is shorter "
                f"than a frame at {length.fps:g} fps"
            )
        if length.frames and seg.end_frame is not None and seg.end_frame > length.frames:
            raise ConfigError(
                f"{where}, line {row.line}: segment [{start:g}, {end:g}) of {file} ends past "
                f"the video's end (frame {seg.end_frame} of {length.frames})"
            )
    ordered = sorted(zip(rows, segments, strict=True), key=lambda p: _span(p[0]))
    for (a, _), (b, _) in zip(ordered, ordered[1:], strict=False):
        if _span(b)[0] < _span(a)[1]:
            raise ConfigError(
                f"{where}: segments of {file} overlap: line {a.line} [{_span(a)[0]:g}, "
                f"{_span(a)[1]:g}) and line {b.line} [{_span(b)[0]:g}, {_span(b)[1]:g})"
            )


def _span(row: SpanRow) -> tuple[float, float]:
    if row.start_frame is not None:
        return row.start_frame, row.end_frame  # type: ignore[return-value]
    return row.start_s, row.end_s  # type: ignore[return-value]


def cut(file: str, length: VideoLength, config: DatasetConfig) -> list[Segment] | None:
    """``file`` cut into consecutive segments of ``dataset.segment_frames`` frames, or of
    ``dataset.segment_s`` seconds (segment k starts at frame round(k * segment_s * fps)),
    the last one shorter; None where the video's length (or fps, for seconds) is unknown."""
    if not length.frames or (config.segment_frames is None and not length.fps):
        return None
    fps = length.fps
    per = config.segment_frames if config.segment_frames is not None else config.segment_s * fps  # type: ignore[operator]
    starts = []
    k = 0
    while (start := round(k * per)) < length.frames:
        starts.append(start)
        k += 1
    ends = [*starts[1:], length.frames]
    return [
        Segment(file, s, e, s / fps if fps else None, e / fps if fps else None)
        for s, e in zip(starts, ends, strict=True)
    ]


def segment_clip(kind: str, segment: Segment) -> Clip:
    return Clip(segment_id(segment.file, segment.start_frame, segment.start_s), kind, segment)


def plan_segments(clips: list[Clip], config: DatasetConfig, probe: Probe) -> list[Clip]:
    """The run's clips: ``clips`` (whole files, sorted), each video replaced by its
    segments in order where the labels file names spans or ``dataset.segment_s`` /
    ``segment_frames`` is set. Files without segments stay whole clips."""
    rows = span_rows(config.labels, config) if config.labels else None
    if rows is not None and (config.segment_s is not None or config.segment_frames is not None):
        raise ConfigError(
            f"labels file {config.labels} names segments (start/end columns) and "
            "dataset.segment_s or dataset.segment_frames is set; use one of them"
        )
    if rows is None and config.segment_s is None and config.segment_frames is None:
        return clips
    by_file: dict[str, list[SpanRow]] = {}
    for row in rows or []:
        by_file.setdefault(row.file, []).append(row)
    planned = []
    for clip in clips:
        if clip.kind != "video" or (rows is not None and clip.video not in by_file):
            planned.append(clip)
            continue
        length = probe(str(Path(config.root or "", clip.video)))
        if rows is None:
            segments = cut(clip.video, length, config)
        else:
            file_rows = by_file[clip.video]
            segments = [row_segment(r, length) for r in file_rows]
            check_segments(clip.video, file_rows, segments, length, f"labels file {config.labels}")
            segments.sort(key=lambda s: (s.start_frame or 0, s.start_s or 0.0))
        if segments is None:  # unopenable: one whole clip, which fails with the reason
            planned.append(clip)
            continue
        planned += [segment_clip(clip.kind, s) for s in segments]
    return planned
