"""Head files: a :class:`~femo.results.fit.model.Head` as plain JSON, never pickled, so a
head file from someone else cannot run code; read back field by field."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...config import ClassifierConfig
from ...shard_files import write_atomically
from .fitted_clips import read_fitted_clips
from .mesh_features import MESH_VALUES, PREFIX, SCALINGS, MeshBlock
from .model import Head

FORMAT = "femo-head"
# What made the scores of a head file from before heads recorded it: fer's model.
FER_SCORES = ClassifierConfig().identity
VERSION = 1


def head_to_json(head: Head, provenance: dict[str, Any]) -> dict[str, Any]:
    """The head as plain JSON data (lists, numbers, strings), with ``provenance`` (runs,
    clip counts, versions, the detectors of the runs, CV figures) merged over the
    head's own. Raises ``ValueError`` if the provenance is not plain JSON."""
    merged = {**head.provenance, **provenance}
    try:
        json.dumps(merged, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"head provenance is not plain JSON: {exc}") from None
    data = {
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
    if head.mesh is not None:  # the face's mesh, reduced on its own before the scaler
        data["mesh"] = head.mesh.to_json()
    return data


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
    unknown = sorted(set(data) - {"format", "version", "provenance", "mesh", *required})
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
    classifiers = provenance.get("classifiers")
    if classifiers is not None and (
        not isinstance(classifiers, list) or not all(isinstance(c, str) for c in classifiers)
    ):
        raise ValueError("head file: provenance.classifiers must be a list of classifier texts")
    read_fitted_clips(provenance)  # checked here, so that a bad list is one line on loading
    return Head(
        classes=classes,
        feature_names=names,
        mean=mean,
        scale=scale,
        coefficients=coefficients,
        intercepts=intercepts,
        C=float(data["C"]),
        provenance=provenance,
        mesh=None if "mesh" not in data else _mesh_block(data["mesh"], names),
    )


def _mesh_block(value: Any, names: tuple[str, ...]) -> MeshBlock:
    """The head file's ``mesh`` block, checked: its components are the last feature names."""
    if not isinstance(value, dict) or value.get("values") != MESH_VALUES:
        raise ValueError(f"head file: mesh must be an object for meshes of {MESH_VALUES} values")
    if value.get("scaling") not in SCALINGS:
        raise ValueError(f"head file: mesh.scaling must be one of {', '.join(SCALINGS)}")
    rows = value.get("components")
    k = len(rows) if isinstance(rows, list) else 0
    if not k or list(names[-k:]) != [f"{PREFIX}{i + 1}" for i in range(k)]:
        raise ValueError(f"head file: mesh.components must be one row per {PREFIX}N feature")
    vectors = {
        key: _numbers(value.get(key), MESH_VALUES, f"mesh.{key}")
        for key in ("fill", "mean", "scale", "pca_mean")
    }
    if (vectors["scale"] <= 0).any():
        raise ValueError("head file: mesh.scale must be positive")
    components = np.vstack(
        [_numbers(row, MESH_VALUES, f"mesh.components row {i}") for i, row in enumerate(rows)]
    )
    return MeshBlock(**vectors, components=components, scaling=value["scaling"])


def check_head_fits(
    head: Head,
    feature_names: Sequence[str],
    detectors: set[str],
    classifiers: set[str] = frozenset({FER_SCORES}),
) -> None:
    """Raise ``ValueError`` unless ``head`` can be applied to a run's features.

    The features must be the head's, in its order; the run's ``detectors`` must all be
    among those of the runs the head was fit on (``provenance["detectors"]``): the
    scores, face rates and confidences of Haar and MTCNN differ. So must the run's
    ``classifiers`` (each its config's ``identity``; ``provenance["classifiers"]``):
    another model's scores, or fer's file fed another way, mean something else. A head
    from before classifiers were recorded was fit on fer's scores.
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
    scored_by = head.provenance.get("classifiers") or [FER_SCORES]
    unseen = sorted(set(classifiers) - set(scored_by))
    if unseen:
        raise ValueError(
            f"this head was fit on the scores of {' and '.join(sorted(scored_by))}; this "
            f"run's are from {' and '.join(unseen)} (fit a head on this run's scores)"
        )


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
