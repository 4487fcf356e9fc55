"""Clip features: one vector per clip summarising its frames' emotion scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...config import EMOTIONS, MappingConfig

# Keeps log() finite for a score of exactly 0.
LOG_EPSILON = 1e-6


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
