"""Launchers offline: submitit parameters, the sbatch script submitit writes (golden
file), the registry, and SLURM and Grid Engine arrays against the shared fake scheduler
(tests/fake_scheduler.py): arrays split where the cluster caps them, requeued tasks,
tasks the scheduler lost, failed tasks, and what ``femo status`` makes of each."""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path

import pytest
import submitit
from submitit.core import job_environment, utils
from submitit.slurm.slurm import SlurmJob

from femo.config import LauncherSection
from femo.launchers import launcher_class, launcher_for, make_launcher
from femo.launchers.base import SubmissionError
from femo.launchers.local import LocalLauncher, LocalLauncherConfig, plan_workers
from femo.launchers.sge import SgeLauncher, SgeLauncherConfig
from femo.launchers.slurm import SlurmLauncher, SlurmLauncherConfig
from femo.status import ShardState, read_status

from .builders import make_shard, shard_per_clip_run, tasks_of
from .conftest import check_golden, shard_task

pytestmark = pytest.mark.usefixtures("no_tensorflow")

SLURM = SlurmLauncherConfig(
    partition="gpu", account="lab", time_min=90, cpus_per_task=4, mem_gb=16, gpus=1,
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
        "mem_gb": 16,
        "slurm_array_parallelism": 8,
        # every other sbatch flag from the SLURM flag table, as submitit writes it;
        # B: python, which replaces the batch shell, gets the time-limit signal
        "slurm_additional_parameters": {
            "signal": "B:USR2@90",
            "cpus_per_task": 4,
            "partition": "gpu",
            "account": "lab",
            "gpus_per_node": 1,
            "constraint": "a100",
        },
        "slurm_setup": ["module load cuda/12.2", "source ~/venvs/femo/bin/activate"],
        "slurm_use_srun": False,
    }
    assert SlurmLauncher(SLURM).executor_options() == {
        "slurm_max_num_timeout": 3,
        "slurm_python": "exec " + shlex.quote(sys.executable),
    }
    flags = SlurmLauncherConfig(extra_flags={"signal": "B:USR2@30"})
    assert SlurmLauncher(flags).executor_parameters()["slurm_additional_parameters"] == {
        "signal": "B:USR2@30",
        "cpus_per_task": 1,
    }


def test_the_sbatch_script_submitit_writes_for_femo(tmp_path, scheduler):
    # The script is made offline: the fake scheduler stands in for srun on this machine.
    executor = SlurmLauncher(SLURM).make_executor(Path("/runs/r/jobs"))
    executor.parameters["map_count"] = 5  # as submitit sets it for an array of 5
    command = executor._executor._submitit_command_str.replace(
        shlex.quote(sys.executable), "python"
    )
    text = executor._executor._make_submission_file_text(command, "UID")
    check_golden("slurm_array.sbatch", text)


