"""A run's chosen faces under ``reduce.face`` and its per-identity profiles: what the
reduce stage reads of an identity=dlib run (the shards' embeddings, references.parquet,
the labels' person column) handed to the pure functions of :mod:`femo.results.faces.match`
and :mod:`femo.results.faces.identities`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ...config import EMOTIONS, ConfigError, RunConfig
from ...dataset import read_labels
from ...rundir import Plan, RunDir
from ..reduce import ShardData, _top_emotions, frame_emotions, load_shards
from .identities import face_table, identity_profiles
from .match import chosen_faces, face_embeddings, identify, reference_vectors


def read_persons(run: RunDir, config: RunConfig, plan: Plan) -> dict[str, str]:
    """Each clip's labelled person (``dataset.person_column``), from the run's labels."""
    if not config.dataset.person_column or not run.labels_file.is_file():
        return {}
    labels_file = config.dataset.labels or str(run.labels_file)
    return read_labels(labels_file, config.dataset, config.mapping, plan.clips).persons


# Embeds the reference photos of ``config.dataset.references`` for the labelled persons
# (the node's work, handed in by the entry point: femo.pipeline.embed_references).
Embed = Callable[[RunConfig, dict[str, str]], pa.Table]


def load_references(
    run: RunDir, config: RunConfig, persons: dict[str, str], embed: Embed | None = None
) -> pa.Table | None:
    """The reference faces a report reads: None without ``dataset.references``; the run's
    own ``references.parquet`` where it was made from that folder; else the folder's
    photos embedded now by ``embed`` (references given after extraction)."""
    folder = config.dataset.references
    if not folder:
        return None
    own = run.references_file
    if own.is_file():
        table = pq.read_table(own)
        made_from = (table.schema.metadata or {}).get(b"references")
        # A references.parquet older than that record came from the run's saved folder.
        if (made_from.decode() if made_from else run.config().dataset.references) == folder:
            return table
    if embed is None:
        raise ConfigError(
            f"dataset.references {folder} are not the run's own reference photos; "
            "femo reduce and femo show embed others"
        )
    return embed(config, persons)


def chosen_emotions(
    run: RunDir,
    shards: ShardData,
    config: RunConfig,
    persons: dict[str, str],
    table: pa.Table | None = None,
) -> tuple[Any, dict[str, Any] | None]:
    """The scored face's emotions per frame under ``reduce.face``, and (with reference
    faces, ``table``: :func:`load_references`) the per-identity profiles."""
    wants = config.reduce.face in ("main", "person") or table is not None
    if not config.identity.active or not wants:
        return frame_emotions(shards.frame_rows, config.reduce), None
    rows = shards.frame_rows
    embeddings = face_embeddings(shards.shard_files, shards.clip_rows, rows)
    references = None if table is None else reference_vectors(table)
    eligible = chosen_faces(rows, embeddings, config.reduce, persons, references)
    per_frame = frame_emotions(rows, config.reduce, eligible)
    if references is None:
        return per_frame, None
    scored = rows[EMOTIONS[0]].notna().to_numpy() & ~np.isnan(embeddings).any(axis=1)
    who = identify(embeddings[scored], *references, config.reduce.match_distance)
    scores = rows.loc[scored, list(EMOTIONS)].to_numpy(dtype=np.float32)
    top = _top_emotions(scores, config.reduce.score_decimals)
    faces = face_table(rows.loc[scored], top, who)
    profiles = identity_profiles(faces, references[0], config.mapping, persons)
    return per_frame, {**profiles, "crops": reference_crops(table)}


def reference_crops(table: pa.Table) -> dict[str, list[bytes]]:
    """Each person's reference faces as small PNGs (references.parquet made before femo
    kept them has none)."""
    if "crop" not in table.column_names:
        return {}
    crops: dict[str, list[bytes]] = {}
    for person, crop in zip(table["person"].to_pylist(), table["crop"].to_pylist(), strict=True):
        crops.setdefault(person, []).append(crop)
    return crops


def face_columns(
    run: RunDir, config: RunConfig, persons: dict[str, str], frames: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``frames`` (video, frame, face): its person (the nearest reference
    photo's within ``reduce.match_distance``; None for nobody, a row without a face or a
    run without references) and whether ``reduce.face`` scored it, as the report does."""
    shards = load_shards(run.shards_dir)
    references = load_references(run, config, persons)
    per_frame, _ = chosen_emotions(run, shards, config, persons, references)
    scored = _keys(frames).isin(_keys(per_frame)) & frames["face"].notna().to_numpy()
    who = np.full(len(frames), None, dtype=object)
    if references is not None and config.identity.active:
        embeddings = face_embeddings(shards.shard_files, shards.clip_rows, frames)
        has = ~np.isnan(embeddings).any(axis=1)
        vectors = reference_vectors(references)
        who[has] = identify(embeddings[has], *vectors, config.reduce.match_distance)
    return who, scored


def _keys(rows: pd.DataFrame) -> pd.MultiIndex:
    """(video, frame, face) as str and whole numbers (-1: no face)."""
    return pd.MultiIndex.from_arrays(
        [
            rows["video"].astype(str).to_numpy(),
            rows["frame"].astype("int64").to_numpy(),
            pd.to_numeric(rows["face"]).fillna(-1).astype("int64").to_numpy(),
        ]
    )
