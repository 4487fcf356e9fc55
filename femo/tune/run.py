"""One tuning, start to end, in the process that trains (here, or the cluster job).

The runs' labelled faces are re-read; the five candidates are cross-validated on the
same outer folds (femo fit's); the network kept is tuned on every labelled face; then,
and only then, the files are written: the TFLite model with its provenance, the Keras
model it equals, the head on its scores, the report and the figures for the console.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np

from ..results.fit.candidates import compare_candidates
from ..results.fit.clips import LabelledClips
from ..results.fit.crossval import cross_validate_head
from ..results.fit.model import as_labels, fit_head, group_codes, predict_head
from .export import class_emotions
from .faces import Faces, check_crops, read_faces
from .nested import Progress, Trained, train_and_choose
from .outputs import head_on_tuned_scores, write_outputs
from .request import TuneRequest, gather
from .views import clip_means, tuned_clips

Say = Callable[[str], None]


def run_tuning(
    request: TuneRequest, say: Say, clips: LabelledClips | None = None
) -> dict[str, Any]:
    """Tune, compare and write; returns the outcome (what ``outcome.json`` holds).
    ``clips``: the runs' clips where the request's check already read them."""
    started = time.perf_counter()
    clips = clips or gather(request)
    faces = read_faces(clips, say)
    check_crops(faces)
    say("the re-read faces give the runs' own scores: they are the crops the runs scored")
    config = clips.config
    boot = asdict(config.report.bootstrap)
    classes = clips.classes
    emotions = class_emotions(config.mapping.emotions, classes)
    labels = as_labels(clips.golden, classes, len(clips.golden))
    index = {c: i for i, c in enumerate(classes)}
    y_clip = np.array([index.get(g, -1) for g in labels], np.intp)
    codes = group_codes(clips.groups, labels != None)  # noqa: E711 (an object array)
    assert codes is not None

    from . import network

    fer_features = clip_means(network.fer_features(faces.crops), faces, len(labels))
    common = {"has_face": clips.has_face, "min_units": config.report.min_units, **boot}
    say("cross-validating the heads on fer's scores (the mesh, fer's features)")
    cv_scores = cross_validate_head(
        clips.X, clips.golden, clips.groups, clips.votes, classes,
        folds=request.folds, mesh=clips.mesh, **common,
    )  # fmt: skip
    cv_features = cross_validate_head(
        np.hstack([clips.X, fer_features]), clips.golden, clips.groups, clips.votes, classes,
        folds=request.folds, **common,
    )  # fmt: skip
    test_fold = np.asarray(cv_scores["per_clip"]["test_fold"])
    predictions = {
        "scores": cv_scores["per_clip"].get("scores_only", cv_scores["per_clip"]["head"])
    }
    if clips.mesh is not None:
        predictions["scores_mesh"] = cv_scores["per_clip"]["head"]
    predictions["scores_features"] = cv_features["per_clip"]["head"]

    n_folds = int(test_fold.max()) + 1
    progress = Progress(say, request.grid.trainings(n_folds))
    tuned, tuned_mesh, outer = _outer_folds(
        clips, faces, y_clip, codes, test_fold, emotions, request, progress, boot["seed"]
    )
    predictions["tuned"] = tuned
    if clips.mesh is not None:
        predictions["tuned_mesh"] = tuned_mesh
    comparison = compare_candidates(
        clips.golden, clips.groups, clips.votes, clips.has_face, predictions, classes,
        resamples=boot["resamples"], level=boot["level"], seed=boot["seed"],
        min_units=config.report.min_units,
    )  # fmt: skip

    labelled_faces = np.flatnonzero(test_fold[faces.clip] >= 0)
    kept = train_and_choose(
        faces, y_clip, codes, labelled_faces, np.array([], np.intp), request.grid,
        boot["seed"], progress, "the model kept", keep_model=True,
    )  # fmt: skip
    oof = np.zeros((len(faces), len(classes)), np.float32)
    oof[labelled_faces] = kept.oof
    X_kept, _ = tuned_clips(clips, faces, oof, emotions)
    head, head_choice = head_on_tuned_scores(clips, X_kept, boot["seed"])

    trainings = [*outer, kept]
    face_epochs = sum(t.face_epochs for t in trainings)
    clock = [entry for t in trainings for entry in t.clock]
    # A network's first epoch also builds its step functions; the rate is the others'.
    later = [(seconds, n) for epoch, seconds, n in clock if epoch > 1] or [
        (s, n) for _, s, n in clock
    ]
    tuning = {
        "faces": len(faces),
        "folds": {**{k: cv_scores["folds"][k] for k in ("n_splits", "unit", "n_units", "seed")}},
        "grid": asdict(request.grid),
        "outer": [{**t.recipe.as_json(), "inner_scores": t.inner_scores} for t in outer],
        "kept": {**kept.recipe.as_json(), "inner_scores": kept.inner_scores},
        "networks": progress.done,
        "face_epochs": face_epochs,
        "train_seconds": sum(t.seconds for t in trainings),
        "epoch_seconds": sum(seconds for _, seconds, _ in clock),
        "seconds_per_1000": 1000 * sum(s for s, _ in later) / max(sum(n for _, n in later), 1),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": time.perf_counter() - started,
        "head": head_choice,
    }
    return write_outputs(request, clips, faces, kept, head, emotions, comparison, tuning, say)


def _outer_folds(
    clips: LabelledClips,
    faces: Faces,
    y_clip: np.ndarray,
    codes: np.ndarray,
    test_fold: np.ndarray,
    emotions: list[str],
    request: TuneRequest,
    progress: Progress,
    seed: int,
) -> tuple[list[str | None], list[str | None], list[Trained]]:
    """The tuned network's vote and the head on its scores (with the mesh), on each
    outer fold's held-out clips; the head learns from the inner folds' out-of-fold
    scores of the training clips."""
    n = len(clips.golden)
    tuned: list[str | None] = [None] * n
    tuned_mesh: list[str | None] = [None] * n
    outer = []
    face_fold = test_fold[faces.clip]
    for fold in range(int(test_fold.max()) + 1):
        train_rows = np.flatnonzero((face_fold >= 0) & (face_fold != fold))
        test_rows = np.flatnonzero(face_fold == fold)
        what = f"fold {fold + 1}/{test_fold.max() + 1}"
        trained = train_and_choose(
            faces, y_clip, codes, train_rows, test_rows, request.grid, seed,
            progress, what,
        )  # fmt: skip
        outer.append(trained)
        probabilities = np.zeros((len(faces), len(emotions)), np.float32)
        probabilities[train_rows], probabilities[test_rows] = trained.oof, trained.test
        X, votes = tuned_clips(clips, faces, probabilities, emotions)
        test = np.flatnonzero(test_fold == fold)
        for i in test:
            tuned[i] = votes[i]
        if clips.mesh is None:
            continue
        train = np.flatnonzero((test_fold >= 0) & (test_fold != fold))
        head = fit_head(
            X[train], [clips.golden[i] for i in train], codes[train], clips.classes,
            seed, has_face=clips.has_face[train], mesh=clips.mesh[train],
        )  # fmt: skip
        for i, p in zip(
            test, predict_head(head, X[test], clips.has_face[test], clips.mesh[test]), strict=True
        ):
            tuned_mesh[i] = p
    return tuned, tuned_mesh, outer
