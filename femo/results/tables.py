"""The report's tables as CSV: ``videos.csv`` (one row per clip) and ``groups.csv`` (one row
per group), written from the report model, and ``videos.csv`` read back by its column
names (the sweep's paired comparisons read it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dataset import SEGMENT_COLUMNS, Segment, segment_id
from .model import Report

# videos.csv: the clip's columns before its vote counts (one column per class), then
# the message.
CLIP_COLUMNS = ("group", "predict", "golden", "status", "frames_sampled", "frames_with_face")
MESSAGE = "message"


def videos_header(classes: Sequence[str], segmented: bool) -> list[str]:
    """``videos.csv``'s columns; a segmented run's ``video`` is followed by its span."""
    return ["video", *(SEGMENT_COLUMNS if segmented else ()), *CLIP_COLUMNS, *classes, MESSAGE]


def videos_csv_text(report: Report) -> str:
    """``videos.csv``: one row per clip; in a segmented run ``video`` is the segment's
    file, followed by its span."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    spans, classes = report.spans, report.classes
    writer.writerow(videos_header(classes, bool(spans)))
    writer.writerows(
        [
            *(_span_cells(r.video, spans) if spans else [r.video]),
            r.group or "",
            r.predict or "",
            r.golden or "",
            r.status,
            r.frames_sampled,
            r.frames_with_face,
            *(r.counts.get(c, 0) for c in classes),
            r.message or "",
        ]
        for r in report.clips
    )
    return out.getvalue()


def _span_cells(video: str, spans: Mapping[str, Segment]) -> list[Any]:
    """A clip's file and span cells (empty for a whole file in a segmented run)."""
    seg = spans.get(video)
    if seg is None:
        return [video, "", "", "", ""]
    cells = (seg.start_frame, seg.end_frame, seg.start_s, seg.end_s)
    return [seg.file, *("" if v is None else v for v in cells)]


@dataclass(frozen=True)
class ClipRow:
    """One clip of a ``videos.csv``, read back; None where the cell is empty."""

    video: str
    golden: str | None
    predict: str | None
    group: str | None = None


def read_videos_csv(path: Path) -> tuple[tuple[ClipRow, ...], tuple[str, ...]]:
    """The clips of a report's ``videos.csv`` and its classes (its vote columns: every
    column that is not a clip's own), by column name. A segment is named by its video and
    its start, as everywhere else; a report written before the ``group`` column existed
    gives clips without groups."""

    def cell(row: Mapping[str, str | None], key: str) -> str | None:
        return row.get(key) or None

    own = {"video", *SEGMENT_COLUMNS, *CLIP_COLUMNS, MESSAGE}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        clips = tuple(
            ClipRow(
                video=segment_id(row["video"], int(row["start_frame"]))
                if row.get("start_frame")
                else row["video"],
                golden=cell(row, "golden"),
                predict=cell(row, "predict"),
                group=cell(row, "group"),
            )
            for row in reader
        )
        classes = tuple(c for c in reader.fieldnames or () if c not in own)
    return clips, classes


def groups_csv_text(report: Report) -> str:
    """``groups.csv``: one row per group, its counts, shares and accuracy with interval."""
    classes, emotions = report.classes, list(report.metrics.emotions or [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "group", "clips", "labelled", "frames_with_face", "accuracy", "accuracy_ci_low",
            "accuracy_ci_high", *(f"share_{e}" for e in emotions),
            *(f"mean_score_{e}" for e in emotions), *(f"class_share_{c}" for c in classes),
            *(f"predicted_share_{c}" for c in classes),
        ]
    )  # fmt: skip
    for g in report.metrics.groups or ():
        low, high = g.accuracy_ci or (None, None)
        # A group without a face has no shares: empty cells, not zeros.
        emotion, cls, predicted = (
            g.emotion_share or {},
            g.class_share or {},
            g.predicted_share or {},
        )
        mean = g.emotion_mean_score or {}
        writer.writerow(
            [
                g.group, g.clips, g.labelled, g.frames_with_face,
                "" if g.accuracy is None else round(g.accuracy, 6),
                "" if low is None else low, "" if high is None else high,
                *(emotion.get(e, "") for e in emotions),
                *("" if mean.get(e) is None else mean[e] for e in emotions),
                *(cls.get(c, "") for c in classes),
                *(predicted.get(c, "") for c in classes),
            ]
        )  # fmt: skip
    return out.getvalue()
