"""A run folder and a pickled array task written by femo 0.3.0, before the package moved
into femo/node and femo/results (tests/data): today's femo still reads both.

The run is the demo's, one shard of 5 clips. Its dataset root (~/.cache/femo/demo-v1
on the machine that made it) may be absent here: status, reduce and a resume with
nothing to redo never open a clip, and TensorFlow is poisoned (``fast_femo``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from submitit.core.utils import DelayedSubmission

from femo.config import ClassifierConfig, ExtractConfig, HaarConfig, SamplingConfig
from femo.dataset import Clip
from femo.launchers import cluster
from femo.task import ShardResult, ShardTask

pytestmark = pytest.mark.usefixtures("no_tensorflow")

OLD_RUN = Path(__file__).parent / "data" / "run-0.3.0"
OLD_TASK = OLD_RUN.with_name("run-0.3.0-task.pkl")
ACCURACY_LINE = "femo: accuracy 50.0% over 4 labelled of 5 clips (1 without a face, 0 failed)"
# What metrics.json answers; where the labels were read and when are left out.
ANSWERS = ("accuracy", "accuracy_scored", "accuracy_ci", "macro_f1", "macro_f1_ci", "per_class",
           "confusion", "classes", "coverage", "n_videos", "n_labelled", "n_compared",
           "n_scored", "n_correct", "n_no_face", "n_failed", "n_missing", "unlabelled")  # fmt: skip
CLIPS = (
    Clip("empty_wall.mp4", "video"),
    Clip("hopper.jpg", "image"),
    Clip("hopper_mirrored.mp4", "video"),
    Clip("hopper_still.mp4", "video"),
    Clip("hopper_zoom.mp4", "video"),
)


@pytest.fixture
def old_run(tmp_path) -> Path:
    """A copy of the 0.3.0 run folder in tmp_path/run."""
    return Path(shutil.copytree(OLD_RUN, tmp_path / "run"))


def test_status_says_the_old_run_is_done(fast_femo, old_run):
    proc = fast_femo("status", str(old_run))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:3] == [
        f"run: {old_run}",
        "shards: 1 planned, 1 done, 0 running, 0 pending, 0 unknown, 0 failed, 0 interrupted, "
        "0 not submitted",
        "clips:  5 planned, 5 done, 0 running, 0 pending, 0 unknown, 0 failed, 0 interrupted, "
        "0 not submitted",
    ]
    assert lines[-1] == f"report: {old_run / 'report' / 'report.md'}"


def test_reduce_reproduces_the_old_report(fast_femo, old_run):
    """From the shard and the run's labels snapshot alone, the old report is made again."""
    shutil.rmtree(old_run / "report")
    proc = fast_femo("reduce", str(old_run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == ACCURACY_LINE
    report, old_report = old_run / "report", OLD_RUN / "report"
    assert (report / "videos.csv").read_bytes() == (old_report / "videos.csv").read_bytes()
    metrics = json.loads((report / "metrics.json").read_text())
    old = json.loads((old_report / "metrics.json").read_text())
    assert metrics["accuracy"] == old["accuracy"] == 0.5  # 2 of 4 labelled, no face is wrong
    # What femo 0.4 says on purpose otherwise: 4 clips are too few for an interval
    # (report.min_units), and Negative, with no clip, has no precision/recall/F1 (n/a).
    assert (old["accuracy_ci"], old["macro_f1_ci"]) == ([0.0, 1.0], [0.0, 0.5])
    assert (metrics["accuracy_ci"], metrics["macro_f1_ci"]) == (None, None)
    assert metrics["ci"]["withheld"] == "no interval: 4 clips, fewer than report.min_units=10"
    assert old["per_class"]["Negative"]["support"] == 0
    assert metrics["per_class"]["Negative"] == {
        "precision": None, "recall": None, "f1": None, "support": 0, "recall_ci": None,
    }  # fmt: skip
    for c in ("Positive", "Neutral"):
        assert metrics["per_class"][c] == {**old["per_class"][c], "recall_ci": None}
    same = [k for k in ANSWERS if k not in ("accuracy_ci", "macro_f1_ci", "per_class")]
    assert {k: metrics[k] for k in same} == {k: old[k] for k in same}
    assert metrics["labels_file"] == str(old_run / "labels.csv")  # the snapshot, not the cache


def test_resume_finds_nothing_to_redo(fast_femo, old_run, tmp_path):
    shard = old_run / "shards" / "shard-00000.parquet"
    shard_bytes, jobs = shard.read_bytes(), (old_run / "jobs.json").read_text()
    proc = fast_femo("run", f"resume={old_run}")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == [
        f"femo: resuming {old_run}: 1 done, 0 queued or running, 0 to redo",
        ACCURACY_LINE,
    ]
    assert shard.read_bytes() == shard_bytes
    assert (old_run / "jobs.json").read_text() == jobs  # nothing submitted
    assert sorted(p.parent for p in tmp_path.rglob("femo.json")) == [old_run]


def test_the_old_pickled_array_task_loads_and_finds_its_shard_written(old_run, monkeypatch):
    """The submitit DelayedSubmission(ShardJob(), ShardTask) that 0.3.0 pickled for its
    array task loads as an array task loads it, with the task's fields as they were; run
    (on the copy), it finds its shard written and returns it without extracting."""
    delayed = DelayedSubmission.load(OLD_TASK)
    assert isinstance(delayed.function, cluster.ShardJob)
    assert delayed.kwargs == {}
    (task,) = delayed.args
    assert isinstance(task, ShardTask)
    assert (task.run_dir, task.index, task.dataset_root) == (
        "tests/data/run-0.3.0",
        0,
        "/root/.cache/femo/demo-v1",
    )
    assert task.clips == CLIPS
    assert all(type(c) is Clip for c in task.clips)
    # made with keras (0.3.0 had no other classifier), whatever today's default is
    assert task.extract == ExtractConfig(
        detector=HaarConfig(),
        sampling=SamplingConfig(mode="every_n", every_n=20),
        classifier=ClassifierConfig("keras"),
    )
    assert (task.part_clips, task.clip_timeout_s) == (8, 3600)
    manifest = json.loads((OLD_RUN / "femo.json").read_text())
    assert json.loads(task.config_json) == manifest["config"]

    def no_extraction(task):
        raise AssertionError(f"shard {task.index} was extracted again")

    monkeypatch.setattr(cluster, "run_one", no_extraction)
    delayed.args = (replace(task, run_dir=str(old_run)),)
    result = delayed.result()
    path = str(old_run / "shards" / "shard-00000.parquet")
    # frames sampled, from videos.csv: 3 + 1 + 3 + 3 + 3
    assert result == ShardResult(0, path, clips=5, clips_failed=0, frames_sampled=13, seconds=0.0)
