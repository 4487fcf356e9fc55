"""Whose face: the faces ``reduce.face=main`` and ``reduce.face=person`` score, and each
face's person among the reference photos (identity=dlib runs).

Pure functions over the shard's face rows and their dlib embeddings (128 numbers; one
person's faces lie closer than about 0.6 to each other). Nothing here needs dlib: the
reference photos were embedded when the run was planned (``references.parquet``). A
frame whose chosen person is not on screen has no chosen face, so it counts as a frame
without a face, exactly like a frame where the detector found none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...config import ConfigError, ReduceConfig
from ...shard_files import EMBEDDING_WIDTH

KEYS = ["video", "frame", "face"]


def group_faces(embeddings: np.ndarray, distance: float) -> np.ndarray:
    """One label per face: faces joined when the average distance between their groups
    stays under ``distance`` (agglomerative, average linkage)."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), dtype=np.intp)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, linkage="average", metric="euclidean"
    )
    return model.fit_predict(np.asarray(embeddings, dtype=np.float64))


def main_faces(keys: pd.DataFrame, embeddings: np.ndarray, distance: float) -> np.ndarray:
    """Mask of the faces of each clip's main person: the group of faces (by embedding,
    within the clip) seen in the most frames; a tie goes to the group seen first.

    ``keys`` has ``video`` and ``frame`` per face, ``embeddings`` one row per face.
    """
    chosen = np.zeros(len(keys), dtype=bool)
    videos = keys["video"].to_numpy()
    frames = keys["frame"].to_numpy()
    for rows in pd.Series(np.arange(len(keys))).groupby(videos, sort=False).groups.values():
        rows = np.asarray(rows)
        labels = group_faces(embeddings[rows], distance)
        seen = pd.DataFrame({"group": labels, "frame": frames[rows]}).groupby("group")["frame"]
        ranking = pd.DataFrame({"frames": seen.nunique(), "first": seen.min()})
        best = ranking.sort_values(["frames", "first"], ascending=[False, True]).index[0]
        chosen[rows[labels == best]] = True
    return chosen


def identify(
    embeddings: np.ndarray, ref_persons: list[str], ref_embeddings: np.ndarray, distance: float
) -> np.ndarray:
    """Each face's person: the person of its nearest reference photo where that photo is
    closer than ``distance``, else None (matched to nobody)."""
    out = np.full(len(embeddings), None, dtype=object)
    if not len(embeddings) or not len(ref_embeddings):
        return out
    e = np.asarray(embeddings, dtype=np.float64)
    r = np.asarray(ref_embeddings, dtype=np.float64)
    d2 = (e * e).sum(1)[:, None] + (r * r).sum(1)[None, :] - 2 * e @ r.T
    d = np.sqrt(np.maximum(d2, 0))
    nearest = np.argmin(d, axis=1)
    close = d[np.arange(len(e)), nearest] < distance
    out[close] = np.asarray(ref_persons, dtype=object)[nearest[close]]
    return out


def person_faces(
    videos: np.ndarray,
    embeddings: np.ndarray,
    person_of: dict[str, str],
    references: tuple[list[str], np.ndarray],
    group_distance: float,
    distance: float,
    bound: float | None = None,
) -> np.ndarray:
    """Mask of the faces of each clip's labelled person (``person_of``). The clip's faces
    are grouped as for ``main``; a group's distance to the person is the median, over its
    faces, of each face's distance to the nearest of the person's reference photos.
    Every group under ``distance`` is theirs; where none is, the nearest group is, if
    under ``bound`` (the labels say the person is in the clip; None: ``distance``).

    A group, not each face, is matched: one face blurred by a cut cannot swap persons.
    """
    persons, vectors = references
    persons = np.asarray(persons, dtype=object)
    bound = distance if bound is None else bound
    chosen = np.zeros(len(videos), dtype=bool)
    for video, rows in pd.Series(np.arange(len(videos))).groupby(videos, sort=False).groups.items():
        mine = vectors[persons == person_of.get(video)]
        if not len(mine):
            continue
        rows = np.asarray(rows)
        labels = group_faces(embeddings[rows], group_distance)
        d = np.linalg.norm(embeddings[rows][:, None, :] - mine[None, :, :], axis=2).min(axis=1)
        median = pd.Series(d).groupby(labels).median()
        theirs = median.index[median < distance]
        if not len(theirs) and median.min() < bound:
            theirs = [median.idxmin()]
        chosen[rows[np.isin(labels, theirs)]] = True
    return chosen


