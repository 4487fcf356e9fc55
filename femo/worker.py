"""The entry point of an array task: ``python -m femo.worker RUN_DIR INDEX``.

It rebuilds the shard's task from the run folder alone and runs it in a watched worker
process (:mod:`femo.node.supervise`), as submitit array tasks and local runs do. Under
SLURM or Grid Engine it first records its job id in the run folder, so that
``femo status`` follows a task the user submitted by hand (``launcher=none``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .launchers.dialects import sge_job_id
from .node.supervise import ShardFailed, run_one
from .rundir import RunDir, RunDirError, Submission
from .task import ShardTask, make_tasks


def task_of(run_dir: Path, index: int) -> ShardTask:
    """Rebuild shard ``index``'s task from the run folder alone."""
    run = RunDir(run_dir)
    plan = run.read_plan()
    if not 0 <= index < plan.n_shards:
        raise RunDirError(f"shard {index} is outside 0-{plan.n_shards - 1}")
    (task,) = make_tasks(run.path, plan, run.config(), only=[index])
    return task


def scheduler_task(env: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(launcher, array id, job id) of the SLURM or Grid Engine task ``env`` belongs to.

    Job ids are spelled as femo's launchers query them: ``<array>_<index>`` with
    0-based indices (Grid Engine's ``$SGE_TASK_ID`` counts from 1).
    """
    array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    if array and task and task.isdigit():
        return "slurm", array, f"{array}_{task}"
    if env.get("SLURM_JOB_ID"):
        return "slurm", env["SLURM_JOB_ID"], env["SLURM_JOB_ID"]
    job, task = env.get("JOB_ID"), env.get("SGE_TASK_ID")
    if job and task is not None:  # SGE sets SGE_TASK_ID=undefined outside arrays
        return "sge", job, sge_job_id(job, task)
    return None


def record_scheduler_task(task: ShardTask, env: Mapping[str, str]) -> str | None:
    """Record the scheduler task running ``task`` where ``femo status`` reads it."""
    found = scheduler_task(env)
    if found is None:
        return None
    launcher, array_id, job_id = found
    source = RunDir(task.run_dir).shards_source()
    source.record_task(Submission(launcher, array_id, [task.index], [job_id]))
    return job_id


def main(argv: list[str] | None = None, prog: str = "femo.worker") -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print(f"usage: python -m {prog} RUN_DIR SHARD_INDEX", file=sys.stderr)
        return 2
    try:
        task = task_of(Path(args[0]).resolve(), int(args[1]))
    except RunDirError as exc:
        print(f"femo: error: {exc}", file=sys.stderr)
        return 2
    try:
        record_scheduler_task(task, os.environ)
    except OSError as exc:  # a run folder it cannot write into fails below, with its reason
        print(f"femo: warning: cannot record this task's job id: {exc}", file=sys.stderr)
    try:
        result = run_one(task)
    except ShardFailed as exc:
        print(f"femo: error: shard {task.index}: {exc}", file=sys.stderr)
        return 1
    print(
        f"femo: shard {task.index}: {result.clips} clips, {result.clips_failed} failed "
        f"-> {result.path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
