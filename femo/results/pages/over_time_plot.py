"""The timeline of one long video, as a PNG: what the report's "Over time" section and
report.md show of a segmented run.

:func:`over_time_layout` says what is drawn (every segment's span, the shares of its
frames with a face per top emotion and per class, and one lane per row of blocks: the
predicted class, the golden one where the run has labels, each person's); the tests
read it. :func:`over_time_png` draws it with matplotlib: the shares as stacked columns
as wide as their segments, the lanes as coloured blocks below, on one time axis, with a
white line between neighbouring segments so that two of one class never merge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from ..time_records import SegmentResult, VideoOverTime
from .plots import class_colour, emotion_colour, label_text, new_figure, png_bytes

# Lanes of persons (or groups) drawn per video, the most seen first.
MAX_PERSON_LANES = 8
# A block with nothing to show (no prediction, unlabelled): hatched on white, never a
# grey that could pass for Neutral's.
HATCH = "////"
HATCH_COLOUR = "#666666"
WRONG_COLOUR = "#D00000"
# Neighbouring segments are parted by a white line, left out where segments are
# narrower than this share of the axis (a line would hide them).
MIN_PARTED = 1 / 300


@dataclass(frozen=True)
class Lane:
    """One row of blocks: ``names[i]`` is segment i's class (None: nothing to show, drawn
    as ``missing`` says)."""

    title: str
    names: tuple[str | None, ...]
    missing: str  # "hatched" (no prediction, unlabelled) or "empty" (a person not seen)


@dataclass(frozen=True)
class OverTimeLayout:
    """What :func:`over_time_png` draws for one video."""

    video: str
    x_label: str  # "time (s)" or "frame"
    spans: tuple[tuple[float, float], ...]
    emotion_shares: np.ndarray  # segments x emotions; NaN rows: no frame with a face
    class_shares: np.ndarray  # segments x classes
    lanes: tuple[Lane, ...]
    wrong: tuple[bool, ...]  # labelled segments whose prediction is not the golden class
    title: str

    @property
    def has_none(self) -> bool:
        """Whether a hatched block is drawn: a segment without a face, or a hatched lane's
        segment without a class."""
        no_face = bool(np.isnan(self.emotion_shares).all(axis=1).any()) if self.spans else False
        return no_face or any(
            name is None for lane in self.lanes if lane.missing == "hatched" for name in lane.names
        )

    @property
    def boundaries(self) -> list[float]:
        """Where one segment ends and the next starts."""
        return [start for start, _ in self.spans[1:]]


def _spans(video: VideoOverTime) -> tuple[tuple[tuple[float, float], ...], str]:
    if video.in_seconds:
        return tuple((float(s.start_s), float(s.end_s)) for s in video.segments), "time (s)"  # type: ignore[arg-type]
    spans = []
    for k, s in enumerate(video.segments):
        start = float(s.start_frame) if s.start_frame is not None else float(k)
        end = float(s.end_frame) if s.end_frame is not None else start + 1.0
        spans.append((start, end))
    return tuple(spans), "frame"


def _shares(share: Mapping[str, float] | None, names: Sequence[str]) -> list[float]:
    if not share:
        return [np.nan] * len(names)
    return [float(share.get(n) or 0.0) for n in names]


def _top(share: Mapping[str, float] | None, classes: Sequence[str]) -> str | None:
    """The class with the largest share (the first of ties, in class order)."""
    if not share:
        return None
    return max(classes, key=lambda c: (share.get(c) or 0.0, -classes.index(c)))


def _most_seen(counts: dict[str, int]) -> list[str]:
    """The :data:`MAX_PERSON_LANES` names seen most, in the order they first appear."""
    kept = set(sorted(counts, key=lambda n: -counts[n])[:MAX_PERSON_LANES])
    return [name for name in counts if name in kept]


def _person_lanes(segments: Sequence[SegmentResult], classes: Sequence[str]) -> list[Lane]:
    """A lane per reference person seen (their faces' top class per segment), else a lane
    per group (its segments' predicted class); the most seen first."""
    seen: dict[str, int] = {}
    for s in segments:
        for person, p in (s.persons or {}).items():
            seen[person] = seen.get(person, 0) + p.faces
    if seen:
        names = _most_seen(seen)
        return [
            Lane(
                name,
                tuple(
                    _top(p.class_share, classes) if (p := (s.persons or {}).get(name)) else None
                    for s in segments
                ),
                "empty",
            )
            for name in names
        ]
    groups: dict[str, int] = {}
    for s in segments:
        if s.group:
            groups[s.group] = groups.get(s.group, 0) + 1
    names = _most_seen(groups)
    return [
        Lane(name, tuple(s.predict if s.group == name else None for s in segments), "empty")
        for name in names
    ]


def over_time_layout(
    video: VideoOverTime, emotions: Sequence[str], classes: Sequence[str], labelled: bool
) -> OverTimeLayout:
    """What one video's timeline shows. ``labelled``: whether the run has labels (else no
    golden lane is drawn, and the title says so)."""
    segments = video.segments
    spans, x_label = _spans(video)
    lanes = [Lane("predicted", tuple(s.predict for s in segments), "hatched")]
    if labelled:
        lanes.append(Lane("golden", tuple(s.golden for s in segments), "hatched"))
    lanes += _person_lanes(segments, classes)
    wrong = tuple(bool(labelled and s.golden and s.predict != s.golden) for s in segments)
    n = len(segments)
    if labelled:
        scored = sum(1 for s in segments if s.golden)
        verdict = f"{scored - sum(wrong)} of {scored} labelled segments right"
    else:
        verdict = "no labels"
    title = f"{video.video} — {n} segment{'s' * (n != 1)}, {verdict}"
    return OverTimeLayout(
        video=video.video,
        x_label=x_label,
        spans=spans,
        emotion_shares=np.array([_shares(s.emotion_share, emotions) for s in segments]).reshape(
            n, len(emotions)
        ),
        class_shares=np.array([_shares(s.class_share, classes) for s in segments]).reshape(
            n, len(classes)
        ),
        lanes=tuple(lanes),
        wrong=wrong,
        title=title,
    )


def _boxes(spans: Sequence[tuple[float, float]], bottom, top) -> np.ndarray:
    """One rectangle per span, from ``bottom`` to ``top`` (numbers, or one per span)."""
    x = np.asarray(spans, dtype=float).reshape(-1, 2)
    lo = np.broadcast_to(np.asarray(bottom, dtype=float), len(x))
    hi = np.broadcast_to(np.asarray(top, dtype=float), len(x))
    return np.stack(
        [
            np.column_stack([x[:, 0], lo]),
            np.column_stack([x[:, 1], lo]),
            np.column_stack([x[:, 1], hi]),
            np.column_stack([x[:, 0], hi]),
        ],
        axis=1,
    )


def _stacked_columns(
    ax: Axes,
    layout: OverTimeLayout,
    shares: np.ndarray,
    names: Sequence[str],
    colours: Sequence[str],
) -> None:
    """Each segment a column of its shares, as wide as it lasts; hatched without a face."""
    spans = np.asarray(layout.spans, dtype=float).reshape(-1, 2)
    bottom = np.zeros(len(spans))
    for k, (name, colour) in enumerate(zip(names, colours, strict=True)):
        height = np.nan_to_num(shares[:, k])
        keep = height > 0
        verts = _boxes(spans[keep], bottom[keep], bottom[keep] + height[keep])
        ax.add_collection(
            PolyCollection(verts, facecolors=colour, edgecolors="none", label=label_text(name, 16))
        )
        bottom = bottom + height
    no_face = np.isnan(shares).all(axis=1) if shares.size else np.zeros(len(spans), bool)
    if no_face.any():
        ax.add_collection(
            PolyCollection(
                _boxes(spans[no_face], 0, 1),
                facecolors="white",
                edgecolors=HATCH_COLOUR,
                hatch=HATCH,
                linewidths=0,
            )  # fmt: skip
        )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_yticks([0, 0.5, 1])


def _lanes(ax: Axes, layout: OverTimeLayout, classes: Sequence[str]) -> None:
    """The lanes, top to bottom, each segment a block of its class's colour."""
    for row, lane in enumerate(layout.lanes):
        boxes = _boxes(layout.spans, row - 0.38, row + 0.38)
        by_colour: dict[str, list[np.ndarray]] = {}
        hatched = []
        for box, name in zip(boxes, lane.names, strict=True):
            if name:
                index = classes.index(name) if name in classes else 0
                by_colour.setdefault(class_colour(name, index), []).append(box)
            elif lane.missing == "hatched":
                hatched.append(box)
        for colour, verts in by_colour.items():
            ax.add_collection(PolyCollection(verts, facecolors=colour, edgecolors="none"))
        if hatched:
            ax.add_collection(
                PolyCollection(
                    hatched, facecolors="white", edgecolors=HATCH_COLOUR, hatch=HATCH, linewidths=0
                )  # fmt: skip
            )
    ax.set_yticks(range(len(layout.lanes)), [label_text(lane.title, 22) for lane in layout.lanes])
    ax.set_ylim(len(layout.lanes) - 0.5, -0.5)
    wrong = [(s + e) / 2 for (s, e), w in zip(layout.spans, layout.wrong, strict=True) if w]
    if wrong:
        ax.plot(wrong, [0] * len(wrong), linestyle="none", marker="X", markersize=7,
                color=WRONG_COLOUR, markeredgecolor="white", markeredgewidth=0.8)  # fmt: skip


def _clock(seconds: float, _pos: int) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def _heading(text: str) -> Artist:
    """A legend entry that is only its text (a group's title)."""
    return Patch(visible=False, label=text)


def _legend_handles(
    layout: OverTimeLayout, emotions: Sequence[str], classes: Sequence[str]
) -> list[Artist]:
    """One legend for the figure: the emotions, the classes, none, wrong."""
    handles: list[Artist] = [_heading("top emotion:")]
    handles += [
        Patch(facecolor=emotion_colour(e, k), label=label_text(e, 16))
        for k, e in enumerate(emotions)
    ]
    handles.append(_heading("  class:"))
    handles += [
        Patch(facecolor=class_colour(c, k), label=label_text(c, 16)) for k, c in enumerate(classes)
    ]
    if layout.has_none:
        handles.append(
            Patch(facecolor="white", edgecolor=HATCH_COLOUR, hatch=HATCH, linewidth=0, label="none")
        )
    if any(layout.wrong):
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="X",
                markersize=8,
                color=WRONG_COLOUR,
                markeredgecolor="white",
                label="wrong",
            )  # fmt: skip
        )
    return handles


