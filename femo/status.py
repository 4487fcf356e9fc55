"""Each shard's state, from the files on disk and what the launchers answer.

:func:`classify` is pure: a shard's evidence in, its :class:`ShardState` out.
:func:`read_status` gathers that evidence (one query per launcher kind). A launcher
that does not answer makes its shards ``unknown``, never ``failed``, and nothing
ever redoes an unknown shard.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .launchers import launcher_for
from .launchers.base import TaskAnswer
from .rundir import RunDir, Submission
from .shard_files import Footer


class ShardState(str, enum.Enum):
    DONE = "done"
    RUNNING = "running"
    PENDING = "pending"
    UNKNOWN = "unknown"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    NOT_SUBMITTED = "not_submitted"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Shards that a resume runs again; every other state is left alone.
REDO = frozenset({ShardState.FAILED, ShardState.INTERRUPTED, ShardState.NOT_SUBMITTED})
BUSY = frozenset({ShardState.RUNNING, ShardState.PENDING})
# A launcher's answers for a task that has not ended.
_STILL_BUSY = ("running", "pending", "unknown")


@dataclass(frozen=True)
class ShardStatus:
    index: int
    state: ShardState
    job_id: str | None = None
    error: str | None = None
    log: str | None = None


@dataclass(frozen=True)
class Evidence:
    """Everything known about one shard."""

    index: int
    finished: bool  # its shard file exists
    damaged: str | None = None  # why that file does not read, if it does not
    failed_text: str | None = None  # its .failed marker, if any
    job_id: str | None = None  # the latest task that ran it
    answered: bool = True  # whether that task's launcher answered at all
    answer: TaskAnswer | None = None  # its answer for the task (None: not listed: ended)
    log: str | None = None  # the shard's own log
    task_log: str | None = None  # the launcher's log of the task, where it keeps one
    # The last error its log holds, read where the .failed marker says nothing (a full
    # disk leaves it empty or unwritten).
    log_error: str | None = None


def _last_line(text: str | None) -> str | None:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else None


def classify(ev: Evidence, ended_reason: Callable[[], str | None] = lambda: None) -> ShardStatus:
    """A shard's state: done, running, pending, unknown, failed, interrupted or not submitted.

    ``ended_reason`` is asked only for a task that ended without its shard file and
    without a ``.failed`` marker (e.g. killed): it reads the task's own logs.
    """
    if ev.finished and ev.damaged:
        error = f"its shard file is damaged ({ev.damaged}); resume redoes it"
        return ShardStatus(ev.index, ShardState.FAILED, ev.job_id, error, ev.log)
    if ev.finished:
        return ShardStatus(ev.index, ShardState.DONE, ev.job_id)
    if ev.job_id is None:
        if ev.failed_text is not None:
            error = _last_line(ev.failed_text) or ev.log_error or "failed"
            return ShardStatus(ev.index, ShardState.FAILED, None, error, ev.log)
        return ShardStatus(ev.index, ShardState.NOT_SUBMITTED)
    if not ev.answered:
        return ShardStatus(
            ev.index, ShardState.UNKNOWN, ev.job_id, "the scheduler did not answer", ev.log
        )
    state = ev.answer.state if ev.answer is not None else "ended"
    detail = ev.answer.detail if ev.answer is not None else None
    if state in _STILL_BUSY:
        return ShardStatus(ev.index, ShardState(state), ev.job_id, detail, ev.log)
    if ev.failed_text is not None:
        error = _last_line(ev.failed_text) or ev.log_error or "failed"
        return ShardStatus(ev.index, ShardState.FAILED, ev.job_id, error, ev.log)
    if state == "interrupted":
        return ShardStatus(ev.index, ShardState.INTERRUPTED, ev.job_id, detail, ev.log)
    reason = (
        ended_reason()
        or ev.log_error
        or "the task ended without writing its shard (killed, out of time or memory?)"
    )
    error = f"{detail}: {reason}" if detail else reason
    return ShardStatus(ev.index, ShardState.FAILED, ev.job_id, error, ev.task_log or ev.log)


@dataclass
class RunStatus:
    """Every planned shard's status, in shard order."""

    statuses: list[ShardStatus] = field(default_factory=list)

    def indices(self, *states: ShardState) -> list[int]:
        return [s.index for s in self.statuses if s.state in states]

    def count(self, state: ShardState) -> int:
        return sum(s.state == state for s in self.statuses)

    @property
    def done(self) -> list[int]:
        return self.indices(ShardState.DONE)

    @property
    def not_done(self) -> list[int]:
        return [s.index for s in self.statuses if s.state != ShardState.DONE]

    @property
    def redo(self) -> list[int]:
        return self.indices(*REDO)

    @property
    def busy(self) -> list[int]:
        return self.indices(*BUSY)

    @property
    def unknown(self) -> list[int]:
        return self.indices(ShardState.UNKNOWN)


