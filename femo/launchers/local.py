"""Local launcher: shards run in worker processes on this machine."""

from __future__ import annotations

import logging
import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from ..extract import ShardResult, ShardTask, run_shard
from ..models import cpu_count
from ..rundir import failed_marker, log_path

log = logging.getLogger(__name__)


def plan_workers(n_shards: int, workers: int | None, threads: int | None) -> tuple[int, int]:
    """(worker processes, threads per worker) that fill the CPUs without oversubscribing."""
    cpus = cpu_count()
    n_workers = max(1, min(workers or cpus, n_shards))
    return n_workers, max(1, threads or cpus // n_workers)


def run_shard_logged(task: ShardTask) -> ShardResult:
    """Run one shard with its log in ``logs/``; a failure leaves a ``.failed`` marker."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    marker = failed_marker(task.run_dir, task.index)
    path = log_path(task.run_dir, task.index)
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
        return run_shard(task)
    except BaseException as exc:
        log.error("shard %d failed:\n%s", task.index, traceback.format_exc())
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")
        raise
    finally:
        root.removeHandler(handler)
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        handler.close()


def run_local(
    tasks: list[ShardTask],
    workers: int | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> tuple[list[ShardResult], dict[int, str]]:
    """Run shards in worker processes; returns the results and the failed shards' errors."""
    if not tasks:
        return [], {}
    n_workers, n_threads = plan_workers(len(tasks), workers, threads)
    tasks = [replace(t, extract=replace(t.extract, threads=n_threads)) for t in tasks]
    log.info(
        "running %d shard(s) in %d worker(s), %d thread(s) each", len(tasks), n_workers, n_threads
    )
    results: list[ShardResult] = []
    failures: dict[int, str] = {}
    total_clips = sum(len(t.clips) for t in tasks)
    # spawn, not fork: TensorFlow's runtime does not survive a fork.
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool,
        tqdm(total=total_clips, unit="clip", disable=not progress, desc="extract") as bar,
    ):
        futures = {pool.submit(run_shard_logged, t): t for t in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                results.append(future.result())
            except Exception as exc:  # noqa: BLE001 - reported per shard, others go on
                failures[task.index] = f"{type(exc).__name__}: {exc}"
                log.error(
                    "shard %d failed: %s (log: %s)",
                    task.index,
                    exc,
                    Path(log_path(task.run_dir, task.index)),
                )
            bar.update(len(task.clips))
    return sorted(results, key=lambda r: r.index), failures