def over_time_png(layout: OverTimeLayout, emotions: Sequence[str], classes: Sequence[str]) -> bytes:
    """The timeline of one video as PNG bytes (:func:`over_time_figure`)."""
    return png_bytes(over_time_figure(layout, emotions, classes))


def over_time_figure(
    layout: OverTimeLayout, emotions: Sequence[str], classes: Sequence[str]
) -> Figure:
    """The timeline of one video (see :func:`over_time_layout`): shares per top emotion
    (top), per class (middle), the lanes (bottom), one time axis, segments parted by
    white lines; the predicted lane marks a wrong segment with a red cross."""
    n_lanes = len(layout.lanes)
    lanes_height = 0.3 * n_lanes + 0.1
    fig = new_figure(11.0, 3.3 + lanes_height)
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1.3, 0.8, lanes_height]})
    top, middle, bottom = axes
    _stacked_columns(top, layout, layout.emotion_shares, emotions,
                     [emotion_colour(e, k) for k, e in enumerate(emotions)])  # fmt: skip
    _stacked_columns(middle, layout, layout.class_shares, classes,
                     [class_colour(c, k) for k, c in enumerate(classes)])  # fmt: skip
    _lanes(bottom, layout, classes)
    _time_axis(axes, layout)
    top.set_ylabel("top emotion", fontsize=8)
    middle.set_ylabel("class", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    top.set_title(label_text(layout.title, 110), fontsize=10, loc="left")
    handles = _legend_handles(layout, emotions, classes)
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles), fontsize=8,
               frameon=False, handlelength=1.2, columnspacing=1.0)  # fmt: skip
    return fig


def _time_axis(axes: Sequence[Axes], layout: OverTimeLayout) -> None:
    """The shared x axis: the video's span, segments parted by white lines, m:ss past
    two minutes."""
    bottom = axes[-1]
    if not layout.spans:
        bottom.text(0.5, 0.5, "no segments", ha="center", va="center", transform=bottom.transAxes)
        return
    lo, hi = layout.spans[0][0], max(end for _, end in layout.spans)
    bottom.set_xlim(lo, hi if hi > lo else lo + 1)
    if min(end - start for start, end in layout.spans) / ((hi - lo) or 1.0) >= MIN_PARTED:
        for ax in axes:
            for x in layout.boundaries:
                ax.axvline(x, color="white", linewidth=1.2)
    x_label = layout.x_label
    if x_label == "time (s)" and hi > 120:
        bottom.xaxis.set_major_formatter(FuncFormatter(_clock))
        x_label = "time (m:ss)"
    bottom.set_xlabel(x_label, fontsize=9)
