"""Dataset stage: which clips exist and what their golden labels are.

Everything here runs before any work is queued, so a bad config or labels file stops
the run with one readable line instead of failing inside a thousand array tasks.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError, DatasetConfig, MappingConfig

FRAME_COLUMNS = ("start_frame", "end_frame")
TIME_COLUMNS = ("start_s", "end_s")
# The columns clips.csv and videos.csv gain in a segmented run, after ``video``.
SEGMENT_COLUMNS = (*FRAME_COLUMNS, *TIME_COLUMNS)


@dataclass(frozen=True)
class Segment:
    """A span ``[start_frame, end_frame)`` of a video file, with its times.

    Frames are None only where the video could not be opened to turn seconds into
    frames (its segments then fail with the reason it cannot be opened).
    """

    file: str
    start_frame: int | None
    end_frame: int | None
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class Clip:
    """One clip: its id, its kind, and for a segment of a longer video, its span.

    A whole file's id is its path relative to the dataset root; a segment's id is that
    path and its start (:func:`segment_id`).
    """

    video: str
    kind: str  # "video" or "image"
    segment: Segment | None = None

    @property
    def file(self) -> str:
        """The clip's file, relative to the dataset root."""
        return self.segment.file if self.segment is not None else self.video


def segment_id(file: str, start_frame: int | None, start_s: float | None = None) -> str:
    """A segment's clip id: its file and its first frame (``debate-0.mp4@98``), or its
    start in seconds where the frame is unknown (``debate-0.mp4@3.92s``)."""
    return f"{file}@{start_frame}" if start_frame is not None else f"{file}@{start_s:g}s"


@dataclass
class Labels:
    """Golden labels for the clips of a dataset, with everything that did not fit."""

    by_video: dict[str, str] = field(default_factory=dict)
    # Label rows whose clip is not in the dataset, and labels outside the mapping.
    missing_clips: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)
    # The group column's value per clip (dataset.group_column), labelled or not.
    groups: dict[str, str] = field(default_factory=dict)
    # The person column's value per clip (dataset.person_column): whose expression it is.
    persons: dict[str, str] = field(default_factory=dict)


def clip_groups(videos: list[str], config: DatasetConfig, labels: Labels) -> dict[str, str]:
    """Each clip's group: the labels file's group column, or ``group_pattern`` on its id
    (never both: :class:`DatasetConfig` refuses that); with neither, the labelled person
    (``person_column``), so that accuracy and profiles come per person.

    Clips without one are left out.
    """
    groups = dict(labels.groups)
    if not config.group_column and not config.group_pattern:
        groups = dict(labels.persons)
    if config.group_pattern:
        pattern = re.compile(config.group_pattern)
        for video in videos:
            if video not in groups:
                match = pattern.search(video)
                if match and match.group(1):
                    groups[video] = match.group(1)
    return groups


def unmatched_pattern(videos: list[str], config: DatasetConfig, groups: dict[str, str]) -> str:
    """A warning when ``dataset.group_pattern`` gave no clip a group (else '')."""
    if not config.group_pattern or not videos or groups:
        return ""
    return (
        f"dataset.group_pattern {config.group_pattern!r} matches no clip id (e.g. {videos[0]!r}); "
        "no clip has a group, so the report shows no profile per person"
    )


def discover_clips(config: DatasetConfig) -> list[Clip]:
    """All clips under ``config.root``, sorted by relative path (the shard order)."""
    if config.root is None:
        raise ConfigError("dataset.root is not set")
    root = Path(config.root)
    if not root.exists():
        raise ConfigError(f"dataset.root {root} does not exist")
    if not root.is_dir():
        raise ConfigError(f"dataset.root {root} is not a folder")
    videos = {e.lower() for e in config.video_extensions}
    images = {e.lower() for e in config.image_extensions}
    clips = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            ext = os.path.splitext(name)[1].lower()
            kind = "video" if ext in videos else "image" if ext in images else None
            if kind:
                rel = Path(dirpath, name).relative_to(root).as_posix()
                clips.append(Clip(rel, kind))
    if not clips:
        exts = ", ".join(sorted(videos | images))
        raise ConfigError(f"dataset.root {root} holds no clips (searched for {exts})")
    return sorted(clips, key=lambda c: c.video)


def plain_clip_id(value: str) -> bool:
    """Whether ``value`` is a relative path already in normal form (the usual labels
    cell), which :func:`clip_id` returns as it is."""
    unusual = value.startswith((".", "/")) or value.endswith("/")
    return not (unusual or "//" in value or "/." in value)


def clip_id(value: str, root: str | None, where: str) -> str:
    """A labels file's clip path as a clip id: relative to ``root``; an absolute path
    inside ``root`` is made relative, one outside it (or a relative one escaping it with
    ``..``) is refused by name."""
    if plain_clip_id(value):
        return value
    relative = value
    if os.path.isabs(value):
        if root is None:
            raise ConfigError(f"{where}: {value!r} is an absolute path and dataset.root is not set")
        try:
            relative = Path(os.path.normpath(value)).relative_to(os.path.normpath(root)).as_posix()
        except ValueError:
            raise ConfigError(
                f"{where}: {value!r} is outside dataset.root {root}; clips are named "
                "relative to the root"
            ) from None
        if plain_clip_id(relative):
            return relative
    normal = os.path.normpath(relative)
    if normal == ".." or normal.startswith("../"):
        raise ConfigError(f"{where}: {value!r} escapes dataset.root; clips are inside the root")
    return normal


