"""Resume, run folders and hand-submitted arrays, through `python -m femo` (no TensorFlow).

Every run here is planned with ``launcher=none`` (nothing extracted), so the poisoned
tensorflow of test_cli proves that none of these commands starts extraction here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from femo.launchers.none import array_scripts
from femo.rundir import RunDir, Submission
from femo.worker import task_of

from .builders import clip_rows, labelled_run, write_shard
from .conftest import check_golden, error_line, femo, femo_argv, femo_env
from .fake_scheduler import hanging_scheduler


def test_launcher_none_writes_the_array_scripts_into_the_run(planned, fast_femo):
    run = RunDir(planned)
    for name in ("femo-array.sbatch", "femo-array.qsub"):
        text = (planned / name).read_text()
        assert f"-m femo.worker {planned}" in text
        assert sys.executable in text
    proc = fast_femo("status", str(planned))
    assert "3 not submitted" in proc.stdout.splitlines()[1]
    assert run.submissions() == []


def test_array_scripts_golden():
    scripts = array_scripts(
        RunDir("/runs/2026-11-25/10-00-00-clips-haar-n20"), 3, "/opt/py/bin/python"
    )
    for name, text in scripts.items():
        check_golden(name, text)


def test_worker_runs_a_shard_of_a_planned_run(planned, tmp_path):
    task = task_of(planned, 2)
    assert (task.index, [c.video for c in task.clips]) == (2, ["c.mp4"])
    proc = femo(str(planned), "3", cwd=tmp_path, module="femo.worker")
    assert (proc.returncode, proc.stderr) == (2, "femo: error: shard 3 is outside 0-2\n")
    proc = femo(str(planned), cwd=tmp_path, module="femo.shard")
    assert (proc.returncode, proc.stderr) == (
        2,
        "usage: python -m femo.shard RUN_DIR SHARD_INDEX\n",
    )


def test_resume_applies_settings_that_do_not_change_the_shards(planned, fast_femo, tmp_path):
    proc = fast_femo("run", f"resume={planned}", "device=cpu", "batch_size=16", "mapping=seven")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # the saved launcher (none) is used: it plans again, nothing runs here
    assert lines[0] == f"femo: resuming {planned}: 0 done, 0 queued or running, 3 to redo"
    assert lines[1].startswith(f"femo: planned 3 shard(s) in {planned}; nothing submitted.")
    manifest = json.loads((planned / "femo.json").read_text())
    assert (manifest["config"]["device"], manifest["config"]["batch_size"]) == ("cpu", 16)
    assert manifest["config"]["mapping"]["name"] == "seven"
    assert manifest["resumed"][0]["overrides"] == ["device=cpu", "batch_size=16", "mapping=seven"]
    # what an array task rebuilds from the run folder carries the new device
    task = task_of(planned, 0)
    assert (task.extract.device, task.extract.batch_size) == ("cpu", 16)
    # resume made no new run folder, in out/ or in the current folder
    assert len(list((tmp_path / "out").glob("*/*/femo.json"))) == 1
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("detector=mtcnn", "detector"),
        ("sampling.every_n=5", "sampling.every_n"),
        ("dataset.root=/elsewhere", "dataset.root"),
        ("shards.videos_per_shard=2", "shards.videos_per_shard"),
    ],
)
def test_resume_refuses_settings_that_change_the_shards(
    planned, fast_femo, tmp_path, override, key
):
    before = (planned / "femo.json").read_text()
    proc = fast_femo("run", f"resume={planned}", override)
    assert error_line(proc) == (
        f"femo: error: femo run resume cannot change {key!r}: it changes the shards, so start a "
        "new run (resume accepts launcher, launcher.*, device, batch_size, mapping, reduce.*, "
        "report.*, dataset.{labels,label_column,video_column,unknown_labels,group_column,"
        "group_pattern,person_column,references})"
    )
    assert (planned / "femo.json").read_text() == before
    assert not (tmp_path / "outputs").exists()


def test_resume_names_an_unknown_key(planned, fast_femo):
    assert error_line(fast_femo("run", f"resume={planned}", "launcher.max_requeue=1")) == (
        "femo: error: unknown key 'launcher.max_requeue' (did you mean 'launcher.queue'? "
        "launcher none has: name, time_min, "
        "cpus_per_task, mem_gb, gpus, array_parallelism, setup, partition, account, qos, "
        "queue, project, pe, mem_resource, gpu_resource)"
    )
    assert error_line(fast_femo("run", f"resume={planned}", "launcher.slots=2")) == (
        "femo: error: launcher.slots is now launcher.cpus_per_task"
    )
    assert error_line(fast_femo("run", f"resume={planned}", "devise=cpu")) == (
        "femo: error: unknown key 'devise' (did you mean 'device'? keys are: dataset, detector, sampling, mapping, reduce, report, launcher, shards, device, batch_size, classifier, identity, landmarks)"
    )


def test_resume_leaves_unknown_shards_alone(planned, fast_femo, tmp_path):
    run = RunDir(planned)
    write_shard(planned, 0, clip_rows("a.mp4", ["happy"]))
    run.record_submission(Submission("slurm", "77", [0, 1], ["77_0", "77_1"]))
    env = hanging_scheduler(tmp_path, "squeue", "sleep 60\n")
    env = {**env, "FEMO_QUERY_TIMEOUT_S": "0.5"}
    proc = femo("run", f"resume={planned}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        f"femo: resuming {planned}: 1 done, 0 queued or running, 1 to redo, "
        "1 unknown (the scheduler did not answer; left alone)"
    )
    # only shard 2 (never submitted) is handed out again: the one squeue could not vouch for is not
    assert any("sbatch --array=2%64 " in line for line in lines), lines
    status = femo("status", str(planned), cwd=tmp_path, env=env)
    assert "1 done, 0 running, 0 pending, 1 unknown, 0 failed" in status.stdout
    assert "shard     1 unknown       job 77_1  the scheduler did not answer" in status.stdout


def test_two_runs_in_the_same_second_get_two_folders(fast_femo, tmp_path):
    """Both runs are told the same folder name, as when started in the same second."""
    root = tmp_path / "clips"
    root.mkdir()
    (root / "a.mp4").write_bytes(b"x")
    name = tmp_path / "out" / "same-second"
    procs = [
        subprocess.Popen(
            femo_argv("run", "launcher=none", f"dataset.root={root}",
                      f"shards.videos_per_shard={n}", f"hydra.run.dir=${{femo_claim:{name}}}"),
            cwd=tmp_path, env=femo_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]  # fmt: skip
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    runs = sorted(p.parent for p in (tmp_path / "out").glob("*/femo.json"))
    assert [r.name for r in runs] == ["same-second", "same-second-2"]
    per_shard = sorted(
        json.loads((r / "femo.json").read_text())["config"]["shards"]["videos_per_shard"]
        for r in runs
    )
    assert per_shard == [1, 2]
    for r in runs:  # each run's Hydra record is its own
        overrides = (r / ".hydra" / "overrides.yaml").read_text()
        saved = json.loads((r / "femo.json").read_text())["config"]["shards"]["videos_per_shard"]
        assert f"shards.videos_per_shard={saved}" in overrides


def test_claim_folder_never_hands_one_folder_out_twice(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from femo.rundir import claim_folder

    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda _: claim_folder(str(tmp_path / "d" / "run")), range(20)))
    assert len(set(claimed)) == 20
    assert sorted(Path(c).name for c in claimed)[:3] == ["run", "run-10", "run-11"]


def test_a_damaged_shard_is_named_and_resume_redoes_only_it(fast_femo, tmp_path):

    run_dir = labelled_run(tmp_path)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    write_shard(run_dir, 1, [*clip_rows("v2.mp4", ["happy"]), *clip_rows("v3.mp4", ["sad"])])
    write_shard(run_dir, 2, clip_rows("v4.mp4", ["angry"]))
    damaged = run_dir / "shards" / "shard-00001.parquet"
    damaged.write_bytes(damaged.read_bytes()[:200])  # truncated by hand after it was written
    line = error_line(fast_femo("reduce", str(run_dir)))
    assert line.startswith(f"femo: error: shard file {damaged} is damaged (")
    assert line.endswith(f"); femo run resume={run_dir} redoes that shard, nothing else")
    status = fast_femo("status", str(run_dir)).stdout
    assert "2 done" in status and "1 failed" in status
    assert "shard     1 failed" in status and "its shard file is damaged" in status
    proc = fast_femo("run", f"resume={run_dir}", "launcher=none")
    assert proc.returncode == 0, proc.stderr
    assert f"femo: resuming {run_dir}: 2 done, 0 queued or running, 1 to redo" in proc.stdout
    assert "sbatch --array=1%64 " in proc.stdout


def test_two_resumes_at_once(planned, fast_femo):
    with RunDir(planned).resume_lock():
        line = error_line(fast_femo("run", f"resume={planned}"))
    assert line.startswith(
        f"femo: error: {planned} is being resumed by femo (pid {os.getpid()} on "
    )
    assert line.endswith(f"; wait for it (femo status {planned})")
    proc = fast_femo("run", f"resume={planned}")  # once the first is done, resume works
    assert proc.returncode == 0, proc.stderr


def test_resume_reports_with_the_runs_own_labels_snapshot(fast_femo, tmp_path):
    """The labels file changed after the run was planned: the report of a resume reads
    the run's snapshot, as femo reduce does, so the two never disagree."""

    run_dir = labelled_run(tmp_path)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    write_shard(run_dir, 1, [*clip_rows("v2.mp4", ["happy"]), *clip_rows("v3.mp4", ["sad"])])
    write_shard(run_dir, 2, clip_rows("v4.mp4", ["angry"]))
    (tmp_path / "labels.csv").write_text("video,label\nv0.mp4,Negative\nv1.mp4,Positive\n")
    proc = fast_femo("run", f"resume={run_dir}")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())
    assert metrics["labels_file"] == str(run_dir / "labels.csv")
    # the snapshot's 3 labels: only v0 (happy -> Positive) is right, since the study's
    # mapping makes sad Neutral; the changed file's 2 labels would give 0 of 2
    assert metrics["n_labelled"] == 3 and metrics["accuracy"] == pytest.approx(1 / 3)
    reduced = fast_femo("reduce", str(run_dir))
    assert reduced.returncode == 0, reduced.stderr
    again = json.loads((run_dir / "report" / "metrics.json").read_text())
    assert again["accuracy"] == metrics["accuracy"]
