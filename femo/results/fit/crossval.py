"""Cross-validation: the head against the study's vote on the same held-out clips,
never training and testing on one person."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from ...config import BOOTSTRAP
from ..analysis import withheld
from ..stats import bootstrap_metrics, classification_scores, paired_comparison
from .model import C_GRID, SCORING, as_labels, as_matrix, fit_head, group_codes, predict_head


def _method_figures(
    golden: list[str],
    predicted: list[str | None],
    groups: list[int] | None,
    classes: Sequence[str],
    resamples: int,
    level: float,
    seed: int,
) -> dict[str, Any]:
    figures = classification_scores(golden, predicted, classes)
    boot = bootstrap_metrics(golden, predicted, classes, groups, resamples, level, seed)

    def as_list(interval: Any) -> list[float] | None:
        return None if interval is None else interval.as_list()

    return {
        "accuracy": figures.accuracy,
        "accuracy_ci": as_list(boot["accuracy"]),
        "macro_f1": figures.macro_f1,
        "macro_f1_ci": as_list(boot["macro_f1"]),
        "recall": dict(zip(classes, figures.recall, strict=True)),
        "recall_ci": {c: as_list(i) for c, i in boot["recall"].items()},
        "confusion": figures.confusion_table(),
    }


def _paired(
    golden: list[str],
    a: list[str | None],
    b: list[str | None],
    groups: list[int] | None,
    names: tuple[str, str],
    boot: tuple[int, float, int],
) -> dict[str, Any]:
    """b - a on the same clips: the difference, its paired interval, McNemar's p."""
    paired = paired_comparison(golden, a, b, groups, *boot)
    ci = paired["difference_ci"]
    return {
        "difference": paired["difference"],
        "difference_ci": None if ci is None else ci.as_list(),
        "mcnemar_p": paired["mcnemar_p"],
        f"{names[1]}_only_right": paired["b_only_right"],
        f"{names[0]}_only_right": paired["a_only_right"],
        "significant": paired["significant"],
    }


def _subset_figures(
    golden: list[str],
    head: list[str | None],
    vote: list[str | None],
    groups: list[int] | None,
    classes: Sequence[str],
    resamples: int,
    level: float,
    seed: int,
    min_units: int = 1,
    scores_only: list[str | None] | None = None,
) -> dict[str, Any]:
    if not golden:
        return {"n": 0, "head": None, "vote": None, "comparison": None}
    boot = (resamples, level, seed)
    figures = {
        "n": len(golden),
        "support": {c: golden.count(c) for c in classes},
        "head": _method_figures(golden, head, groups, classes, resamples, level, seed),
        "vote": _method_figures(golden, vote, groups, classes, resamples, level, seed),
        "comparison": _paired(golden, vote, head, groups, ("vote", "head"), boot),
        "ci_withheld": None,
    }
    if scores_only is not None:  # the head with the mesh against the same head without
        figures["scores_only"] = _method_figures(
            golden, scores_only, groups, classes, resamples, level, seed
        )
        figures["mesh_comparison"] = _paired(
            golden, scores_only, head, groups, ("scores_only", "head"), boot
        )
    n_units = len(golden) if groups is None else len(set(groups))
    if n_units < min_units:
        _withhold_intervals(
            figures, withheld(n_units, "clip" if groups is None else "group", min_units)
        )
    return figures


def _withhold_intervals(figures: dict[str, Any], why: str) -> None:
    """No interval from so few resampled units (the report's ``report.min_units`` rule)."""
    for method in (figures["head"], figures["vote"], figures.get("scores_only")):
        if method is not None:
            method["accuracy_ci"] = method["macro_f1_ci"] = None
            method["recall_ci"] = dict.fromkeys(method["recall_ci"])
    for key in ("comparison", "mesh_comparison"):
        if figures.get(key) is not None:
            figures[key]["difference_ci"] = None
            figures[key]["significant"] = False
    figures["ci_withheld"] = why


