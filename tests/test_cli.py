"""The command line, through `python -m femo` in a subprocess.

The fast tests all stop before TensorFlow would load; to prove it, they run with a
``tensorflow`` package on PYTHONPATH that raises as soon as it is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from femo import __version__

from .builders import clip_rows, labelled_run, write_shard
from .conftest import assert_no_run_folder, error_line, femo

REPO = Path(__file__).resolve().parents[1]


def test_poisoned_tensorflow_really_fails(fast_femo, poisoned_tf):
    """The guard itself: importing tensorflow under it is an ImportError."""
    env = dict(os.environ, PYTHONPATH=str(poisoned_tf))
    proc = subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "tensorflow was imported by a command that must fail" in proc.stderr


# ------------------------------------------------------------------ basics


def test_version(fast_femo):
    proc = fast_femo("--version")
    assert proc.returncode == 0
    assert proc.stdout == f"femo {__version__}\n"


def test_usage(fast_femo):
    proc = fast_femo()
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: femo {run,reduce,status,fit,bench,show,export} ...")
    assert "femo bench" in proc.stdout and "femo show RUN_DIR CLIP" in proc.stdout


def test_unknown_command(fast_femo):
    proc = fast_femo("frobnicate")
    assert (
        error_line(proc)
        == "femo: error: unknown command 'frobnicate' (known: run, reduce, status, fit, bench, show, export)"
    )


# --------------------------------------------------------- run: config errors


def test_run_with_a_missing_dataset_root(fast_femo, tmp_path):
    out = tmp_path / "out"
    proc = fast_femo("run", "dataset.root=/nonexistent", f"output_root={out}")
    assert error_line(proc) == "femo: error: dataset.root /nonexistent does not exist"
    assert_no_run_folder(out)


def test_run_with_an_empty_dataset_folder(fast_femo, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "readme.txt").write_text("no clips here")
    out = tmp_path / "out"
    proc = fast_femo("run", "dataset.root=clips", f"output_root={out}")
    line = error_line(proc)
    assert line.startswith(
        f"femo: error: dataset.root {tmp_path / 'clips'} holds no clips (searched for "
    )
    assert_no_run_folder(out)


@pytest.fixture
def clips_folder(tmp_path) -> Path:
    root = tmp_path / "clips"
    root.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (root / name).write_bytes(b"not decoded before the checks")
    return root


def test_run_with_a_labels_csv_without_its_columns(fast_femo, tmp_path, clips_folder):
    (tmp_path / "labels.csv").write_text("file,emotion\na.mp4,happy\n")
    out = tmp_path / "out"
    proc = fast_femo("run", "dataset.root=clips", "dataset.labels=labels.csv", f"output_root={out}")
    assert error_line(proc) == (
        f"femo: error: labels file {tmp_path / 'labels.csv'} has no 'video' column "
        "(dataset.video_column); its columns are: file, emotion"
    )
    assert_no_run_folder(out)


def test_run_with_an_unknown_label_suggests_unlabelled(fast_femo, tmp_path, clips_folder):
    (tmp_path / "labels.csv").write_text("video,label\na.mp4,Happy\nb.mp4,Neutral\n")
    out = tmp_path / "out"
    proc = fast_femo("run", "dataset.root=clips", "dataset.labels=labels.csv", f"output_root={out}")
    line = error_line(proc)
    assert line.startswith(
        f"femo: error: labels file {tmp_path / 'labels.csv'}: 1 label(s) not in mapping"
    )
    assert "(Happy)" in line
    assert "Set dataset.unknown_labels=unlabelled to treat them as unlabelled." in line
    assert_no_run_folder(out)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sampling.every_n=0", "sampling.every_n must be an integer >= 1, not 0"),
        (
            "detector.name=foo",
            "detector.name must be 'haar', 'mtcnn', 'blazeface' or 'none', not 'foo'",
        ),
        (
            "reduce.face=biggest",
            "reduce.face must be 'first', 'largest', 'main' or 'person', not 'biggest'",
        ),
        # launcher settings are typed by the launcher, still before the run folder is made
        ("launcher.workers=0", "launcher.workers must be an integer >= 1 or null, not 0"),
    ],
)
def test_run_with_a_bad_value(fast_femo, tmp_path, clips_folder, override, message):
    out = tmp_path / "out"
    proc = fast_femo("run", "dataset.root=clips", override, f"output_root={out}")
    assert error_line(proc) == f"femo: error: {message}"
    assert_no_run_folder(out)


# ------------------------------------------------------- reduce and status


def test_reduce_not_a_run(fast_femo, tmp_path):
    proc = fast_femo("reduce", "/not/a/run")
    assert error_line(proc) == "femo: error: /not/a/run is not a folder"
    (tmp_path / "empty").mkdir()
    proc = fast_femo("reduce", str(tmp_path / "empty"))
    assert (
        error_line(proc)
        == f"femo: error: {tmp_path / 'empty'} is not a femo run folder (no femo.json)"
    )


@pytest.mark.parametrize(
    "override",
    [
        "detector=mtcnn",
        "sampling.every_n=5",
        "dataset.root=/elsewhere",
        "shards.videos_per_shard=4",
    ],
)
def test_reduce_refuses_overrides_that_change_the_shards(fast_femo, tmp_path, override):
    run_dir = labelled_run(tmp_path)
    proc = fast_femo("reduce", str(run_dir), override)
    key = override.split("=")[0]
    assert error_line(proc) == (
        f"femo: error: femo reduce cannot change {key!r}: it changes the shards, so start a new run "
        "(reduce accepts mapping, reduce.*, report.*, "
        "dataset.{labels,label_column,video_column,unknown_labels,group_column,group_pattern,"
        "person_column,references})"
    )
    assert not (run_dir / "report").exists()


@pytest.mark.parametrize("override", ["batch_size=8", "device=cpu", "launcher=slurm"])
def test_reduce_refuses_overrides_of_how_shards_are_made(fast_femo, tmp_path, override):
    run_dir = labelled_run(tmp_path)
    key = override.split("=")[0]
    assert error_line(fast_femo("reduce", str(run_dir), override)) == (
        f"femo: error: femo reduce cannot change {key!r}: it decides how shards are made "
        f"(femo run resume=RUN_DIR {key}=... applies it to the shards not done yet)"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "foo=bar",
            "unknown key 'foo' (keys are: dataset, detector, sampling, mapping, reduce, report, launcher, shards, device, batch_size, classifier, identity, landmarks)",
        ),
        (
            "reduce.fase=largest",
            "unknown key 'reduce.fase' (did you mean 'reduce.face'? reduce has: face, "
            "group_distance, match_distance, person_distance, person_bound, vote, class_shares, "
            "no_face, head, score_decimals, allow_partial)",
        ),
        (
            "mapping.colours=2",
            "unknown key 'mapping.colours' (mapping has: name, classes, emotions)",
        ),
    ],
)
def test_reduce_names_an_unknown_key(fast_femo, tmp_path, override, message):
    run_dir = labelled_run(tmp_path)
    assert error_line(fast_femo("reduce", str(run_dir), override)) == f"femo: error: {message}"
    assert not (run_dir / "report").exists()


def test_reduce_unknown_mapping(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path)
    proc = fast_femo("reduce", str(run_dir), "mapping=nine")
    line = error_line(proc)
    assert line.startswith("femo: error: no mapping config named 'nine' (options: ")
    assert "seven" in line and "three_class" in line


def test_reduce_of_an_unfinished_run_needs_allow_partial(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    proc = fast_femo("reduce", str(run_dir))
    assert error_line(proc) == (
        "femo: error: 2 of 3 shard(s) are not done (1-2); wait for them, resume the run, "
        "or report what is there with --allow-partial (reduce.allow_partial=true)"
    )
    proc = fast_femo("reduce", "--allow-partial", str(run_dir), "reduce.face=largest")
    assert proc.returncode == 0, proc.stderr
    # shard 0 holds v0 (happy: Positive, right) and v1 (sad: Neutral, labelled Negative)
    lines = proc.stdout.splitlines()
    assert (
        "femo: accuracy 50.0% over 2 labelled of 2 clips present (0 without a face, 0 failed)"
        in lines
    )
    assert (
        "femo: PARTIAL: 3 of 5 clips missing (2 of 3 shard(s) not done); "
        "the accuracy is over the 2 clips present"
    ) in lines
    # other settings than the run's: their own folder, and femo says where
    folder = run_dir / "report-reduce.face-largest"
    assert f"femo: report: {folder / 'index.html'} (PARTIAL: some shards are not done)" in (
        proc.stdout
    )
    assert not (run_dir / "report").exists()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["partial"] is True
    assert metrics["n_missing"] == 3
    assert metrics["config"]["reduce"]["face"] == "largest"
    assert metrics["config"]["reduce"]["allow_partial"] is True
    assert metrics["labels_file"] == str(run_dir / "labels.csv")  # the run's own snapshot


def test_reduce_allow_partial_between_run_and_overrides(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    proc = fast_femo("reduce", str(run_dir), "--allow-partial", "reduce.face=largest")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "report-reduce.face-largest" / "metrics.json").read_text())
    assert metrics["config"]["reduce"]["face"] == "largest"


def test_reduce_with_another_mapping(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path, n_shards=1)
    write_shard(run_dir, 0, clip_rows("v0.mp4", ["happy", "surprise", "surprise"]))
    proc = fast_femo("reduce", str(run_dir), "mapping=seven", "dataset.unknown_labels=unlabelled")
    assert proc.returncode == 0, proc.stderr
    folder = run_dir / "report-mapping-seven_dataset.unknown_labels-unlabelled"
    header = (folder / "videos.csv").read_text().splitlines()[0]
    assert (
        header
        == "video,group,predict,golden,status,frames_sampled,frames_with_face,"
        + ",".join(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
        + ",message"
    )
    assert (folder / "videos.csv").read_text().splitlines()[1] == (
        "v0.mp4,,surprise,,ok,3,3,0,0,0,1,0,2,0,"
    )


def status_counts(line: str) -> dict[str, int]:
    """'shards: 3 planned, 1 done, 1 failed, ...' -> {'planned': 3, 'done': 1, 'failed': 1, ...}."""
    head, _, rest = line.partition(":")
    counts = {}
    for part in rest.split(","):
        number, _, name = part.strip().partition(" ")
        counts[name] = int(number)
    return counts


def test_status(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    (run_dir / "logs" / "shard-00001.failed").write_text(
        "Traceback...\nRuntimeError: out of memory\n"
    )
    proc = fast_femo("status", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"run: {run_dir}"
    shards = next(line for line in lines if line.startswith("shards:"))
    clips = next(line for line in lines if line.startswith("clips:"))
    counts = status_counts(shards)
    assert (counts["planned"], counts["done"], counts["failed"]) == (3, 1, 1)
    # Shard 2 was never run: counted once, as not done / not submitted.
    assert sum(v for k, v in counts.items() if k.startswith("not ")) == 1
    assert sum(counts.values()) == 3 + 3
    clip_counts = status_counts(clips)
    assert (clip_counts["planned"], clip_counts["done"], clip_counts["failed"]) == (5, 2, 2)
    failed = [line for line in lines if "failed" in line and line.startswith("  shard")]
    assert len(failed) == 1
    assert failed[0].split()[:2] == ["shard", "1"]
    assert "RuntimeError: out of memory" in failed[0]
    assert str(run_dir / "logs" / "shard-00001.log") in failed[0]
    assert lines[-1] == "report: not written yet"


def test_status_not_a_run(fast_femo):
    proc = fast_femo("status", "/not/a/run")
    assert error_line(proc) == "femo: error: /not/a/run is not a folder"


# ------------------------------------------------------------------- slow


@pytest.mark.slow
def test_demo_run(tmp_path):
    out = tmp_path / "out"
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = femo("run", f"output_root={out}", cwd=tmp_path, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "using the demo dataset" in proc.stdout
    runs = [p.parent for p in out.glob("*/*/femo.json")]
    assert len(runs) == 1, runs
    run_dir = runs[0]
    assert run_dir.name.endswith("-demo-haar-n20")
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())
    assert metrics["n_videos"] == 5
    assert metrics["n_labelled"] == 4
    assert metrics["unlabelled"] == ["hopper.jpg"]
    assert metrics["n_failed"] == 0
    assert (run_dir / "report" / "report.md").read_text().startswith("# femo report\n\n**Accuracy:")
    assert (tmp_path / "cache" / "femo" / "demo-v1" / "labels.csv").is_file()


def test_run_whose_labels_name_no_clip_stops_before_any_work(fast_femo, tmp_path, clips_folder):
    (tmp_path / "labels.csv").write_text("video,label\nother/a.mp4,Positive\nother/b.mp4,Neutral\n")
    out = tmp_path / "out"
    proc = fast_femo("run", "dataset.root=clips", "dataset.labels=labels.csv", f"output_root={out}")
    assert error_line(proc) == (
        f"femo: error: no label of {tmp_path / 'labels.csv'} names a clip under "
        f"{tmp_path / 'clips'} (e.g. 'other/a.mp4'); its 'video' column holds paths relative "
        "to dataset.root"
    )
    assert_no_run_folder(out)
