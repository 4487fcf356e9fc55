"""The head: standardisation + class-balanced multinomial logistic regression, its
regularisation chosen by cross-validation grouped by person, applied with numpy alone.
With the face's mesh (:mod:`.mesh_features`), the mesh block is reduced on its own first, its
scaling and components chosen by the same inner cross-validation."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .mesh_features import MESH_VALUES, MeshBlock, mesh_grid, mesh_steps

C_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3, 2, 8))
INNER_FOLDS = 5
# Fewer persons than this in a training set: C is chosen by stratified folds over clips.
MIN_GROUPS_FOR_GROUPED_INNER_CV = 3
MAX_ITER = 5000
SCORING = "balanced_accuracy"


@dataclass(frozen=True, eq=False)
class Head:
    """A fitted head: standardisation, then one linear score per class.

    ``classes`` are in the order of the rows of ``coefficients`` (scikit-learn's sorted
    order). ``pipeline`` is the scikit-learn pipeline it came from, present only on a
    head just fitted (never saved).
    """

    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray  # (classes, features)
    intercepts: np.ndarray  # (classes,)
    C: float
    provenance: dict[str, Any] = field(default_factory=dict)
    pipeline: Pipeline | None = field(default=None, repr=False)
    # The mesh's own reduction, where the head uses the face's mesh; its components are
    # the last features of ``feature_names`` (mesh_pc1, ...).
    mesh: MeshBlock | None = None
    # The best inner cross-validated score (balanced accuracy) of a head just fitted;
    # never saved.
    inner_score: float | None = field(default=None, repr=False)


def as_matrix(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (clips x features), got shape {X.shape}")
    return X


def as_labels(y: Sequence[Any], classes: Sequence[str], n: int) -> np.ndarray:
    """``y`` as an object array with None for unlabelled clips; unknown labels raise."""
    if len(y) != n:
        raise ValueError(f"X has {n} clips but y has {len(y)} labels")
    known = set(classes)
    out = np.empty(n, dtype=object)
    for i, label in enumerate(y):
        if label is None or (isinstance(label, float) and math.isnan(label)):
            out[i] = None
        elif label in known:
            out[i] = label
        else:
            raise ValueError(f"label {label!r} is not one of the classes {list(classes)}")
    return out


def group_codes(groups: Sequence[Hashable] | None, labelled: np.ndarray) -> np.ndarray | None:
    """Dense integer person ids (so mixed-type ids sort); None when no groups are known."""
    if groups is None:
        return None
    if len(groups) != len(labelled):
        raise ValueError(f"groups has {len(groups)} items but y has {len(labelled)}")
    codes, _ = pd.factorize(pd.Series(list(groups), dtype=object))
    if (codes[labelled] < 0).any():
        raise ValueError("every labelled clip needs a group (person); some have none")
    return codes.astype(np.intp)


def _inner_cv(
    y: np.ndarray, groups: np.ndarray | None, seed: int
) -> tuple[GroupKFold | StratifiedKFold, str]:
    n_groups = 0 if groups is None else len(np.unique(groups))
    if n_groups >= MIN_GROUPS_FOR_GROUPED_INNER_CV:
        return GroupKFold(min(INNER_FOLDS, n_groups), shuffle=True, random_state=seed), "person"
    smallest = int(pd.Series(y).value_counts().min())
    if smallest < 2:
        raise ValueError(
            "too few labelled clips with a face to choose C: every class needs at least 2"
        )
    return StratifiedKFold(min(INNER_FOLDS, smallest), shuffle=True, random_state=seed), "clip"


def fit_head(
    X: np.ndarray,
    y: Sequence[str | None],
    groups: Sequence[Hashable] | None,
    classes: Sequence[str],
    seed: int = 0,
    *,
    has_face: np.ndarray | None = None,
    feature_names: Sequence[str] | None = None,
    grid: Sequence[float] = C_GRID,
    mesh: np.ndarray | None = None,
) -> Head:
    """Fit standardisation + class-balanced multinomial logistic regression.

    Trains on the clips with a face and a golden label (``y`` None: unlabelled). C is
    chosen from ``grid`` by cross-validation (balanced accuracy) grouped by person
    (``groups``) when the training clips hold at least 3 persons, else by stratified
    folds over clips. ``has_face`` defaults to the rows that are not all zero (what
    :func:`clip_features` gives a clip without a face); ``feature_names`` default to
    ``x0, x1, ...``. ``mesh`` (clips, 1404; NaN rows: no mesh) adds the face's mesh,
    reduced by :func:`~femo.results.fit.mesh_features.mesh_steps`, whose scaling and number of
    components the inner cross-validation chooses with C.
    """
    X = as_matrix(X)
    names = (
        tuple(f"x{i}" for i in range(X.shape[1]))
        if feature_names is None
        else tuple(str(n) for n in feature_names)
    )
    if len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} feature names for {X.shape[1]} features")
    labels = as_labels(y, classes, len(X))
    labelled = np.array([v is not None for v in labels], dtype=bool)
    face = np.any(X != 0, axis=1) if has_face is None else np.asarray(has_face, dtype=bool)
    if face.shape != (len(X),):
        raise ValueError(f"has_face must have one entry per clip ({len(X)})")
    codes = group_codes(groups, labelled)
    train = labelled & face
    y_train = labels[train].astype(str)
    present = np.unique(y_train)
    if len(present) < 2:
        raise ValueError(
            f"a head needs labelled clips with a face of at least 2 classes, got {list(present)}"
        )
    g_train = None if codes is None else codes[train]
    cv, unit = _inner_cv(y_train, g_train, seed)
    steps: list = [
        ("scale", StandardScaler()),
        (
            "model",
            LogisticRegression(class_weight="balanced", max_iter=MAX_ITER, random_state=seed),
        ),
    ]
    params: dict[str, list] = {"model__C": [float(c) for c in grid]}
    if mesh is not None:
        mesh = as_matrix(mesh)
        if mesh.shape != (len(X), MESH_VALUES):
            raise ValueError(f"mesh must be (clips, {MESH_VALUES}), got {mesh.shape}")
        base = X.shape[1]
        X = np.hstack([X, mesh])
        blocks = [("scores", "passthrough", list(range(base))),
                  ("mesh", mesh_steps(seed), list(range(base, base + MESH_VALUES)))]  # fmt: skip
        steps.insert(0, ("features", ColumnTransformer(blocks)))
        params.update(mesh_grid(int(train.sum()), cv.get_n_splits(), "features__mesh"))
    search = GridSearchCV(Pipeline(steps), params, scoring=SCORING, cv=cv, refit=True)
    # The mesh's PCA on a many-threaded BLAS spins more than it works (100 times the CPU
    # of one thread, measured on 2 busy cores), so it gets one thread.
    with threadpool_limits(1 if mesh is not None else None):
        search.fit(X[train], y_train, groups=g_train if unit == "person" else None)
    best: Pipeline = search.best_estimator_
    inner_cv = {
        "unit": unit,
        "n_splits": cv.get_n_splits(),
        "scoring": SCORING,
        "C_grid": [float(c) for c in grid],
    }
    block = None
    if mesh is not None:
        block = MeshBlock.from_steps(best.named_steps["features"].named_transformers_["mesh"])
        names = (*names, *block.names)
        inner_cv["mesh"] = {"components": len(block.components), "scaling": block.scaling}
    head = _head_from_pipeline(
        best, names, float(search.best_params_["model__C"]), {"inner_cv": inner_cv}
    )
    return replace(head, mesh=block, inner_score=float(search.best_score_))


def _head_from_pipeline(
    pipeline: Pipeline, names: tuple[str, ...], C: float, provenance: dict[str, Any]
) -> Head:
    scaler: StandardScaler = pipeline.named_steps["scale"]
    model: LogisticRegression = pipeline.named_steps["model"]
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if len(model.classes_) == 2:
        # Binary: sklearn keeps one row (the score of classes_[1]); a zero row for
        # classes_[0] gives the same argmax (ties to classes_[0], as sklearn) and softmax
        # gives its predict_proba.
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    return Head(
        classes=tuple(str(c) for c in model.classes_),
        feature_names=names,
        mean=np.asarray(scaler.mean_, dtype=np.float64).copy(),
        scale=np.asarray(scaler.scale_, dtype=np.float64).copy(),
        coefficients=coef.copy(),
        intercepts=intercept.copy(),
        C=C,
        provenance=provenance,
        pipeline=pipeline,
    )


def _scores(head: Head, X: np.ndarray) -> np.ndarray:
    X = as_matrix(X)
    if X.shape[1] != len(head.feature_names):
        raise ValueError(f"X has {X.shape[1]} features; the head expects {len(head.feature_names)}")
    # The same operations, in the same order, as StandardScaler and decision_function,
    # so a saved head predicts exactly what the pipeline did.
    Z = X - head.mean
    Z /= head.scale
    return Z @ head.coefficients.T + head.intercepts


def head_probabilities(head: Head, X: np.ndarray) -> np.ndarray:
    """Softmax of the head's linear scores: shape (clips, classes), in ``head.classes`` order.

    ``X`` holds every feature of the head: for a head with a mesh, :func:`with_mesh`'s."""
    scores = _scores(head, X)
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def with_mesh(head: Head, X: np.ndarray, mesh: np.ndarray | None) -> np.ndarray:
    """``X`` with the head's mesh features after it (X itself for a head without mesh)."""
    X = as_matrix(X)
    if head.mesh is None:
        return X
    if mesh is None:
        raise ValueError("this head uses the face's mesh; the run has none (landmarks=mesh)")
    return np.hstack([X, head.mesh.transform(mesh)])


def predict_head(
    head: Head, X: np.ndarray, has_face: np.ndarray, mesh: np.ndarray | None = None
) -> list[str | None]:
    """The head's class per clip: standardise, linear scores, softmax, argmax; None where
    ``has_face`` is False. ``mesh``: the clips' mean meshes, for a head that uses them."""
    has_face = np.asarray(has_face, dtype=bool)
    X = with_mesh(head, X, mesh)
    if has_face.shape != (len(X),):
        raise ValueError(f"has_face must have one entry per clip ({len(X)})")
    # Softmax is monotonic: the argmax of the raw scores is the argmax of the
    # probabilities, without rounding in exp ever merging two distinct scores.
    best = np.argmax(_scores(head, X), axis=1)
    classes = np.asarray(head.classes, dtype=object)
    return [c if f else None for c, f in zip(classes[best].tolist(), has_face, strict=True)]
