"""The report over time: per long video, a timeline (:mod:`.over_time_plot`) of its
segments' emotion and class shares, predicted class, golden class where labelled and
each person's class where known, and the list of its segments.

Only a segmented run (:mod:`femo.segments`) has one:
:func:`femo.results.analysis.segment_timelines` makes the ``over_time`` entry of
``metrics.json``; :func:`over_time_figures` draws each video's PNG once, which
``write_report`` saves beside report.md (``ReportFolder.over_time_png``) and the page's
section (:func:`over_time_section`) embeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from ...config import EMOTIONS
from ...rundir import ReportFolder
from ..metrics import Metrics
from ..model import Report
from ..time_records import SegmentResult, VideoOverTime

# Segments listed per video in report.md and index.html; videos.csv has them all.
MAX_LISTED = 200
# Videos drawn (each a PNG in the report folder and on the page), in plan order.
MAX_DRAWN = 40


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


def drawn(timelines: Sequence[VideoOverTime]) -> list[VideoOverTime]:
    """The videos whose timeline is drawn: the first :data:`MAX_DRAWN`."""
    return list(timelines[:MAX_DRAWN])


def over_time_figures(report: Report) -> dict[str, bytes]:
    """Each drawn video's timeline as PNG bytes, by video (none for a run not segmented)."""
    from .over_time_plot import over_time_layout, over_time_png  # matplotlib: pages only

    m = report.metrics
    emotions, classes = list(m.emotions or EMOTIONS), list(report.classes)
    return {
        t.video: over_time_png(
            over_time_layout(t, emotions, classes, bool(m.n_labelled)), emotions, classes
        )
        for t in drawn(m.over_time or [])
    }


def figure_link(video: str) -> str:
    """The PNG's path relative to report.md, as a Markdown link target."""
    return quote(ReportFolder(Path()).over_time_png(video).as_posix())


def _intro(m: Metrics) -> str:
    """What the timelines show (no golden lane without labels)."""
    golden = (
        "the golden class (hatched: unlabelled; a red cross marks a wrong prediction)"
        if m.n_labelled
        else "no golden lane: this run has no labels"
    )
    timelines = m.over_time or []
    segments = [s for t in timelines for s in t.segments]
    if any(s.persons for s in segments):
        lanes = ", and a lane per reference person seen: the top class of their faces"
    elif any(s.group for s in segments):
        lanes = ", and a lane per group: the predicted class of its segments"
    else:
        lanes = ""
    capped = (
        f" The first {MAX_DRAWN} of {len(timelines)} videos are drawn; videos.csv lists "
        "every segment."
        if len(timelines) > MAX_DRAWN
        else ""
    )
    return (
        "Each long video along time, one column per segment as wide as it lasts (white "
        "lines part the segments): the share of its frames with a face per top emotion, "
        f"then per class; below, the predicted class of each segment (hatched: none), "
        f"{golden}{lanes}." + capped
    )


def _table_head(labelled: bool) -> list[str]:
    if labelled:
        return ["| time | frames | predicted | golden | status |", "|---|---|---|---|---|"]
    return ["| time | frames | predicted | status |", "|---|---|---|---|"]


def _table_row(row: SegmentResult, labelled: bool) -> str:
    golden = f" {row.golden or ''} |" if labelled else ""
    return (
        f"| {span_text(row)} | {row.start_frame}–{row.end_frame} "
        f"| {row.predict or '–'} |{golden} {row.status} |"
    )


def over_time_markdown(m: Metrics) -> list[str]:
    """The ``## Over time`` section of report.md: per video, its timeline's PNG (in the
    report folder) and a table of its segments."""
    timelines = m.over_time or []
    if not timelines:
        return []
    labelled = bool(m.n_labelled)
    lines = ["", "## Over time", "", _intro(m), ""]
    figures = {t.video for t in drawn(timelines)}
    for t in timelines:
        rows = t.segments
        lines += [f"### {t.video} ({len(rows)} segments)", ""]
        if t.video in figures:
            lines += [f"![{t.video} over time]({figure_link(t.video)})", ""]
        lines += _table_head(labelled)
        lines += [_table_row(row, labelled) for row in rows[:MAX_LISTED]]
        if len(rows) > MAX_LISTED:
            lines.append(f"\nThe first {MAX_LISTED} of {len(rows)}; videos.csv lists them all.")
        lines.append("")
    return lines[:-1]


def over_time_section(report: Report, figures: Mapping[str, bytes] | None = None) -> str:
    """The report page's section: per video, its timeline (``figures``, drawn here when
    not given) and the list of its segments."""
    from .html_parts import esc, img

    m = report.metrics
    timelines = m.over_time or []
    figures = over_time_figures(report) if figures is None else figures
    labelled = bool(m.n_labelled)
    out = [
        '<h2 id="over-time">Over time</h2>',
        f'<p class="note">{esc(_intro(m))}</p>',
    ]
    for t in timelines:
        rows = t.segments
        golden_head = "<th>golden</th>" if labelled else ""
        items = "".join(
            f"<tr><td>{esc(span_text(r))}</td><td>{esc(r.predict)}</td>"
            + (f"<td>{esc(r.golden)}</td>" if labelled else "")
            + f"<td>{esc(r.status)}</td></tr>"
            for r in rows[:MAX_LISTED]
        )
        png = figures.get(t.video)
        figure = f"<figure>{img(png, f'{t.video} over time')}</figure>" if png else ""
        out.append(
            f"<h3>{esc(t.video)} ({len(rows)} segments)</h3>{figure}"
            "<details><summary>segments</summary><table><tr><th>time</th><th>predicted</th>"
            f"{golden_head}<th>status</th></tr>{items}</table></details>"
        )
    return "".join(out)
