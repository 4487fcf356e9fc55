"""Does the face's mesh help the head? femo fit's comparison over several splits, and
the variants tried beside it (issue 28).

    python scripts/mesh_variants.py RUN [--seeds 0 1 2 3 4] [--variants fit proto pose geo sym]

RUN is a run made with ``landmarks=mesh`` (e.g. on lfw-expressions with
``dataset.group_column=person detector=blazeface landmarks=mesh``). For each outer
split seed, every variant is cross-validated on the same folds grouped by person and
compared with the same head without the mesh (accuracy over all labelled clips, a clip
without a face wrong, and the paired difference):

- ``fit``: what ``femo fit`` does (the mean mesh reduced on its own, scaling and
  components chosen by the inner cross-validation with C);
- ``proto``: the prototype's recipe from the issue (log of fer's 7 scores, plus PCA to 20
  of the mesh, logistic regression at C=1), against the log scores alone;
- ``pose``: ``fit`` on meshes aligned in 3-D to their mean shape (Kabsch), so head
  turns up, down and sideways leave the mesh;
- ``geo``: eleven distances of the mesh that facial-action coding reads (mouth opening and
  width, the mouth corners' height, eye openings, brow heights and gap, jaw drop) added
  to femo's 19 score features, in femo's head;
- ``sym``: ``fit`` on meshes averaged with their mirror image (left and right points
  paired on the mean shape, no labels used), so one-sided noise cancels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from femo.results.build import ensemble_features, member_meshes, reduce_shards
from femo.results.fit.crossval import cross_validate_head
from femo.results.run import open_run


def load(run_dir: Path) -> dict:
    """The run's clip features, labels, persons, votes and mean meshes."""
    run = open_run(run_dir)
    config = run.config
    reduced = reduce_shards(run)
    videos = [r.video for r in reduced.results]
    X, _names, has_face = ensemble_features(reduced.members, config.mapping, videos)
    mesh = member_meshes(reduced.members[0], videos)
    if mesh is None:
        raise SystemExit(f"{run_dir} was made without landmarks=mesh")
    return {
        "X": X,
        "mesh": mesh,
        "face": has_face,
        "y": [r.golden for r in reduced.results],
        "vote": [r.predict for r in reduced.results],
        "groups": [r.group or r.video for r in reduced.results],
        "classes": list(config.mapping.classes),
    }


def aligned(mesh: np.ndarray) -> np.ndarray:
    """Meshes rotated in 3-D onto their mean shape (Kabsch, scale kept), three passes."""
    points = mesh.reshape(len(mesh), -1, 3)
    ok = ~np.isnan(points).any(axis=(1, 2))
    reference = points[ok].mean(axis=0)
    out = np.full_like(points, np.nan)
    for _ in range(3):
        target = reference - reference.mean(axis=0)
        for i in np.flatnonzero(ok):
            centred = points[i] - points[i].mean(axis=0)
            u, _s, vt = np.linalg.svd(centred.T @ target)
            d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
            out[i] = centred @ (u @ d @ vt)
        reference = out[ok].mean(axis=0)
    return out.reshape(len(mesh), -1)


def symmetrised(mesh: np.ndarray) -> np.ndarray:
    """Meshes averaged with their mirror image. Each point's mirror partner is the point
    nearest its reflection across the vertical midline, on the mean shape (one-to-one,
    by assignment); the shard's meshes are centred and level, so x -> -x reflects."""
    points = mesh.reshape(len(mesh), -1, 3)
    mean = points[~np.isnan(points).any(axis=(1, 2))].mean(axis=0)
    reflect = np.array([-1.0, 1.0, 1.0])
    cost = np.linalg.norm(mean[:, None, :2] - (mean * reflect)[None, :, :2], axis=2)
    _rows, partner = linear_sum_assignment(cost)
    return ((points + points[:, partner] * reflect) / 2).reshape(len(mesh), -1)


