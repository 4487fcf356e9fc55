"""``sweep.html``: the sweep's page, built from data (no file I/O here).

One self-contained file: inline CSS, the plot as a base64 PNG data URI, no script and
no reference to anything on a network, so it can be mailed or opened from a cluster's
scratch disk.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import Any

from ...config import BOOTSTRAP
from ..sweep_data import Comparison, PointSummary, SweepComparison
from .formatting import brackets, level_text, own_overrides, percent, points, shared_overrides

_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 76em; }
table { border-collapse: collapse; margin: 1em 0; max-width: 100%; }
code { overflow-wrap: anywhere; }
td.short, th.short { font-weight: bold; white-space: nowrap; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.95em; }
.better { font-weight: bold; color: #1a5e1a; }
.chance { color: #555; }
.note { color: #555; font-size: 0.9em; }
img { max-width: 100%; }
"""


def short_names(summaries: Sequence[PointSummary]) -> dict[str, str]:
    """``P1``, ``P2``, ... for the points in page order (folder name -> short name): the
    plot and the comparison table name points so, and the points table maps each
    short name to its folder and overrides."""
    return {s.point: f"P{k}" for k, s in enumerate(summaries, start=1)}


def accuracy_plot_png(summaries: Sequence[PointSummary]) -> bytes | None:
    """Dot-and-whisker PNG of the accuracy (and its interval) of each point.

    ``summaries`` are the points' :class:`PointSummary`; points without an accuracy
    are left out, points without an interval get a dot only. None when nothing is left.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [s for s in summaries if s.accuracy is not None]
    if not shown:
        return None
    fig = Figure(figsize=(8, 1.2 + 0.45 * len(shown)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # First point at the top, as in the table below the plot.
    ys = list(range(len(shown)))[::-1]
    for y, s in zip(ys, shown, strict=True):
        acc = 100 * s.accuracy
        ci = s.accuracy_ci
        if ci is not None:
            ax.errorbar(
                acc,
                y,
                xerr=[[max(0.0, acc - 100 * ci[0])], [max(0.0, 100 * ci[1] - acc)]],
                fmt="o",
                color="tab:blue",
                capsize=4,
            )
        else:
            ax.plot(acc, y, "o", color="tab:gray", markerfacecolor="white")
    short = short_names(summaries)
    ax.set_yticks(ys, [short[s.point] for s in shown])
    ax.set_ylim(-0.7, len(shown) - 0.3)
    ax.set_xlabel(f"accuracy over labelled clips (%), with its {_levels(summaries)} interval")
    ax.grid(axis="x", alpha=0.3)
    buffer = io.BytesIO()
    # No "Software" text chunk: the page must not name any web address, not even there.
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI holding ``png``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _pct(value: float | None) -> str:
    return percent(value, space=True, missing="-")


def _levels(summaries: Sequence[PointSummary]) -> str:
    """``95 %``: the level of the points' accuracy intervals (``90 % or 95 %`` if mixed)."""
    levels = sorted({s.ci_level for s in summaries if s.ci_level is not None})
    return " or ".join(level_text(v, space=True) for v in levels or [BOOTSTRAP.level])


def _accuracy_cell(s: PointSummary) -> str:
    if s.accuracy is None:
        return "-"
    text = _pct(s.accuracy)
    ci = s.accuracy_ci
    if ci is not None:
        unit = f", by {s.ci_unit}" if s.ci_unit else ""
        text += brackets(ci, note=unit)
    return text


def _speed_cell(s: PointSummary) -> str:
    parts = []
    if s.frames_per_s is not None:
        parts.append(f"{s.frames_per_s:.1f} frames/s")
    if s.clips_per_hour_per_task is not None:
        parts.append(f"{s.clips_per_hour_per_task:.0f} clips/hour per task")
    return ", ".join(parts) or "-"


def _cell(value: Any, numeric: bool = False) -> str:
    text = "-" if value is None or value == "" else str(value)
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _points_table(summaries: Sequence[PointSummary]) -> list[str]:
    short = short_names(summaries)
    shared = shared_overrides([s.override_items for s in summaries])
    own = {s.point: own_overrides(s.override_items, shared) for s in summaries}
    out = [
        f'<p id="shared">Every point: <code>{escape(" ".join(shared))}</code>; the table gives '
        "each point's own overrides.</p>"
        if shared
        else "",
        '<table id="points">',
        '<tr><th class="short">name</th><th>point</th><th>overrides</th><th>status</th>'
        "<th>clips</th><th>labelled</th>"
        f"<th>accuracy [{_levels(summaries)} interval]</th><th>macro-F1</th><th>speed</th></tr>",
    ]
    for s in summaries:
        f1 = None if s.macro_f1 is None else f"{s.macro_f1:.3f}"
        out.append(
            "<tr>"
            + f'<td class="short">{escape(short[s.point])}</td>'
            + _cell(s.point)
            + f"<td><code>{escape(own[s.point] or '-')}</code></td>"
            + _cell(s.status)
            + _cell(s.n_videos, True)
            + _cell(s.n_labelled, True)
            + _cell(_accuracy_cell(s), True)
            + _cell(f1, True)
            + _cell(_speed_cell(s))
            + "</tr>"
        )
    out.append("</table>")
    return out


def _unit_text(c: Comparison) -> str:
    if c.unit == "group":
        return f"groups ({c.n_groups})"
    return f"clips ({c.n})"