def test_sge_executor_parameters_reach_the_qsub_script(tmp_path, scheduler):
    config = SgeLauncherConfig(
        queue="all.q", project="lab", time_min=125, pe="omp", cpus_per_task=4, mem_gb=8,
        mem_resource="mem_per_core", gpus=1, array_parallelism=3,
        extra_flags={"m": "e"}, setup=("module load python3",),
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


def test_sge_asks_for_memory_by_default(tmp_path, scheduler):
    """Issue 37: launcher=sge asked for no memory at all (mem_gb null), SLURM for 2 GB."""
    executor = SgeLauncher(SgeLauncherConfig()).make_executor(tmp_path)
    text = executor._executor._make_submission_file_text("python -m submitit", "UID")
    assert "#$ -l mem_free=2G" in text.splitlines()
    assert "#$ -pe smp 1" in text.splitlines()


def test_bad_submitit_setting_is_a_config_error(tmp_path, scheduler):
    from femo.config import ConfigError

    with pytest.raises(ConfigError) as exc:
        SgeLauncherConfig(pe=None, cpus_per_task=4)
    assert str(exc.value) == (
        "launcher.cpus_per_task > 1 needs a parallel environment, launcher.pe "
        "(e.g. smp; omp on BU SCC)"
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
    from femo.shard_files import SCHEMA, write_table

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


# ------------------------------------------------- arrays against the fake scheduler

DONE, PENDING, RUNNING = ShardState.DONE, ShardState.PENDING, ShardState.RUNNING
UNKNOWN, FAILED = ShardState.UNKNOWN, ShardState.FAILED


@pytest.fixture
def stand_in(monkeypatch):
    """Array tasks run their ShardJob; a stand-in writes the shard instead of extracting."""
    monkeypatch.setattr("femo.launchers.cluster.run_one", make_shard)


def submit(run, kind: str, **settings) -> list[str]:
    said: list[str] = []
    make_launcher(LauncherSection(kind, settings)).launch(run, tasks_of(run), said.append)
    return said


def states(run) -> list[ShardState]:
    return [s.state for s in read_status(run).statuses]


@pytest.mark.parametrize(
    ("kind", "array_lines"),
    [
        ("slurm", ["#SBATCH --array=0-1%2", "#SBATCH --array=0-1%2", None]),
        ("sge", ["#$ -t 1-2", "#$ -t 1-2", None]),
    ],
)
def test_arrays_are_split_where_the_cluster_caps_them(
    tmp_path, scheduler, stand_in, kind, array_lines
):
    scheduler.max_array_size = scheduler.max_aj_tasks = 2  # an array of 3 would be refused
    run = shard_per_clip_run(tmp_path, n_shards=5)
    said = submit(run, kind, max_array_size=2)
    recorded = run.submissions()
    assert [s.shards for s in recorded] == [[0, 1], [2, 3], [4]]
    # a chunk of one shard is a plain job, as submitit submits one
    assert [s.job_ids for s in recorded] == [["12_0", "12_1"], ["13_0", "13_1"], ["14"]]
    assert said == [
        f"submitted {kind} array 12 (2 task(s))",
        f"submitted {kind} array 13 (2 task(s))",
        f"submitted {kind} array 14 (1 task(s))",
    ]
    for array_id, line in zip(("12", "13", "14"), array_lines, strict=True):
        lines = [
            ln for ln in scheduler.scripts[array_id].splitlines()
            if ln.startswith(("#SBATCH --array", "#$ -t "))
        ]  # fmt: skip
        assert lines == ([line] if line else [])
    assert states(run) == [PENDING] * 5
    scheduler.run_all()
    assert states(run) == [DONE] * 5


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("slurm", "sbatch: error: Batch job submission failed: Invalid job array specification"),
        ("sge", "Unable to run job: job rejected: 3 tasks requested, max_aj_tasks is 2."),
    ],
)
def test_an_array_over_the_cap_is_refused_in_the_schedulers_words(
    tmp_path, scheduler, kind, message
):
    scheduler.max_array_size = scheduler.max_aj_tasks = 2  # femo was told a larger cap
    run = shard_per_clip_run(tmp_path, n_shards=3)
    with pytest.raises(SubmissionError) as exc:
        submit(run, kind)
    assert str(exc.value) == message
    assert run.submissions() == []


def test_a_slurm_task_signalled_before_its_time_limit_requeues_itself(
    tmp_path, scheduler, stand_in
):
    """submitit's own handler checkpoints the ShardJob and asks scontrol to requeue it."""
    run = shard_per_clip_run(tmp_path, n_shards=2)
    submit(run, "slurm")
    scheduler.start("12_0", "12_1")
    task = {"SLURM_JOB_ID": "1000", "SLURM_ARRAY_JOB_ID": "12", "SLURM_ARRAY_TASK_ID": "0"}
    with utils.environment_variables(
        SUBMITIT_EXECUTOR="slurm", SUBMITIT_FOLDER=str(run.jobs_dir), **task
    ):
        env = job_environment.JobEnvironment()
        delayed = utils.DelayedSubmission.load(env.paths.submitted_pickle)
        handler = job_environment.SignalHandler(env, env.paths, delayed)
        with pytest.raises(SystemExit):
            handler.checkpoint_and_try_requeue(signal.SIGUSR2)
    assert ["scontrol", "requeue", "12_0"] in scheduler.calls
    assert scheduler.task("12_0").restarts == 1
    assert SlurmJob(run.jobs_dir, "12_0").state == "REQUEUED"  # sacct, as submitit reads it
    assert states(run) == [PENDING, RUNNING]
    scheduler.run_all()
    assert states(run) == [DONE, DONE]


def test_a_rescheduled_grid_engine_task_waits_again_then_is_done(tmp_path, scheduler, stand_in):
    run = shard_per_clip_run(tmp_path, n_shards=2)
    submit(run, "sge")
    scheduler.start("12_0", "12_1")
    scheduler.requeue("12_0")  # its host went away: -r y puts it back in the queue (Rq)
    # qacct already holds the cut-short attempt; qstat's Rq wins while the task waits
    assert states(run) == [PENDING, RUNNING]
    scheduler.run_all()
    assert len(scheduler.task("12_0").attempts) == 2
    assert states(run) == [DONE, DONE]


