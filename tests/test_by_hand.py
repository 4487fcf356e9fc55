"""launcher=none: array scripts filled from the launcher's settings, and tasks submitted
by hand that record their job id so that ``femo status`` follows them (offline: the
fake scheduler of tests/fake_scheduler.py answers squeue and qstat)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from femo.launchers.none import NoneLauncherConfig, array_scripts
from femo.rundir import RunDir, Submission
from femo.status import ShardState, read_status
from femo.worker import record_scheduler_task, scheduler_task, task_of

from .builders import clip_rows, shard_per_clip_run, write_shard
from .conftest import femo

RUN = "/runs/r1"


def test_array_scripts_follow_non_default_settings():
    config = NoneLauncherConfig(
        time_min=90, cpus_per_task=8, mem_gb=16, gpus=1, partition="short", account="lab",
        queue="gpu.q", project="cs640", pe="omp", mem_resource="mem_per_core",
        array_parallelism=4, setup=("module load python3/3.12",),
    )  # fmt: skip
    scripts = array_scripts(RunDir(RUN), 5, "/py", config)
    sbatch = scripts["femo-array.sbatch"].splitlines()
    assert sbatch[2].endswith(f"sbatch --array=0-4%4 {RUN}/femo-array.sbatch")
    assert sbatch[4:10] == [
        "#SBATCH --time=01:30:00",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=16G",
        "#SBATCH --partition=short",
        "#SBATCH --account=lab",
        "#SBATCH --gpus-per-node=1",
    ]
    assert sbatch[-2:] == [
        "module load python3/3.12",
        f'exec /py -m femo.worker {RUN} "$SLURM_ARRAY_TASK_ID"',
    ]
    assert not any("--cpus-per-task=4" in line or "--mem=8G" in line for line in sbatch)
    qsub = scripts["femo-array.qsub"].splitlines()
    assert qsub[2].endswith(f"qsub -t 1-5 -tc 4 {RUN}/femo-array.qsub")
    assert qsub[7:13] == [
        "#$ -l h_rt=01:30:00",
        "#$ -q gpu.q",
        "#$ -P cs640",
        "#$ -pe omp 8",
        "#$ -l mem_per_core=16G",
        "#$ -l gpus=1",
    ]
    assert qsub[-3] == "module load python3/3.12"


def test_array_scripts_without_memory_or_pe_ask_for_none():
    config = NoneLauncherConfig(mem_gb=None, pe=None)
    scripts = array_scripts(RunDir(RUN), 2, "/py", config)
    assert "--mem" not in scripts["femo-array.sbatch"]
    assert "mem_free" not in scripts["femo-array.qsub"]
    assert "-pe" not in scripts["femo-array.qsub"]  # pe null: none asked (it asked smp)


def test_the_scripts_edit_lines_are_neutral_and_gpus_only_when_asked():
    """Issue 37: femo's default path is CPU-only, yet the EDIT lines suggested a GPU
    partition, a GPU per task and `module load cuda`."""
    scripts = array_scripts(RunDir(RUN), 2, "/py", NoneLauncherConfig())
    text = "\n".join(scripts.values())
    assert not any(word in text.lower() for word in ("gpu", "cuda"))
    assert "##SBATCH --partition=PARTITION    # EDIT (remove one '#')" in text.splitlines()
    with_gpus = array_scripts(RunDir(RUN), 2, "/py", NoneLauncherConfig(gpus=2))
    assert "#SBATCH --gpus-per-node=2" in with_gpus["femo-array.sbatch"].splitlines()
    assert "#$ -l gpus=2" in with_gpus["femo-array.qsub"].splitlines()


@pytest.mark.parametrize(
    ("overrides", "submit"),
    [
        ([], ["sbatch --array=0-2%64", "qsub -t 1-3 -tc 64"]),
        (["launcher.array_parallelism=5"], ["sbatch --array=0-2%5", "qsub -t 1-3 -tc 5"]),
    ],
)
def test_the_printed_submit_lines_are_the_scripts_own(fast_femo, tmp_path, overrides, submit):
    """Issue 37: femo printed `sbatch --array=0-1 ...` and `qsub -t 1-2 ...`, without
    the throttle the scripts' headers give."""
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / "clips" / name).write_bytes(b"never decoded here")
    proc = fast_femo("run", "launcher=none", "dataset.root=clips", "output_root=out",
                     "shards.videos_per_shard=1", *overrides)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run,) = (p.parent for p in (tmp_path / "out").glob("*/*/femo.json"))
    printed = [line.removeprefix("femo:").strip() for line in proc.stdout.splitlines()[1:3]]
    assert printed == [f"{submit[0]} {run}/femo-array.sbatch", f"{submit[1]} {run}/femo-array.qsub"]
    for line, name in zip(printed, ("femo-array.sbatch", "femo-array.qsub"), strict=True):
        header = (run / name).read_text().splitlines()[2]
        assert header == f"# Filled from launcher=none's settings; check it, then: {line}"


def test_a_resumed_plain_run_prints_the_shards_left_with_the_throttle(planned, fast_femo):
    write_shard(planned, 1, clip_rows("b.mp4", ["happy"]))
    proc = fast_femo("run", f"resume={planned}")
    assert proc.returncode == 0, proc.stderr
    lines = [line.removeprefix("femo:").strip() for line in proc.stdout.splitlines()]
    assert f"sbatch --array=0,2%64 {planned}/femo-array.sbatch" in lines
    assert f"for t in 1 3; do qsub -t $t {planned}/femo-array.qsub; done" in lines


