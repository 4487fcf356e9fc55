"""The report of a run, built once (:mod:`femo.results.build`), as one typed object that
every writer renders from: ``report.md``, ``index.html``, ``videos.csv``, ``groups.csv``,
``identities.csv``, ``metrics.json``, the contact sheets and the console's lines.

It holds the figures (:class:`~femo.results.metrics.Metrics`, what ``metrics.json``
holds: the answer with its intervals, per class, per group, per identity, timelines,
the videos over time, provenance, speed), the result of every clip, the settings it was
made with and what the page shows beyond the figures (the reference faces).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RunConfig
from ..dataset import Segment
from .metrics import Metrics


@dataclass(slots=True)
class ClipResult:
    """One clip's result: its prediction, golden label, status, frame counts and votes."""

    video: str
    predict: str | None
    golden: str | None
    status: str
    frames_sampled: int
    frames_with_face: int
    counts: dict[str, int]
    message: str | None = None
    group: str | None = None
    # Per class: the mean, over the clip's frames with a face, of the summed scores of the
    # class's emotions (the scored face's); empty without a face.
    class_score: dict[str, float] = field(default_factory=dict)

    @property
    def face_rate(self) -> float | None:
        return self.frames_with_face / self.frames_sampled if self.frames_sampled else None

    @property
    def confidence(self) -> float | None:
        """The mean score of the predicted class over the clip's frames with a face.

        Not the vote's share: a still, or a clip whose frames all agree, would show 1.00
        beside scores near 0.35. None without a prediction or a face.
        """
        return self.class_score.get(self.predict) if self.predict else None

    @property
    def wrong(self) -> bool:
        """A labelled clip whose prediction (possibly none) is not its golden class."""
        return self.golden is not None and self.predict != self.golden


@dataclass(frozen=True)
class Report:
    """One run's report: its figures, its clips and the settings behind them."""

    metrics: Metrics
    clips: tuple[ClipResult, ...]
    config: RunConfig = field(default_factory=RunConfig)
    # A segmented run's segments by clip id (empty for whole files).
    spans: Mapping[str, Segment] = field(default_factory=dict)
    # Each reference person's faces as small PNGs (index.html shows them to check by eye).
    reference_crops: Mapping[str, list[bytes]] = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.metrics.classes or self.config.mapping.classes)

    @property
    def labelled(self) -> bool:
        """Whether any clip has a label (else the report leads with what was predicted)."""
        return bool(self.metrics.n_labelled)

    @property
    def scores_the_person(self) -> bool:
        """Whether the labelled person's faces were scored (reduce.face=person)."""
        return self.config.reduce.face == "person"


@dataclass
class ReduceResult:
    """What ``femo reduce`` (and the end of ``femo run``) made: the report and its folder."""

    report_dir: Path
    report: Report

    @property
    def metrics(self) -> Metrics:
        return self.report.metrics