def test_a_grid_engine_task_without_a_trace_is_unknown_then_failed_as_lost(
    tmp_path, scheduler, stand_in
):
    """Not in qstat nor qacct: unknown (never failed, never redone) while accounting may
    lag; after the grace period it is lost, and resume may redo it."""
    run = shard_per_clip_run(tmp_path, n_shards=3)
    submit(run, "sge")
    scheduler.start("12_0")
    scheduler.run("12_2")
    scheduler.lose("12_1")  # its host died, and with it the task's accounting record
    status = read_status(run)
    assert [s.state for s in status.statuses] == [RUNNING, UNKNOWN, DONE]
    assert status.statuses[1].error == "not in qstat or qacct yet"
    assert status.redo == []
    scheduler.now += 180  # past the accounting grace (120 s)
    status = read_status(run)
    assert [s.state for s in status.statuses] == [RUNNING, FAILED, DONE]
    assert status.statuses[1].error == (
        "lost: in neither qstat nor qacct: "
        "the task ended without writing its shard (killed, out of time or memory?)"
    )
    assert status.redo == [1]


def test_grid_engine_accounting_that_lags_is_unknown_until_it_lands(tmp_path, scheduler):
    run = shard_per_clip_run(tmp_path, n_shards=1)
    submit(run, "sge")  # one shard: a plain job, 12
    scheduler.accounting_lag = True
    scheduler.finish("12", exit_status=137, failed="100 : assumedly after job")  # killed
    (status,) = read_status(run).statuses
    assert (status.state, status.error) == (UNKNOWN, "not in qstat or qacct yet")
    scheduler.account()
    (status,) = read_status(run).statuses
    assert status.state == FAILED
    assert status.error == (
        "exit status 137, failed 100 : assumedly after job: "
        "the task ended without writing its shard (killed, out of time or memory?)"
    )


@pytest.mark.parametrize("kind", ["slurm", "sge"])
def test_a_scheduler_that_does_not_answer_makes_shards_unknown_never_failed(
    tmp_path, scheduler, kind
):
    run = shard_per_clip_run(tmp_path, n_shards=2)
    submit(run, kind)
    scheduler.lose("12_1")
    with scheduler.unanswered():
        status = read_status(run)
    assert [s.state for s in status.statuses] == [UNKNOWN, UNKNOWN]
    assert {s.error for s in status.statuses} == {"the scheduler did not answer"}
    assert status.redo == []


def test_a_slurm_task_gone_from_squeue_has_ended(tmp_path, scheduler, stand_in):
    """squeue forgets ended tasks within minutes: gone means ended, and the shard file or
    the task's own log says how."""
    run = shard_per_clip_run(tmp_path, n_shards=2)
    submit(run, "slurm")
    scheduler.run("12_0")
    scheduler.lose("12_0", "12_1")  # past MinJobAge: squeue knows neither any more
    (run.jobs_dir / "12_1_0_log.err").write_text(
        "slurmstepd: error: *** JOB 12 ON n1 CANCELLED ***\n"
    )
    status = read_status(run)
    assert [(s.state, s.error) for s in status.statuses] == [
        (DONE, None),
        (FAILED, "slurmstepd: error: *** JOB 12 ON n1 CANCELLED ***"),
    ]


@pytest.mark.parametrize(("kind", "detail"), [("slurm", ""), ("sge", "exit status 1, failed 0: ")])
def test_a_task_that_raises_fails_with_its_own_last_error_line(
    tmp_path, scheduler, monkeypatch, kind, detail
):
    def shard_or_raise(task):
        if task.index == 1:
            raise MemoryError("clip v1.mp4 needed more memory than the task had")
        return make_shard(task)

    monkeypatch.setattr("femo.launchers.cluster.run_one", shard_or_raise)
    run = shard_per_clip_run(tmp_path, n_shards=2)
    submit(run, kind)
    scheduler.run_all()
    assert scheduler.task("12_1").state == "FAILED"
    status = read_status(run)
    assert [s.state for s in status.statuses] == [DONE, FAILED]
    assert status.statuses[1].error == (
        f"{detail}MemoryError: clip v1.mp4 needed more memory than the task had"
    )
    assert status.statuses[1].log == str(run.jobs_dir / "12_1_0_log.err")


@pytest.mark.parametrize(
    ("kind", "command", "detail"),
    [
        ("slurm", ["scancel", "12_1"], ""),
        ("sge", ["qdel", "12", "-t", "2"], "exit status 137, failed 0: "),
    ],
)
def test_a_cancelled_task_has_ended_and_resume_would_redo_it(
    tmp_path, scheduler, kind, command, detail
):
    from femo.launchers.sge_plugin import SgeJob

    run = shard_per_clip_run(tmp_path, n_shards=2)
    submit(run, kind)
    (SlurmJob if kind == "slurm" else SgeJob)(run.jobs_dir, "12_1").cancel()
    assert scheduler.calls[-1] == command
    assert scheduler.task("12_1").state == "CANCELLED"
    status = read_status(run)
    assert [(s.state, s.error) for s in status.statuses] == [
        (PENDING, None),
        (
            FAILED,
            f"{detail}the task ended without writing its shard (killed, out of time or memory?)",
        ),
    ]
    assert status.redo == [1]