def read_references(path: str | Path) -> tuple[list[str], np.ndarray]:
    """The reference photos' persons and embeddings (``RUN_DIR/references.parquet``)."""
    return reference_vectors(pq.read_table(path, columns=["person", "embedding"]))


def reference_vectors(table: pa.Table) -> tuple[list[str], np.ndarray]:
    """The persons and embeddings of a table of reference faces."""
    vectors = table["embedding"].to_pylist()
    return table["person"].to_pylist(), np.asarray(vectors, dtype=np.float32).reshape(
        -1, EMBEDDING_WIDTH
    )


def face_embeddings(
    shard_files: list[Path], clip_rows: pd.DataFrame, frame_rows: pd.DataFrame
) -> np.ndarray:
    """The embedding of every row of ``frame_rows`` (NaN rows where it has none), read
    from the shards a clip was taken from (``clip_rows._shard``)."""
    owner = clip_rows["_shard"]
    parts = []
    for order, path in enumerate(shard_files):
        if "embedding" not in pq.read_schema(path).names:
            continue
        table = pq.read_table(path, columns=[*KEYS, "embedding"])
        owned = pa.array(list(owner.index[owner.to_numpy() == order]), pa.string())
        mask = pc.and_(pc.is_in(table["video"], owned), pc.is_valid(table["embedding"]))
        parts.append(table.filter(mask))
    out = np.full((len(frame_rows), EMBEDDING_WIDTH), np.nan, dtype=np.float32)
    if not parts:
        return out
    found = pa.concat_tables(parts)
    vectors = np.asarray(found["embedding"].to_pylist(), dtype=np.float32).reshape(
        -1, EMBEDDING_WIDTH
    )
    position = pd.Series(np.arange(len(vectors)), index=_keys(found.to_pandas()))
    where = position.reindex(_keys(frame_rows)).to_numpy(dtype=np.float64)
    have = ~np.isnan(where)
    out[have] = vectors[where[have].astype(np.intp)]
    return out


def _keys(rows: pd.DataFrame) -> pd.MultiIndex:
    """(video, frame, face) with one dtype each, whatever the nulls made of them."""
    return pd.MultiIndex.from_arrays(
        [rows["video"].astype(str), rows["frame"].astype(np.int64), rows["face"].astype(float)]
    )


def chosen_faces(
    frame_rows: pd.DataFrame,
    embeddings: np.ndarray | None,
    config: ReduceConfig,
    person_of: dict[str, str] | None = None,
    references: tuple[list[str], np.ndarray] | None = None,
) -> np.ndarray | None:
    """Mask of the face rows ``reduce.face`` may score (None: every face, ``first`` and
    ``largest`` choose among them by position or size)."""
    if config.face not in ("main", "person"):
        return None
    if embeddings is None:
        raise ConfigError(f"reduce.face={config.face} needs a run with identity=dlib")
    has = ~np.isnan(embeddings).any(axis=1)
    if not has.any() and frame_rows["face"].notna().any():
        raise ConfigError(
            f"reduce.face={config.face}: the run's shards hold no face embeddings (deleted?)"
        )
    chosen = np.zeros(len(frame_rows), dtype=bool)
    rows = np.flatnonzero(has)
    if config.face == "main":
        keys = frame_rows.iloc[rows][["video", "frame"]].reset_index(drop=True)
        chosen[rows] = main_faces(keys, embeddings[rows], config.group_distance)
    else:
        if references is None:
            raise ConfigError("reduce.face=person needs the run's references.parquet (deleted?)")
        missing = sorted(set((person_of or {}).values()) - set(references[0]))
        if missing:
            raise ConfigError(
                f"reduce.face=person: {len(missing)} labelled person(s) have no reference "
                f"photos in the run: {', '.join(missing[:5])}"
            )
        videos = frame_rows["video"].to_numpy()[rows]
        chosen[rows] = person_faces(
            videos, embeddings[rows], person_of or {}, references, config.group_distance,
            config.person_distance, config.person_bound,
        )  # fmt: skip
    return chosen
