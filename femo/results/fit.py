"""A head learnt on labelled clips: clip features in, one class per clip out.

The study's method votes over each frame's top emotion. The vote throws away what the
scores below the top say (a Negative clip whose angry and disgust scores are raised but
whose top emotion stays neutral is called Neutral), so this module learns a small linear
head over per-clip summaries of the scores instead:

* :func:`clip_features` summarises each clip's frames (mean scores, mean log scores,
  vote shares, face-found rate, detector confidence);
* :func:`fit_head` fits standardisation + multinomial logistic regression, its
  regularisation chosen by cross-validation grouped by person;
* :func:`cross_validate_head` measures the head against the vote on the same held-out
  clips, never training and testing on one person;
* a :class:`Head` is saved as plain JSON (:func:`head_to_json`, :func:`head_from_json`),
  never pickled, so a head file from someone else cannot run code, and
  :func:`predict_head` applies it with numpy alone.

Pure functions first; reading and writing head files last.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..config import EMOTIONS, MappingConfig
from ..shards import write_atomically
from .stats import (
    accuracy_from_confusion,
    bootstrap_metrics,
    confusion_counts,
    macro_f1_from_confusion,
    paired_comparison,
    recall_from_confusion,
)

FORMAT = "femo-head"
VERSION = 1
# Keeps log() finite for a score of exactly 0.
LOG_EPSILON = 1e-6
C_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3, 2, 8))
INNER_FOLDS = 5
# Fewer persons than this in a training set: C is chosen by stratified folds over clips.
MIN_GROUPS_FOR_GROUPED_INNER_CV = 3
MAX_ITER = 5000
SCORING = "balanced_accuracy"


# ---------------------------------------------------------------- features


def feature_names_for(mapping: MappingConfig) -> list[str]:
    """The names of :func:`clip_features`' columns, in order, for ``mapping``."""
    return [
        *(f"mean_{e}" for e in EMOTIONS),
        *(f"log_mean_{e}" for e in EMOTIONS),
        *(f"share_{c}" for c in mapping.classes),
        "face_rate",
        "detector_confidence",
    ]


