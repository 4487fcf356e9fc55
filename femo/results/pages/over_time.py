"""The report over time: per video, its segments in order with the predicted class and,
where labelled, the golden one (the study's per-candidate view over a debate).

Only a segmented run (:mod:`femo.segments`) has one:
:func:`femo.results.reduce.segment_timelines` makes the ``over_time`` entry of
``metrics.json``, which the markdown view here and the page's section
(:func:`femo.results.pages.html_sections.over_time_section`) read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Segments listed per video in report.md and index.html; videos.csv has them all.
MAX_LISTED = 200


def clock(seconds: float | None) -> str:
    """``1:02.50`` (minutes:seconds); an en dash where unknown."""
    if seconds is None:
        return "–"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def span_text(row: Mapping[str, Any]) -> str:
    if row["start_s"] is not None:
        return f"{clock(row['start_s'])}–{clock(row['end_s'])}"
    return f"frames {row['start_frame']}–{row['end_frame']}"


def over_time_markdown(timelines: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``## Over time`` section of report.md: a table per video."""
    if not timelines:
        return []
    lines = ["", "## Over time", ""]
    for t in timelines:
        rows = t["segments"]
        lines += [f"### {t['video']} ({len(rows)} segments)", "",
                  "| time | frames | predicted | golden | status |", "|---|---|---|---|---|"]  # fmt: skip
        for row in rows[:MAX_LISTED]:
            lines.append(
                f"| {span_text(row)} | {row['start_frame']}–{row['end_frame']} "
                f"| {row['predict'] or '–'} | {row['golden'] or ''} | {row['status']} |"
            )
        if len(rows) > MAX_LISTED:
            lines.append(f"\nThe first {MAX_LISTED} of {len(rows)}; videos.csv lists them all.")
        lines.append("")
    return lines[:-1]
