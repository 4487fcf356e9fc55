"""Scheduler dialects: the directive each setting becomes, and Grid Engine's task numbers.

One flag table per dialect, keyed by the launcher settings' own names
(:mod:`.settings`), makes every sbatch and qsub flag femo asks for: the array scripts
of ``launcher=none`` (:mod:`.none`) and the qsub script of femo's submitit plugin
(:mod:`.qsub_script`) hand :func:`directives` the values :func:`setting_values` makes,
one loop over a dict; the SLURM launcher hands submitit :func:`sbatch_options`, which
submitit writes into its sbatch header in one loop of its own. A setting that a table
names reaches every script of that dialect; a setting it does not name reaches none.

Grid Engine numbers array tasks from 1 (``$SGE_TASK_ID``, ``qsub -t``, ``qacct``'s
``taskid``, ``qdel -t``); femo's shards and submitit's tasks count from 0. The
conversion lives here and nowhere else.

Standard library only: submitit imports the SGE plugin, and with it this module,
each time it looks for plugins.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import Any

SBATCH = "#SBATCH"
QSUB = "#$"

# A launcher setting (by its name in femo.launchers.settings), or a key a writer fills
# itself (job_name, output, ...) -> its directive ("{}" takes the value; a flag without
# one ignores it). In the order the scripts list them.
SLURM_FLAGS: dict[str, str] = {
    "job_name": "--job-name={}",
    "time_min": "--time={}",
    "cpus_per_task": "--cpus-per-task={}",
    "mem_gb": "--mem={}",
    "partition": "--partition={}",
    "account": "--account={}",
    "qos": "--qos={}",
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
    "time_min": "-l h_rt={}",
    "queue": "-q {}",
    "project": "-P {}",
    "pe": "-pe {}",
    "mem_gb": "-l {}",
    "gpus": "-l {}",
    "tasks": "-t {}",
    "concurrency": "-tc {}",
}

TABLES: dict[str, dict[str, str]] = {SBATCH: SLURM_FLAGS, QSUB: SGE_FLAGS}

# Shell arithmetic of the 0-based index of the running Grid Engine array task.
SGE_SHELL_INDEX = "$((SGE_TASK_ID - 1))"


def flag(prefix: str, key: str, value: object = True) -> str:
    """The directive line of one setting, e.g. ``flag("#$", "time_min", "02:00:00")``."""
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


# ------------------------------------------------------------------ setting values
Settings = Mapping[str, Any]


def _time(s: Settings) -> str:
    return hms(s["time_min"])


def _slurm_memory(s: Settings) -> str | None:
    return s["mem_gb"] and f"{s['mem_gb']:g}G"


def _sge_memory(s: Settings) -> str | None:
    return s["mem_gb"] and f"{s.get('mem_resource', 'mem_free')}={s['mem_gb']:g}G"


def _sge_pe(s: Settings) -> str | None:
    return s["pe"] and f"{shlex.quote(s['pe'])} {int(s.get('cpus_per_task', 1))}"


def _sge_gpus(s: Settings) -> str | None:
    return s["gpus"] and f"{s.get('gpu_resource', 'gpus')}={int(s['gpus'])}"


# How a setting's directive value is made from the settings, where it is not the value
# itself (text is quoted for the shell, numbers written as they are).
FORMATS: dict[str, dict[str, Callable[[Settings], object]]] = {
    SBATCH: {"time_min": _time, "mem_gb": _slurm_memory},
    QSUB: {"time_min": _time, "pe": _sge_pe, "mem_gb": _sge_memory, "gpus": _sge_gpus},
}


def setting_values(prefix: str, settings: Settings) -> dict[str, object]:
    """The directive value of each of ``settings`` (a launcher's settings by name) that
    ``prefix``'s table names, in the table's order; falsy where nothing is asked for."""
    formats = FORMATS[prefix]
    values: dict[str, object] = {}
    for key in TABLES[prefix]:
        if key in formats and key in settings:
            values[key] = formats[key](settings)
        elif key in settings:
            value = settings[key]
            values[key] = shlex.quote(value) if isinstance(value, str) and value else value
    return values


def sbatch_option(key: str) -> str:
    """The sbatch option of a SLURM table entry as submitit names it: ``cpus_per_task``."""
    return SLURM_FLAGS[key].split("=")[0].removeprefix("--").replace("-", "_")


def sbatch_options(settings: Settings, skip: set[str]) -> dict[str, Any]:
    """{sbatch option: value} of each of ``settings`` the SLURM table names and that is
    set, but those in ``skip``: what submitit writes into its sbatch header, quoted."""
    return {
        sbatch_option(key): settings[key]
        for key in SLURM_FLAGS
        if key in settings and key not in skip and settings[key]
    }


def qsub_flags(flags: Mapping[str, Any]) -> list[str]:
    """``extra_flags`` ({flag: value}) as qsub directives: ``#$ -m e``; true: ``#$ -notify``."""
    return [
        f"{QSUB} -{key}" if value is True else f"{QSUB} -{key} {shlex.quote(str(value))}"
        for key, value in flags.items()
        if value is not False and value is not None
    ]
