"""Worker processes, watched: a shard survives a clip that kills or hangs its worker.

Shards are extracted in child processes (:func:`femo.node.runner.serve`), each of which
loads the models once and runs shard after shard. The :class:`Supervisor` hands them
tasks and watches them:

* a worker that dies by a signal (a decoder's segfault, an out-of-memory kill) has the
  signal written into its shard's journal against the clips it had in flight; a new
  worker takes the same shard over, runs those clips alone, and skips a clip it dies on
  again (:mod:`femo.node.progress`), so the rest of the shard completes;
* a clip unfinished after ``clip_timeout_s`` (a decoder that hangs) has its worker
  killed and is recorded as cut off; the new worker reports it and goes on;
* a worker stopped by SIGTERM, SIGINT, SIGHUP or SIGUSR2 (its launcher or scheduler
  stopping the task) is not a clip's fault: its shard is left for a rerun.

Local runs use one supervisor with a worker per CPU; an array task (submitit, or
``python -m femo.worker``) supervises its one shard with :func:`run_one`. Either way
the process that loads TensorFlow is the watched one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from ..rundir import RunDir
from ..task import ShardResult, ShardTask
from .progress import ShardProgress, parse_journal_line, signal_text
from .runner import serve, write_failure_marker

log = logging.getLogger(__name__)

# The longest the supervisor waits on its workers before checking their clip deadlines.
WORKER_POLL_S = 0.5
STOP_GRACE_S = 10.0
# Signals by which a launcher or scheduler stops a task: not a clip's fault.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2})


class ShardFailed(Exception):
    """A shard's worker raised, or stopped without finishing; the line says why."""


class JournalWatch:
    """Follows a shard's journal as the worker appends to it, to find a clip that hangs.

    A clip's clock starts when it starts or when the clip before it ends, whichever is
    later: clips are decoded ahead, so one may start long before its turn comes.
    """

    def __init__(self, path: Path, timeout_s: float | None, now: float | None = None) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.offset = path.stat().st_size if path.exists() else 0
        self.started: dict[str, float] = {}
        self.last_end = time.monotonic() if now is None else now
        self._partial = ""

    def poll(self, now: float | None = None) -> None:
        """Read what the worker appended since the last poll."""
        now = time.monotonic() if now is None else now
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                fh.seek(self.offset)
                text = fh.read()
                self.offset = fh.tell()
        except FileNotFoundError:
            return
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()  # a line the worker is still writing
        for line in lines:
            event = parse_journal_line(line)
            if event is None:
                continue
            if event.event == "start":
                self.started.setdefault(event.clip, now)
            elif event.event == "end":
                self.started.pop(event.clip, None)
                self.last_end = now

    def overdue(self, now: float | None = None) -> str | None:
        """The clip in flight longest, if it has taken more than ``timeout_s``."""
        if self.timeout_s is None or not self.started:
            return None
        now = time.monotonic() if now is None else now
        clip, started = next(iter(self.started.items()))
        return clip if now - max(started, self.last_end) > self.timeout_s else None


