"""femo fit with the face's mesh (landmarks=mesh runs): features, reduction, head file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from femo.config import EMOTIONS, LandmarksConfig, RunConfig, to_dict
from femo.dataset import Clip
from femo.results.fit.crossval import cross_validate_head
from femo.results.fit.headfile import head_from_json, head_to_json
from femo.results.fit.mesh_features import MESH_VALUES, clip_meshes
from femo.results.fit.model import fit_head, predict_head, with_mesh
from femo.rundir import RunDir, make_plan

from .builders import clip_row, face, write_shard
from .conftest import error_line, femo

CLASSES = ("Positive", "Neutral", "Negative")
GRID = (0.1, 1.0)  # a short C grid keeps these tests quick


def synthetic_mesh_data(n: int = 60, seed: int = 0):
    """Scores that tell Positive apart only; meshes that also tell Negative from Neutral."""
    rng = np.random.default_rng(seed)
    y = [CLASSES[i % 3] for i in range(n)]
    X = rng.normal(0, 1, (n, 4))
    X[:, 0] += [2.0 if c == "Positive" else 0.0 for c in y]
    shape = rng.normal(0, 1, MESH_VALUES)
    mesh = shape + rng.normal(0, 0.3, (n, MESH_VALUES))
    mesh[:, :60] += np.array([1.0 if c == "Negative" else 0.0 for c in y])[:, None]
    groups = [i % 12 for i in range(n)]
    return X, y, groups, mesh


def test_the_mesh_block_applies_as_the_fitted_pipeline_does():
    X, y, groups, mesh = synthetic_mesh_data()
    mesh[5] = np.nan  # a clip whose face had no mesh: filled with the training mean
    head = fit_head(X, y, groups, CLASSES, mesh=mesh, grid=GRID)
    assert head.mesh is not None and head.feature_names[-1].startswith("mesh_pc")
    assert head.provenance["inner_cv"]["mesh"]["scaling"] in ("none", "standard")
    full = np.hstack([X, mesh])
    want = head.pipeline.predict(full)
    got = predict_head(head, X, np.ones(len(X), bool), mesh)
    assert got == list(want)
    features = head.pipeline.named_steps["features"].transform(full)
    np.testing.assert_allclose(with_mesh(head, X, mesh), features, atol=1e-9)
    # Saved as plain JSON and read back, it predicts the same.
    data = json.loads(json.dumps(head_to_json(head, {"detectors": ["haar"]})))
    again = head_from_json(data)
    assert predict_head(again, X, np.ones(len(X), bool), mesh) == got
    with pytest.raises(ValueError, match="this head uses the face's mesh; the run has none"):
        predict_head(again, X, np.ones(len(X), bool))
    data["mesh"]["components"] = data["mesh"]["components"][:-1]
    with pytest.raises(ValueError, match="mesh.components must be one row per mesh_pcN"):
        head_from_json(data)


def test_cross_validation_sets_the_mesh_against_the_scores_alone_on_the_same_folds():
    X, y, groups, mesh = synthetic_mesh_data()
    votes = [None] * len(y)
    cv = cross_validate_head(X, y, groups, votes, CLASSES, mesh=mesh, resamples=200, grid=GRID)
    part = cv["all"]
    with_mesh_acc, plain_acc = part["head"]["accuracy"], part["scores_only"]["accuracy"]
    assert part["mesh_comparison"]["difference"] == pytest.approx(with_mesh_acc - plain_acc)
    # The mesh tells Negative from Neutral, which the scores cannot.
    assert with_mesh_acc > plain_acc + 0.15
    assert part["scores_only"]["recall"]["Negative"] < part["head"]["recall"]["Negative"]
    assert len(cv["folds"]["mesh"]) == cv["folds"]["n_splits"]
    without = cross_validate_head(X, y, groups, votes, CLASSES, resamples=200, grid=GRID)
    assert "scores_only" not in without["all"]
    # The scores-only head is the head femo fits without a mesh, on the same folds.
    assert without["all"]["head"]["accuracy"] == pytest.approx(plain_acc)


def test_clip_meshes_average_the_scored_face_over_its_frames():
    rng = np.random.default_rng(1)
    meshes = {
        (v, f, k): rng.normal(0, 1, MESH_VALUES) for v in "ab" for f in (0, 5) for k in (0, 1)
    }
    rows = [{"video": v, "frame": f, "face": float(k), "mesh": m.astype(np.float32)}
            for (v, f, k), m in meshes.items()]  # fmt: skip
    rows[0]["mesh"] = None  # a: frame 0, face 0 had no mesh
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _tmp() / "shard-00000.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    clip_rows = pd.DataFrame({"_shard": [0, 0, 0]}, index=["a", "b", "c"])
    # The vote scored face 0 of a's frames and face 1 of b's; c had no face.
    per_frame = pd.DataFrame(
        {"video": ["a", "a", "b", "b"], "frame": [0, 5, 0, 5], "face": [0, 0, 1, 1]}
    )
    got = clip_meshes([path], clip_rows, per_frame, ["a", "b", "c"])
    np.testing.assert_allclose(got[0], meshes[("a", 5, 0)].astype(np.float32), rtol=1e-6)
    want_b = (meshes[("b", 0, 1)].astype(np.float32) + meshes[("b", 5, 1)].astype(np.float32)) / 2
    np.testing.assert_allclose(got[1], want_b, rtol=1e-5)
    assert np.isnan(got[2]).all()


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def mesh_run(tmp_path, landmarks: str = "mesh"):
    """60 clips of 12 persons: the vote sees Neutral in Negative clips too; the mesh does not."""
    rng = np.random.default_rng(0)
    videos = [f"p{i % 12:02d}_{i:03d}.mp4" for i in range(60)]
    labels = {v: CLASSES[i % 3] for i, v in enumerate(videos)}
    run_dir = tmp_path / f"run-{landmarks}"
    plan = make_plan([Clip(v, "video") for v in videos], 30)
    labels_file = tmp_path / "labels.csv"
    labels_file.write_text("video,label\n" + "".join(f"{v},{labels[v]}\n" for v in videos))
    config = RunConfig(landmarks=LandmarksConfig(landmarks))
    RunDir(run_dir).create(plan, to_dict(config), str(labels_file))
    shape = rng.normal(0, 1, MESH_VALUES)
    for k in range(2):
        rows = []
        for v in videos[30 * k : 30 * (k + 1)]:
            for f in range(4):
                s = {e: 0.02 + 0.02 * rng.random() for e in EMOTIONS}
                s["neutral"] = 0.5
                if labels[v] == "Positive":
                    s["happy"] = 0.6 + 0.2 * rng.random()
                row = face(v, 5 * f, **s)
                m = shape + rng.normal(0, 0.3, MESH_VALUES)
                m[:60] += 1.0 if labels[v] == "Negative" else 0.0
                row["mesh"] = m.astype(np.float32) if landmarks == "mesh" else None
                rows.append(row)
            rows.append(clip_row(v, frames_sampled=4))
        write_shard(run_dir, k, rows)
    return run_dir


def test_femo_fit_uses_the_mesh_of_a_mesh_run_and_its_head_needs_one(poisoned_tf, tmp_path):
    def fast_femo(*args: str):  # as conftest's, with time for two heads' cross-validation
        return femo(*args, cwd=tmp_path, first=poisoned_tf, timeout=900)

    run_dir = mesh_run(tmp_path)
    pattern = "dataset.group_pattern='^(p[0-9]+)_'"
    proc = fast_femo("fit", str(run_dir), pattern)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if "with the face's mesh" in x)
    assert "on the scores alone; mesh − scores only +" in line
    assert "(paired, same folds), McNemar p" in line
    head = json.loads((run_dir / "fit" / "head.json").read_text())
    assert head["mesh"]["values"] == MESH_VALUES
    assert head["provenance"]["mesh"] == {"clips_with_mesh": 60}
    figures = head["provenance"]["cross_validation"]["all"]
    assert figures["head"]["accuracy"] > figures["scores_only"]["accuracy"]
    report = (run_dir / "fit" / "report.md").read_text()
    assert "## The face's mesh" in report and "| Scores only | With the mesh |" in report
    proc = fast_femo("reduce", str(run_dir), f"reduce.head={run_dir / 'fit' / 'head.json'}",
                     pattern)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    plain = mesh_run(tmp_path, landmarks="none")
    proc = fast_femo("reduce", str(plain), f"reduce.head={run_dir / 'fit' / 'head.json'}")
    assert error_line(proc) == (
        "femo: error: reduce.head: this head uses the face's mesh; the run has none "
        "(landmarks=mesh)"
    )
    proc = fast_femo("fit", str(plain), pattern)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "with the face's mesh" not in proc.stdout
    assert "mesh" not in json.loads((plain / "fit" / "head.json").read_text())
    # --no-mesh: the mesh run's head on the scores alone, which a run without mesh takes
    proc = fast_femo("fit", str(run_dir), pattern, "--no-mesh", "--out", str(tmp_path / "plain"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "with the face's mesh" not in proc.stdout
    head = json.loads((tmp_path / "plain" / "head.json").read_text())
    assert "mesh" not in head and head["provenance"]["mesh"] is None
    proc = fast_femo("reduce", str(plain), f"reduce.head={tmp_path / 'plain' / 'head.json'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
