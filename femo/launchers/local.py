"""Local launcher: shards run in worker processes on this machine.

The ``femo run`` process is the scheduler here: it records one submission whose id
names this host and its own process, so ``femo status`` from another shell can tell
running from pending (a worker's ``.running`` marker) and, once that process is gone,
shards it never finished from shards still in progress.

The first Ctrl-C or SIGTERM stops every worker (no new shard starts; shards in
progress leave no file) and raises :class:`LaunchInterrupted`.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import socket
from dataclasses import replace
from typing import ClassVar

from tqdm import tqdm

from ..node.runtime import cpu_count
from ..node.supervise import Supervisor
from ..rundir import RunDir, Submission
from ..task import ShardTask
from .base import Launch, Launcher, LaunchInterrupted, Say, TaskAnswer
from .settings import LocalLauncherConfig

log = logging.getLogger(__name__)


def gpu_visible() -> bool:
    """Whether this machine shows a GPU that TensorFlow could use (an NVIDIA, ROCm or WSL
    device file), unless CUDA_VISIBLE_DEVICES hides every one."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*")) or any(
        os.path.exists(p) for p in ("/dev/kfd", "/dev/dxg")
    )


def plan_workers(n_shards: int, workers: int | None, threads: int | None) -> tuple[int, int]:
    """(worker processes, threads per worker) that fill the CPUs without oversubscribing."""
    cpus = cpu_count()
    n_workers = max(1, min(workers or cpus, n_shards))
    return n_workers, max(1, threads or cpus // n_workers)


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, Linux), to tell it from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            # The command name (field 2) may hold spaces; fields after it are plain.
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def process_alive(pid: int, start_ticks: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return start_ticks is None or process_start_ticks(pid) in (None, start_ticks)


def this_process_id() -> str:
    """``host:pid:start``: the local 'array id' of the femo process running the pool."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start_ticks(pid) or 0}"


def _parse_process_id(array_id: str) -> tuple[str, int, int | None]:
    host, pid, ticks = array_id.rsplit(":", 2)
    return host, int(pid), int(ticks) or None


def _worker_running(marker_text: str) -> bool:
    try:
        info = json.loads(marker_text)
        return info.get("host") == socket.gethostname() and process_alive(int(info["pid"]), None)
    except (ValueError, KeyError, TypeError):
        return False


class LocalLauncher(Launcher):
    settings_class = LocalLauncherConfig
    blocking: ClassVar[bool] = True
    config: LocalLauncherConfig

    def launch(self, run: RunDir, tasks: list[ShardTask], say: Say) -> Launch:
        if not tasks:
            return Launch()
        n_workers, n_threads = plan_workers(
            len(tasks), self.config.workers, self.config.threads_per_worker
        )
        tasks = [replace(t, extract=replace(t.extract, threads=n_threads)) for t in tasks]
        for t in tasks:  # being redone: an old failure no longer describes it
            run.failed_marker(t.index).unlink(missing_ok=True)
        array_id = this_process_id()
        submission = Submission(
            self.name, array_id, [t.index for t in tasks], [f"{array_id}_{t.index}" for t in tasks]
        )
        run.record_submission(submission)
        log.info(
            "running %d shard(s) in %d worker(s), %d thread(s) each",
            len(tasks),
            n_workers,
            n_threads,
        )
        failures = self._run_pool(run, tasks, n_workers)
        return Launch([submission], failures)

    def shards_at_once(self, left: int) -> int:
        """The worker processes a launch of ``left`` shards would start."""
        c = self.config
        return plan_workers(max(1, left), c.workers, c.threads_per_worker)[0]

    def _run_pool(self, run: RunDir, tasks: list[ShardTask], n_workers: int) -> dict[int, str]:
        bar = tqdm(total=sum(len(t.clips) for t in tasks), unit="clip", desc="extract")
        supervisor = Supervisor(n_workers, on_clip=lambda video, status: bar.update(1))
        try:
            # Workers start while SIGINT is ignored, so they ignore it from birth and a
            # Ctrl-C never lands in a half-started worker; the supervisor stops them.
            _, failures = supervisor.run(tasks)
        except KeyboardInterrupt:
            raise LaunchInterrupted() from None
        finally:
            bar.close()
        return failures

    def query(self, run: RunDir, submissions: list[Submission]) -> dict[str, TaskAnswer] | None:
        answers: dict[str, TaskAnswer] = {}
        for s in submissions:
            host, pid, ticks = _parse_process_id(s.array_id)
            if host != socket.gethostname():
                answer = TaskAnswer("unknown", f"run by a femo process on {host}; ask there")
                answers.update(dict.fromkeys(s.job_ids, answer))
                continue
            alive = process_alive(pid, ticks)
            for shard, job_id in zip(s.shards, s.job_ids, strict=True):
                answers[job_id] = self._shard_answer(run, shard, alive)
        return answers

    @staticmethod
    def _shard_answer(run: RunDir, shard: int, pool_alive: bool) -> TaskAnswer:
        if not pool_alive:
            return TaskAnswer("interrupted", "the femo run that ran it stopped before it finished")
        marker = run.running_marker(shard)
        try:
            if _worker_running(marker.read_text(encoding="utf-8")):
                return TaskAnswer("running")
        except OSError:
            pass
        if run.failed_marker(shard).exists():
            return TaskAnswer("ended")
        return TaskAnswer("pending")
