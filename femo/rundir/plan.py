"""The shard plan (``clips.csv``): every clip of a run in its canonical order, and the
shard that holds it; cut once when the run is planned, read back by every command.

Reading is lazy: the rows are parsed once, and clip objects are made only where a
command asks for them (``femo status`` counts clips per shard without any).
"""

from __future__ import annotations

import csv
import functools
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..dataset import SEGMENT_COLUMNS, Clip, Segment, segment_id
from ..shard_files import write_atomically
from .files import RunDirError

T = TypeVar("T")


def assign_shards(items: Sequence[T], per_shard: int) -> list[list[T]]:
    """Cut ``items`` (already in their canonical sorted order) into consecutive shards.

    Shard k holds items ``[k * per_shard, (k + 1) * per_shard)``, so the assignment
    depends only on the sorted list and ``per_shard``: any shell, any day, recomputes
    the same shards.
    """
    if per_shard < 1:
        raise ValueError(f"per_shard must be >= 1, not {per_shard}")
    return [list(items[i : i + per_shard]) for i in range(0, len(items), per_shard)]


class Plan:
    """The clips of a run in plan order and the shard of each: made from clips
    (:func:`make_plan`), or from ``clips.csv``'s rows (:func:`read_plan`, clips made on
    first use)."""

    def __init__(self, clips: list[Clip], shard_of: dict[str, int], n_shards: int) -> None:
        self.__dict__.update(clips=clips, shard_of=shard_of)
        self.n_shards = n_shards
        self._shards: list[int] | None = None
        self._rows: list[list[str]] | None = None
        self._columns: dict[str, int] = {}

    @classmethod
    def of_rows(cls, rows: list[list[str]], columns: dict[str, int], shards: list[int]) -> Plan:
        """A plan of ``clips.csv``'s rows (``columns``: each column's place), whose clips
        are made on first use."""
        plan = cls.__new__(cls)
        plan.n_shards = max(shards, default=-1) + 1
        plan._shards, plan._rows, plan._columns = shards, rows, columns
        return plan

    @functools.cached_property
    def clips(self) -> list[Clip]:
        assert self._rows is not None
        return [_planned_clip(row, self._columns) for row in self._rows]

    @functools.cached_property
    def shard_of(self) -> dict[str, int]:
        assert self._shards is not None
        return {c.video: k for c, k in zip(self.clips, self._shards, strict=True)}

    @property
    def segmented(self) -> bool:
        """Whether the plan holds segments of videos (clips.csv has span columns)."""
        if self._rows is not None:
            return any(c in self._columns for c in SEGMENT_COLUMNS)
        return any(c.segment is not None for c in self.clips)

    @functools.cached_property
    def videos(self) -> list[str]:
        """Every clip's id, in plan order (read from the rows, without making clips,
        where the plan holds whole files)."""
        if self._rows is not None and not self.segmented:
            at = self._columns["video"]
            return [row[at] for row in self._rows]
        return [c.video for c in self.clips]

    @property
    def n_clips(self) -> int:
        return len(self._rows) if self._rows is not None else len(self.clips)

    @functools.cached_property
    def shard_sizes(self) -> Counter[int]:
        """Clips per shard."""
        return Counter(self._shards if self._shards is not None else self.shard_of.values())

    def clips_of(self, videos: Collection[str]) -> dict[str, Clip]:
        """The planned clips of ``videos``, by id (only those are made where the plan holds
        whole files read from clips.csv)."""
        wanted = set(videos)
        if self._rows is not None and not self.segmented:
            at = self._columns["video"]
            rows = (row for row in self._rows if row[at] in wanted)
            return {row[at]: _planned_clip(row, self._columns) for row in rows}
        return {c.video: c for c in self.clips if c.video in wanted}

    def shard_clips(self, index: int) -> list[Clip]:
        return self._by_shard.get(index, [])

    @functools.cached_property
    def _by_shard(self) -> dict[int, list[Clip]]:
        # One pass for all shards: a pass per shard grows as clips x shards.
        by_shard: dict[int, list[Clip]] = {}
        for c in self.clips:
            by_shard.setdefault(self.shard_of[c.video], []).append(c)
        return by_shard


def make_plan(clips: list[Clip], videos_per_shard: int) -> Plan:
    shards = assign_shards(clips, videos_per_shard)
    shard_of = {c.video: k for k, shard in enumerate(shards) for c in shard}
    return Plan(clips, shard_of, len(shards))


def _span_cells(clip: Clip) -> dict[str, Any]:
    """A segment's span as clips.csv writes it (repr floats, which read back exactly)."""
    seg = clip.segment
    if seg is None:
        return {}
    values = (seg.start_frame, seg.end_frame, seg.start_s, seg.end_s)
    return {k: "" if v is None else repr(v) for k, v in zip(SEGMENT_COLUMNS, values, strict=True)}


def _planned_clip(row: list[str], columns: dict[str, int]) -> Clip:
    """A clips.csv row as a clip; a row with a span is a segment."""
    video, kind = row[columns["video"]], row[columns["kind"]]
    spans = [row[columns[c]] if c in columns else "" for c in SEGMENT_COLUMNS]
    if not any(spans):
        return Clip(video, kind)
    start_frame, end_frame, start_s, end_s = (
        (number(cell) if cell else None)
        for number, cell in zip((int, int, float, float), spans, strict=True)
    )
    segment = Segment(video, start_frame, end_frame, start_s, end_s)
    return Clip(segment_id(segment.file, segment.start_frame, segment.start_s), kind, segment)


def write_plan(path: Path, plan: Plan) -> None:
    """``clips.csv``, atomically; a segmented run's plan names each segment by its video
    and its span."""
    rows = [
        {"video": c.file, "kind": c.kind, "shard": plan.shard_of[c.video], **_span_cells(c)}
        for c in plan.clips
    ]
    spans = list(SEGMENT_COLUMNS) if any(c.segment for c in plan.clips) else []

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["video", *spans, "kind", "shard"])
            writer.writeheader()
            writer.writerows(rows)

    write_atomically(path, write)


def read_plan(path: Path, run_path: Path) -> Plan:
    """The plan in ``clips.csv``; a missing or damaged file is one RunDirError line."""
    if not path.is_file():
        raise RunDirError(f"{run_path} has no shard plan ({path.name})")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            columns = {name: k for k, name in enumerate(header)}
            for name in ("video", "kind", "shard"):
                if name not in columns:
                    raise KeyError(name)
            rows = list(reader)
        short = next((k for k, row in enumerate(rows) if len(row) < len(header)), None)
        if short is not None:
            raise ValueError(f"row {short + 2} has {len(rows[short])} of {len(header)} cells")
        at = columns["shard"]
        shards = [int(row[at]) for row in rows]
        plan = Plan.of_rows(rows, columns, shards)
        if any(c in columns for c in SEGMENT_COLUMNS):
            plan.clips  # noqa: B018 - a span that does not parse is named now, not later
    except (IndexError, KeyError, TypeError, ValueError, csv.Error) as exc:
        why = f"no {exc} column" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise RunDirError(
            f"{path} is damaged ({why}); it is the run's shard plan (columns video, kind, shard)"
        ) from None
    return plan
