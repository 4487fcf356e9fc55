"""The qsub script of a Grid Engine job or array job, as femo's submitit plugin writes it."""

from __future__ import annotations

import inspect
import shlex
import typing as tp
from pathlib import Path

from .dialects import QSUB, SGE_SHELL_INDEX, directives, hms, sge_task_range


def default_parameters() -> dict[str, tp.Any]:
    """make_qsub_script's settings and their defaults (what the executor accepts)."""
    spec = inspect.signature(make_qsub_script)
    return {
        k: p.default
        for k, p in spec.parameters.items()
        if k not in ("command", "folder", "map_count") and p.default is not inspect.Parameter.empty
    }


def make_qsub_script(
    command: str,
    folder: str | Path,
    job_name: str = "submitit",
    queue: str | None = None,
    project: str | None = None,
    time_min: int = 5,
    pe: str | None = None,
    slots: int = 1,
    mem_gb: float | None = None,
    mem_resource: str = "mem_free",
    gpus: int | None = None,
    gpu_resource: str | None = None,
    array_parallelism: int | None = None,
    extra_flags: list[str] | None = None,
    setup: list[str] | None = None,
    nodes: int = 1,
    tasks_per_node: int = 1,
    stderr_to_stdout: bool = False,
    map_count: int | None = None,
) -> str:
    """The qsub script of a job or array job.

    stdout/stderr go to submitit's own log paths (``<job>_<task-1>_0_log.out``),
    so submitit's ``job.stdout()`` and femo's status read them as on SLURM.
    """
    if nodes != 1 or tasks_per_node != 1:
        raise ValueError("the SGE executor runs one task per job (nodes=1, tasks_per_node=1)")
    if slots > 1 and not pe:
        raise ValueError("slots > 1 needs a parallel environment (pe), e.g. pe=smp")
    folder = Path(folder)
    flags = directives(
        QSUB,
        {
            "shell": "/bin/bash",
            "cwd": True,
            "job_name": shlex.quote(job_name),
            "join": True,
            "rerun": True,
            "output": shlex.quote(str(folder / "sge-$JOB_ID.$TASK_ID.out")),
            "time": hms(time_min),
            "queue": queue and shlex.quote(queue),
            "project": project and shlex.quote(project),
            "pe": pe and f"{shlex.quote(pe)} {int(slots)}",
            "mem": mem_gb and f"{mem_resource}={mem_gb:g}G",
            "resource": gpu_resource,
            "gpus": not gpu_resource and gpus and int(gpus),
            "tasks": map_count and sge_task_range(map_count),
            "concurrency": map_count and array_parallelism and int(array_parallelism),
        },
    )
    if extra_flags:
        flags.append(f"{QSUB} " + " ".join(shlex.quote(str(f)) for f in extra_flags))
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
