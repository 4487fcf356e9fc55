"""Paired comparisons of a sweep's points: for every two points run over the same labelled
clips with the same label set, whether their accuracies differ beyond chance (a paired
bootstrap interval of the difference and McNemar's exact test)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from ..config import BOOTSTRAP
from .stats import Interval
from .sweep_data import Comparison, NotComparable, SweepComparison, SweepPoint
from .tables import ClipRow

# Points compared pairwise at most: 10 points make 45 pairs.
MAX_COMPARED_POINTS = 10


def labelled_clips(point: SweepPoint) -> dict[str, ClipRow]:
    """A point's labelled clips by id."""
    return {c.video: c for c in point.clips or () if c.golden is not None}


def _label_set_text(point: SweepPoint) -> str:
    name = f"mapping {point.mapping_name}" if point.mapping_name else "label set"
    return f"{name} ({len(point.classes)} classes: {', '.join(point.classes)})"


def not_comparable_reason(a: SweepPoint, b: SweepPoint) -> str | None:
    """Why two reported points cannot be compared clip by clip; None when they can."""
    if a.classes != b.classes or (
        a.emotions is not None and b.emotions is not None and a.emotions != b.emotions
    ):
        return f"different label sets: {_label_set_text(a)} vs {_label_set_text(b)}"
    clips_a, clips_b = labelled_clips(a), labelled_clips(b)
    shared = clips_a.keys() & clips_b.keys()
    if not shared:
        return "no labelled clips in common"
    differ = sum(clips_a[v].golden != clips_b[v].golden for v in shared)
    if differ:
        return f"golden labels differ on {differ} shared clip(s) (another labels file or column)"
    return None


def beyond_chance(difference_ci: Interval | None, mcnemar_p: float, alpha: float = 0.05) -> bool:
    """Whether the difference's interval excludes 0 and McNemar's p is below ``alpha``."""
    excludes_zero = difference_ci is not None and (difference_ci.low > 0 or difference_ci.high < 0)
    return excludes_zero and mcnemar_p < alpha


def verdict(difference_ci: Interval | None, mcnemar_p: float, alpha: float = 0.05) -> str:
    """The comparison in plain words (A and B as in :func:`compare_points`)."""
    if difference_ci is None or not beyond_chance(difference_ci, mcnemar_p, alpha):
        return "no difference beyond chance"
    if difference_ci.low > 0:
        return "B is better than A beyond chance"
    return "A is better than B beyond chance"


def compare_points(
    a: SweepPoint,
    b: SweepPoint,
    resamples: int = BOOTSTRAP.resamples,
    level: float = BOOTSTRAP.level,
    seed: int = BOOTSTRAP.seed,
) -> Comparison:
    """Paired comparison of B against A over the labelled clips both reported.

    Groups (the ``group`` column) are resampled when every compared clip has the same
    group in both reports and there are at least two groups; clips otherwise. Call
    :func:`not_comparable_reason` first.
    """
    from .stats import paired_comparison

    clips_a, clips_b = labelled_clips(a), labelled_clips(b)
    shared = sorted(clips_a.keys() & clips_b.keys())
    golden = [clips_a[v].golden for v in shared]
    predicted_a = [clips_a[v].predict for v in shared]
    predicted_b = [clips_b[v].predict for v in shared]
    groups_a = [clips_a[v].group for v in shared]
    groups = groups_a if groups_a == [clips_b[v].group for v in shared] else None
    # One group cannot be resampled (every replicate is the sample itself).
    if groups is not None and (None in groups or len(set(groups)) < 2):
        groups = None
    paired = paired_comparison(
        golden, predicted_a, predicted_b, groups, resamples=resamples, level=level, seed=seed
    )
    return Comparison.of(
        paired,
        a=a.name,
        b=b.name,
        a_label=a.label,
        b_label=b.label,
        n_groups=None if groups is None else len(set(groups)),
        n_labelled_a=len(clips_a),
        n_labelled_b=len(clips_b),
        level=level,
        beyond_chance=beyond_chance(paired["difference_ci"], paired["mcnemar_p"]),
        verdict=verdict(paired["difference_ci"], paired["mcnemar_p"]),
    )


def compare_sweep(
    points: Sequence[SweepPoint],
    max_points: int = MAX_COMPARED_POINTS,
    resamples: int = BOOTSTRAP.resamples,
    level: float = BOOTSTRAP.level,
    seed: int = BOOTSTRAP.seed,
) -> SweepComparison:
    """Every paired comparison of a sweep's reported points.

    Pairs grow quadratically, so at most ``max_points`` points take part: the most
    accurate ones (ties in point order). A is always the earlier point of a pair.
    """
    not_reported = [p.name for p in points if not p.reported]
    no_labels = [p.name for p in points if p.reported and not labelled_clips(p)]
    candidates = [p for p in points if p.reported and labelled_clips(p)]
    order = {p.name: i for i, p in enumerate(points)}
    left_out: list[str] = []
    if len(candidates) > max_points:
        ranked = sorted(candidates, key=lambda p: (-(p.accuracy or 0.0), order[p.name]))
        kept = {p.name for p in ranked[:max_points]}
        left_out = [p.name for p in candidates if p.name not in kept]
        candidates = [p for p in candidates if p.name in kept]
    pairs, not_comparable = [], []
    for a, b in combinations(candidates, 2):
        reason = not_comparable_reason(a, b)
        if reason is None:
            pairs.append(compare_points(a, b, resamples=resamples, level=level, seed=seed))
        else:
            not_comparable.append(NotComparable(a.name, b.name, a.label, b.label, reason))
    return SweepComparison(
        pairs, not_comparable, not_reported, no_labels, left_out, max_points, level
    )
