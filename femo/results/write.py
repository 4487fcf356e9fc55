"""Write a report model's files into a folder, each atomically: ``videos.csv``,
``groups.csv`` and ``identities.csv`` where there are groups and identities, a segmented
run's timeline PNGs (``over-time/``), ``metrics.json``, ``report.md`` and
``index.html``."""

from __future__ import annotations

from pathlib import Path

from ..rundir import ReportFolder, write_bytes, write_text
from .model import Report
from .pages.identities import identities_csv_text
from .pages.markdown import report_markdown
from .tables import groups_csv_text, videos_csv_text


def write_report(report: Report, folder: Path, sheets_html: str = "") -> Path:
    """Write the report files into ``folder``; returns the folder. ``sheets_html`` is the
    page's section of contact sheets (none when empty)."""
    from .pages.html_page import render_index_html  # matplotlib: only where a page is drawn
    from .pages.over_time import over_time_figures

    metrics, files = report.metrics, ReportFolder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    over_time = over_time_figures(report)  # drawn once: a file each, and on the page
    for video, png in over_time.items():
        write_bytes(files.over_time_png(video), png)
    write_text(files.videos_csv, videos_csv_text(report))
    if metrics.groups:
        write_text(files.groups_csv, groups_csv_text(report))
    if metrics.identities:
        write_text(files.identities_csv, identities_csv_text(metrics.identities, report.classes))
    metrics.write(files.metrics_json)
    write_text(files.markdown, report_markdown(report))
    write_text(files.page, render_index_html(report, sheets_html, over_time))
    return folder
