"""Scheduler dialects: the directive each setting becomes, and Grid Engine's task numbers.

One flag table per dialect serves both the array scripts of ``launcher=none``
(:mod:`.none`) and the qsub script of femo's submitit plugin (:mod:`.qsub_script`):
each writer hands :func:`directives` its settings in the order it wants them, one
loop over a dict, the way submitit writes its sbatch header.

Grid Engine numbers array tasks from 1 (``$SGE_TASK_ID``, ``qsub -t``, ``qacct``'s
``taskid``, ``qdel -t``); femo's shards and submitit's tasks count from 0. The
conversion lives here and nowhere else.

Standard library only: submitit imports the SGE plugin, and with it this module,
each time it looks for plugins.
"""

from __future__ import annotations

SBATCH = "#SBATCH"
QSUB = "#$"

# setting -> directive text ("{}" takes the value; flags without one ignore it).
SLURM_FLAGS: dict[str, str] = {
    "job_name": "--job-name={}",
    "time": "--time={}",
    "cpus": "--cpus-per-task={}",
    "mem": "--mem={}",
    "partition": "--partition={}",
    "account": "--account={}",
    "gpus": "--gpus-per-node={}",
    "output": "--output={}",
}

SGE_FLAGS: dict[str, str] = {
    "shell": "-S {}",
    "cwd": "-cwd",
    "job_name": "-N {}",
    "join": "-j y",
    "rerun": "-r y",
    "output": "-o {}",
    "time": "-l h_rt={}",
    "queue": "-q {}",
    "project": "-P {}",
    "pe": "-pe {}",
    "mem": "-l {}",
    "resource": "-l {}",
    "gpus": "-l gpus={}",
    "tasks": "-t {}",
    "concurrency": "-tc {}",
}

TABLES: dict[str, dict[str, str]] = {SBATCH: SLURM_FLAGS, QSUB: SGE_FLAGS}

# Shell arithmetic of the 0-based index of the running Grid Engine array task.
SGE_SHELL_INDEX = "$((SGE_TASK_ID - 1))"


def flag(prefix: str, key: str, value: object = True) -> str:
    """The directive line of one setting, e.g. ``flag("#$", "time", "02:00:00")``."""
    return f"{prefix} {TABLES[prefix][key].format(value)}"


def directives(prefix: str, settings: dict[str, object]) -> list[str]:
    """The directive lines of ``settings`` in their order; unset (falsy) values are left out."""
    return [flag(prefix, key, value) for key, value in settings.items() if value]


def hms(minutes: int) -> str:
    """A time limit in minutes as both schedulers write it, ``HH:MM:00``."""
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}:00"


def sge_index(task: str | int | None) -> int | None:
    """The 0-based index of Grid Engine task number ``task``; None outside an array
    (SGE sets ``SGE_TASK_ID=undefined`` there, ``qacct`` writes ``taskid undefined``)."""
    text = str(task).strip() if task is not None else ""
    return int(text) - 1 if text.isdigit() else None


def sge_task(index: int) -> int:
    """Grid Engine's task number of 0-based index ``index``."""
    return int(index) + 1


def sge_job_id(job: str, task: str | int | None) -> str:
    """submitit's and femo's job id of a Grid Engine task: ``<JOB_ID>_<index>``, or the
    bare job id outside an array."""
    index = sge_index(task)
    return job if index is None else f"{job}_{index}"


def sge_task_range(count: int) -> str:
    """``qsub -t``'s range of an array of ``count`` tasks."""
    return f"{sge_task(0)}-{sge_task(int(count) - 1)}"