def clip_features(
    frame_rows: pd.DataFrame,
    per_frame: pd.DataFrame,
    mapping: MappingConfig,
    videos: list[str],
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """One feature vector per clip of ``videos`` (in that order).

    ``frame_rows`` are the shards' frame rows (every sampled frame, with or without a
    face); ``per_frame`` is :func:`femo.results.reduce.frame_emotions` of them: one row per
    (clip, frame) with a classified face, holding the chosen face's top ``emotion`` and
    its 7 scores. Per clip, over its frames with a face:

    * ``mean_<emotion>``: mean of the chosen face's 7 scores;
    * ``log_mean_<emotion>``: mean of ``log(score + 1e-6)``;
    * ``share_<class>``: share of those frames whose top emotion maps to the class;

    then ``face_rate`` (frames with a face / sampled frames) and ``detector_confidence``
    (mean MTCNN confidence over the clip's detected faces, 0 where there is none, as
    for Haar). A clip without any face (or absent from the rows) gets a zero vector.

    Returns ``(X, feature_names, has_face)``: X of shape (clips, features), and whether
    each clip had a face in at least one sampled frame.
    """
    index = pd.Index(videos, name="video")
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()[0]
        raise ValueError(f"videos lists clip {dup!r} more than once")
    names = feature_names_for(mapping)
    emotions = list(EMOTIONS)
    classes = list(mapping.classes)

    scores = per_frame[emotions].to_numpy(dtype=np.float64)
    codes = pd.Categorical(per_frame["emotion"].map(mapping.emotions), categories=classes).codes
    shares = np.zeros((len(per_frame), len(classes)))
    shares[np.arange(len(per_frame))[codes >= 0], codes[codes >= 0]] = 1.0
    per_frame_features = pd.DataFrame(
        np.hstack([scores, np.log(scores + LOG_EPSILON), shares]),
        columns=names[: 2 * len(emotions) + len(classes)],
    )
    per_frame_features["video"] = per_frame["video"].to_numpy()
    means = per_frame_features.groupby("video", sort=False).mean().reindex(index)

    with_face = per_frame.groupby("video")["frame"].nunique().reindex(index, fill_value=0)
    sampled = frame_rows.groupby("video")["frame"].nunique().reindex(index, fill_value=0)
    short = with_face.to_numpy() > sampled.to_numpy()
    if short.any():
        raise ValueError(
            f"per_frame has more frames with a face than frame_rows sampled for clip "
            f"{index[short][0]!r}: were both made from the same shards?"
        )
    face_rate = np.divide(
        with_face.to_numpy(dtype=np.float64),
        sampled.to_numpy(dtype=np.float64),
        out=np.zeros(len(index)),
        where=sampled.to_numpy() > 0,
    )
    if "detector_confidence" in frame_rows:
        faces = frame_rows[frame_rows["face"].notna()]
        confidence = (
            faces["detector_confidence"]
            .astype(np.float64)
            .groupby(faces["video"])
            .mean()
            .reindex(index)
            .fillna(0.0)
            .to_numpy()
        )
    else:
        confidence = np.zeros(len(index))

    has_face = with_face.to_numpy() > 0
    X = np.column_stack([means.to_numpy(dtype=np.float64), face_rate, confidence])
    X[~has_face] = 0.0
    return X, names, has_face


# ---------------------------------------------------------------- the head


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


def _matrix(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (clips x features), got shape {X.shape}")
    return X


def _labels(y: Sequence[Any], classes: Sequence[str], n: int) -> np.ndarray:
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


def _group_codes(groups: Sequence[Hashable] | None, labelled: np.ndarray) -> np.ndarray | None:
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
) -> Head:
    """Fit standardisation + class-balanced multinomial logistic regression.

    Trains on the clips with a face and a golden label (``y`` None: unlabelled). C is
    chosen from ``grid`` by cross-validation (balanced accuracy) grouped by person
    (``groups``) when the training clips hold at least 3 persons, else by stratified
    folds over clips. ``has_face`` defaults to the rows that are not all zero (what
    :func:`clip_features` gives a clip without a face); ``feature_names`` default to
    ``x0, x1, ...``.
    """
    X = _matrix(X)
    names = (
        tuple(f"x{i}" for i in range(X.shape[1]))
        if feature_names is None
        else tuple(str(n) for n in feature_names)
    )
    if len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} feature names for {X.shape[1]} features")
    labels = _labels(y, classes, len(X))
    labelled = np.array([v is not None for v in labels], dtype=bool)
    face = np.any(X != 0, axis=1) if has_face is None else np.asarray(has_face, dtype=bool)
    if face.shape != (len(X),):
        raise ValueError(f"has_face must have one entry per clip ({len(X)})")
    codes = _group_codes(groups, labelled)
    train = labelled & face
    y_train = labels[train].astype(str)
    present = np.unique(y_train)
    if len(present) < 2:
        raise ValueError(
            f"a head needs labelled clips with a face of at least 2 classes, got {list(present)}"
        )
    g_train = None if codes is None else codes[train]
    cv, unit = _inner_cv(y_train, g_train, seed)
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "model",
                LogisticRegression(class_weight="balanced", max_iter=MAX_ITER, random_state=seed),
            ),
        ]
    )
    search = GridSearchCV(
        pipeline, {"model__C": [float(c) for c in grid]}, scoring=SCORING, cv=cv, refit=True
    )
    search.fit(X[train], y_train, groups=g_train if unit == "person" else None)
    best: Pipeline = search.best_estimator_
    inner_cv = {
        "unit": unit,
        "n_splits": cv.get_n_splits(),
        "scoring": SCORING,
        "C_grid": [float(c) for c in grid],
    }
    return _head_from_pipeline(
        best, names, float(search.best_params_["model__C"]), {"inner_cv": inner_cv}
    )


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
    X = _matrix(X)
    if X.shape[1] != len(head.feature_names):
        raise ValueError(f"X has {X.shape[1]} features; the head expects {len(head.feature_names)}")
    # The same operations, in the same order, as StandardScaler and decision_function,
    # so a saved head predicts exactly what the pipeline did.
    Z = X - head.mean
    Z /= head.scale
    return Z @ head.coefficients.T + head.intercepts


def head_probabilities(head: Head, X: np.ndarray) -> np.ndarray:
    """Softmax of the head's linear scores: shape (clips, classes), in ``head.classes`` order."""
    scores = _scores(head, X)
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def predict_head(head: Head, X: np.ndarray, has_face: np.ndarray) -> list[str | None]:
    """The head's class per clip: standardise, linear scores, softmax, argmax; None where
    ``has_face`` is False."""
    has_face = np.asarray(has_face, dtype=bool)
    X = _matrix(X)
    if has_face.shape != (len(X),):
        raise ValueError(f"has_face must have one entry per clip ({len(X)})")
    # Softmax is monotonic: the argmax of the raw scores is the argmax of the
    # probabilities, without rounding in exp ever merging two distinct scores.
    best = np.argmax(_scores(head, X), axis=1)
    classes = np.asarray(head.classes, dtype=object)
    return [c if f else None for c, f in zip(classes[best].tolist(), has_face, strict=True)]


