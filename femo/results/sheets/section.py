"""The report's contact sheets: what was scored in the most confident wrong clips, drawn
as ``femo show`` draws it and embedded as PNG data URIs (the page stays one file).

Only here does the reduce stage read video, and only when ``report.sheets`` > 0 and the
clips are readable from where it runs; otherwise the page says so in one line.
"""

from __future__ import annotations

import heapq
import html
import logging
import os
from pathlib import Path

from ...config import RunConfig
from ...dataset import Clip
from ..model import ClipResult, Report
from ..run import OpenRun

log = logging.getLogger(__name__)

# Fewer, smaller tiles than `femo show`: a few sheets must not make the page heavy.
REPORT_FRAMES = 24
REPORT_TILE_WIDTH = 160


def pick_sheets(results: list[ClipResult], n: int) -> list[ClipResult]:
    """The ``n`` most confident wrong clips (a prediction, not the golden label): by
    :attr:`ClipResult.confidence`, the predicted class's mean score."""
    wrong = [r for r in results if r.golden is not None and r.predict not in (None, r.golden)]
    return heapq.nsmallest(max(n, 0), wrong, key=lambda r: (-(r.confidence or 0.0), r.video))


def readable(config: RunConfig, clip: Clip) -> bool:
    """Whether the clip's file can be opened from here."""
    root = config.dataset.root
    return root is not None and os.access(Path(root) / clip.file, os.R_OK)


def sheets_section(report: Report, run: OpenRun) -> str:
    """The report's section of contact sheets, or "" when none is asked for or no clip
    is wrong."""
    config = run.config
    chosen = pick_sheets(list(report.clips), config.report.sheets)
    if not chosen:
        return ""
    by_video = run.plan.clips_of([r.video for r in chosen])
    head = '<h2 id="sheets">What was scored</h2>'
    if not any(readable(config, by_video[r.video]) for r in chosen):
        return (
            f'{head}<p class="note">Contact sheets of the most confident wrong clips '
            f"({len(chosen)}) are left out: the clips are not readable from here (dataset.root "
            f"<code>{html.escape(str(config.dataset.root))}</code>); "
            "<code>femo show RUN_DIR CLIP</code> draws one where they are.</p>"
        )
    # OpenCV and matplotlib only where a sheet is drawn.
    from ..pages.plots import png_data_uri
    from .frames import FrameReadError
    from .show import make_sheet

    figures, unread = [], []
    for r in chosen:
        try:
            sheet = make_sheet(run, by_video[r.video], r, REPORT_FRAMES, REPORT_TILE_WIDTH)
        except FrameReadError as exc:
            log.warning("no contact sheet for %s: %s", r.video, exc)
            unread.append(r.video)
            continue
        caption = html.escape(
            f"{r.video}: predicted {r.predict}, golden {r.golden}, "
            f"confidence {r.confidence or 0.0:.2f} (mean {r.predict} score)"
        )
        figures.append(
            f'<figure><img src="{png_data_uri(sheet.png)}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    which = "clip" if len(chosen) == 1 else f"{len(chosen)} clips"
    note = (
        f'<p class="note">The most confident wrong {which}, as '
        "<code>femo show</code> draws them: every face box found, the scored face "
        f"(reduce.face={html.escape(config.reduce.face)}) in green with its top emotion "
        "and score, other faces in amber, sampled frames without a face framed in red "
        f"(up to {REPORT_FRAMES} frames a clip, evenly spread).</p>"
    )
    if unread:
        note += f'<p class="note">Not readable from here: {html.escape(", ".join(unread))}.</p>'
    return head + note + "".join(figures)
