"""Cluster launchers: a run's shards as scheduler array jobs, through submitit.

femo schedules nothing itself. It hands submitit one array per run (split where the
cluster caps array sizes), records the job ids in ``RUN_DIR/jobs.json`` so any later
shell can check on them, and asks the scheduler for task states when asked.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import submitit

from ..config import ConfigError
from ..extract import ShardResult, ShardTask
from ..rundir import write_json
from .local import run_shard_logged

log = logging.getLogger(__name__)

JOBS_FILE = "jobs.json"
JOBS_DIR = "jobs"
CLUSTER_LAUNCHERS = ("slurm", "sge")


class SubmissionError(RuntimeError):
    """The scheduler refused a submission; the message is the scheduler's own."""


class ShardJob(submitit.helpers.Checkpointable):
    """The callable each array task runs. Checkpointable: on preemption or time-out,
    SLURM requeues the task and it redoes its shard from the start (a shard file only
    ever appears complete, so a half-done shard needs no cleanup)."""

    def __call__(self, task: ShardTask) -> ShardResult:
        return run_shard_logged(task)


@dataclass
class Submission:
    """One array job: its scheduler id and the shard each of its tasks runs."""

    launcher: str
    array_id: str
    shards: list[int]
    job_ids: list[str]
    submitted: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def executor_parameters(launcher: dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """submitit AutoExecutor parameters for a femo launcher config."""
    name = launcher["name"]
    params: dict[str, Any] = {"name": "femo", "timeout_min": int(launcher.get("time_min") or 60)}
    if name == "slurm":
        params.update(
            cpus_per_task=int(launcher.get("cpus_per_task") or 1),
            gpus_per_node=int(launcher.get("gpus_per_node") or 0) or None,
            mem_gb=launcher.get("mem_gb"),
            slurm_partition=launcher.get("partition"),
            slurm_account=launcher.get("account"),
            slurm_qos=launcher.get("qos"),
            slurm_array_parallelism=int(launcher.get("array_parallelism") or 256),
            slurm_additional_parameters=dict(launcher.get("extra_flags") or {}) or None,
            slurm_setup=list(launcher.get("setup") or []) or None,
            # python runs directly in the batch script: no srun step, which the
            # node's srun may forbid inside arrays and which adds nothing for one task.
            slurm_use_srun=False,
        )
    elif name == "sge":
        params.update(
            sge_queue=launcher.get("queue"),
            sge_project=launcher.get("project"),
            sge_pe=launcher.get("pe"),
            sge_slots=int(launcher.get("slots") or 1),
            sge_mem_gb=launcher.get("mem_gb"),
            sge_mem_resource=launcher.get("mem_resource") or "mem_free",
            sge_gpu_resource=launcher.get("gpu_resource"),
            sge_array_parallelism=int(launcher.get("array_parallelism") or 0) or None,
            sge_extra_flags=list(launcher.get("extra_flags") or []) or None,
            sge_setup=list(launcher.get("setup") or []) or None,
        )
    else:
        raise ConfigError(
            f"launcher {name!r} is not a cluster launcher (known: {', '.join(CLUSTER_LAUNCHERS)})"
        )
    return {k: v for k, v in params.items() if v is not None}


def make_executor(launcher: dict[str, Any], folder: Path) -> submitit.AutoExecutor:
    name = launcher["name"]
    kwargs = (
        {"slurm_max_num_timeout": int(launcher.get("max_requeue", 3))} if name == "slurm" else {}
    )
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster=name, **kwargs)
    except (RuntimeError, ValueError) as exc:
        raise SubmissionError(f"cannot use {name}: {exc}") from None
    try:
        executor.update_parameters(**executor_parameters(launcher))
    except (ValueError, NameError, AssertionError) as exc:
        raise ConfigError(f"bad launcher setting: {str(exc).splitlines()[0]}") from None
    return executor


