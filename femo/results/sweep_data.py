"""A sweep, typed: each point as its run folder holds it, its summary, and the paired
comparisons of its points. :mod:`femo.results.sweep` and :mod:`femo.results.sweep_compare` make them,
:mod:`femo.results.pages.sweep_html` and ``sweep.md``/``sweep.csv`` render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .metrics import Metrics
from .tables import ClipRow

if TYPE_CHECKING:
    from .stats import Interval


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep, as its run folder holds it.

    ``metrics`` and ``clips`` are None when the point has no report. ``classes`` and
    ``emotions`` describe the label set (the mapping) its report was made with.
    """

    name: str
    override_items: tuple[str, ...] = ()
    status: str = "not reported"
    run_dir: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    metrics: Metrics | None = None
    clips: tuple[ClipRow, ...] | None = None
    classes: tuple[str, ...] = ()
    emotions: tuple[tuple[str, str], ...] | None = None
    mapping_name: str | None = None

    @property
    def reported(self) -> bool:
        """Whether the point has a report (``report/metrics.json``)."""
        return self.metrics is not None

    @property
    def accuracy(self) -> float | None:
        return None if self.metrics is None else self.metrics.accuracy

    @property
    def overrides(self) -> str:
        """The point's overrides as one line, as given to it."""
        return " ".join(self.override_items)

    @property
    def label(self) -> str:
        """How plots and verdicts name the point: its overrides, else its folder name."""
        return self.overrides or self.name


@dataclass(frozen=True)
class PointSummary:
    """The numbers of one sweep point, unformatted (None where unknown)."""

    point: str
    overrides: str
    override_items: tuple[str, ...]
    label: str
    status: str
    reported: bool
    n_videos: int | None = None
    n_labelled: int | None = None
    accuracy: float | None = None
    accuracy_ci: tuple[float, float] | None = None
    ci_unit: str | None = None
    ci_level: float | None = None
    macro_f1: float | None = None
    frames_per_s: float | None = None
    clips_per_hour_per_task: float | None = None
    mapping: str | None = None
    n_classes: int | None = None


@dataclass(frozen=True)
class Comparison:
    """B against A over the labelled clips both points reported: a paired bootstrap of
    the accuracy difference and McNemar's exact test, and the verdict."""

    a: str
    b: str
    a_label: str
    b_label: str
    n: int
    accuracy_a: float | None
    accuracy_b: float | None
    difference: float | None
    difference_ci: Interval | None
    a_only_right: int
    b_only_right: int
    mcnemar_p: float
    unit: str  # "clip" or "group": what the bootstrap resampled
    n_groups: int | None
    n_labelled_a: int
    n_labelled_b: int
    level: float
    beyond_chance: bool
    verdict: str
    significant: bool = False

    @classmethod
    def of(cls, paired: dict[str, Any], **more: Any) -> Comparison:
        """From :func:`femo.results.stats.paired_comparison`'s figures and the rest."""
        return cls(**{**paired, **more})


@dataclass(frozen=True)
class NotComparable:
    a: str
    b: str
    a_label: str
    b_label: str
    reason: str


@dataclass(frozen=True)
class SweepComparison:
    """Every paired comparison of a sweep's reported points, and why some are left out."""

    pairs: list[Comparison] = field(default_factory=list)
    not_comparable: list[NotComparable] = field(default_factory=list)
    not_reported: list[str] = field(default_factory=list)
    no_labels: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # reported points over the cap
    max_points: int = 10
    level: float = 0.95
