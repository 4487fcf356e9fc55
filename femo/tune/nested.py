"""The network's own nested cross-validation: the rate and the number of epochs chosen
on inner folds of the training persons, never on the faces it is tested on.

For one training set (an outer fold's, or every labelled face for the model kept):
for each rate of the grid, a network is trained on each inner fold's training persons
for the grid's longest number of epochs and scored after each of the grid's epochs on
the inner fold's held-out persons (balanced accuracy over their clips, each clip voted
by its faces, as the study votes). The best (rate, epochs) over the pooled inner
predictions is then trained on the whole training set. The inner folds' predictions at
that choice are out-of-fold for every training face: the head on the tuned scores
learns from those, never from faces the network trained on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold

from .faces import Faces
from .network import Recipe

Say = Callable[[str], None]


@dataclass(frozen=True)
class Grid:
    """What the inner folds choose from, and how many there are."""

    rates: tuple[float, ...] = (3e-4, 1e-3)
    epochs: tuple[int, ...] = (8, 16, 24)
    inner_folds: int = 3

    def trainings(self, outer_folds: int) -> int:
        """Networks trained by a whole tuning: per outer fold and for the model kept,
        one per rate and inner fold, and one with the choice."""
        return (outer_folds + 1) * (len(self.rates) * self.inner_folds + 1)


@dataclass
class Trained:
    """One training set's outcome: the recipe chosen, every choice's inner score, the
    out-of-fold probabilities of the training faces at the choice, the probabilities of
    the test faces, and the network (kept only where asked)."""

    recipe: Recipe
    inner_scores: dict[str, float]
    oof: np.ndarray
    test: np.ndarray
    seconds: float  # the whole: networks built, trained, scored
    clock: list[tuple[int, float, int]]  # each epoch trained: number, seconds, faces
    face_epochs: int
    model: Any = field(default=None, repr=False)


@dataclass
class Progress:
    """Log lines while networks train: which training of how many, and its epochs."""

    say: Say
    total: int
    done: int = 0

    def training(self, what: str, recipe: Recipe, faces: int) -> Callable[[int, float], None]:
        self.done += 1
        head = f"training {self.done}/{self.total} ({what}): rate {recipe.rate:g}, {faces} faces"
        self.say(f"{head}, {recipe.epochs} epochs")
        started = time.perf_counter()

        def epoch(n: int, loss: float) -> None:
            if n == recipe.epochs or n % 4 == 0:
                elapsed = time.perf_counter() - started
                self.say(f"  epoch {n}/{recipe.epochs}: loss {loss:.4f} ({elapsed:.0f} s)")

        return epoch


def clip_votes(clip: np.ndarray, probabilities: np.ndarray, n_clips: int) -> np.ndarray:
    """Each clip's class by majority over its faces' top classes (a tie to the class
    listed first), -1 for a clip without a face."""
    n_classes = probabilities.shape[1]
    counts = np.zeros((n_clips, n_classes), np.int64)
    np.add.at(counts, (clip, probabilities.argmax(axis=1)), 1)
    return np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1)


def _inner_score(faces: Faces, y_clip: np.ndarray, probabilities: np.ndarray) -> float:
    votes = clip_votes(faces.clip, probabilities, len(y_clip))
    scored = np.unique(faces.clip)
    return float(balanced_accuracy_score(y_clip[scored], votes[scored]))


def train_and_choose(
    faces: Faces,
    y_clip: np.ndarray,
    groups: np.ndarray,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    grid: Grid,
    seed: int,
    progress: Progress,
    what: str,
    keep_model: bool = False,
) -> Trained:
    """Choose (rate, epochs) on inner folds of ``train_rows`` (faces), then train on all
    of them and predict ``test_rows``. ``y_clip``: each pooled clip's class index;
    ``groups``: each clip's person code."""
    from . import network

    n_classes = int(y_clip.max()) + 1
    train = faces.take(train_rows)
    y = y_clip[train.clip]
    person = groups[train.clip]
    n_splits = min(grid.inner_folds, len(np.unique(person)))
    splitter = GroupKFold(n_splits, shuffle=True, random_state=seed)
    longest = max(grid.epochs)
    pooled = {(r, e): np.zeros((len(train), n_classes), np.float32) for r in grid.rates for e in grid.epochs}  # fmt: skip
    started, face_epochs = time.perf_counter(), 0
    clock: list[tuple[int, float, int]] = []  # each epoch: number, seconds, faces
    for j, (fit_rows, held_rows) in enumerate(splitter.split(train.crops, y, person)):
        for rate in grid.rates:
            recipe = Recipe(rate, longest, seed=seed)

            def keep(
                predict: Any, epoch: int, rate: float = rate, held: np.ndarray = held_rows
            ) -> None:
                pooled[(rate, epoch)][held] = predict(train.crops[held])[0]

            network.train(
                train.crops[fit_rows], y[fit_rows], n_classes, recipe, grid.epochs, keep,
                progress.training(f"{what}, inner fold {j + 1}/{n_splits}", recipe, len(fit_rows)),
                clock,
            )  # fmt: skip
            face_epochs += longest * len(fit_rows)
            network.tensorflow().keras.backend.clear_session()
    scores = {key: _inner_score(train, y_clip, p) for key, p in pooled.items()}
    # The best inner score; a tie to fewer epochs, then the lower rate.
    rate, epochs = max(scores, key=lambda k: (scores[k], -k[1], -k[0]))
    chosen = Recipe(rate, epochs, seed=seed)
    model = network.train(
        train.crops, y, n_classes, chosen, (), None,
        progress.training(f"{what}, the choice", chosen, len(train)), clock,
    )  # fmt: skip
    face_epochs += epochs * len(train)
    test = network.predictor_of(model)(faces.crops[test_rows])[0]
    if not keep_model:
        model = None
        network.tensorflow().keras.backend.clear_session()
    return Trained(
        recipe=chosen,
        inner_scores={f"rate {r:g}, {e} epochs": s for (r, e), s in scores.items()},
        oof=pooled[(rate, epochs)],
        test=test,
        seconds=time.perf_counter() - started,
        clock=clock,
        face_epochs=face_epochs,
        model=model,
    )