# ---------------------------------------------------------------- cross-validation


def _method_figures(
    golden: list[str],
    predicted: list[str | None],
    groups: list[int] | None,
    classes: Sequence[str],
    resamples: int,
    level: float,
    seed: int,
) -> dict[str, Any]:
    confusion = confusion_counts(golden, predicted, classes)
    present = np.flatnonzero(confusion.sum(axis=1))
    recall = recall_from_confusion(confusion)
    boot = bootstrap_metrics(golden, predicted, classes, groups, resamples, level, seed)

    def as_list(interval: Any) -> list[float] | None:
        return None if interval is None else interval.as_list()

    return {
        "accuracy": float(accuracy_from_confusion(confusion)),
        "accuracy_ci": as_list(boot["accuracy"]),
        "macro_f1": float(macro_f1_from_confusion(confusion, present)),
        "macro_f1_ci": as_list(boot["macro_f1"]),
        "recall": {
            c: None if math.isnan(r) else float(r) for c, r in zip(classes, recall, strict=True)
        },
        "recall_ci": {c: as_list(i) for c, i in boot["recall"].items()},
        "confusion": {
            g: dict(zip([*classes, "none"], map(int, row), strict=True))
            for g, row in zip(classes, confusion, strict=True)
        },
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
) -> dict[str, Any]:
    if not golden:
        return {"n": 0, "head": None, "vote": None, "comparison": None}
    paired = paired_comparison(golden, vote, head, groups, resamples, level, seed)
    ci = paired["difference_ci"]
    return {
        "n": len(golden),
        "support": {c: golden.count(c) for c in classes},
        "head": _method_figures(golden, head, groups, classes, resamples, level, seed),
        "vote": _method_figures(golden, vote, groups, classes, resamples, level, seed),
        "comparison": {
            "difference": paired["difference"],
            "difference_ci": None if ci is None else ci.as_list(),
            "mcnemar_p": paired["mcnemar_p"],
            "head_only_right": paired["b_only_right"],
            "vote_only_right": paired["a_only_right"],
            "significant": paired["significant"],
        },
    }