def submit_shards(
    run_dir: Path, tasks: Sequence[ShardTask], launcher: dict[str, Any]
) -> list[Submission]:
    """Submit the shards as array job(s) and record them in ``RUN_DIR/jobs.json``."""
    if not tasks:
        return []
    executor = make_executor(launcher, run_dir / JOBS_DIR)
    cap = max(1, int(launcher.get("max_array_size") or 1000))
    submissions = []
    for start in range(0, len(tasks), cap):
        chunk = list(tasks[start : start + cap])
        try:
            jobs = executor.map_array(ShardJob(), chunk)
        except submitit.core.utils.FailedJobError as exc:
            raise SubmissionError(_scheduler_message(exc)) from None
        except subprocess.CalledProcessError as exc:  # pragma: no cover - submitit wraps these
            raise SubmissionError(_scheduler_message(exc)) from None
        array_id = jobs[0].job_id.split("_")[0]
        submission = Submission(
            launcher["name"], array_id, [t.index for t in chunk], [j.job_id for j in jobs]
        )
        submissions.append(submission)
        record_submission(run_dir, submission)
        log.info(
            "submitted array %s: %d task(s) for shards %d-%d",
            array_id,
            len(chunk),
            chunk[0].index,
            chunk[-1].index,
        )
    return submissions


def _scheduler_message(exc: Exception) -> str:
    """The scheduler's own words from a failed submission, without submitit's wrapping."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for marker in ("sbatch: error:", "error:", "Unable to run job", "denied", "Invalid", "invalid"):
        hits = [ln for ln in lines if marker in ln]
        if hits:
            return "; ".join(dict.fromkeys(hits))
    return lines[-1] if lines else "submission failed"


def record_submission(run_dir: Path, submission: Submission) -> None:
    records = [asdict(s) for s in load_submissions(run_dir)] + [asdict(submission)]
    write_json(run_dir / JOBS_FILE, records)


def load_submissions(run_dir: Path) -> list[Submission]:
    path = run_dir / JOBS_FILE
    if not path.is_file():
        return []
    return [Submission(**r) for r in json.loads(path.read_text(encoding="utf-8"))]


def latest_job_of_shard(submissions: list[Submission]) -> dict[int, tuple[Submission, str]]:
    """Shard index -> (submission, submitit job id) of the last submission that ran it."""
    latest: dict[int, tuple[Submission, str]] = {}
    for s in submissions:
        for shard, job_id in zip(s.shards, s.job_ids, strict=True):
            latest[shard] = (s, job_id)
    return latest


def task_log_paths(run_dir: Path, job_id: str) -> tuple[Path, Path]:
    """submitit's stdout and stderr files of an array task."""
    paths = submitit.core.utils.JobPaths(run_dir / JOBS_DIR, job_id=job_id, task_id=0)
    return paths.stdout, paths.stderr


def last_error_line(path: Path) -> str | None:
    """The last line of a log that looks like an error (or the last line at all)."""
    if not path.is_file():
        return None
    lines = [
        ln.strip()
        for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if ln.strip()
    ]
    for line in reversed(lines):
        if any(
            w in line
            for w in ("Error", "error", "Killed", "killed", "Exception", "CANCELLED", "TIME LIMIT")
        ):
            return line[:300]
    return lines[-1][:300] if lines else None


def _slurm_states(array_ids: set[str]) -> dict[str, str]:
    """squeue's view of array tasks ('123_4' -> 'RUNNING'); ended tasks are absent."""
    try:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-o", "%i|%T"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    states = {}
    for line in out.stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id.split("_")[0] in array_ids:
            states[job_id] = state
    return states


def _sge_states(array_ids: set[str]) -> dict[str, str]:
    """qstat's view of live tasks, then qacct's of ended ones ('123_0' -> state)."""
    import getpass

    from .sge import parse_qstat_xml, qacct

    try:
        out = subprocess.run(
            ["qstat", "-xml", "-u", getpass.getuser()], capture_output=True, timeout=60, check=False
        )
        live = {
            k: v["State"]
            for k, v in parse_qstat_xml(out.stdout).items()
            if k.split("_")[0] in array_ids
        }
    except (OSError, subprocess.TimeoutExpired):
        live = {}
    ended: dict[str, str] = {}
    for array_id in array_ids:
        ended.update({k: v["State"] for k, v in qacct(array_id).items()})
    return {**ended, **live}


def scheduler_states(submissions: list[Submission]) -> dict[str, str]:
    """Live scheduler state of every recorded task that the scheduler still knows."""
    states: dict[str, str] = {}
    for launcher in {s.launcher for s in submissions}:
        ids = {s.array_id for s in submissions if s.launcher == launcher}
        states.update(_slurm_states(ids) if launcher == "slurm" else _sge_states(ids))
    return states


LIVE_STATES = {
    "PENDING",
    "RUNNING",
    "CONFIGURING",
    "COMPLETING",
    "REQUEUED",
    "RESIZING",
    "SUSPENDED",
}
