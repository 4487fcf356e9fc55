"""``launcher=none``: plan the run folder and stop. femo writes a plain sbatch and a
plain qsub array script into the run folder, filled from the launcher's settings; the
user checks and submits one. Each task runs ``python -m femo.worker RUN_DIR INDEX``,
which records its scheduler job id in the run folder, so ``femo status`` follows it."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass

from ..config import positive_or_none
from ..rundir import RunDir, write_text
from ..task import ShardTask
from .base import Launch, Launcher, Say
from .dialects import QSUB, SBATCH, SGE_SHELL_INDEX, directives, flag, hms, sge_task, sge_task_range


def _option(prefix: str, key: str, value: object, placeholder: object, edit: str) -> str:
    """A directive line when ``value`` is set, else the line with ``placeholder``
    commented out, for the user to edit."""
    if value:
        return flag(prefix, key, value)
    return f"#{flag(prefix, key, placeholder)}".ljust(33) + f" # EDIT ({edit})"


def sbatch_script(c: NoneLauncherConfig, values: dict[str, object]) -> str:
    """The plain-sbatch array script of a planned run."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        "# Plain-sbatch array script for one femo run: one array task per shard.",
        "# Filled from launcher=none's settings; check it, then: "
        f"sbatch --array=0-{values['last']}%{c.array_parallelism} {values['sbatch']}",
        *directives(
            SBATCH,
            {
                "job_name": "femo",
                "time": hms(c.time_min),
                "cpus": c.cpus_per_task,
                "mem": c.mem_gb and f"{c.mem_gb:g}G",
            },
        ),
        _option(SBATCH, "partition", c.partition and q(c.partition), "gpu", "remove one '#'"),
        _option(SBATCH, "account", c.account and q(c.account), "ACCOUNT", "remove one '#'"),
        _option(SBATCH, "gpus", c.gpus, 1, "GPU nodes"),
        flag(SBATCH, "output", f"{values['logs']}/slurm-%A_%a.out"),
        "set -euo pipefail",
        *(c.setup or ["# module load cuda/12.2          # EDIT"]),
        f'exec {values["python"]} -m femo.worker {values["run_dir"]} "$SLURM_ARRAY_TASK_ID"',
    ]
    return "\n".join(lines) + "\n"


def qsub_script(c: NoneLauncherConfig, values: dict[str, object]) -> str:
    """The plain-qsub array script of a planned run (SGE tasks count from 1)."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        "# Plain-qsub array script for one femo run: one array task per shard.",
        "# Filled from launcher=none's settings; check it, then: "
        f"qsub -t {sge_task_range(values['count'])} -tc {c.array_parallelism} {values['qsub']}",
        *directives(
            QSUB,
            {
                "job_name": "femo",
                "shell": "/bin/bash",
                "cwd": True,
                "join": True,
                "time": hms(c.time_min),
            },
        ),  # fmt: skip
        flag(QSUB, "pe", f"{q(c.pe)} {c.cpus_per_task}")
        if c.pe
        else flag(QSUB, "pe", "smp 1") + "  # EDIT (no pe set)",
        *directives(QSUB, {"mem": c.mem_gb and f"{c.mem_resource}={c.mem_gb:g}G"}),
        _option(QSUB, "queue", c.queue and q(c.queue), "QUEUE", "remove one '#'"),
        _option(QSUB, "project", c.project and q(c.project), "PROJECT", "remove one '#'"),
        _option(QSUB, "gpus", c.gpus, 1, "GPU nodes"),
        flag(QSUB, "output", f"{values['logs']}/sge-$JOB_ID.$TASK_ID.out"),
        "set -euo pipefail",
        *(c.setup or ["# module load python3             # EDIT"]),
        "# SGE tasks count from 1, shards from 0.",
        f'exec {values["python"]} -m femo.worker {values["run_dir"]} "{SGE_SHELL_INDEX}"',
    ]
    return "\n".join(lines) + "\n"


def array_scripts(
    run: RunDir,
    n_shards: int,
    python: str | None = None,
    config: NoneLauncherConfig | None = None,
) -> dict[str, str]:
    """The sbatch and qsub scripts of a planned run, by file name."""
    values = {
        "last": n_shards - 1,
        "count": n_shards,
        "logs": shlex.quote(str(run.logs_dir)),
        "python": shlex.quote(python or sys.executable),
        "run_dir": shlex.quote(str(run.path)),
        "sbatch": shlex.quote(str(run.path / "femo-array.sbatch")),
        "qsub": shlex.quote(str(run.path / "femo-array.qsub")),
    }
    config = config or NoneLauncherConfig()
    return {
        "femo-array.sbatch": sbatch_script(config, values),
        "femo-array.qsub": qsub_script(config, values),
    }


@dataclass(frozen=True)
class NoneLauncherConfig:
    """Plan the run folder and stop; the user submits the array script femo writes.

    The settings fill those scripts: SLURM reads partition/account, Grid Engine
    queue/project/pe/mem_resource; both read the rest."""

    name: str = "none"
    time_min: int = 120
    cpus_per_task: int = 1
    mem_gb: float | None = 2
    gpus: int = 0
    partition: str | None = None
    account: str | None = None
    queue: str | None = None
    project: str | None = None
    pe: str | None = "smp"
    mem_resource: str = "mem_free"
    array_parallelism: int = 16
    setup: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in ("time_min", "cpus_per_task", "array_parallelism"):
            positive_or_none("launcher", key, getattr(self, key))


class NoneLauncher(Launcher):
    settings_class = NoneLauncherConfig
    config: NoneLauncherConfig

    @property
    def waits(self) -> bool:
        return False

    def launch(self, run: RunDir, tasks: list[ShardTask], say: Say) -> Launch:
        n = run.read_plan().n_shards
        scripts = array_scripts(run, n, config=self.config)
        for name, text in scripts.items():
            write_text(run.path / name, text)
        shards = ",".join(str(t.index) for t in tasks)
        sbatch = run.path / "femo-array.sbatch"
        qsub = run.path / "femo-array.qsub"
        every = len(tasks) == n
        return Launch(
            instructions=[
                f"planned {len(tasks)} shard(s) in {run.path}; nothing submitted. "
                f"Check and submit one of the array scripts femo wrote there:",
                f"  sbatch --array={'0-' + str(n - 1) if every else shards} {sbatch}",
                f"  qsub -t {sge_task_range(n)} {qsub}"
                if every
                else f"  for t in {_one_based(tasks)}; do qsub -t $t {qsub}; done",
                f"then: femo status {run.path}; femo reduce {run.path}",
            ]
        )


def _one_based(tasks: list[ShardTask]) -> str:
    return " ".join(str(sge_task(t.index)) for t in tasks)
