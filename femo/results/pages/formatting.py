"""How every page writes a share, an interval, its level, a difference and a p-value.

``report.md``, ``index.html``, the sweep pages, the fit report, the CLI and the bench
all format through here, so they say the same thing the same way. An interval's level
is never assumed: it comes with the figures (``metrics["ci"]["level"]``, a comparison's
``level``), read by :func:`level_of`.

Plain text (Markdown, terminal) writes ``62.5%``; HTML writes ``62.5 %`` (``space``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...config import BOOTSTRAP
from ..metrics import InSample, Metrics

# The report's title: report.md's first line and the page's heading.
TITLE = "femo report"

Interval = Sequence[float | None]


def level_of(figures: Mapping[str, Any] | None) -> float:
    """The level of the intervals in ``figures`` (``ci.level``, or their own ``level``)."""
    figures = figures or {}
    ci = figures.get("ci")
    level = (ci or {}).get("level") if isinstance(ci, Mapping) else None
    return float(level or figures.get("level") or BOOTSTRAP.level)


def level_text(level: float, space: bool = False) -> str:
    """``95%`` for 0.95 (``90%``, ``97.5%``); ``95 %`` with ``space``."""
    return f"{100 * float(level):g}" + (" %" if space else "%")


def percent(
    value: float | None, digits: int = 1, *, space: bool = False, missing: str = "n/a"
) -> str:
    """``62.5%`` for 0.625 (``62.5 %`` with ``space``); ``missing`` for None."""
    if value is None:
        return missing
    return f"{100 * value:.{digits}f}" + (" %" if space else "%")


def decimal(value: float | None, digits: int = 4, missing: str = "") -> str:
    """``0.6250`` for 0.625; ``missing`` for None."""
    return missing if value is None else f"{value:.{digits}f}"


def points(difference: float) -> str:
    """``+3.0 points``: a difference of two accuracies, in percentage points."""
    return f"{100 * difference:+.1f} points"


def _known(interval: Interval | None) -> tuple[float, float] | None:
    if not interval or len(interval) != 2 or interval[0] is None or interval[1] is None:
        return None
    return float(interval[0]), float(interval[1])


def brackets(interval: Interval | None, *, signed: bool = False, note: str = "") -> str:
    """`` [41.0, 80.2]`` (percent, ``+`` signs with ``signed``, ``note`` inside the
    brackets); empty without an interval."""
    known = _known(interval)
    if known is None:
        return ""
    spec = "+.1f" if signed else ".1f"
    return f" [{100 * known[0]:{spec}}, {100 * known[1]:{spec}}{note}]"


def ci_text(interval: Interval | None, level: float, as_percent: bool = True) -> str:
    """`` (95% CI 41.0-80.2%)`` (or `` (95% CI 0.410-0.802)``) for plain text; empty
    without an interval."""
    known = _known(interval)
    if known is None:
        return ""
    lo, hi = known
    span = f"{100 * lo:.1f}-{100 * hi:.1f}%" if as_percent else f"{lo:.3f}-{hi:.3f}"
    return f" ({level_text(level)} CI {span})"


def span(interval: Interval | None, as_percent: bool = True) -> str | None:
    """``41.0–80.2 %`` (or ``0.41–0.80``) for HTML; None without an interval."""
    known = _known(interval)
    if known is None:
        return None
    lo, hi = known
    return f"{100 * lo:.1f}–{100 * hi:.1f} %" if as_percent else f"{lo:.2f}–{hi:.2f}"


def p_value(p: float, digits: int = 2) -> str:
    """``0.012``; ``< 0.0001`` below that."""
    return f"{p:.{digits}g}" if p >= 1e-4 else "< 0.0001"


def min_units_note(metrics: Metrics) -> str:
    """The sentence under a table where some rows have too few clips for an interval."""
    n = metrics.ci.min_units if metrics.ci else None
    return (
        f"No interval where a group has fewer than {n} labelled clips "
        f"(report.min_units): a bootstrap of so few clips says little."
    )


def partial_text(metrics: Metrics) -> str:
    """What a partial reduce covers: ``PARTIAL: 772 of 800 clips missing (37 of 40 shard(s)
    not done); the accuracy is over the 28 clips present``."""
    shards = metrics.shards
    n_missing, n_videos = metrics.n_missing or 0, metrics.n_videos or 0
    not_done = len(shards.not_done) if shards else 0
    present = n_videos - n_missing
    return (
        f"PARTIAL: {n_missing} of {n_videos} clips missing ({not_done} of "
        f"{shards.planned if shards else None} shard(s) not done); the accuracy is over the "
        f"{present} {'clip' if present == 1 else 'clips'} present"
    )


def top_text(shares: dict[str, float] | None, k: int = 3, space: bool = False) -> str:
    """``angry 50%, neutral 30%, sad 10%``: the ``k`` largest shares; "–" for none."""
    if not shares:
        return "–"
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:k]
    unit = " %" if space else "%"
    return ", ".join(f"{name} {100 * v:.0f}{unit}" for name, v in top if v > 0) or "–"


def shares_text(shares: dict[str, float] | None, names: Sequence[str]) -> str:
    """``Positive 50%, Neutral 25%, Negative 25%``: each of ``names`` with a share, in
    their order; "–" for none."""
    if not shares:
        return "–"
    return ", ".join(f"{n} {100 * shares[n]:.0f}%" for n in names if n in shares) or "–"


def counts_text(classes: dict[str, int]) -> str:
    """``Neutral 3, Positive 0, Negative 0``: the classes, most predicted first."""
    ranked = sorted(classes.items(), key=lambda kv: -kv[1])  # stable: mapping order on ties
    return ", ".join(f"{c} {n}" for c, n in ranked)


def summary_text(metrics: Metrics, scores_the_person: bool = False) -> str:
    """The console's line about a report: what was predicted where nothing is labelled,
    else the accuracy over the labelled clips present."""
    predicted = metrics.predicted
    if not metrics.n_labelled and predicted:
        n = predicted.clips
        return (
            f"predicted {counts_text(predicted.classes)} over {n} clip{'s' * (n != 1)} "
            f"without labels ({predicted.no_face} without a face, {predicted.failed} failed)"
        )
    return (
        f"accuracy {percent(metrics.accuracy, missing='n/a (no labelled clips)')}"
        + brackets(metrics.accuracy_ci)
        + f" over {metrics.labelled_present} labelled of {metrics.present} clips"
        + (" present" if metrics.partial else "")
        + f" ({metrics.n_no_face} without a face, "
        + (f"{metrics.n_person_absent} without their person, " if scores_the_person else "")
        + f"{metrics.n_failed} failed)"
    )


_KNOWN_BY = {
    "name": " (known by clip name: their files could not be read)",
    "run": " (known by run folder: the head does not record its clips)",
}


def in_sample_text(metrics: Metrics) -> str | None:
    """What the report says where a head scored clips it was fitted on: how many, that
    the figure over them is in-sample, and the accuracy over the labelled clips it was
    not fitted on, if any; None where it scored none."""
    s = metrics.in_sample
    if not s:
        return None
    known = "".join(_KNOWN_BY.get(k, "") for k in s.known_by)
    fitted, it = fitted_text(s)
    if not s.labelled:
        return (
            f"{fitted} {s.clips} of the {metrics.present} clips scored "
            f"here{known}: what it predicts for them is in-sample"
        )
    text = (
        f"{fitted} {s.labelled} of the {metrics.labelled_present} labelled "
        f"clips scored here{known}: the accuracy is in-sample, not an estimate for new clips"
    )
    n = s.out_of_sample_labelled
    if n:
        text += (
            f"; over the {n} labelled clip{'s' * (n != 1)} {it}: "
            f"{percent(s.out_of_sample_accuracy)}" + brackets(s.out_of_sample_accuracy_ci)
        )
    return text


def fitted_text(s: InSample) -> tuple[str, str]:
    """Who saw the clips, ``the head was fitted on``, ``the tuned model learnt from``
    (``classifier.model``) or both; and what the other clips are to it."""
    if s.model_file and s.head_file:
        return "the head and the tuned model were fitted on", "neither was fitted on"
    if s.model_file:
        return "the tuned model learnt from", "it did not learn from"
    return "the head was fitted on", "it was not fitted on"


def shared_overrides(items: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The overrides every point was given (in the first point's order); none where there
    are fewer than 2 points. The tables state them once and show each point's others."""
    if len(items) < 2:
        return ()
    return tuple(i for i in items[0] if all(i in other for other in items[1:]))


def own_overrides(items: Sequence[str], shared: Sequence[str]) -> str:
    """A point's overrides less those every point shares, space-joined."""
    return " ".join(i for i in items if i not in shared)