def cross_validate_head(
    X: np.ndarray,
    y: Sequence[str | None],
    groups: Sequence[Hashable] | None,
    baseline_predictions: Sequence[str | None],
    classes: Sequence[str],
    folds: int = 5,
    seed: int = 0,
    resamples: int = 2000,
    *,
    has_face: np.ndarray | None = None,
    level: float = 0.95,
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
    exact McNemar p. ``"per_clip"`` holds each clip's held-out fold (-1: unlabelled) and
    head prediction; :func:`cv_figures` drops it. Every value is plain JSON.
    """
    X = _matrix(X)
    n = len(X)
    labels = _labels(y, classes, n)
    vote = _labels(baseline_predictions, classes, n)
    labelled = np.array([v is not None for v in labels], dtype=bool)
    face = np.any(X != 0, axis=1) if has_face is None else np.asarray(has_face, dtype=bool)
    if face.shape != (n,):
        raise ValueError(f"has_face must have one entry per clip ({n})")
    codes = _group_codes(groups, labelled)
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
    test_fold = np.full(n, -1, dtype=int)
    chosen_c = []
    inner_units = []
    for fold, (train_idx, test_idx) in enumerate(
        splitter.split(X[rows], labels[rows].astype(str), outer_groups[rows])
    ):
        train, test = rows[train_idx], rows[test_idx]
        head = fit_head(
            X[train],
            labels[train],
            None if codes is None else codes[train],
            classes,
            seed,
            has_face=face[train],
        )
        chosen_c.append(head.C)
        inner_units.append(head.provenance["inner_cv"]["unit"])
        for i, p in zip(test, predict_head(head, X[test], face[test]), strict=True):
            head_pred[i] = p
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
        )

    return {
        "classes": list(classes),
        "folds": {
            "splitter": "GroupKFold",
            "n_splits": n_splits,
            "unit": "person" if by_person else "clip",
            "n_units": n_units,
            "inner_scoring": SCORING,
            "C_grid": [float(c) for c in C_GRID],
            "C": chosen_c,
            "inner_unit": inner_units,
            "seed": seed,
        },
        "ci": {"method": "percentile bootstrap", "level": level, "resamples": resamples},
        "all": subset(labelled),
        "with_face": subset(labelled & face),
        "per_clip": {"test_fold": test_fold.tolist(), "head": head_pred},
    }


def cv_figures(cv: dict[str, Any]) -> dict[str, Any]:
    """``cv`` without its per-clip lists: the figures to keep in a head's provenance."""
    return {k: v for k, v in cv.items() if k != "per_clip"}


# ---------------------------------------------------------------- JSON


def head_to_json(head: Head, provenance: dict[str, Any]) -> dict[str, Any]:
    """The head as plain JSON data (lists, numbers, strings), with ``provenance`` (runs,
    clip counts, versions, the detectors of the runs, CV figures) merged over the
    head's own. Raises ``ValueError`` if the provenance is not plain JSON."""
    merged = {**head.provenance, **provenance}
    try:
        json.dumps(merged, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"head provenance is not plain JSON: {exc}") from None
    return {
        "format": FORMAT,
        "version": VERSION,
        "classes": list(head.classes),
        "feature_names": list(head.feature_names),
        "scaler": {"mean": head.mean.tolist(), "scale": head.scale.tolist()},
        "coefficients": head.coefficients.tolist(),
        "intercepts": head.intercepts.tolist(),
        "C": float(head.C),
        "provenance": json.loads(json.dumps(merged)),
    }


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _numbers(value: Any, length: int, what: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != length:
        got = f"{len(value)} items" if isinstance(value, list) else type(value).__name__
        raise ValueError(f"head file: {what} must be a list of {length} numbers, got {got}")
    if not all(_is_number(v) for v in value):
        raise ValueError(f"head file: {what} holds something that is not a finite number")
    return np.array(value, dtype=np.float64)


def _names(value: Any, what: str, minimum: int) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or len(value) < minimum
        or not all(isinstance(v, str) for v in value)
    ):
        raise ValueError(f"head file: {what} must be a list of at least {minimum} strings")
    if len(set(value)) != len(value):
        raise ValueError(f"head file: {what} lists a name twice")
    return tuple(value)


def head_from_json(data: dict[str, Any]) -> Head:
    """A :class:`Head` from :func:`head_to_json`'s data, checked field by field.

    Raises ``ValueError`` with one line on anything wrong: another format or version,
    a missing field, lengths that do not match, non-numbers.
    """
    if not isinstance(data, dict):
        raise ValueError(f"head file: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ValueError(f"not a femo head file (format {data.get('format')!r}, not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ValueError(
            f"femo head version {data.get('version')!r} is not supported (this femo reads {VERSION})"
        )
    required = ("classes", "feature_names", "scaler", "coefficients", "intercepts", "C")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"head file: missing {', '.join(missing)}")
    unknown = sorted(set(data) - {"format", "version", "provenance", *required})
    if unknown:
        raise ValueError(f"head file: unknown key(s) {', '.join(unknown)}")
    classes = _names(data["classes"], "classes", 2)
    names = _names(data["feature_names"], "feature_names", 1)
    k, f = len(classes), len(names)
    scaler = data["scaler"]
    if not isinstance(scaler, dict):
        raise ValueError("head file: scaler must be an object with mean and scale")
    mean = _numbers(scaler.get("mean"), f, "scaler.mean")
    scale = _numbers(scaler.get("scale"), f, "scaler.scale")
    if (scale <= 0).any():
        raise ValueError("head file: scaler.scale must be positive")
    rows = data["coefficients"]
    if not isinstance(rows, list) or len(rows) != k:
        raise ValueError(f"head file: coefficients must be {k} rows (one per class) of {f} numbers")
    coefficients = np.vstack(
        [_numbers(row, f, f"coefficients row {i}") for i, row in enumerate(rows)]
    )
    intercepts = _numbers(data["intercepts"], k, "intercepts")
    if not _is_number(data["C"]) or data["C"] <= 0:
        raise ValueError(f"head file: C must be a positive number, got {data['C']!r}")
    provenance = data.get("provenance", {})
    if not isinstance(provenance, dict):
        raise ValueError("head file: provenance must be an object")
    detectors = provenance.get("detectors")
    if detectors is not None and (
        not isinstance(detectors, list) or not all(isinstance(d, str) for d in detectors)
    ):
        raise ValueError("head file: provenance.detectors must be a list of detector names")
    return Head(
        classes=classes,
        feature_names=names,
        mean=mean,
        scale=scale,
        coefficients=coefficients,
        intercepts=intercepts,
        C=float(data["C"]),
        provenance=provenance,
    )


def check_head_fits(head: Head, feature_names: Sequence[str], detectors: set[str]) -> None:
    """Raise ``ValueError`` unless ``head`` can be applied to a run's features.

    The features must be the head's, in its order; the run's ``detectors`` must all be
    among those of the runs the head was fit on (``provenance["detectors"]``): the
    scores, face rates and confidences of Haar and MTCNN differ.
    """
    names = list(feature_names)
    if names != list(head.feature_names):
        missing = [n for n in head.feature_names if n not in names]
        extra = [n for n in names if n not in head.feature_names]
        if missing or extra:
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unexpected {', '.join(extra)}" if extra else "",
                )
                if part
            )
        else:
            detail = "same names in another order"
        raise ValueError(f"this head was fit on other features than this run's ({detail})")
    fitted = head.provenance.get("detectors")
    if not fitted:
        raise ValueError(
            "this head does not record which detectors its runs used, so it cannot be "
            "checked against this run (fit it again with femo)"
        )
    unseen = sorted(set(detectors) - set(fitted))
    if unseen:
        raise ValueError(
            f"this head was fit on {' and '.join(sorted(fitted))} runs; this run used "
            f"{' and '.join(unseen)} (fit a head on both to use it here)"
        )


