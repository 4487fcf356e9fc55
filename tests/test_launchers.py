"""Launchers offline: submitit parameters, the sbatch script submitit writes (golden
file), and the registry. No scheduler needed."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import submitit

from femo.config import LocalLauncherConfig, SgeLauncherConfig, SlurmLauncherConfig
from femo.launchers import launcher_class, launcher_for, make_launcher
from femo.launchers.local import LocalLauncher, plan_workers
from femo.launchers.sge import SgeExecutor, SgeLauncher
from femo.launchers.slurm import SlurmLauncher

from .conftest import shard_task

pytestmark = pytest.mark.usefixtures("no_tensorflow")

GOLDEN = Path(__file__).parent / "golden"
SLURM = SlurmLauncherConfig(
    partition="gpu", account="lab", time_min=90, cpus_per_task=4, mem_gb=16, gpus_per_node=1,
    array_parallelism=8, extra_flags={"constraint": "a100"},
    setup=("module load cuda/12.2", "source ~/venvs/femo/bin/activate"),
)  # fmt: skip


def test_registry():
    assert {n: launcher_class(n).__name__ for n in ("local", "none", "slurm", "sge")} == {
        "local": "LocalLauncher",
        "none": "NoneLauncher",
        "slurm": "SlurmLauncher",
        "sge": "SgeLauncher",
    }
    assert isinstance(make_launcher(LocalLauncherConfig(workers=2)), LocalLauncher)
    assert launcher_for("slurm").config == SlurmLauncherConfig()
    assert make_launcher(LocalLauncherConfig()).waits
    assert not make_launcher(SlurmLauncherConfig()).waits
    assert make_launcher(SlurmLauncherConfig(wait=True)).waits


def test_slurm_executor_parameters():
    assert SlurmLauncher(SLURM).executor_parameters() == {
        "name": "femo",
        "timeout_min": 90,
        "cpus_per_task": 4,
        "gpus_per_node": 1,
        "mem_gb": 16,
        "slurm_partition": "gpu",
        "slurm_account": "lab",
        "slurm_array_parallelism": 8,
        # B: python, which replaces the batch shell, gets the time-limit signal
        "slurm_additional_parameters": {"signal": "B:USR2@90", "constraint": "a100"},
        "slurm_setup": ["module load cuda/12.2", "source ~/venvs/femo/bin/activate"],
        "slurm_use_srun": False,
    }
    assert SlurmLauncher(SLURM).executor_options() == {
        "slurm_max_num_timeout": 3,
        "slurm_python": "exec " + shlex.quote(sys.executable),
    }
    flags = SlurmLauncherConfig(extra_flags={"signal": "B:USR2@30"})
    assert SlurmLauncher(flags).executor_parameters()["slurm_additional_parameters"] == {
        "signal": "B:USR2@30"
    }


def test_the_sbatch_script_submitit_writes_for_femo(tmp_path, monkeypatch):
    # The script is made offline: no srun needs to be on this machine.
    monkeypatch.setattr(submitit.slurm.slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    executor = SlurmLauncher(SLURM).make_executor(Path("/runs/r/jobs"))
    executor.parameters["map_count"] = 5  # as submitit sets it for an array of 5
    command = executor._executor._submitit_command_str.replace(
        shlex.quote(sys.executable), "python"
    )
    text = executor._executor._make_submission_file_text(command, "UID")
    golden = GOLDEN / "slurm_array.sbatch"
    if os.environ.get("FEMO_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_sge_executor_parameters_reach_the_qsub_script(tmp_path, monkeypatch):
    monkeypatch.setattr(SgeExecutor, "affinity", classmethod(lambda cls: 1))
    config = SgeLauncherConfig(
        queue="all.q", project="lab", time_min=125, pe="omp", slots=4, mem_gb=8,
        mem_resource="mem_per_core", gpu_resource="gpus=1", array_parallelism=3,
        extra_flags=("-m", "e"), setup=("module load python3",),
    )  # fmt: skip
    executor = submitit.AutoExecutor(folder=tmp_path, cluster="sge")
    executor.update_parameters(**SgeLauncher(config).executor_parameters())
    executor._executor.parameters["map_count"] = 4
    text = executor._executor._make_submission_file_text("python -m submitit", "UID")
    for line in (
        "#$ -N femo", "#$ -l h_rt=02:05:00", "#$ -q all.q", "#$ -P lab", "#$ -pe omp 4",
        "#$ -l mem_per_core=8G", "#$ -l gpus=1", "#$ -t 1-4", "#$ -tc 3", "#$ -m e",
        "module load python3",
    ):  # fmt: skip
        assert line in text.splitlines(), line


def test_bad_submitit_setting_is_a_config_error(tmp_path, monkeypatch):
    from femo.config import ConfigError

    monkeypatch.setattr(SgeExecutor, "affinity", classmethod(lambda cls: 1))
    with pytest.raises(ConfigError) as exc:
        SgeLauncher(SgeLauncherConfig(pe=None, slots=4)).make_executor(tmp_path)
    assert str(exc.value) == (
        "bad launcher setting: slots > 1 needs a parallel environment (pe), e.g. pe=smp"
    )


@pytest.mark.parametrize(
    ("shards", "workers", "threads", "expected"),
    [(10, None, None, (2, 1)), (1, None, None, (1, 2)), (10, 1, None, (1, 2)), (10, 2, 3, (2, 3))],
)
def test_plan_workers(monkeypatch, shards, workers, threads, expected):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "2")
    assert plan_workers(shards, workers, threads) == expected


@pytest.mark.parametrize(
    ("folder", "mode", "fix"),
    [("run", 0o777, "chmod o-w"), ("jobs", 0o770, "chmod go-w")],
)
def test_a_run_folder_others_may_write_into_is_refused(tmp_path, folder, mode, fix):
    from femo.config import ConfigError
    from femo.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.jobs_dir.mkdir(parents=True)
    target = run.path if folder == "run" else run.jobs_dir
    target.chmod(mode)
    with pytest.raises(ConfigError) as exc:
        SlurmLauncher(SlurmLauncherConfig()).launch(run, [object()], print)  # type: ignore[list-item]
    assert str(exc.value).startswith(f"{target} is writable by ")
    assert f"`{fix} {target}`" in str(exc.value)
    assert not run.jobs_file.exists()  # nothing was submitted


def test_jobs_folder_is_made_private(tmp_path):
    from femo.launchers.cluster import check_private
    from femo.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir(mode=0o755)
    check_private(run)
    assert run.jobs_dir.stat().st_mode & 0o777 == 0o700


def test_a_shard_job_does_not_redo_a_written_shard(tmp_path, monkeypatch):
    """A requeued task whose shard an earlier attempt wrote returns it as it is; a
    damaged one is redone."""
    from femo.launchers import cluster
    from femo.rundir import RunDir
    from femo.shards import SCHEMA, write_table

    redone = []
    monkeypatch.setattr(cluster, "run_one", lambda task: redone.append(task.index))
    task = shard_task(tmp_path, [f"a_{k}.mp4" for k in range(3)])
    path = RunDir(tmp_path).shard_file(0)
    path.parent.mkdir(parents=True)
    write_table(path, SCHEMA.empty_table())
    result = cluster.ShardJob()(task)
    assert (result.index, result.clips, result.path, redone) == (0, 3, str(path), [])
    path.write_bytes(b"PAR1 truncated")
    cluster.ShardJob()(task)
    assert redone == [0]