def read_csv(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, str | None]]]:
    """The header and rows of the labels CSV at ``path``; one line where it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"labels file {path} does not exist")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            return list(reader.fieldnames or []), list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"labels file {path} is not a readable CSV: {exc}") from None


def span_columns(header: Sequence[str], where: str) -> tuple[str, ...] | None:
    """The labels file's span columns: frames where it has both, else seconds, else None
    (not a segment file). Half a pair is an error."""
    found = None
    for pair in (TIME_COLUMNS, FRAME_COLUMNS):
        present = [c for c in pair if c in header]
        if len(present) == 1:
            missing = next(c for c in pair if c not in header)
            raise ConfigError(f"{where} has a {present[0]!r} column but no {missing!r} column")
        if present:
            found = pair
    return found


def span_number(row: dict[str, str | None], column: str, kind: type, where: str) -> Any:
    """The number in a span column of ``row`` (None where empty); one line where it is not."""
    raw = (row.get(column) or "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        noun = "a whole number of frames" if kind is int else "a number of seconds"
        raise ConfigError(f"{where}: {column} {raw!r} is not {noun}") from None
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{where}: {column} {raw!r} is not a number of seconds")
    return value


def segment_key(
    file: str, row: dict[str, str | None], columns: tuple[str, ...], where: str
) -> tuple[str, float | int | None]:
    """How a labels row finds its planned segment: its file and start (frame or seconds)."""
    kind = int if columns == FRAME_COLUMNS else float
    return file, span_number(row, columns[0], kind, where)


def segment_index(clips: list[Clip], columns: tuple[str, ...]) -> dict[tuple, str]:
    """(file, start) -> clip id for every planned segment, start as ``columns`` give it."""
    attr = "start_frame" if columns == FRAME_COLUMNS else "start_s"
    return {
        (c.segment.file, getattr(c.segment, attr)): c.video for c in clips if c.segment is not None
    }


def read_labels(
    path: str | os.PathLike[str],
    config: DatasetConfig,
    mapping: MappingConfig,
    clips: Sequence[Clip],
    known: Collection[str] | None = None,
) -> Labels:
    """Read the labels CSV, checking columns, duplicates and class names.

    Empty label cells mean "unlabelled". A label name that is not a class of
    ``mapping`` raises :class:`ConfigError` unless ``config.unknown_labels`` is
    ``unlabelled``, in which case the clip is kept unlabelled and listed. ``known``: the
    clips' ids where the caller has them without the clips (then ``clips`` need hold
    only the segments, which a labels file with spans is matched against).
    """
    path = Path(path)
    header, rows = read_csv(path)
    for column, key in (
        (config.video_column, "video_column"),
        (config.label_column, "label_column"),
        *([(config.group_column, "group_column")] if config.group_column else []),
        *([(config.person_column, "person_column")] if config.person_column else []),
    ):
        if column not in header:
            raise ConfigError(
                f"labels file {path} has no {column!r} column (dataset.{key}); "
                f"its columns are: {', '.join(header) or 'none'}"
            )
    known = set(known) if known is not None else {c.video for c in clips}
    labels = Labels()
    seen: dict[str, int] = {}
    # A labels file with start/end columns labels segments (femo.segments).
    spans = span_columns(header, f"labels file {path}")
    index = segment_index(clips, spans) if spans else {}
    # A labels file may hold 100,000 rows: where a row is, is written out only for an error.
    for line, row in enumerate(rows, start=2):
        raw_video = (row.get(config.video_column) or "").strip()
        if raw_video in ("", "."):
            raise ConfigError(f"labels file {path}, line {line}: empty {config.video_column!r}")
        video = raw_video
        if not plain_clip_id(raw_video):
            video = clip_id(raw_video, config.root, f"labels file {path}, line {line}")
        if spans:
            key = segment_key(video, row, spans, f"labels file {path}, line {line}")
            video = index.get(key) or f"{video}@{key[1]}"
        if video in seen:
            raise ConfigError(
                f"labels file {path}, line {line}: clip {video!r} is listed twice "
                f"(first on line {seen[video]})"
            )
        seen[video] = line
        if video not in known:
            labels.missing_clips.append(video)
            continue
        if config.group_column and (row.get(config.group_column) or "").strip():
            labels.groups[video] = row[config.group_column].strip()
        if config.person_column and (row.get(config.person_column) or "").strip():
            labels.persons[video] = row[config.person_column].strip()
        raw = (row.get(config.label_column) or "").strip()
        if not raw:
            continue
        cls = mapping.class_named(raw)
        if cls is None:
            labels.unknown[video] = raw
        else:
            labels.by_video[video] = cls
    if labels.unknown and config.unknown_labels == "error":
        names = sorted(set(labels.unknown.values()))
        raise ConfigError(
            f"labels file {path}: {len(labels.unknown)} label(s) not in mapping "
            f"{mapping.name!r} ({', '.join(names)}); classes are {', '.join(mapping.classes)}. "
            "Set dataset.unknown_labels=unlabelled to treat them as unlabelled."
        )
    return labels
