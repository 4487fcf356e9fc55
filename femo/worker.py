"""The worker side of a shard: ``python -m femo.worker RUN_DIR INDEX``.

:func:`execute` runs one :class:`~femo.task.ShardTask` with its log in ``logs/``, a
``.running`` marker while it works and a ``.failed`` marker when it raises. Local
workers, submitit array tasks and hand-written array scripts all come through here.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .rundir import RunDir, RunDirError, write_text
from .task import ShardResult, ShardTask, make_tasks

log = logging.getLogger(__name__)


class Stopped(BaseException):
    """The worker was told to stop (SIGTERM from its launcher): not a failure of the shard."""


def execute(task: ShardTask, on_clip: Callable[[str, str], None] | None = None) -> ShardResult:
    """Run one shard with its log in ``logs/``; a failure leaves a ``.failed`` marker.

    ``on_clip(video, status)`` is called as each clip ends.
    """
    from .extract import run_shard

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run = RunDir(task.run_dir)
    marker = run.failed_marker(task.index)
    running = run.running_marker(task.index)
    path = run.log_file(task.index)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    # TensorFlow's C++ runtime writes to fd 2 directly: send it to the shard's log too.
    saved_stderr = os.dup(2)
    os.dup2(handler.stream.fileno(), 2)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        marker.unlink(missing_ok=True)
        # Atomic: `femo status` must never read a half-written marker.
        write_text(
            running,
            json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}),
        )
        return run_shard(task, on_clip)
    except (Stopped, KeyboardInterrupt):
        log.warning("shard %d stopped before it finished", task.index)
        raise
    except BaseException as exc:
        log.error("shard %d failed:\n%s", task.index, traceback.format_exc())
        _write_marker(marker, failure_line(exc, task))
        raise
    finally:
        running.unlink(missing_ok=True)
        root.removeHandler(handler)
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        handler.close()


NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def failure_line(exc: BaseException, task: ShardTask) -> str:
    """The one line a failed shard leaves for ``femo status``."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        where = f": {exc.filename}" if exc.filename else ""
        return (
            f"no space left writing shard {task.index} ({exc.strerror or exc}{where}); "
            f"nothing was kept half-written: free space, then femo run resume={task.run_dir}"
        )
    return f"{type(exc).__name__}: {exc}"


def _write_marker(marker: Path, line: str) -> None:
    """Best effort: on a full disk even this small file may not fit (status then reads
    the task's own log)."""
    try:
        marker.write_text(line + "\n", encoding="utf-8")
    except OSError:
        log.error("could not write %s: %s", marker, line)


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
    result = execute(task)
    print(
        f"femo: shard {task.index}: {result.clips} clips, {result.clips_failed} failed "
        f"-> {result.path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
