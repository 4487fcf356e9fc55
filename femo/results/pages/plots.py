"""Figures for the HTML report, as PNG bytes: data in, bytes out, no files, no pyplot.

Every figure is a ``matplotlib.figure.Figure`` drawn by its own Agg canvas, so nothing
touches pyplot's global state (or a display) and the functions are safe to call from
any thread or process.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from ..time_records import Timeline
from .formatting import percent

DPI = 100

# Two colour-blind-safe palettes that share no colour, so that no emotion can be read
# as a class: the seven fer emotions in Paul Tol's "muted" palette, the three classes
# in Okabe & Ito's. Every class colour stays >= 24 CIELAB units from every emotion
# colour, also as protanopes, deuteranopes and tritanopes see them (Machado et al.
# 2009; tests/test_html_report.py checks it). sad (-> Neutral) is not Negative's colour,
# nor happy Positive's. One fixed colour per name: the same in every figure and legend.
EMOTION_COLOURS: dict[str, str] = {
    "angry": "#882255",
    "disgust": "#DDCC77",
    "fear": "#AA4499",
    "happy": "#117733",
    "sad": "#332288",
    "surprise": "#88CCEE",
    # Not Tol's pale grey: it all but vanished on white (a line of the timelines) and
    # could pass for Neutral's class grey. This blue stays >= 17 CIELAB units from every
    # other emotion colour for the colour-blind too (tests/test_html_report.py).
    "neutral": "#7799DD",
}
CLASS_COLOURS: dict[str, str] = {
    "positive": "#E69F00",
    "neutral": "#999999",
    "negative": "#000000",
}
# Other class or emotion names (other mappings): the colours neither palette uses.
_FALLBACK = ("#56B4E9", "#CC6677", "#44AA99", "#0072B2", "#999933", "#D55E00", "#CC79A7")
NO_FACE_COLOUR = "#555555"
# White to a dark blue: the share of a golden row, readable in greyscale too.
_HEAT = LinearSegmentedColormap.from_list("femo_heat", ["#FFFFFF", "#9ECAE1", "#08306B"])


def emotion_colour(name: str, index: int = 0) -> str:
    """The fixed colour of a fer emotion; others get a fallback chosen by ``index``."""
    return EMOTION_COLOURS.get(str(name).lower(), _FALLBACK[index % len(_FALLBACK)])


def class_colour(name: str, index: int = 0) -> str:
    """The colour of a mapping class: the 3-class names, else the emotion of that name."""
    key = str(name).lower()
    if key in CLASS_COLOURS:
        return CLASS_COLOURS[key]
    return emotion_colour(key, index)


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding ``png`` in an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def label_text(text: Any, limit: int = 40) -> str:
    """Text for a matplotlib label: ``$`` would start mathtext; long names are cut."""
    s = "" if text is None else str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("$", r"\$")


@dataclass(frozen=True)
class Margins:
    """A figure's margins around its one axes, in inches."""

    left: float
    right: float
    bottom: float
    top: float


# A timeline's text is of one size whatever the clip: score ticks 0.0-1.0, one line of
# title, numbers along time (the margins constrained layout gives it).
TIMELINE_MARGINS = Margins(left=0.49, right=0.05, bottom=0.42, top=0.24)


def new_figure(width: float, height: float, margins: Margins | None = None) -> Figure:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas (no pyplot), laid
    out by matplotlib's constrained layout, or with fixed ``margins`` where its text is of
    known size (a layout pass costs as much as drawing the figure)."""
    if margins is None:
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    else:
        fig = Figure(figsize=(width, height), dpi=DPI)
        fig.subplots_adjust(
            left=margins.left / width,
            right=1 - margins.right / width,
            bottom=margins.bottom / height,
            top=1 - margins.top / height,
        )
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    # No "Software"/date metadata: the same data gives the same bytes.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def confusion_matrix(
    confusion: Mapping[str, Mapping[str, int]], classes: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Counts with rows the golden ``classes`` and columns ``classes`` then ``"none"``.

    Missing rows or cells count 0. Returns ``(counts, column_names)``.
    """
    columns = [*classes, "none"]
    counts = np.zeros((len(classes), len(columns)), dtype=int)
    for i, golden in enumerate(classes):
        row = confusion.get(golden) or {}
        for j, predicted in enumerate(columns):
            counts[i, j] = int(row.get(predicted) or 0)
    return counts, columns


