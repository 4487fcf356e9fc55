"""A run's chosen faces under ``reduce.face`` and its per-identity profiles: what an
identity run holds (the shards' embeddings, the reference faces, the labels' person
column; all read once by :class:`~femo.results.run.OpenRun`) handed to the pure functions
of :mod:`femo.results.faces.match` and :mod:`femo.results.faces.identities`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ...config import EMOTIONS
from ..metrics import Identities
from ..reduce import _top_emotions, frame_emotions
from ..run import OpenRun
from .identities import face_table, identity_profiles
from .match import chosen_faces, face_embeddings, identify, reference_vectors


@dataclass(frozen=True)
class Chosen:
    """A run's scored faces: one row per frame with a chosen face (``per_frame``); with
    reference photos, the per-identity profiles, each person's reference faces (PNG
    crops) and every classified face with its person (``faces``: video, the 7 scores,
    top emotion, person; None without references)."""

    per_frame: Any
    identities: Identities | None = None
    crops: dict[str, list[bytes]] = field(default_factory=dict)
    faces: pd.DataFrame | None = None


def chosen_emotions(run: OpenRun) -> Chosen:
    """The scored face's emotions per frame under ``reduce.face``, and (with reference
    faces) who every classified face is."""
    config, shards = run.config, run.shards
    table = run.references
    wants = config.reduce.face in ("main", "person") or table is not None
    if not config.identity.active or not wants:
        return Chosen(frame_emotions(shards.frame_rows, config.reduce))
    rows = shards.frame_rows
    embeddings = face_embeddings(shards.shard_files, shards.clip_rows, rows)
    references = None if table is None else reference_vectors(table)
    eligible = chosen_faces(rows, embeddings, config.reduce, run.persons, references)
    per_frame = frame_emotions(rows, config.reduce, eligible)
    if references is None:
        return Chosen(per_frame)
    scored = rows[EMOTIONS[0]].notna().to_numpy() & ~np.isnan(embeddings).any(axis=1)
    who = identify(embeddings[scored], *references, config.reduce.match_distance)
    scores = rows.loc[scored, list(EMOTIONS)].to_numpy(dtype=np.float32)
    top = _top_emotions(scores, config.reduce.score_decimals)
    faces = face_table(rows.loc[scored], top, who)
    profiles = identity_profiles(faces, references[0], config.mapping, run.persons)
    return Chosen(per_frame, profiles, reference_crops(table), faces)


def reference_crops(table: pa.Table) -> dict[str, list[bytes]]:
    """Each person's reference faces as small PNGs (references.parquet made before femo
    kept them has none)."""
    if "crop" not in table.column_names:
        return {}
    crops: dict[str, list[bytes]] = {}
    for person, crop in zip(table["person"].to_pylist(), table["crop"].to_pylist(), strict=True):
        crops.setdefault(person, []).append(crop)
    return crops


def face_columns(run: OpenRun, frames: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``frames`` (video, frame, face): its person (the nearest reference
    photo's within ``reduce.match_distance``; None for nobody, a row without a face or a
    run without references) and whether ``reduce.face`` scored it, as the report does."""
    per_frame = chosen_emotions(run).per_frame
    scored = _keys(frames).isin(_keys(per_frame)) & frames["face"].notna().to_numpy()
    who = np.full(len(frames), None, dtype=object)
    references = run.references
    if references is not None and config_has_identities(run):
        shards = run.shards
        embeddings = face_embeddings(shards.shard_files, shards.clip_rows, frames)
        has = ~np.isnan(embeddings).any(axis=1)
        vectors = reference_vectors(references)
        who[has] = identify(embeddings[has], *vectors, run.config.reduce.match_distance)
    return who, scored


def config_has_identities(run: OpenRun) -> bool:
    return run.config.identity.active


def _keys(rows: pd.DataFrame) -> pd.MultiIndex:
    """(video, frame, face) as str and whole numbers (-1: no face)."""
    return pd.MultiIndex.from_arrays(
        [
            rows["video"].astype(str).to_numpy(),
            rows["frame"].astype("int64").to_numpy(),
            pd.to_numeric(rows["face"]).fillna(-1).astype("int64").to_numpy(),
        ]
    )
