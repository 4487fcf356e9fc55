"""The qsub script of a Grid Engine job or array job, as femo's submitit plugin writes it."""

from __future__ import annotations

import inspect
import shlex
import typing as tp
from pathlib import Path

from .dialects import (
    QSUB,
    SGE_FLAGS,
    SGE_SHELL_INDEX,
    directives,
    qsub_flags,
    setting_values,
    sge_task_range,
)

# Directives the script writes itself, not settings.
STRUCTURE = ("shell", "cwd", "job_name", "join", "rerun", "output", "tasks", "concurrency")


def default_parameters() -> dict[str, tp.Any]:
    """make_qsub_script's settings and their defaults (what the executor accepts): its
    own, and any other setting the Grid Engine flag table names (default: none asked)."""
    spec = inspect.signature(make_qsub_script)
    own = {
        k: p.default
        for k, p in spec.parameters.items()
        if k not in ("command", "folder", "map_count") and p.default is not inspect.Parameter.empty
    }
    return {**dict.fromkeys(k for k in SGE_FLAGS if k not in STRUCTURE), **own}


def make_qsub_script(
    command: str,
    folder: str | Path,
    job_name: str = "submitit",
    time_min: int = 5,
    pe: str | None = None,
    cpus_per_task: int = 1,
    mem_gb: float | None = None,
    mem_resource: str = "mem_free",
    gpus: int = 0,
    gpu_resource: str = "gpus",
    array_parallelism: int | None = None,
    extra_flags: dict[str, tp.Any] | None = None,
    setup: list[str] | None = None,
    nodes: int = 1,
    tasks_per_node: int = 1,
    stderr_to_stdout: bool = False,
    map_count: int | None = None,
    **settings: tp.Any,
) -> str:
    """The qsub script of a job or array job.

    Every setting the Grid Engine flag table names (``queue``, ``project``, ...) becomes
    its directive, in the table's order; ``extra_flags`` ({flag: value}) come last.
    stdout/stderr go to submitit's own log paths (``<job>_<task-1>_0_log.out``),
    so submitit's ``job.stdout()`` and femo's status read them as on SLURM.
    """
    if nodes != 1 or tasks_per_node != 1:
        raise ValueError("the SGE executor runs one task per job (nodes=1, tasks_per_node=1)")
    if cpus_per_task > 1 and not pe:
        raise ValueError("cpus_per_task > 1 needs a parallel environment (pe), e.g. pe=smp")
    unknown = sorted(set(settings) - set(default_parameters()))
    if unknown:
        raise ValueError(f"unknown qsub setting(s): {', '.join(unknown)}")
    folder = Path(folder)
    asked = {
        **settings,
        "time_min": time_min,
        "pe": pe,
        "cpus_per_task": cpus_per_task,
        "mem_gb": mem_gb,
        "mem_resource": mem_resource,
        "gpus": gpus,
        "gpu_resource": gpu_resource,
    }
    flags = directives(
        QSUB,
        {
            "shell": "/bin/bash",
            "cwd": True,
            "job_name": shlex.quote(job_name),
            "join": True,
            "rerun": True,
            "output": shlex.quote(str(folder / "sge-$JOB_ID.$TASK_ID.out")),
            **setting_values(QSUB, asked),
            "tasks": map_count and sge_task_range(map_count),
            "concurrency": map_count and array_parallelism and int(array_parallelism),
        },
    )
    flags += qsub_flags(extra_flags or {})
    tag = (
        'if [ "${SGE_TASK_ID:-undefined}" != undefined ]; '
        f'then TAG="${{JOB_ID}}_{SGE_SHELL_INDEX}"; else TAG="$JOB_ID"; fi'
    )
    log = shlex.quote(str(folder)) + '/"${TAG}_0_log'
    redirect = (
        f'exec >>{log}.out" 2>>{log}.out"'
        if stderr_to_stdout
        else f'exec >>{log}.out" 2>>{log}.err"'
    )
    lines = ["#!/bin/bash", *flags, "", tag, redirect]
    if setup:
        lines += ["", "# setup", *setup]
    lines += ["", "export SUBMITIT_EXECUTOR=sge", command, ""]
    return "\n".join(lines)
