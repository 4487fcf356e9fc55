"""The launcher interface: how a run's shards reach the machines that make them.

femo schedules nothing itself. A launcher hands shard tasks to whatever runs them
(local worker processes, a SLURM or Grid Engine array, or the user's own script),
records each submission in the run folder, and answers, when asked later from any
shell, what it knows of each task. A launcher that cannot get an answer says so
(``None``): femo then shows the shard as unknown, never as failed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..rundir import RunDir, Submission
from ..task import ShardTask
from .settings import LauncherConfig

Say = Callable[[str], None]
TaskState = Literal["pending", "running", "ended", "interrupted", "unknown"]


class SubmissionError(RuntimeError):
    """The scheduler refused a submission; the message is the scheduler's own."""


class LaunchInterrupted(Exception):
    """A blocking launch was stopped (Ctrl-C, SIGTERM); its workers are gone."""


@dataclass(frozen=True)
class TaskAnswer:
    """What a launcher knows of one task: its state and, where it has one, a detail."""

    state: TaskState
    detail: str | None = None


@dataclass
class Launch:
    """What a launch did: its submissions, shards that failed (blocking launchers), and
    what the user must do next (a launcher that submits nothing)."""

    submissions: list[Submission] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)
    instructions: list[str] = field(default_factory=list)


class Launcher(ABC):
    """One way of running shards; one subclass per kind, in ``femo.launchers.<name>``.

    A subclass names its typed settings (``settings_class``, a
    :class:`~.settings.LauncherConfig` whose ``name`` field defaults to the launcher's
    name, as ``conf/launcher/<name>.yaml`` is named); its ``name`` is taken from there.
    """

    name: ClassVar[str]
    settings_class: ClassVar[type[LauncherConfig]]
    blocking: ClassVar[bool] = False  # True: launch() returns once every shard has ended

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "settings_class" in cls.__dict__:
            cls.name = cls.settings_class.name

    def __init__(self, config: LauncherConfig) -> None:
        self.config = config

    @property
    def waits(self) -> bool:
        """Whether ``femo run`` waits for the submitted shards and writes the report."""
        return self.blocking

    def shards_at_once(self, left: int) -> int:
        """How many of ``left`` shards this launcher runs side by side (what ``femo
        status`` estimates the time left from): its settings' cap, by default."""
        return self.config.shards_at_once(left)

    @abstractmethod
    def launch(self, run: RunDir, tasks: list[ShardTask], say: Say) -> Launch:
        """Run or submit ``tasks``, recording every submission in ``run``."""

    def query(self, run: RunDir, submissions: list[Submission]) -> dict[str, TaskAnswer] | None:
        """What this launcher knows of the tasks of ``submissions`` (by job id).

        A job id that is absent has ended as far as the launcher knows; ``None`` means
        it could not tell (the scheduler did not answer).
        """
        return {}

    def failure_reason(self, run: RunDir, job_id: str) -> str | None:
        """Why a task that ended without its shard file did so, from its logs."""
        return None

    def log_of(self, run: RunDir, job_id: str) -> Path | None:
        """The launcher's own log of a task, where it keeps one."""
        return None