def distances(mesh: np.ndarray) -> np.ndarray:
    """Eleven expression distances per clip (MediaPipe mesh indices), NaN filled with the
    mean (the mesh is already scaled by the eye-corner distance)."""
    p = mesh.reshape(len(mesh), -1, 3)[:, :, :2]

    def gap(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(p[:, a] - p[:, b], axis=1)

    def centre(*i: int) -> np.ndarray:
        return p[:, list(i)].mean(axis=1)

    lips = centre(13, 14)
    geo = np.column_stack(
        [
            gap(13, 14), gap(0, 17), gap(61, 291),
            (p[:, 61, 1] + p[:, 291, 1]) / 2 - lips[:, 1],
            gap(159, 145), gap(386, 374),
            np.linalg.norm(centre(105, 66) - centre(159, 145), axis=1),
            np.linalg.norm(centre(334, 296) - centre(386, 374), axis=1),
            gap(55, 285), gap(1, 152), gap(2, 0),
        ]
    )  # fmt: skip
    return np.where(np.isnan(geo), np.nanmean(geo, axis=0), geo)


def accuracy(predicted: list, golden: list) -> float:
    """Share of labelled clips predicted right (no prediction: wrong)."""
    pairs = [(p, g) for p, g in zip(predicted, golden, strict=True) if g is not None]
    return float(np.mean([p == g for p, g in pairs]))


def femo_head(d: dict, seed: int, X: np.ndarray, mesh: np.ndarray | None) -> tuple[float, float]:
    """(without, with) accuracy of femo's head on the same folds; ``mesh`` None: the
    "with" side is X itself (its extra columns are the variant)."""
    common = {"has_face": d["face"], "resamples": 10, "seed": seed}
    if mesh is not None:
        cv = cross_validate_head(
            X, d["y"], d["groups"], d["vote"], d["classes"], mesh=mesh, **common
        )
        return cv["all"]["scores_only"]["accuracy"], cv["all"]["head"]["accuracy"]
    plain = cross_validate_head(d["X"], d["y"], d["groups"], d["vote"], d["classes"], **common)
    more = cross_validate_head(X, d["y"], d["groups"], d["vote"], d["classes"], **common)
    return accuracy(plain["per_clip"]["head"], d["y"]), accuracy(more["per_clip"]["head"], d["y"])


def prototype(d: dict, seed: int) -> tuple[float, float]:
    """The issue's prototype recipe, (log scores alone, with PCA-20 of the mesh)."""
    face = d["face"]
    log_scores = d["X"][:, 7:14]  # femo's log_mean_<emotion> columns
    y = np.array(d["y"], dtype=object)[face]
    groups = np.array(d["groups"], dtype=object)[face]
    folds = GroupKFold(5, shuffle=True, random_state=seed)
    out = []
    for with_mesh in (False, True):
        X = np.hstack([log_scores, d["mesh"]]) if with_mesh else log_scores
        blocks = [("scores", "passthrough", list(range(7)))]
        if with_mesh:
            reduce = make_pipeline(SimpleImputer(keep_empty_features=True), PCA(20, random_state=0))
            blocks.append(("mesh", reduce, list(range(7, X.shape[1]))))
        model = make_pipeline(
            ColumnTransformer(blocks), StandardScaler(),
            LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000),
        )  # fmt: skip
        predicted = cross_val_predict(model, X[face], y.astype(str), groups=groups, cv=folds)
        right = np.zeros(len(d["y"]), dtype=bool)
        right[np.flatnonzero(face)] = predicted == y.astype(str)
        out.append(float(right[[g is not None for g in d["y"]]].mean()))
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=["fit", "proto", "pose", "geo", "sym"])
    args = parser.parse_args()
    d = load(args.run)
    variants = {
        "fit": lambda s: femo_head(d, s, d["X"], d["mesh"]),
        "proto": lambda s: prototype(d, s),
        "pose": lambda s: femo_head(d, s, d["X"], aligned(d["mesh"])),
        "geo": lambda s: femo_head(d, s, np.hstack([d["X"], distances(d["mesh"])]), None),
        "sym": lambda s: femo_head(d, s, d["X"], symmetrised(d["mesh"])),
    }
    print("variant  seed  without  with   with - without (points)", flush=True)
    for name in args.variants:
        gains = []
        for seed in args.seeds:
            without, with_mesh = variants[name](seed)
            gains.append(100 * (with_mesh - without))
            print(
                f"{name:7}  {seed:4}  {100 * without:6.1f}  {100 * with_mesh:5.1f}  {gains[-1]:+5.1f}",
                flush=True,
            )
        print(f"{name:7}  mean over {len(gains)} seeds: {np.mean(gains):+.1f} points "
              f"(min {min(gains):+.1f}, max {max(gains):+.1f})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