def confusion_png(confusion: Mapping[str, Mapping[str, int]], classes: Sequence[str]) -> bytes:
    """Heat map of the confusion table; each cell shows its count and its row percentage.

    Rows are the golden classes, columns the predicted ones plus ``none`` (no
    prediction). The colour is the row share, so rare classes are as readable as
    common ones.
    """
    counts, columns = confusion_matrix(confusion, classes)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n_rows, n_cols = counts.shape
    fig = new_figure(1.6 + 0.95 * max(n_cols, 2), 1.3 + 0.62 * max(n_rows, 1))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap=_HEAT, vmin=0.0, vmax=1.0, aspect="auto")
    small = n_cols > 6
    for i in range(n_rows):
        for j in range(n_cols):
            label = (
                f"{counts[i, j]}\n{percent(share[i, j], 0, space=True)}" if totals[i, 0] else "0"
            )
            ax.text(
                j,
                i,
                label,
                ha="center",
                va="center",
                fontsize=7 if small else 9,
                color="white" if share[i, j] > 0.55 else "black",
            )
    ax.set_xticks(range(n_cols), [label_text(c, 14) for c in columns], rotation=30 if small else 0)
    ax.set_yticks(range(n_rows), [label_text(c, 14) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("golden")
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.colorbar(image, ax=ax, shrink=0.85, label="share of the golden row", format="{x:.0%}")
    return png_bytes(fig)


G = TypeVar("G")


def select_groups(groups: Sequence[G], limit: int = 60) -> tuple[list[G], bool]:
    """At most ``limit`` groups (anything with ``clips``), those with the most clips, in
    their given order.

    Returns ``(groups, capped)``; ``capped`` says some were left out.
    """
    if len(groups) <= limit:
        return list(groups), False
    ranked = sorted(range(len(groups)), key=lambda i: (-int(groups[i].clips or 0), i))
    keep = sorted(ranked[:limit])
    return [groups[i] for i in keep], True


@dataclass(frozen=True)
class Bar:
    """One bar of a profiles figure: a group, a clip or an identity, and its shares."""

    name: str | None
    clips: int
    frames: int  # what its shares share out: frames with a face, or an identity's faces
    emotion_share: Mapping[str, float] | None
    class_share: Mapping[str, float] | None
    counted: str = "face frames"


def _stacked(
    ax: Any,
    rows: list[Mapping[str, float]],
    names: Sequence[str],
    colours: Sequence[str],
) -> None:
    # One PolyCollection per segment name: ax.barh makes a Patch per bar, which is
    # ten times slower with 60 groups.
    y = np.arange(len(rows), dtype=float)
    left = np.zeros(len(rows))
    top, bottom = y - 0.4, y + 0.4
    for name, colour in zip(names, colours, strict=True):
        width = np.array([float(r.get(name) or 0.0) for r in rows])
        right = left + width
        verts = np.stack(
            [
                np.column_stack([left, top]),
                np.column_stack([right, top]),
                np.column_stack([right, bottom]),
                np.column_stack([left, bottom]),
            ],
            axis=1,
        )
        ax.add_collection(
            PolyCollection(verts, facecolors=colour, edgecolors="none", label=label_text(name, 20))
        )
        left = right
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)


def profile_label(bar: Bar) -> str:
    """``Dwarakish  (10 face frames, 146 clips)``: a bar's name and what its n counts
    (``counted``: ``faces`` for an identity's faces)."""
    frames, clips = int(bar.frames or 0), int(bar.clips or 0)
    counted = f"{frames} {bar.counted}" if frames else "no face"
    return f"{label_text(bar.name, 30)}  ({counted}, {clips} clip{'s' * (clips != 1)})"


def profiles_png(groups: Sequence[Bar], emotions: Sequence[str], classes: Sequence[str]) -> bytes:
    """Per-group profiles: two panels side by side, one horizontal bar per group.

    Left: the share of the group's face frames whose top emotion is each of
    ``emotions`` (``emotion_share``); right: the share per mapping class
    (``class_share``); each bar is named with the frames with a face it shares out and
    the clips they come from. The height grows with the number of groups; choose them
    with :func:`select_groups` first.
    """
    n = max(len(groups), 1)
    fig = new_figure(11.0, 1.6 + 0.24 * n)
    left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.35, 1]})
    labels = [profile_label(g) for g in groups] or [""]
    rows_e = [g.emotion_share or {} for g in groups] or [{}]
    rows_c = [g.class_share or {} for g in groups] or [{}]
    _stacked(left, rows_e, emotions, [emotion_colour(e, i) for i, e in enumerate(emotions)])
    _stacked(right, rows_c, classes, [class_colour(c, i) for i, c in enumerate(classes)])
    left.set_yticks(range(len(labels)), labels, fontsize=8 if n > 25 else 9)
    right.tick_params(axis="y", length=0)
    for ax, title, ncol in (
        (left, "top emotion, share of frames with a face", 4 if len(emotions) > 4 else 7),
        (right, "class, share of frames with a face", 4),
    ):
        handles = [c for c in ax.collections if not c.get_label().startswith("_")]
        names = [c.get_label() for c in handles]
        if handles:
            # Above the bars, so a tall figure shows it first.
            ax.legend(
                handles,
                names,
                title=title,
                title_fontsize=9,
                loc="lower center",
                bbox_to_anchor=(0.5, 1.0),
                ncol=min(len(handles), ncol),
                fontsize=8,
                frameon=False,
            )
    return png_bytes(fig)


