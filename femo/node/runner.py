"""One shard, extracted in this process: the watched worker of :mod:`femo.node.supervise`.

:func:`execute` runs one :class:`~femo.task.ShardTask` with its log in ``logs/``, a
``.running`` marker while it works and a ``.failed`` marker when it raises;
:func:`serve` is a worker process's life: tasks in, news out, models loaded once.
Local workers, submitit array tasks and hand-written array scripts all come through
here.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from ..rundir import RunDir, write_text
from ..task import ShardResult, ShardTask

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
        write_failure_marker(marker, failure_line(exc, task))
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


def write_failure_marker(marker: Path, line: str) -> None:
    """Leave ``line`` for ``femo status``. Best effort: on a full disk even this small
    file may not fit (status then reads the task's own log)."""
    try:
        marker.write_text(line + "\n", encoding="utf-8")
    except OSError:
        log.error("could not write %s: %s", marker, line)


def serve(conn: Connection) -> None:
    """A worker process: run each task ``conn`` sends until it sends None.

    Sends ``("clip", video, status)`` as clips end, then ``("done", result)`` or
    ``("failed", line)`` per task. Ctrl-C is left to the supervisor, SIGTERM stops the
    worker (shards in progress leave no file), SIGUSR2 (submitit's warning of a time
    limit or preemption) is the supervising process's to act on, and the worker dies
    with its supervisor.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    _die_with_parent()
    try:
        while (task := conn.recv()) is not None:
            try:
                result = execute(task, lambda video, status: conn.send(("clip", video, status)))
            except Exception as exc:  # noqa: BLE001 - execute logged it and left a marker
                conn.send(("failed", failure_line(exc, task)))
            else:
                conn.send(("done", result))
    except EOFError:  # the supervisor is gone
        pass
    except Stopped:
        os._exit(128 + signal.SIGTERM)  # finally-blocks ran; leave no half state behind


def _stop(signum: int, frame: object) -> None:
    raise Stopped(f"signal {signum}")


def _die_with_parent() -> None:
    try:  # Linux: die with the parent, even when it is SIGKILLed
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
