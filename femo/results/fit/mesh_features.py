"""The face's shape as head features: each clip's mean mesh, and its own reduction.

A run made with ``landmarks=mesh`` holds each face's normalised 468-point mesh (1,404
numbers, the shard's ``mesh`` column). :func:`clip_meshes` averages the mesh of the face
the vote scores over the clip's frames; a clip with no mesh has a row of NaN. The head
reduces that block on its own before it meets the scores (:func:`mesh_steps`): missing
meshes filled with the training mean, an optional standardisation, then PCA; which
scaling and how many components are chosen by the head's inner cross-validation with C.
:class:`MeshBlock` is that fitted reduction, saved in the head file and applied with
numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

MESH_VALUES = 468 * 3
# The grid the inner cross-validation chooses from, beside C.
COMPONENTS: tuple[int, ...] = (10, 20, 40)
SCALINGS: tuple[str, ...] = ("none", "standard")
PREFIX = "mesh_pc"
_KEYS = ["video", "frame", "face"]


def clip_meshes(
    shard_files: Sequence[Path], clip_rows: pd.DataFrame, per_frame: pd.DataFrame, videos: list[str]
) -> np.ndarray:
    """Each clip's mean mesh over its frames where the scored face has one: (clips, 1404),
    a row of NaN where none has. ``per_frame`` (the reduce's chosen faces) gives which
    face of each frame was scored; ``clip_rows._shard`` which file a clip is read from."""
    owner = clip_rows["_shard"]
    parts = []
    for order, path in enumerate(shard_files):
        if "mesh" not in pq.read_schema(path).names:
            continue
        table = pq.read_table(path, columns=[*_KEYS, "mesh"])
        owned = pa.array(list(owner.index[owner.to_numpy() == order]), pa.string())
        parts.append(table.filter(pc.and_(pc.is_in(table["video"], owned),
                                          pc.is_valid(table["mesh"]))))  # fmt: skip
    out = np.full((len(videos), MESH_VALUES), np.nan)
    if not parts or not len(per_frame):
        return out
    found = pa.concat_tables(parts)
    if not found.num_rows:
        return out
    values = np.asarray(found["mesh"].to_pylist(), dtype=np.float64).reshape(-1, MESH_VALUES)
    position = pd.Series(np.arange(len(values)), index=_index(found.select(_KEYS).to_pandas()))
    where = position.reindex(_index(per_frame)).to_numpy(dtype=np.float64)
    have = ~np.isnan(where)
    scored = pd.DataFrame(values[where[have].astype(np.intp)])
    scored["video"] = per_frame["video"].to_numpy()[have]
    means = scored.groupby("video").mean().reindex(pd.Index(videos))
    return means.to_numpy(dtype=np.float64)


def _index(rows: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays(
        [rows["video"].astype(str), rows["frame"].astype(np.int64), rows["face"].astype(float)]
    )


def mesh_steps(seed: int = 0) -> Pipeline:
    """The mesh block's own reduction: fill, scale (or not), PCA."""
    return Pipeline(
        [
            ("fill", SimpleImputer(strategy="mean", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("reduce", PCA(COMPONENTS[1], svd_solver="randomized", random_state=seed)),
        ]
    )


def mesh_grid(n_train: int, inner_folds: int, prefix: str) -> dict[str, list]:
    """The mesh block's part of the inner grid: every scaling, and the numbers of
    components the inner training sets can hold."""
    smallest = n_train - -(-n_train // inner_folds)  # the smallest inner training set
    components = [k for k in COMPONENTS if k < smallest] or [max(1, smallest - 1)]
    return {
        f"{prefix}__reduce__n_components": components,
        f"{prefix}__scale": [
            StandardScaler() if s == "standard" else "passthrough" for s in SCALINGS
        ],  # fmt: skip
    }


@dataclass(frozen=True, eq=False)
class MeshBlock:
    """A fitted mesh reduction: fill values, scaler, PCA; ``scaling`` names the scaler."""

    fill: np.ndarray  # (1404,)
    mean: np.ndarray  # (1404,) zeros without scaling
    scale: np.ndarray  # (1404,) ones without scaling
    pca_mean: np.ndarray  # (1404,)
    components: np.ndarray  # (k, 1404)
    scaling: str

    @property
    def names(self) -> list[str]:
        return [f"{PREFIX}{i + 1}" for i in range(len(self.components))]

    def transform(self, meshes: np.ndarray) -> np.ndarray:
        """Clips' mean meshes (NaN rows: none) as the head's mesh features (clips, k),
        as the scikit-learn steps compute them."""
        meshes = np.asarray(meshes, dtype=np.float64)
        if meshes.ndim != 2 or meshes.shape[1] != MESH_VALUES:
            raise ValueError(f"meshes must be (clips, {MESH_VALUES}), got {meshes.shape}")
        filled = np.where(np.isnan(meshes), self.fill, meshes)
        return ((filled - self.mean) / self.scale - self.pca_mean) @ self.components.T

    @classmethod
    def from_steps(cls, steps: Pipeline) -> MeshBlock:
        """The block of fitted :func:`mesh_steps`."""
        scaler, pca = steps.named_steps["scale"], steps.named_steps["reduce"]
        fill = np.asarray(steps.named_steps["fill"].statistics_, dtype=np.float64)
        scaled = isinstance(scaler, StandardScaler)
        return cls(
            fill=fill,
            mean=np.asarray(scaler.mean_, np.float64) if scaled else np.zeros(MESH_VALUES),
            scale=np.asarray(scaler.scale_, np.float64) if scaled else np.ones(MESH_VALUES),
            pca_mean=np.asarray(pca.mean_, dtype=np.float64),
            components=np.asarray(pca.components_, dtype=np.float64),
            scaling="standard" if scaled else "none",
        )

    def to_json(self) -> dict:
        return {
            "values": MESH_VALUES,
            "scaling": self.scaling,
            "fill": self.fill.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "pca_mean": self.pca_mean.tolist(),
            "components": self.components.tolist(),
        }