def latest_job_of_shard(submissions: list[Submission]) -> dict[int, tuple[Submission, str]]:
    """Shard index -> (submission, job id) of the last submission that ran it."""
    latest: dict[int, tuple[Submission, str]] = {}
    for s in submissions:
        for shard, job_id in zip(s.shards, s.job_ids, strict=True):
            latest[shard] = (s, job_id)
    return latest


def read_status(
    run: RunDir,
    n_shards: int | None = None,
    query: bool = True,
    footers: dict[int, Footer] | None = None,
) -> RunStatus:
    """Every shard's status; ``query=False`` leaves the schedulers alone (unknown).
    ``footers``: the finished files' footers where the caller read them already."""
    n_shards = run.read_plan().n_shards if n_shards is None else n_shards
    source = run.shards_source()
    footers = run.shard_footers() if footers is None else footers
    finished = footers.keys()
    damaged = {k: f.damage for k, f in footers.items() if f.damage is not None}
    submissions = source.submissions()
    jobs = latest_job_of_shard(submissions)
    launchers = {name: launcher_for(name) for name in {s.launcher for s in submissions}}
    answers: dict[str, TaskAnswer] = {}
    answered: dict[str, bool] = {}
    for name, launcher in sorted(launchers.items()):
        mine = [s for s in submissions if s.launcher == name]
        reply = launcher.query(source, mine) if query else None
        answered[name] = reply is not None
        answers.update(reply or {})
    status = RunStatus()
    for k in range(n_shards):
        submission, job_id = jobs.get(k, (None, None))
        launcher = launchers[submission.launcher] if submission else None
        marker = source.failed_marker(k)
        task_log = launcher.log_of(source, job_id) if launcher and job_id else None
        ev = Evidence(
            index=k,
            finished=k in finished,
            damaged=damaged.get(k),
            failed_text=marker.read_text(encoding="utf-8") if marker.is_file() else None,
            job_id=job_id,
            answered=answered[submission.launcher] if submission else True,
            answer=answers.get(job_id) if job_id else None,
            log=str(source.log_file(k)),
            task_log=str(task_log) if task_log else None,
        )
        if _failed_without_a_reason(ev):
            ev = replace(ev, log_error=last_error(source.log_file(k)))
        status.statuses.append(
            classify(ev, lambda la=launcher, j=job_id: la.failure_reason(source, j) if la else None)
        )
    return status


def _failed_without_a_reason(ev: Evidence) -> bool:
    """A shard not done whose ``.failed`` marker is empty, or whose task ended without
    one: only its log can say why (the only shards whose logs are read)."""
    if ev.finished or (ev.failed_text or "").strip():
        return False
    ended = ev.answered and (ev.answer is None or ev.answer.state not in _STILL_BUSY)
    return ev.failed_text is not None or (ev.job_id is not None and ended)


# A traceback's last line: the exception's name and message.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b(: .*)?$")
# What the worker logs when even its .failed marker does not fit (node/runner.py).
_MARKER_NOT_WRITTEN = re.compile(r"could not write \S+\.failed: (.+)$")
_LOG_TAIL_BYTES = 64 * 1024


def last_error(log: Path) -> str | None:
    """The last error of a shard's log: the line the worker could not leave in its
    ``.failed`` marker, else a traceback's last line; None where the log holds neither
    (or cannot be read)."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for pattern in (_MARKER_NOT_WRITTEN, _EXCEPTION_LINE):
        for line in reversed(lines):
            if found := pattern.search(line.strip()):
                return found.group(1) if pattern is _MARKER_NOT_WRITTEN else found.group(0)
    return None