@pytest.mark.parametrize(
    ("name", "prefix"), [("femo-array.sbatch", "#SBATCH"), ("femo-array.qsub", "#$")]
)
def test_the_scripts_in_the_slurm_folder_are_femos_defaults(name, prefix):
    """slurm/femo-array.* (for one script kept for all runs) ask what a planned run's
    scripts ask with the default settings, and give the same throttle."""
    kept = (Path(__file__).parents[1] / "slurm" / name).read_text().splitlines()
    planned = array_scripts(RunDir(RUN), 2, "/py", NoneLauncherConfig())[name].splitlines()

    def asked(lines: list[str]) -> list[str]:
        return [ln for ln in lines if ln.lstrip("#").startswith(prefix.lstrip("#") + " ")
                and "--output" not in ln and " -o " not in ln]  # fmt: skip

    assert asked(kept) == asked(planned)
    throttle = "%64 " if prefix == "#SBATCH" else "-tc 64 "
    assert throttle in kept[3] and throttle in planned[2]


def test_femo_run_writes_the_launcher_settings_into_the_scripts(fast_femo, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"never decoded here")
    proc = fast_femo(
        "run", "launcher=none", "dataset.root=clips", "output_root=out",
        "launcher.cpus_per_task=6", "launcher.mem_gb=12", "launcher.partition=short",
        "launcher.time_min=45",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (manifest,) = (tmp_path / "out").glob("*/*/femo.json")
    sbatch = (manifest.parent / "femo-array.sbatch").read_text().splitlines()
    assert sbatch[4:8] == [
        "#SBATCH --time=00:45:00",
        "#SBATCH --cpus-per-task=6",
        "#SBATCH --mem=12G",
        "#SBATCH --partition=short",
    ]
    qsub = (manifest.parent / "femo-array.qsub").read_text().splitlines()
    assert qsub[7:10] == ["#$ -l h_rt=00:45:00", "#$ -pe smp 6", "#$ -l mem_free=12G"]


@pytest.mark.parametrize(
    ("env", "found"),
    [
        ({"SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "2", "SLURM_JOB_ID": "79"},
         ("slurm", "77", "77_2")),
        ({"SLURM_JOB_ID": "79"}, ("slurm", "79", "79")),
        ({"JOB_ID": "88", "SGE_TASK_ID": "3"}, ("sge", "88", "88_2")),
        ({"JOB_ID": "88", "SGE_TASK_ID": "undefined"}, ("sge", "88", "88")),
        ({"JOB_ID": "88"}, None),  # not Grid Engine's environment
        ({}, None),
    ],
)  # fmt: skip
def test_scheduler_task_of_the_environment(env, found):
    assert scheduler_task(env) == found


def test_status_follows_a_slurm_task_started_by_hand(tmp_path, scheduler):
    run = shard_per_clip_run(tmp_path, n_shards=3)
    scheduler.add("slurm", 3, array_id="77")  # sbatch --array=0-2 femo-array.sbatch
    for k in (1, 2):
        env = {"SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": str(k)}
        assert record_scheduler_task(task_of(run.path, k), env) == f"77_{k}"
    record = json.loads(run.task_record(1).read_text())
    assert (record["launcher"], record["array_id"], record["shards"], record["job_ids"]) == (
        "slurm", "77", [1], ["77_1"],
    )  # fmt: skip
    assert not run.jobs_file.exists()  # jobs.json stays femo's own submissions
    scheduler.start("77_1", "77_2")
    states = [(s.state, s.job_id) for s in read_status(run).statuses]
    assert states == [
        (ShardState.NOT_SUBMITTED, None),
        (ShardState.RUNNING, "77_1"),
        (ShardState.RUNNING, "77_2"),
    ]
    write_shard(run.path, 1, clip_rows("v1.mp4", ["happy"]))
    scheduler.finish("77_1", "77_2")
    states = [(s.state, s.job_id) for s in read_status(run).statuses]
    assert states[1:] == [(ShardState.DONE, "77_1"), (ShardState.FAILED, "77_2")]


def test_status_follows_a_grid_engine_task_started_by_hand(tmp_path, scheduler):
    run = shard_per_clip_run(tmp_path, n_shards=3)
    scheduler.add("sge", 3, array_id="88")
    record_scheduler_task(task_of(run.path, 2), {"JOB_ID": "88", "SGE_TASK_ID": "3"})
    scheduler.start("88_2")
    states = [(s.state, s.job_id) for s in read_status(run).statuses]
    assert states[2] == (ShardState.RUNNING, "88_2")


def test_a_later_submission_of_the_shard_wins(tmp_path, scheduler):
    run = shard_per_clip_run(tmp_path, n_shards=2)
    scheduler.add("slurm", 2, array_id="77")
    scheduler.add("slurm", 2, array_id="78")
    record_scheduler_task(task_of(run.path, 0), {"SLURM_JOB_ID": "70"})
    run.record_submission(Submission("slurm", "78", [0, 1], ["78_0", "78_1"]))
    assert [s.job_id for s in read_status(run).statuses] == ["78_0", "78_1"]


def test_the_worker_records_its_job_id_before_it_runs(planned, poisoned_tf, tmp_path):  # noqa: F811
    env = {"SLURM_ARRAY_JOB_ID": "4242", "SLURM_ARRAY_TASK_ID": "0"}
    femo(str(planned), "0", cwd=tmp_path, env=env, first=poisoned_tf, module="femo.worker")
    record = json.loads(RunDir(planned).task_record(0).read_text())
    assert (record["launcher"], record["job_ids"]) == ("slurm", ["4242_0"])
    assert [s.job_ids for s in RunDir(planned).submissions()] == [["4242_0"]]


def test_a_damaged_task_record_counts_as_none(tmp_path):
    run = shard_per_clip_run(tmp_path, n_shards=1)
    run.logs_dir.mkdir(exist_ok=True)
    run.task_record(0).write_text('{"launcher": "slu')
    assert run.submissions() == []
    assert Path(run.task_record(0)).is_file()
