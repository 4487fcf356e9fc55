"""``launcher=sge``: one Grid Engine array job per run (``qsub -t 1-N``), submitted
through femo's submitit plugin (:mod:`.sge_plugin`), and the task answers of
``femo status`` from ``qstat`` and ``qacct``."""

from __future__ import annotations

import getpass
import time
import typing as tp
from dataclasses import dataclass

from ..config import positive_or_none
from ..rundir import RunDir, Submission
from .base import TaskAnswer
from .cluster import ClusterLauncher

# An install made before the plugin moved to sge_plugin names these in its entry points.
from .sge_plugin import (  # noqa: F401
    ACCOUNTING_GRACE_S,
    SgeExecutor,
    SgeJob,
    SgeJobEnvironment,
    parse_qstat_xml,
    qacct,
)


def answers_of(
    live: dict[str, dict[str, str]],
    accounted: dict[str, dict[str, str]],
    submissions: list[Submission],
    now: float,
    grace_s: float = ACCOUNTING_GRACE_S,
) -> dict[str, TaskAnswer]:
    """Task answers from qstat (live) and qacct (ended); a task in neither is unknown
    while accounting may still lag, and lost after ``grace_s``."""
    answers: dict[str, TaskAnswer] = {}
    for s in submissions:
        for job_id in s.job_ids:
            if job_id in live:
                state = live[job_id]["State"]
                if state == "RUNNING":
                    answers[job_id] = TaskAnswer("running")
                elif state == "PENDING":
                    answers[job_id] = TaskAnswer("pending")
                else:
                    answers[job_id] = TaskAnswer(
                        "ended", f"qstat state {live[job_id]['sge_state']}"
                    )
            elif job_id in accounted:
                record = accounted[job_id]
                detail = None
                if record["State"] != "COMPLETED":
                    detail = f"exit status {record['exit_status']}, failed {record['failed']}"
                answers[job_id] = TaskAnswer("ended", detail)
            elif now - s.submitted_at <= grace_s:
                answers[job_id] = TaskAnswer("unknown", "not in qstat or qacct yet")
            else:
                answers[job_id] = TaskAnswer("ended", "lost: in neither qstat nor qacct")
    return answers


@dataclass(frozen=True)
class SgeLauncherConfig:
    """One Grid Engine array job per run (qsub -t 1-N), through femo's submitit plugin."""

    name: str = "sge"
    queue: str | None = None
    project: str | None = None
    time_min: int = 120
    pe: str | None = "smp"
    slots: int = 1
    mem_gb: float | None = None
    mem_resource: str = "mem_free"
    gpu_resource: str | None = None
    array_parallelism: int = 64
    max_array_size: int = 75000
    extra_flags: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    wait: bool = False

    def __post_init__(self) -> None:
        for key in ("time_min", "slots", "array_parallelism", "max_array_size"):
            positive_or_none("launcher", key, getattr(self, key))


class SgeLauncher(ClusterLauncher):
    settings_class = SgeLauncherConfig
    config: SgeLauncherConfig

    def executor_parameters(self) -> dict[str, tp.Any]:
        c = self.config
        params: dict[str, tp.Any] = {
            "name": "femo",
            "timeout_min": c.time_min,
            "sge_queue": c.queue,
            "sge_project": c.project,
            "sge_pe": c.pe,
            "sge_slots": c.slots,
            "sge_mem_gb": c.mem_gb,
            "sge_mem_resource": c.mem_resource,
            "sge_gpu_resource": c.gpu_resource,
            "sge_array_parallelism": c.array_parallelism,
            "sge_extra_flags": list(c.extra_flags) or None,
            "sge_setup": list(c.setup) or None,
        }
        return {k: v for k, v in params.items() if v is not None}

    def query(self, run: RunDir, submissions: list[Submission]) -> dict[str, TaskAnswer] | None:
        out = self._run_query(["qstat", "-xml", "-u", getpass.getuser()])
        if out is None:
            return None
        live = parse_qstat_xml(out)
        ended = {j for s in submissions for j in s.job_ids if j not in live}
        accounted: dict[str, dict[str, str]] = {}
        for array_id in sorted({j.split("_")[0] for j in ended}):
            accounted.update(qacct(array_id, timeout=self.query_timeout_s))
        return answers_of(live, accounted, submissions, time.time())
