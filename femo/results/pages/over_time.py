"""The report over time: per video, its segments in order with the predicted class and,
where labelled, the golden one (the study's per-candidate view over a debate).

Only a segmented run (:mod:`femo.segments`) has one:
:func:`femo.results.reduce.segment_timelines` makes the ``over_time`` entry of
``metrics.json``, which the markdown view here and the page's section
(:func:`over_time_section`) read.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..metrics import SegmentResult, VideoOverTime

# Segments listed per video in report.md and index.html; videos.csv has them all.
MAX_LISTED = 200


def clock(seconds: float | None) -> str:
    """``1:02.50`` (minutes:seconds); an en dash where unknown."""
    if seconds is None:
        return "–"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def span_text(row: SegmentResult) -> str:
    if row.start_s is not None:
        return f"{clock(row.start_s)}–{clock(row.end_s)}"
    return f"frames {row.start_frame}–{row.end_frame}"


def over_time_markdown(timelines: Sequence[VideoOverTime]) -> list[str]:
    """The ``## Over time`` section of report.md: a table per video."""
    if not timelines:
        return []
    lines = ["", "## Over time", ""]
    for t in timelines:
        rows = t.segments
        lines += [f"### {t.video} ({len(rows)} segments)", "",
                  "| time | frames | predicted | golden | status |", "|---|---|---|---|---|"]  # fmt: skip
        for row in rows[:MAX_LISTED]:
            lines.append(
                f"| {span_text(row)} | {row.start_frame}–{row.end_frame} "
                f"| {row.predict or '–'} | {row.golden or ''} | {row.status} |"
            )
        if len(rows) > MAX_LISTED:
            lines.append(f"\nThe first {MAX_LISTED} of {len(rows)}; videos.csv lists them all.")
        lines.append("")
    return lines[:-1]


def _strip(rows: Sequence[SegmentResult], key: str, classes: Sequence[str]) -> str:
    """One bar of the video: each segment a block as wide as it is long, in its class's
    colour (grey: none)."""
    from . import plots
    from .html_parts import esc

    lengths = [_segment_length(r) for r in rows]
    total = sum(lengths) or 1.0
    blocks = []
    for row, length in zip(rows, lengths, strict=True):
        name = getattr(row, key)
        colour = (
            plots.class_colour(name, classes.index(name) if name in classes else 0)
            if name
            else plots.NO_FACE_COLOUR
        )
        title = f"{span_text(row)}: {key} {name or 'none'}"
        blocks.append(
            f'<span style="display:inline-block;height:18px;width:{100 * length / total:.3f}%;'
            f'background:{colour}" title="{esc(title)}"></span>'
        )
    return f'<div style="display:flex;width:100%">{"".join(blocks)}</div>'


def _segment_length(row: SegmentResult) -> float:
    if row.start_frame is not None and row.end_frame is not None:
        return float(row.end_frame - row.start_frame)
    if row.start_s is not None and row.end_s is not None:
        return float(row.end_s - row.start_s)
    return 1.0


def over_time_section(timelines: Sequence[VideoOverTime], classes: Sequence[str]) -> str:
    """The report page's section: per video, a bar of predicted classes over time above
    a bar of golden ones, and the list of its segments."""
    # The page's parts draw with matplotlib: imported where a page is drawn, as report.md needs none.
    from . import plots
    from .html_parts import esc, legend

    out = ['<h2 id="over-time">Over time</h2>']  # a section of segmented runs only
    out.append(
        '<p class="note">Each video\'s segments in order: the predicted class (upper bar) '
        "and the golden one (lower bar; grey where unlabelled or without a prediction).</p>"
        + legend(classes, [plots.class_colour(c, i) for i, c in enumerate(classes)])
    )
    for t in timelines:
        rows = t.segments
        items = "".join(
            f"<tr><td>{esc(span_text(r))}</td><td>{esc(r.predict)}</td>"
            f"<td>{esc(r.golden)}</td><td>{esc(r.status)}</td></tr>"
            for r in rows[:MAX_LISTED]
        )
        out.append(
            f"<h3>{esc(t.video)} ({len(rows)} segments)</h3>"
            f"{_strip(rows, 'predict', classes)}<div style='height:3px'></div>"
            f"{_strip(rows, 'golden', classes)}"
            "<details><summary>segments</summary><table><tr><th>time</th><th>predicted</th>"
            f"<th>golden</th><th>status</th></tr>{items}</table></details>"
        )
    return "".join(out)
