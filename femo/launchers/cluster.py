"""What SLURM and Grid Engine launchers share: array submission through submitit.

femo hands submitit one array per run (split where the cluster caps array sizes),
records each array in ``RUN_DIR/jobs.json`` so any later shell can check on it, and
reads a task's own logs to say why it ended without its shard.
"""

from __future__ import annotations

import logging
import os
import subprocess
from abc import abstractmethod
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import submitit

from ..config import ConfigError
from ..node.supervise import run_one
from ..rundir import RunDir, Submission
from ..shard_files import damage
from ..task import ShardResult, ShardTask
from .base import Launch, Launcher, Say, SubmissionError
from .settings import SubmittedConfig

log = logging.getLogger(__name__)

DEFAULT_QUERY_TIMEOUT_S = 30.0


class ShardJob(submitit.helpers.Checkpointable):
    """The callable each array task runs. Checkpointable: on preemption or time-out,
    SLURM requeues the task and its rerun does only the clips not yet kept in part
    files (a shard file only ever appears complete, so nothing needs cleaning up);
    a rerun that finds its shard already written (the signal came as it finished)
    does nothing."""

    def __call__(self, task: ShardTask) -> ShardResult:
        path = RunDir(task.run_dir).shard_file(task.index)
        if path.is_file() and damage(path) is None:
            print(f"femo: shard {task.index} is already written ({path}): nothing to redo")
            return written_result(task, path)
        return run_one(task)


def written_result(task: ShardTask, path: Path) -> ShardResult:
    """The :class:`ShardResult` of a shard file that is already there."""
    table = pq.read_table(path, columns=["kind", "status", "frames_sampled"])
    clips = [i for i, k in enumerate(table.column("kind").to_pylist()) if k == "clip"]
    status = table.column("status").to_pylist()
    sampled = table.column("frames_sampled").to_pylist()
    return ShardResult(
        index=task.index,
        path=str(path),
        clips=len(task.clips),
        clips_failed=sum(status[i] == "error" for i in clips),
        frames_sampled=sum(sampled[i] or 0 for i in clips),
        seconds=0.0,
    )


class ClusterLauncher(Launcher):
    """A launcher that submits array jobs through a submitit executor."""

    config: SubmittedConfig

    def __init__(self, config: SubmittedConfig) -> None:
        super().__init__(config)
        # How long femo waits for squeue/qstat before calling the answer unknown.
        self.query_timeout_s = float(
            os.environ.get("FEMO_QUERY_TIMEOUT_S") or DEFAULT_QUERY_TIMEOUT_S
        )

    @property
    def waits(self) -> bool:
        return self.config.wait

    @abstractmethod
    def executor_parameters(self) -> dict[str, Any]:
        """submitit ``AutoExecutor.update_parameters`` arguments for this launcher's config."""

    def executor_options(self) -> dict[str, Any]:
        """Extra ``AutoExecutor`` constructor arguments (e.g. requeue counts)."""
        return {}

    def make_executor(self, folder: Path) -> submitit.AutoExecutor:
        try:
            executor = submitit.AutoExecutor(
                folder=folder, cluster=self.name, **self.executor_options()
            )
        except (RuntimeError, ValueError) as exc:
            raise SubmissionError(f"cannot use {self.name}: {exc}") from None
        try:
            executor.update_parameters(**self.executor_parameters())
        except (ValueError, NameError, AssertionError) as exc:
            raise ConfigError(f"bad launcher setting: {str(exc).splitlines()[0]}") from None
        return executor

    def launch(self, run: RunDir, tasks: list[ShardTask], say: Say) -> Launch:
        """Submit the shards as array job(s) and record them in ``RUN_DIR/jobs.json``."""
        if not tasks:
            return Launch()
        check_private(run)
        executor = self.make_executor(run.jobs_dir)
        cap = self.config.array_cap
        submissions = []
        for start in range(0, len(tasks), cap):
            chunk = list(tasks[start : start + cap])
            try:
                jobs = executor.map_array(ShardJob(), chunk)
            except (submitit.core.utils.FailedJobError, subprocess.CalledProcessError) as exc:
                raise SubmissionError(scheduler_message(exc)) from None
            array_id = jobs[0].job_id.split("_")[0]
            submission = Submission(
                self.name, array_id, [t.index for t in chunk], [j.job_id for j in jobs]
            )
            run.record_submission(submission)
            submissions.append(submission)
            say(f"submitted {self.name} array {array_id} ({len(chunk)} task(s))")
        return Launch(submissions)

    def failure_reason(self, run: RunDir, job_id: str) -> str | None:
        out, err = task_log_paths(run.jobs_dir, job_id)
        return last_error_line(err) or last_error_line(out)

    def log_of(self, run: RunDir, job_id: str) -> Path:
        return task_log_paths(run.jobs_dir, job_id)[1]

    def _run_query(self, command: list[str]) -> bytes | None:
        """A scheduler command's stdout, or None when it fails or does not answer in time."""
        try:
            out = subprocess.run(
                command, capture_output=True, timeout=self.query_timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None


def check_private(run: RunDir) -> None:
    """Make ``jobs/`` the owner's alone and refuse a run folder others may write into.

    The array tasks unpickle what they find in ``jobs/``: anyone who can write there,
    or replace ``jobs/`` itself, could make them run code.
    """
    run.jobs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder, others in ((run.path, 0o002), (run.jobs_dir, 0o022)):
        mode = folder.stat().st_mode & 0o777
        if mode & others:
            who = "everyone" if mode & 0o002 else "its group"
            raise ConfigError(
                f"{folder} is writable by {who} (mode {mode:o}), and array tasks load pickles "
                f"from {run.jobs_dir}: run `chmod {'o' if others == 0o002 else 'go'}-w {folder}` "
                "and submit again"
            )


def scheduler_message(exc: Exception) -> str:
    """The scheduler's own words from a failed submission, without submitit's wrapping."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for marker in ("sbatch: error:", "error:", "Unable to run job", "denied", "Invalid", "invalid"):
        hits = [ln for ln in lines if marker in ln]
        if hits:
            return "; ".join(dict.fromkeys(hits))
    return lines[-1] if lines else "submission failed"


def task_log_paths(jobs_dir: Path, job_id: str) -> tuple[Path, Path]:
    """submitit's stdout and stderr files of an array task."""
    paths = submitit.core.utils.JobPaths(jobs_dir, job_id=job_id, task_id=0)
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
