"""SLURM: one array job per run through submitit, one array task per shard."""

from __future__ import annotations

import shlex
import sys
from typing import Any

from submitit.slurm.slurm import SlurmJobEnvironment

from ..config import to_dict
from ..rundir import RunDir, Submission
from .base import TaskAnswer
from .cluster import ClusterLauncher
from .dialects import sbatch_options
from .settings import SlurmLauncherConfig

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


# Settings submitit takes as its own parameters: it counts time-outs against the time,
# and writes the memory in its own unit. Every other setting the SLURM flag table names
# reaches submitit's sbatch header as an additional parameter.
SUBMITIT_OWN = {"time_min": "timeout_min", "mem_gb": "mem_gb"}


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
        settings = to_dict(c)
        params: dict[str, Any] = {
            "name": "femo",
            **{submitit: settings[key] for key, submitit in SUBMITIT_OWN.items()},
            "slurm_array_parallelism": c.array_parallelism,
            # B: the batch shell (python itself) gets the time-limit signal; without
            # it SLURM signals only srun steps, and there are none.
            "slurm_additional_parameters": {
                "signal": f"B:{SlurmJobEnvironment.USR_SIG}@{c.signal_delay_s}",
                **sbatch_options(settings, skip=set(SUBMITIT_OWN)),
                **c.extra_flags,
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
