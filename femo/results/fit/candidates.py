"""Several ways of predicting each clip, scored on the same held-out clips of the same
folds: each against the study's vote and against the head on the scores alone, as
paired differences with their intervals and McNemar's p (``femo fit --tune``'s five
candidates). Pure figures: predictions in, plain JSON out."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ..analysis import withheld
from .crossval import _method_figures, _paired
from .model import group_codes

# The candidates femo fit --tune compares, in the report's order, and what each is.
CANDIDATES: dict[str, str] = {
    "scores": "scores only (femo fit --no-mesh)",
    "scores_mesh": "scores + the face's mesh (femo fit)",
    "scores_features": "scores + fer's network's 128 features",
    "tuned": "the tuned network (its vote)",
    "tuned_mesh": "the tuned network + the mesh (a head)",
}
BASELINE = "scores"
SUBSETS = {"all": "All labelled (no face = wrong)", "with_face": "With a face"}


def compare_candidates(
    golden: Sequence[str | None],
    groups: Sequence[Hashable] | None,
    vote: Sequence[str | None],
    has_face: np.ndarray,
    predictions: Mapping[str, Sequence[str | None]],
    classes: Sequence[str],
    *,
    resamples: int,
    level: float,
    seed: int,
    min_units: int = 1,
) -> dict[str, Any]:
    """Per subset (``all``, ``with_face``): each candidate's figures, its paired
    difference with the vote and with :data:`BASELINE`, the best candidate by accuracy,
    and ``tuned_mesh``'s paired difference with the best. Clips whose golden label is
    None are left out; a None prediction is wrong."""
    labelled = np.array([g is not None for g in golden], dtype=bool)
    codes = group_codes(groups, labelled)
    out: dict[str, Any] = {
        "classes": list(classes),
        "candidates": {k: CANDIDATES[k] for k in predictions},
        "ci": {"method": "percentile bootstrap", "level": level, "resamples": resamples},
    }
    for subset, mask in (("all", labelled), ("with_face", labelled & np.asarray(has_face))):
        out[subset] = _subset(
            np.flatnonzero(mask), golden, codes, vote, predictions, classes,
            (resamples, level, seed), min_units,
        )  # fmt: skip
    return out


def _subset(
    idx: np.ndarray,
    golden: Sequence[str | None],
    codes: np.ndarray | None,
    vote: Sequence[str | None],
    predictions: Mapping[str, Sequence[str | None]],
    classes: Sequence[str],
    boot: tuple[int, float, int],
    min_units: int,
) -> dict[str, Any]:
    if not len(idx):
        return {"n": 0}
    gold = [golden[i] for i in idx]
    groups = None if codes is None else codes[idx].tolist()
    pick = {k: [p[i] for i in idx] for k, p in predictions.items()}
    voted = [vote[i] for i in idx]
    figures = {k: _method_figures(gold, p, groups, classes, *boot) for k, p in pick.items()}
    part: dict[str, Any] = {
        "n": len(idx),
        "vote": _method_figures(gold, voted, groups, classes, *boot),
        "candidates": figures,
        "vs_vote": {k: _paired(gold, voted, p, groups, ("vote", k), boot) for k, p in pick.items()},
        "vs_scores": {
            k: _paired(gold, pick[BASELINE], p, groups, (BASELINE, k), boot)
            for k, p in pick.items()
            if k != BASELINE and BASELINE in pick
        },
        "withheld": None,
    }
    best = max(figures, key=lambda k: (figures[k]["accuracy"], k == "tuned_mesh"))
    part["best"] = best
    if "tuned_mesh" in pick and best != "tuned_mesh":
        part["tuned_mesh_vs_best"] = _paired(gold, pick[best], pick["tuned_mesh"], groups,
                                             (best, "tuned_mesh"), boot)  # fmt: skip
    n_units = len(idx) if groups is None else len(set(groups))
    if n_units < min_units:
        _withhold(part, withheld(n_units, "clip" if groups is None else "group", min_units))
    return part


def _withhold(part: dict[str, Any], why: str) -> None:
    """No interval from so few resampled units (the report's ``report.min_units`` rule)."""
    for method in (part["vote"], *part["candidates"].values()):
        method["accuracy_ci"] = method["macro_f1_ci"] = None
        method["recall_ci"] = dict.fromkeys(method["recall_ci"])
    comparisons = [*part["vs_vote"].values(), *part["vs_scores"].values()]
    comparisons += [part["tuned_mesh_vs_best"]] if "tuned_mesh_vs_best" in part else []
    for comp in comparisons:
        comp["difference_ci"] = None
        comp["significant"] = False
    part["withheld"] = why


def within_best(part: Mapping[str, Any]) -> bool | None:
    """Whether ``tuned_mesh`` is the best candidate, or its paired difference with the
    best has an interval that holds 0 (None: no tuned_mesh, or no interval)."""
    if part.get("best") == "tuned_mesh":
        return True
    comp = part.get("tuned_mesh_vs_best")
    if comp is None or comp["difference_ci"] is None:
        return None
    low, high = comp["difference_ci"]
    return low <= 0.0 <= high
