"""femo fit --tune end to end, on a tiny run (36 small images, 1-2 epochs, 2 folds): it
trains in a subprocess (TensorFlow never enters the test process), writes the model and
its head, and the TFLite file runs as classifier=custom in a real femo run, its scores
those of the saved Keras network to 1e-4."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from femo.config import EMOTIONS
from femo.model_card import read_card
from femo.results.fit.clips import gather_clips
from femo.results.shard_rows import FRAME_COLUMNS
from femo.rundir import RunDir
from femo.shard_files import SCHEMA
from femo.tune.faces import network_input, read_faces

from .conftest import femo, femo_env

CLASSES = ("Positive", "Neutral", "Negative")
TUNE = ("--tune", "--folds", "2", "--inner-folds", "2", "--epochs", "1,2", "--rates", "1e-3")


def draw(label: str, rng: np.random.Generator) -> np.ndarray:
    """A 72x72 'face': an oval, two eyes and a mouth whose shape is the class."""
    image = np.full((72, 72), 90, np.uint8)
    cv2.ellipse(image, (36, 38), (26, 32), 0, 0, 360, 170, -1)
    for x in (26, 46):
        cv2.circle(image, (x, 30), 4, 40, -1)
    if label == "Positive":
        cv2.ellipse(image, (36, 50), (12, 7), 0, 0, 180, 30, 2)
    elif label == "Negative":
        cv2.ellipse(image, (36, 56), (12, 7), 0, 180, 360, 30, 2)
    else:
        cv2.line(image, (25, 52), (47, 52), 30, 2)
    noise = rng.normal(0, 12, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def faces_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    rows = ["video,person,label"]
    for person in range(12):
        for label in CLASSES:
            name = f"p{person:02d}_{label}.png"
            cv2.imwrite(str(root / name), draw(label, rng))
            rows.append(f"{name},p{person:02d},{label}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def add_meshes(run_dir: Path) -> None:
    """The run as landmarks=mesh would have made it: a mesh per face (here a made-up one
    that tells the classes apart; MediaPipe finds no face in these drawings)."""
    rng = np.random.default_rng(1)
    for path in (run_dir / "shards").glob("shard-*.parquet"):
        table = pq.read_table(path)
        meshes = []
        for video, kind in zip(table["video"].to_pylist(), table["kind"].to_pylist(), strict=True):
            if kind != "frame":
                meshes.append(None)
                continue
            signal = np.zeros(1404)
            signal[: 20 * (1 + [c in video for c in CLASSES].index(True))] = 1.0
            meshes.append((signal + rng.normal(0, 0.2, 1404)).astype(np.float32).tolist())
        table = table.set_column(table.schema.get_field_index("mesh"), "mesh",
                                 pa.array(meshes, SCHEMA.field("mesh").type))  # fmt: skip
        pq.write_table(table, path)
    manifest = RunDir(run_dir).manifest_file
    data = json.loads(manifest.read_text())
    data["config"]["landmarks"] = {"name": "mesh"}
    manifest.write_text(json.dumps(data))


def keras_scores(keras_file: Path, crops: np.ndarray, tmp_path: Path) -> np.ndarray:
    """The saved Keras network's forward pass, in a process of its own."""
    np.save(tmp_path / "crops.npy", network_input(crops))
    code = (
        "import sys, numpy as np, keras; m = keras.models.load_model(sys.argv[1]); "
        "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0))"
    )
    out = tmp_path / "keras.npy"
    subprocess.run(
        [sys.executable, "-c", code, str(keras_file), str(tmp_path / "crops.npy"), str(out)],
        env=femo_env(), check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return np.load(out)


def test_a_tuned_network_runs_as_a_custom_classifier(tmp_path, faces_folder):
    root = str(faces_folder)
    labels = str(faces_folder / "labels.csv")
    run = tmp_path / "fer"
    proc = femo(
        "run", f"dataset.root={root}", f"dataset.labels={labels}", "dataset.group_column=person",
        "detector=none", f"hydra.run.dir={run}", cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    add_meshes(run)

    proc = femo("fit", str(run), *TUNE, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for title in ("scores only", "scores + the face's mesh", "scores + fer's network's 128",
                  "the tuned network (its vote)", "the tuned network + the mesh"):  # fmt: skip
        assert f"femo: {title}" in out
    folder = run / "fit" / "tune"
    outcome = json.loads((folder / "outcome.json").read_text())
    part = outcome["comparison"]["all"]
    assert part["n"] == 36 and set(part["candidates"]) == {
        "scores", "scores_mesh", "scores_features", "tuned", "tuned_mesh",
    }  # fmt: skip
    report = (folder / "report.md").read_text()
    assert (
        "| the tuned network + the mesh (a head)" in report
        and "2 folds grouped by person" in report
    )
    log = (folder / "tune.log").read_text()
    assert "training 9/9 (the model kept, the choice)" in log
    card = read_card(folder / "model.tflite")
    assert card["fitted_on"]["faces"] == 36 and card["fitted_on"]["persons"] == 12
    assert len(card["fitted_on"]["clips"]) == 36  # by content: a report on them says so
    assert card["settings"]["rate"] == 0.001 and card["settings"]["epochs"] in (1, 2)
    assert card["labels"] == ["happy", "neutral", "angry"]
    head = json.loads((folder / "head.json").read_text())
    assert head["provenance"]["classifiers"][0].startswith("custom model model.tflite (sha256 ")
    assert not (run / "fit" / "head.json").exists()  # femo fit's own head is left alone

    # The TFLite file as classifier=custom, in a real run over the same images.
    tuned_run = tmp_path / "tuned"
    overrides = outcome["run_with"].replace("'", "").split()
    proc = femo(
        "run", f"dataset.root={root}", "detector=none", "landmarks=mesh",
        f"hydra.run.dir={tuned_run}", *overrides, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pq.read_table(tuned_run / "shards").to_pandas()
    rows = rows[rows["kind"] == "frame"].set_index("video")
    clips = gather_clips([run], [], frame_columns=(*FRAME_COLUMNS, "x", "y"))
    faces = read_faces(clips, lambda line: None)
    want = keras_scores(folder / "model.keras", faces.crops, tmp_path)
    emotions = card["labels"]
    got = rows.loc[list(faces.keys["video"]), emotions].to_numpy(np.float64)
    assert np.abs(got - want).max() <= 1e-4
    others = [e for e in EMOTIONS if e not in emotions]
    assert (rows[others].to_numpy() == 0).all()
    method = (tuned_run / "report" / "report.md").read_text()
    assert "tuned from fer's model by femo fit --tune on 36 faces of 36 labelled clips" in method
    # The same images it learnt from: every figure of this run is in-sample, and says so.
    assert "; IN-SAMPLE: it learnt from 36 of the clips scored here)" in method

    # The head beside it reads that run's scores.
    proc = femo("reduce", str(tuned_run), f"reduce.head={folder / 'head.json'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


SLURM = ("launcher=slurm", "launcher.cpus_per_task=2", "launcher.mem_gb=4",
         "launcher.time_min=30", "launcher.wait=true")  # fmt: skip


@pytest.mark.slurm
def test_the_tuning_runs_as_one_slurm_job_and_its_model_through_slurm(tmp_path, faces_folder):
    """launcher=slurm: the tuning is one job of a real SLURM, its progress in tune.log;
    the tuned model then scores a run whose shards SLURM makes, as a local run does."""
    sinfo = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=30)
    assert sinfo.returncode == 0, (
        f"SLURM does not answer (tests/cluster/start-slurm.sh): {sinfo.stderr}"
    )
    root = str(faces_folder)
    run = tmp_path / "fer"
    proc = femo(
        "run", f"dataset.root={root}", f"dataset.labels={faces_folder / 'labels.csv'}",
        "dataset.group_column=person", "detector=none", f"hydra.run.dir={run}",
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = femo("fit", str(run), *TUNE, *SLURM, cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = json.loads((run / "fit" / "tune" / "job.json").read_text())
    assert (
        f"femo: submitted slurm job {job['job_id']}: the tuning runs there, one job" in proc.stdout
    )
    assert "femo: the tuned network (its vote): " in proc.stdout
    log = (run / "fit" / "tune" / "tune.log").read_text()
    assert "training 9/9 (the model kept, the choice)" in log
    outcome = json.loads((run / "fit" / "tune" / "outcome.json").read_text())
    overrides = outcome["run_with"].replace("'", "").split()
    runs = {}
    for name, launcher in (("local", ()), ("slurm", SLURM)):
        runs[name] = tmp_path / name
        proc = femo(
            "run", f"dataset.root={root}", "detector=none", f"hydra.run.dir={runs[name]}",
            *overrides, *launcher, cwd=tmp_path, timeout=900,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    local, cluster = (pq.read_table(runs[n] / "shards").to_pandas() for n in ("local", "slurm"))
    columns = ["video", "frame", *EMOTIONS]
    local = local[local["kind"] == "frame"][columns].sort_values("video").reset_index(drop=True)
    cluster = (
        cluster[cluster["kind"] == "frame"][columns].sort_values("video").reset_index(drop=True)
    )
    assert len(local) == 36
    np.testing.assert_allclose(
        cluster[list(EMOTIONS)].to_numpy(), local[list(EMOTIONS)].to_numpy(), atol=1e-6
    )
