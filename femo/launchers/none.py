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


def _hms(minutes: int) -> str:
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}:00"


def _option(prefix: str, value: object, text: str, edit: str) -> str:
    """A directive line when ``value`` is set, else the same line commented out to edit."""
    if value:
        return f"{prefix} {text}"
    return f"#{prefix} {text}".ljust(33) + f" # EDIT ({edit})"


def sbatch_script(c: NoneLauncherConfig, values: dict[str, object]) -> str:
    """The plain-sbatch array script of a planned run."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        "# Plain-sbatch array script for one femo run: one array task per shard.",
        "# Filled from launcher=none's settings; check it, then: "
        f"sbatch --array=0-{values['last']}%{c.array_parallelism} {values['sbatch']}",
        "#SBATCH --job-name=femo",
        f"#SBATCH --time={_hms(c.time_min)}",
        f"#SBATCH --cpus-per-task={c.cpus_per_task}",
    ]
    if c.mem_gb:
        lines.append(f"#SBATCH --mem={c.mem_gb:g}G")
    lines += [
        _option("#SBATCH", c.partition, f"--partition={q(c.partition or 'gpu')}", "remove one '#'"),
        _option("#SBATCH", c.account, f"--account={q(c.account or 'ACCOUNT')}", "remove one '#'"),
        _option("#SBATCH", c.gpus, f"--gpus-per-node={c.gpus or 1}", "GPU nodes"),
        f"#SBATCH --output={values['logs']}/slurm-%A_%a.out",
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
        f"qsub -t 1-{values['count']} -tc {c.array_parallelism} {values['qsub']}",
        "#$ -N femo",
        "#$ -S /bin/bash",
        "#$ -cwd",
        "#$ -j y",
        f"#$ -l h_rt={_hms(c.time_min)}",
        f"#$ -pe {q(c.pe)} {c.cpus_per_task}" if c.pe else "#$ -pe smp 1  # EDIT (no pe set)",
    ]
    if c.mem_gb:
        lines.append(f"#$ -l {c.mem_resource}={c.mem_gb:g}G")
    lines += [
        _option("#$", c.queue, f"-q {q(c.queue or 'QUEUE')}", "remove one '#'"),
        _option("#$", c.project, f"-P {q(c.project or 'PROJECT')}", "remove one '#'"),
        _option("#$", c.gpus, f"-l gpus={c.gpus or 1}", "GPU nodes"),
        f"#$ -o {values['logs']}/sge-$JOB_ID.$TASK_ID.out",
        "set -euo pipefail",
        *(c.setup or ["# module load python3             # EDIT"]),
        "# SGE tasks count from 1, shards from 0.",
        f'exec {values["python"]} -m femo.worker {values["run_dir"]} "$((SGE_TASK_ID - 1))"',
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
                f"  qsub -t 1-{n} {qsub}"
                if every
                else f"  for t in {_one_based(tasks)}; do qsub -t $t {qsub}; done",
                f"then: femo status {run.path}; femo reduce {run.path}",
            ]
        )


def _one_based(tasks: list[ShardTask]) -> str:
    return " ".join(str(t.index + 1) for t in tasks)
