"""What the runs would have given with the tuned network as their classifier.

Each scored face's class probabilities take the place of fer's seven scores (each class
on its emotion, :func:`femo.tune.export.class_emotions`; the others 0), and the clips are
reduced by the same code as ``femo reduce`` and ``femo fit``: the same chosen faces,
the same vote, the same clip features. So a head fitted here reads what a run made with
``classifier=custom`` and the tuned TFLite file gives it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..config import EMOTIONS
from ..results.fit.clips import LabelledClips
from ..results.fit.features import clip_features
from ..results.reduce import frame_emotions, reduce_clips
from .faces import Faces


def emotion_scores(probabilities: np.ndarray, emotions: Sequence[str]) -> np.ndarray:
    """Class probabilities (faces, classes) as seven scores, each class on its emotion."""
    scores = np.zeros((len(probabilities), len(EMOTIONS)), np.float32)
    for k, emotion in enumerate(emotions):
        scores[:, EMOTIONS.index(emotion)] = probabilities[:, k]
    return scores


def tuned_clips(
    clips: LabelledClips, faces: Faces, probabilities: np.ndarray, emotions: Sequence[str]
) -> tuple[np.ndarray, list[str | None]]:
    """Per pooled clip: ``femo fit``'s features and the study's vote, had each face of
    ``faces`` been scored ``probabilities`` (faces, classes). Clips without a face in
    ``faces`` have no face."""
    scores = emotion_scores(probabilities, emotions)
    X = np.zeros_like(clips.X)
    votes: list[str | None] = [None] * len(clips.golden)
    for k, part in enumerate(clips.parts):
        run, config = part.reduced.run, part.config
        mine = np.flatnonzero(faces.part == k)
        rows = _rescored(run.shards.frame_rows, faces.keys.iloc[mine], scores[mine])
        per_frame = frame_emotions(rows, config.reduce)
        end = part.start + len(part.videos)
        X[part.start : end], _, _ = clip_features(
            run.shards.frame_rows, per_frame, config.mapping, part.videos
        )
        results = reduce_clips(
            part.videos, run.shards, run.labels.by_video, config.mapping, config.reduce,
            part.reduced.groups, per_frame, run.persons,
        )  # fmt: skip
        votes[part.start : end] = [r.predict for r in results]
    return X, votes


def _rescored(rows: pd.DataFrame, keys: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """The frame rows with only the faces of ``keys`` scored, with ``scores``."""
    out = rows.copy()
    values = np.full((len(rows), len(EMOTIONS)), np.nan, np.float32)
    where = pd.Series(np.arange(len(rows)), index=_index(rows))
    at = where.reindex(_index(keys)).to_numpy()
    if np.isnan(at.astype(np.float64)).any():
        raise ValueError("a tuned face is not among the run's frame rows")
    values[at.astype(np.intp)] = scores
    for j, emotion in enumerate(EMOTIONS):
        out[emotion] = values[:, j]
    return out


def _index(rows: pd.DataFrame) -> pd.MultiIndex:
    face = pd.to_numeric(rows["face"]).fillna(-1).astype(np.int64).to_numpy()
    return pd.MultiIndex.from_arrays(
        [rows["video"].astype(str).to_numpy(), rows["frame"].astype(np.int64).to_numpy(), face]
    )


def clip_means(values: np.ndarray, faces: Faces, n_clips: int) -> np.ndarray:
    """Per clip, the mean of its faces' ``values`` (faces, k); zeros for a clip without."""
    sums = np.zeros((n_clips, values.shape[1]))
    np.add.at(sums, faces.clip, values)
    counts = np.bincount(faces.clip, minlength=n_clips)[:, None]
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
