"""SLURM: one array job per run through submitit, one array task per shard."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

from submitit.slurm.slurm import SlurmJobEnvironment

from ..config import positive_or_none
from ..rundir import RunDir, Submission
from .base import TaskAnswer
from .cluster import ClusterLauncher

# squeue states of a task that has not ended yet.
PENDING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                  "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING"}  # fmt: skip
RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT"}


def parse_squeue(text: str, array_ids: set[str]) -> dict[str, str]:
    """``squeue -h -r -o %i|%T`` -> {'123_4': 'RUNNING'} for tasks of ``array_ids``."""
    states = {}
    for line in text.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id.split("_")[0] in array_ids:
            states[job_id] = state.strip()
    return states


def answer_of(state: str) -> TaskAnswer:
    """A squeue state as a :class:`TaskAnswer` (ended tasks linger briefly in squeue)."""
    if state in RUNNING_STATES:
        return TaskAnswer("running")
    if state in PENDING_STATES:
        return TaskAnswer("pending", state if state != "PENDING" else None)
    return TaskAnswer("ended", state)


@dataclass(frozen=True)
class SlurmLauncherConfig:
    """One SLURM array job per run through submitit, one array task per shard."""

    name: str = "slurm"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_min: int = 120
    cpus_per_task: int = 1
    mem_gb: float | None = 2
    gpus_per_node: int = 0
    array_parallelism: int = 64
    max_array_size: int = 1000
    extra_flags: dict[str, Any] = field(default_factory=dict)
    setup: tuple[str, ...] = ()
    max_requeue: int = 3
    # Seconds before the time limit at which a task is told to checkpoint and requeue.
    signal_delay_s: int = 90
    wait: bool = False

    def __post_init__(self) -> None:
        for key in ("time_min", "cpus_per_task", "array_parallelism", "max_array_size",
                    "signal_delay_s"):  # fmt: skip
            positive_or_none("launcher", key, getattr(self, key))


class SlurmLauncher(ClusterLauncher):
    settings_class = SlurmLauncherConfig
    config: SlurmLauncherConfig

    def executor_options(self) -> dict[str, Any]:
        return {
            "slurm_max_num_timeout": self.config.max_requeue,
            # python replaces the batch shell (no srun step, see below), so that it is
            # the process SLURM signals: the time-limit signal and the SIGTERM of a
            # requeue reach it, and it cannot outlive its task as an orphan.
            "slurm_python": "exec " + shlex.quote(sys.executable),
        }

    def executor_parameters(self) -> dict[str, Any]:
        c = self.config
        params: dict[str, Any] = {
            "name": "femo",
            "timeout_min": c.time_min,
            "cpus_per_task": c.cpus_per_task,
            "gpus_per_node": c.gpus_per_node or None,
            "mem_gb": c.mem_gb,
            "slurm_partition": c.partition,
            "slurm_account": c.account,
            "slurm_qos": c.qos,
            "slurm_array_parallelism": c.array_parallelism,
            # B: the batch shell (python itself) gets the time-limit signal; without
            # it SLURM signals only srun steps, and there are none.
            "slurm_additional_parameters": {
                "signal": f"B:{SlurmJobEnvironment.USR_SIG}@{c.signal_delay_s}",
                **dict(c.extra_flags),
            },
            "slurm_setup": list(c.setup) or None,
            # python runs directly in the batch script: no srun step, which the
            # node's srun may forbid inside arrays and which adds nothing for one task.
            "slurm_use_srun": False,
        }
        return {k: v for k, v in params.items() if v is not None}

    def query(self, run: RunDir, submissions: list[Submission]) -> dict[str, TaskAnswer] | None:
        out = self._run_query(["squeue", "-h", "-r", "-o", "%i|%T"])
        if out is None:
            return None
        ids = {s.array_id for s in submissions}
        states = parse_squeue(out.decode(errors="replace"), ids)
        return {job_id: answer_of(state) for job_id, state in states.items()}