@dataclass(frozen=True)
class TimelineArrays:
    """A timeline ready to draw: ``scores[i, k]`` is emotion ``k`` at ``x[i]``.

    Frames without a face are NaN in every column (a gap in the lines) and True in
    ``no_face``.
    """

    x: np.ndarray
    scores: np.ndarray
    no_face: np.ndarray
    x_label: str


def timeline_arrays(timeline: Timeline, emotions: Sequence[str]) -> TimelineArrays:
    """The arrays :func:`timeline_png` draws, from one of the report's timelines.

    The x axis is ``time_s`` when every frame has one, else the frame index.
    """
    frames = sorted(timeline.frames or [], key=lambda f: int(f.frame or 0))
    use_time = bool(frames) and all(f.time_s is not None for f in frames)
    x = np.array(
        [float(f.time_s) if use_time else float(f.frame or 0) for f in frames],
        dtype=float,
    )
    scores = np.full((len(frames), len(emotions)), np.nan)
    no_face = np.zeros(len(frames), dtype=bool)
    for i, frame in enumerate(frames):
        s = frame.scores
        if s is None:
            no_face[i] = True
            continue
        for k, emotion in enumerate(emotions):
            value = s.get(emotion)
            if value is not None:
                scores[i, k] = float(value)
    return TimelineArrays(x, scores, no_face, "time (s)" if use_time else "frame")


def timeline_title(timeline: Timeline) -> str:
    """``video — golden X, predicted Y, right|wrong|unlabelled`` (plain text)."""
    golden, predict, correct = timeline.golden, timeline.predict, timeline.correct
    if correct is None and golden is not None:
        correct = predict == golden
    verdict = "unlabelled" if golden is None else ("right" if correct else "wrong")
    return f"{timeline.video} — golden {golden or '–'}, predicted {predict or 'none'}, {verdict}"


def timeline_png(timeline: Timeline, emotions: Sequence[str], legend: bool = False) -> bytes:
    """The 7 emotion scores of one clip along time, gaps where no face was found.

    Face-less frames are also marked by grey ticks under the lines. The title names
    the video, its golden and predicted class and whether the prediction is right.
    """
    data = timeline_arrays(timeline, emotions)
    # The legend's names are the model's: their width is known once drawn.
    fig = new_figure(6.0, 2.5) if legend else new_figure(6.0, 2.2, TIMELINE_MARGINS)
    ax = fig.add_subplot()
    # Lone points between gaps would be invisible as lines alone.
    marker = "." if len(data.x) <= 40 else None
    for k, emotion in enumerate(emotions):
        ax.plot(
            data.x,
            data.scores[:, k],
            color=emotion_colour(emotion, k),
            linewidth=1.4,
            marker=marker,
            markersize=3,
            label=label_text(emotion, 16),
        )
    if data.no_face.any():
        ax.plot(
            data.x[data.no_face],
            np.full(int(data.no_face.sum()), -0.045),
            linestyle="none",
            marker="|",
            markersize=7,
            color=NO_FACE_COLOUR,
            label="no face",
        )
    ax.set_ylim(-0.09, 1.02)
    if len(data.x):
        lo, hi = float(data.x.min()), float(data.x.max())
        pad = 0.5 if hi == lo else 0.01 * (hi - lo)
        ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(data.x_label, fontsize=8)
    ax.set_ylabel("score", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(color="#E5E5E5", linewidth=0.6)
    title = timeline_title(timeline)
    colour = {True: "#1B7837", False: "#B2182B"}.get(timeline.correct, "black")
    ax.set_title(label_text(title, 90), fontsize=9, color=colour, loc="left")
    if not len(data.x):
        ax.text(0.5, 0.5, "no sampled frames", ha="center", va="center", transform=ax.transAxes)
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    return png_bytes(fig)


def face_rate_png(rates: Sequence[float | None]) -> bytes:
    """Histogram of the per-clip face-found rate (share of sampled frames with a face).

    ``None`` (nothing sampled) is left out; the title says how many.
    """
    values = np.array([float(r) for r in rates if r is not None and not math.isnan(r)])
    fig = new_figure(7.0, 2.6)
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 21)
    ax.hist(np.clip(values, 0.0, 1.0), bins=bins, color="#0072B2", edgecolor="white")
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.set_xlabel("share of sampled frames with a face", fontsize=9)
    ax.set_ylabel("clips", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
    ax.set_axisbelow(True)
    skipped = len(rates) - len(values)
    title = f"{len(values)} clips" + (
        f" ({skipped} without sampled frames left out)" if skipped else ""
    )
    ax.set_title(title, fontsize=9, loc="left")
    if not len(values):
        ax.text(0.5, 0.5, "no clips", ha="center", va="center", transform=ax.transAxes)
    return png_bytes(fig)
