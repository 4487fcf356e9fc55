"""A run's chosen faces under ``reduce.face`` and its per-identity profiles: what the
reduce stage reads of an identity=dlib run (the shards' embeddings, references.parquet,
the labels' person column) handed to the pure functions of :mod:`femo.results.faces.match`
and :mod:`femo.results.faces.identities`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...config import EMOTIONS, RunConfig
from ...dataset import read_labels
from ...rundir import Plan, RunDir
from ..reduce import ShardData, _top_emotions, frame_emotions
from .identities import face_table, identity_profiles
from .match import chosen_faces, face_embeddings, identify, read_references


def read_persons(run: RunDir, config: RunConfig, plan: Plan) -> dict[str, str]:
    """Each clip's labelled person (``dataset.person_column``), from the run's labels."""
    if not config.dataset.person_column or not run.labels_file.is_file():
        return {}
    labels_file = config.dataset.labels or str(run.labels_file)
    return read_labels(labels_file, config.dataset, config.mapping, plan.clips).persons


def chosen_emotions(
    run: RunDir, shards: ShardData, config: RunConfig, persons: dict[str, str]
) -> tuple[Any, dict[str, Any] | None]:
    """The scored face's emotions per frame under ``reduce.face``, and (a run with
    reference photos) the per-identity profiles."""
    refs = run.references_file
    wants = config.reduce.face in ("main", "person") or refs.is_file()
    if config.identity.name == "none" or not wants:
        return frame_emotions(shards.frame_rows, config.reduce), None
    rows = shards.frame_rows
    embeddings = face_embeddings(shards.shard_files, shards.clip_rows, rows)
    references = read_references(refs) if refs.is_file() else None
    eligible = chosen_faces(rows, embeddings, config.reduce, persons, references)
    per_frame = frame_emotions(rows, config.reduce, eligible)
    if references is None:
        return per_frame, None
    scored = rows[EMOTIONS[0]].notna().to_numpy() & ~np.isnan(embeddings).any(axis=1)
    who = identify(embeddings[scored], *references, config.reduce.match_distance)
    scores = rows.loc[scored, list(EMOTIONS)].to_numpy(dtype=np.float32)
    top = _top_emotions(scores, config.reduce.score_decimals)
    faces = face_table(rows.loc[scored], top, who)
    return per_frame, identity_profiles(faces, references[0], config.mapping, persons)
