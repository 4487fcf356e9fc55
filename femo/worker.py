"""The entry point of an array task: ``python -m femo.worker RUN_DIR INDEX``.

It rebuilds the shard's task from the run folder alone and runs it in a watched worker
process (:mod:`femo.node.supervise`), as submitit array tasks and local runs do.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .node.supervise import ShardFailed, run_one
from .rundir import RunDir, RunDirError
from .task import ShardTask, make_tasks


def task_of(run_dir: Path, index: int) -> ShardTask:
    """Rebuild shard ``index``'s task from the run folder alone."""
    run = RunDir(run_dir)
    plan = run.read_plan()
    if not 0 <= index < plan.n_shards:
        raise RunDirError(f"shard {index} is outside 0-{plan.n_shards - 1}")
    (task,) = make_tasks(run.path, plan, run.config(), only=[index])
    return task


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