def cross_validate_head(
    X: np.ndarray,
    y: Sequence[str | None],
    groups: Sequence[Hashable] | None,
    baseline_predictions: Sequence[str | None],
    classes: Sequence[str],
    folds: int = 5,
    seed: int = BOOTSTRAP.seed,
    resamples: int = BOOTSTRAP.resamples,
    *,
    has_face: np.ndarray | None = None,
    level: float = BOOTSTRAP.level,
    min_units: int = 1,
    mesh: np.ndarray | None = None,
    grid: Sequence[float] = C_GRID,
) -> dict[str, Any]:
    """The head against the study's vote, both on the same held-out clips.

    Outer folds (``GroupKFold`` over persons; each clip its own group when ``groups`` is
    None) split the labelled clips; on each, :func:`fit_head` (its inner CV included) is
    refitted on the training persons and predicts the held-out ones, so no person is
    ever both trained and tested on. ``baseline_predictions`` are the vote's classes
    (None: no prediction), aligned with ``X``.

    Figures (``"all"``: every labelled clip, a clip without a face wrong for both;
    ``"with_face"``: the labelled clips with a face) hold, per method, accuracy,
    macro F1 and per-class recall with percentile bootstrap intervals (resampling
    persons when known), and the paired difference head - vote with its interval and
    exact McNemar p; below ``min_units`` resampled units no interval, and ``"ci_withheld"``
    says why (the report's ``report.min_units`` rule). ``"per_clip"`` holds each clip's held-out fold (-1: unlabelled) and
    head prediction (and, with ``mesh``, the scores-only head's); :func:`cv_figures`
    drops it. Every value is plain JSON.

    With ``mesh`` (the clips' mean meshes), the head uses them, and the same head without
    them (``"scores_only"``) is fitted on the same folds: ``"mesh_comparison"`` is the
    paired difference head - scores_only.
    """
    X = as_matrix(X)
    n = len(X)
    mesh = None if mesh is None else as_matrix(mesh)
    labels = as_labels(y, classes, n)
    vote = as_labels(baseline_predictions, classes, n)
    labelled = np.array([v is not None for v in labels], dtype=bool)
    face = np.any(X != 0, axis=1) if has_face is None else np.asarray(has_face, dtype=bool)
    if face.shape != (n,):
        raise ValueError(f"has_face must have one entry per clip ({n})")
    codes = group_codes(groups, labelled)
    by_person = codes is not None
    outer_groups = codes if by_person else np.arange(n)
    rows = np.flatnonzero(labelled)
    n_units = len(np.unique(outer_groups[rows]))
    n_splits = min(folds, n_units)
    if n_splits < 2:
        raise ValueError(
            f"cross-validation needs at least 2 {'persons' if by_person else 'labelled clips'}, "
            f"got {n_units}"
        )
    splitter = GroupKFold(n_splits, shuffle=True, random_state=seed)
    head_pred: list[str | None] = [None] * n
    plain_pred: list[str | None] = [None] * n
    test_fold = np.full(n, -1, dtype=int)
    chosen_c = []
    inner_units = []
    chosen_mesh = []
    for fold, (train_idx, test_idx) in enumerate(
        splitter.split(X[rows], labels[rows].astype(str), outer_groups[rows])
    ):
        train, test = rows[train_idx], rows[test_idx]
        fold_groups = None if codes is None else codes[train]
        fold_mesh = None if mesh is None else mesh[train]
        head = fit_head(
            X[train],
            labels[train],
            fold_groups,
            classes,
            seed,
            has_face=face[train],
            mesh=fold_mesh,
            grid=grid,
        )
        chosen_c.append(head.C)
        inner_units.append(head.provenance["inner_cv"]["unit"])
        test_mesh = None if mesh is None else mesh[test]
        for i, p in zip(test, predict_head(head, X[test], face[test], test_mesh), strict=True):
            head_pred[i] = p
        if mesh is not None:
            chosen_mesh.append(head.provenance["inner_cv"]["mesh"])
            plain = fit_head(
                X[train], labels[train], fold_groups, classes, seed, has_face=face[train], grid=grid
            )
            for i, p in zip(test, predict_head(plain, X[test], face[test]), strict=True):
                plain_pred[i] = p
        test_fold[test] = fold

    def subset(mask: np.ndarray) -> dict[str, Any]:
        idx = np.flatnonzero(mask)
        return _subset_figures(
            [labels[i] for i in idx],
            [head_pred[i] for i in idx],
            [vote[i] for i in idx],
            None if codes is None else codes[idx].tolist(),
            classes,
            resamples,
            level,
            seed,
            min_units,
            None if mesh is None else [plain_pred[i] for i in idx],
        )

    return {
        "classes": list(classes),
        "folds": {
            "splitter": "GroupKFold",
            "n_splits": n_splits,
            "unit": "person" if by_person else "clip",
            "n_units": n_units,
            "inner_scoring": SCORING,
            "C_grid": [float(c) for c in grid],
            "C": chosen_c,
            "inner_unit": inner_units,
            "seed": seed,
            **({"mesh": chosen_mesh} if mesh is not None else {}),
        },
        "ci": {"method": "percentile bootstrap", "level": level, "resamples": resamples},
        "all": subset(labelled),
        "with_face": subset(labelled & face),
        "per_clip": {
            "test_fold": test_fold.tolist(),
            "head": head_pred,
            **({"scores_only": plain_pred} if mesh is not None else {}),
        },
    }


def cv_figures(cv: dict[str, Any]) -> dict[str, Any]:
    """``cv`` without its per-clip lists: the figures to keep in a head's provenance."""
    return {k: v for k, v in cv.items() if k != "per_clip"}