# ---------------------------------------------------------------- report


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(interval: list[float] | None) -> str:
    return "" if interval is None else f" [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else "< 0.0001"


def _inner_text(units: list[str]) -> str:
    by_clip = units.count("clip")
    if by_clip == 0:
        return "cross-validation grouped by person"
    if by_clip == len(units):
        return "stratified cross-validation over clips"
    return (
        f"cross-validation grouped by person (stratified over clips in {by_clip} fold(s) "
        f"whose training part had fewer than {MIN_GROUPS_FOR_GROUPED_INNER_CV} persons)"
    )


def fit_report_markdown(cv: dict[str, Any]) -> str:
    """A short Markdown report of :func:`cross_validate_head`'s figures."""
    folds, ci = cv["folds"], cv["ci"]
    classes = cv["classes"]
    unit = "person" if folds["unit"] == "person" else "clip"
    units = "persons" if unit == "person" else "clips"
    lines = [
        "## Learnt head vs the study's method",
        "",
        f"Cross-validated over {cv['all']['n']} labelled clips: {folds['n_splits']} folds "
        f"grouped by {unit} ({folds['n_units']} {units}"
        + ("; no person is both trained and tested on in a fold" if unit == "person" else "")
        + "). C was chosen inside each training fold by "
        + _inner_text(folds.get("inner_unit", []))
        + f" (chosen: {', '.join(f'{c:.3g}' for c in folds['C'])}). Both methods are scored "
        "on the same held-out clips; the vote is the study's method. Intervals are "
        f"{100 * ci['level']:.0f}% {ci['method']} intervals ({ci['resamples']} resamples "
        f"of {units}).",
        "",
        "| Clips | n | Study's method (vote) | Learnt head | Head − vote | McNemar p |",
        "|---|---:|---|---|---|---:|",
    ]
    for key, title in (("all", "All labelled (no face = wrong)"), ("with_face", "With a face")):
        part = cv[key]
        if not part["n"]:
            lines.append(f"| {title} | 0 | | | | |")
            continue
        vote, head, comp = part["vote"], part["head"], part["comparison"]
        diff = comp["difference"]
        diff_ci = comp["difference_ci"]
        diff_text = f"{100 * diff:+.1f} points" + (
            "" if diff_ci is None else f" [{100 * diff_ci[0]:+.1f}, {100 * diff_ci[1]:+.1f}]"
        )
        lines.append(
            f"| {title} | {part['n']} | {_pct(vote['accuracy'])}{_ci(vote['accuracy_ci'])} | "
            f"{_pct(head['accuracy'])}{_ci(head['accuracy_ci'])} | {diff_text} | "
            f"{_p(comp['mcnemar_p'])} |"
        )
    part = cv["all"]
    if part["n"]:
        lines += [
            "",
            "Recall per class (all labelled clips):",
            "",
            "| Class | Support | Study's method (vote) | Learnt head |",
            "|---|---:|---|---|",
        ]
        for c in classes:
            lines.append(
                f"| {c} | {part['support'][c]} | "
                f"{_pct(part['vote']['recall'][c])}{_ci(part['vote']['recall_ci'][c])} | "
                f"{_pct(part['head']['recall'][c])}{_ci(part['head']['recall_ci'][c])} |"
            )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def save_head(path: str | Path, head: Head, provenance: dict[str, Any]) -> None:
    """Write the head as JSON (:func:`head_to_json`), atomically."""
    text = json.dumps(head_to_json(head, provenance), indent=2) + "\n"
    write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def load_head(path: str | Path) -> Head:
    """Read a head file written by :func:`save_head`; ``ValueError`` if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a JSON file: {exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text (JSON) file") from None
    try:
        return head_from_json(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