@dataclass
class _Slot:
    """One worker process and the shard it is running."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    task: ShardTask | None = None
    watch: JournalWatch | None = None


def max_restarts(task: ShardTask) -> int:
    """Each clip can kill its worker at most twice (in flight, then alone)."""
    return 2 * len(task.clips) + 2


class Supervisor:
    """Runs shard tasks in ``workers`` watched worker processes (see the module doc)."""

    def __init__(
        self,
        workers: int,
        on_clip: Callable[[str, str], None] | None = None,
        target: Callable[[Connection], None] = serve,
    ) -> None:
        self.workers = workers
        self.on_clip = on_clip
        self.target = target  # the worker's life; tests give a light stand-in
        self.context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
        self.slots: list[_Slot] = []
        self.results: dict[int, ShardResult] = {}
        self.failures: dict[int, str] = {}
        self._restarts: dict[int, int] = {}

    def run(self, tasks: list[ShardTask]) -> tuple[dict[int, ShardResult], dict[int, str]]:
        """Run every task; returns (results, failure line) by shard index.

        Stops every worker before it returns or raises (KeyboardInterrupt included).
        """
        pending = deque(tasks)
        try:
            self.slots = [self._start() for _ in range(min(self.workers, len(tasks)))]
            while pending or any(s.task is not None for s in self.slots):
                for slot in self.slots:
                    if slot.task is None and pending:
                        self._assign(slot, pending.popleft())
                busy = [s for s in self.slots if s.task is not None]
                wait([s.conn for s in busy] + [s.process.sentinel for s in busy], WORKER_POLL_S)
                for slot in busy:
                    retry = self._check(slot)
                    if retry is not None:
                        pending.appendleft(retry)
        finally:
            self.stop()
        return self.results, self.failures

    def _start(self) -> _Slot:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=self.target, args=(child,), daemon=True)
        # Started while SIGINT is ignored, a worker ignores it from birth: a Ctrl-C at
        # the terminal never lands in a half-started worker (the supervisor stops it).
        with _sigint_ignored():
            process.start()
        child.close()
        return _Slot(process, parent)

    def _assign(self, slot: _Slot, task: ShardTask) -> None:
        journal = ShardProgress(RunDir(task.run_dir), task.index).journal
        slot.task, slot.watch = task, JournalWatch(journal, task.clip_timeout_s)
        slot.conn.send(task)

    def _check(self, slot: _Slot) -> ShardTask | None:
        """Take the worker's news; returns its task when a new worker must take it over."""
        self._receive(slot)
        if slot.task is None:
            return None
        assert slot.watch is not None
        slot.watch.poll()
        overdue = slot.watch.overdue()
        if overdue is not None:
            return self._cut_off(slot, overdue)
        if slot.process.is_alive():
            return None
        self._receive(slot)  # what it sent just before it ended
        if slot.task is None:
            return None
        return self._died(slot)

    def _receive(self, slot: _Slot) -> None:
        try:
            while slot.task is not None and slot.conn.poll():
                kind, *payload = slot.conn.recv()
                if kind == "clip" and self.on_clip is not None:
                    self.on_clip(*payload)
                elif kind == "done":
                    self.results[slot.task.index] = payload[0]
                    slot.task = None
                elif kind == "failed":
                    self.failures[slot.task.index] = payload[0]
                    slot.task = None
        except (EOFError, OSError):  # the worker is gone; its exit code says how
            pass

    def _cut_off(self, slot: _Slot, clip: str) -> ShardTask | None:
        task = slot.task
        assert task is not None and task.clip_timeout_s is not None
        log.error("shard %d: clip %s is over %g s; stopping its worker", task.index, clip,
                  task.clip_timeout_s)  # fmt: skip
        _kill(slot.process)
        progress = ShardProgress(RunDir(task.run_dir), task.index)
        progress.record("timeout", clip, f"{task.clip_timeout_s:g}")
        return self._replace(slot, task)

    def _died(self, slot: _Slot) -> ShardTask | None:
        task = slot.task
        assert task is not None
        code = slot.process.exitcode or 0
        if code >= 0 or -code in STOP_SIGNALS:  # stopped from outside: left for a rerun
            how = signal_text(-code) if code < 0 else f"exit code {code}"
            return self._give_up(slot, f"the worker stopped before the shard finished ({how})",
                                 marker=False)  # fmt: skip
        assert slot.watch is not None
        slot.watch.poll()
        blamed = list(slot.watch.started)  # in flight in this worker, not earlier ones
        ShardProgress(RunDir(task.run_dir), task.index).record_death(-code, blamed)
        log.error("shard %d: the worker died (%s) with %s in flight", task.index,
                  signal_text(-code), ", ".join(blamed) or "no clip")  # fmt: skip
        if not blamed:  # not a clip's fault: model loading, writing the shard...
            return self._give_up(slot, f"the worker died ({signal_text(-code)}) outside any clip")
        return self._replace(slot, task)

    def _replace(self, slot: _Slot, task: ShardTask) -> ShardTask | None:
        """A new worker for the slot; the task goes back to the queue while it may."""
        self._restarts[task.index] = self._restarts.get(task.index, 0) + 1
        if self._restarts[task.index] > max_restarts(task):
            return self._give_up(slot, f"the worker died {self._restarts[task.index]} times")
        self._restart(slot)
        return task

    def _restart(self, slot: _Slot) -> None:
        slot.conn.close()
        new = self._start()
        slot.process, slot.conn, slot.task, slot.watch = new.process, new.conn, None, None

    def _give_up(self, slot: _Slot, line: str, marker: bool = True) -> None:
        """The slot's shard failed (``line``; a ``.failed`` marker unless it was only
        stopped); a new worker takes the slot."""
        task = slot.task
        assert task is not None
        self.failures[task.index] = line
        if marker:
            write_failure_marker(RunDir(task.run_dir).failed_marker(task.index), line)
        self._restart(slot)

    def stop(self) -> None:
        """Stop every worker now: a task in progress leaves no shard file, only parts."""
        for slot in self.slots:
            if slot.task is None and slot.process.is_alive():
                with contextlib.suppress(OSError):
                    slot.conn.send(None)
            else:
                slot.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for slot in self.slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                _kill(slot.process)
            slot.conn.close()
        self.slots = []


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    with contextlib.suppress(ProcessLookupError, TypeError):
        os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
    process.join()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_one(task: ShardTask, target: Callable[[Connection], None] = serve) -> ShardResult:
    """Run one shard in a watched worker (an array task's whole work)."""
    results, failures = Supervisor(workers=1, target=target).run([task])
    if task.index in failures:
        raise ShardFailed(failures[task.index])
    return results[task.index]
