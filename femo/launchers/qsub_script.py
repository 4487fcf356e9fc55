"""The qsub script of a Grid Engine job or array job, as femo's submitit plugin writes it."""

from __future__ import annotations

import inspect
import shlex
import typing as tp
from pathlib import Path


def default_parameters() -> dict[str, tp.Any]:
    """make_qsub_script's settings and their defaults (what the executor accepts)."""
    spec = inspect.signature(make_qsub_script)
    return {
        k: p.default
        for k, p in spec.parameters.items()
        if k not in ("command", "folder", "map_count") and p.default is not inspect.Parameter.empty
    }


def _hms(minutes: int) -> str:
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}:00"


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
    flags = ["-S /bin/bash", "-cwd", f"-N {shlex.quote(job_name)}", "-j y", "-r y"]
    flags.append(f"-o {shlex.quote(str(folder / 'sge-$JOB_ID.$TASK_ID.out'))}")
    flags.append(f"-l h_rt={_hms(time_min)}")
    if queue:
        flags.append(f"-q {shlex.quote(queue)}")
    if project:
        flags.append(f"-P {shlex.quote(project)}")
    if pe:
        flags.append(f"-pe {shlex.quote(pe)} {int(slots)}")
    if mem_gb:
        flags.append(f"-l {mem_resource}={mem_gb:g}G")
    if gpu_resource:
        flags.append(f"-l {gpu_resource}")
    elif gpus:
        flags.append(f"-l gpus={int(gpus)}")
    if map_count:
        flags.append(f"-t 1-{int(map_count)}")
        if array_parallelism:
            flags.append(f"-tc {int(array_parallelism)}")
    if extra_flags:
        flags.append(" ".join(shlex.quote(str(f)) for f in extra_flags))
    tag = 'if [ "${SGE_TASK_ID:-undefined}" != undefined ]; then TAG="${JOB_ID}_$((SGE_TASK_ID - 1))"; else TAG="$JOB_ID"; fi'
    log = shlex.quote(str(folder)) + '/"${TAG}_0_log'
    redirect = (
        f'exec >>{log}.out" 2>>{log}.out"'
        if stderr_to_stdout
        else f'exec >>{log}.out" 2>>{log}.err"'
    )
    lines = ["#!/bin/bash", *(f"#$ {f}" for f in flags), "", tag, redirect]
    if setup:
        lines += ["", "# setup", *setup]
    lines += ["", "export SUBMITIT_EXECUTOR=sge", command, ""]
    return "\n".join(lines)