def _pairs_table(pairs: Sequence[Comparison], level: str, short: dict[str, str]) -> list[str]:
    out = [
        '<table id="pairs">',
        '<tr><th class="short">A</th><th class="short">B</th><th>n clips</th>'
        "<th>accuracy A</th><th>accuracy B</th>"
        f"<th>difference B&minus;A [{level} interval]</th><th>A only right</th>"
        "<th>B only right</th><th>McNemar p</th><th>resampled</th><th>verdict</th></tr>",
    ]
    for c in pairs:
        diff = "-" if c.difference is None else points(c.difference)
        ci = c.difference_ci
        if ci is not None:
            diff += brackets((ci.low, ci.high), signed=True)
        n = str(c.n)
        if c.n < max(c.n_labelled_a, c.n_labelled_b):
            n += f" (shared of {c.n_labelled_a} / {c.n_labelled_b} labelled)"
        css = "better" if c.beyond_chance else "chance"
        out.append(
            "<tr>"
            + f'<td class="short" title="{escape(c.a_label)}">'
            + f"{escape(short.get(c.a, c.a))}</td>"
            + f'<td class="short" title="{escape(c.b_label)}">'
            + f"{escape(short.get(c.b, c.b))}</td>"
            + _cell(n, True)
            + _cell(_pct(c.accuracy_a), True)
            + _cell(_pct(c.accuracy_b), True)
            + _cell(diff, True)
            + _cell(c.a_only_right, True)
            + _cell(c.b_only_right, True)
            + _cell(f"{c.mcnemar_p:.3g}", True)
            + _cell(_unit_text(c))
            + f'<td class="{css}">{escape(c.verdict)}</td>'
            + "</tr>"
        )
    out.append("</table>")
    return out


def _list(title: str, items: Sequence[str]) -> list[str]:
    if not items:
        return []
    return [f"<p>{escape(title)}</p>", "<ul>", *[f"<li>{escape(i)}</li>" for i in items], "</ul>"]


def _comparisons(comparison: SweepComparison, short: dict[str, str]) -> list[str]:
    level = level_text(comparison.level, space=True)
    out = [
        "<h2>Paired comparisons</h2>",
        "<p>Two points that ran over the same labelled clips with the same label set are "
        "compared clip by clip, over the labelled clips both reported. A difference is "
        f"<em>beyond chance</em> when its {level} paired bootstrap interval excludes 0 "
        "<em>and</em> the exact McNemar test on the clips only one of them got right gives "
        "p &lt; 0.05. Whole groups (e.g. people) are resampled when every compared clip has "
        "a group, clips otherwise (column &ldquo;resampled&rdquo;). A finding such as one "
        "detector beating another on one year and losing on another is only a real "
        "difference where the verdict says &ldquo;beyond chance&rdquo;; otherwise it is within "
        "what resampling the same clips produces.</p>",
    ]
    max_points = comparison.max_points
    if comparison.left_out:
        cap = max_points * (max_points - 1) // 2
        out.append(
            f'<p class="note">Pairs grow quadratically with the points, so only the '
            f"{max_points} most accurate points are compared (at most {cap} pairs). "
            f"Not compared: {escape(', '.join(comparison.left_out))}.</p>"
        )
    if comparison.pairs:
        out.append(
            '<p class="note">Points by their short names (P1, P2, ...): the table of points '
            "above gives each one's folder and overrides.</p>"
        )
        out += _pairs_table(comparison.pairs, level, short)
    else:
        out.append("<p>No two points could be compared yet.</p>")
    out += _list(
        "Not comparable (these pairs are skipped):",
        [f"{c.a} vs {c.b}: not comparable, {c.reason}" for c in comparison.not_comparable],
    )
    out += _list(
        "Not reported, so not compared (femo reduce SWEEP_DIR once they finish):",
        comparison.not_reported,
    )
    out += _list("Reported without labelled clips, so not compared:", comparison.no_labels)
    return out


def sweep_html(
    title: str,
    summaries: Sequence[PointSummary],
    comparison: SweepComparison,
    plot_png: bytes | None,
) -> str:
    """The text of ``sweep.html``.

    ``summaries`` are the points' :class:`PointSummary`, ``comparison`` is what
    :func:`femo.results.sweep_compare.compare_sweep` returns and ``plot_png`` the accuracy plot (None:
    no point has an accuracy yet). Every string from the sweep is HTML-escaped.
    """
    reported = sum(s.reported for s in summaries)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>femo sweep {escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>femo sweep <code>{escape(title)}</code></h1>",
        f"<p>{len(summaries)} point(s), {reported} reported.</p>",
        "<h2>Accuracy per point</h2>",
    ]
    if plot_png is not None:
        out += [
            f'<img alt="accuracy of each reported point with its interval" '
            f'src="{png_data_uri(plot_png)}">',
            '<p class="note">P1, P2, ...: the points by their short names; the table of '
            "points below gives each one's folder and overrides. Dot: accuracy over the "
            "labelled clips (a labelled clip without a prediction counts as wrong). Whiskers: "
            f"its {_levels(summaries)} bootstrap interval; a hollow dot has no interval in its "
            "report.</p>",
        ]
    else:
        out.append("<p>No point has an accuracy yet.</p>")
    out += ["<h2>Points</h2>", *_points_table(summaries)]
    out += _comparisons(comparison, short_names(summaries))
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
