"""``launcher=none``: plan the run folder and stop. femo writes a plain sbatch and a
plain qsub array script into the run folder; the user edits and submits one. Each
task runs ``python -m femo.worker RUN_DIR INDEX``."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass

from ..rundir import RunDir, write_text
from ..task import ShardTask
from .base import Launch, Launcher, Say

SBATCH = """\
#!/bin/bash
# Plain-sbatch array script for one femo run: one array task per shard.
# Edit the lines marked EDIT, then: sbatch --array=0-{last}%16 {script}
#SBATCH --job-name=femo
#SBATCH --time=02:00:00          # EDIT
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
##SBATCH --partition=gpu         # EDIT (remove one '#' to use)
##SBATCH --gpus-per-node=1       # EDIT (remove one '#' on GPU nodes)
#SBATCH --output={logs}/slurm-%A_%a.out
set -euo pipefail
# module load cuda/12.2          # EDIT
exec {python} -m femo.worker {run_dir} "$SLURM_ARRAY_TASK_ID"
"""

QSUB = """\
#!/bin/bash
# Plain-qsub array script for one femo run: one array task per shard.
# Edit the lines marked EDIT, then: qsub -t 1-{count} -tc 16 {script}
#$ -N femo
#$ -S /bin/bash
#$ -cwd
#$ -j y
#$ -l h_rt=02:00:00               # EDIT
#$ -pe smp 4                      # EDIT (BU SCC: omp)
#$ -o {logs}/sge-$JOB_ID.$TASK_ID.out
set -euo pipefail
# module load python3             # EDIT
# SGE tasks count from 1, shards from 0.
exec {python} -m femo.worker {run_dir} "$((SGE_TASK_ID - 1))"
"""


def array_scripts(run: RunDir, n_shards: int, python: str | None = None) -> dict[str, str]:
    """The sbatch and qsub scripts of a planned run, by file name."""
    values = {
        "last": n_shards - 1,
        "count": n_shards,
        "logs": shlex.quote(str(run.logs_dir)),
        "python": shlex.quote(python or sys.executable),
        "run_dir": shlex.quote(str(run.path)),
    }
    return {
        "femo-array.sbatch": SBATCH.format(
            script=shlex.quote(str(run.path / "femo-array.sbatch")), **values
        ),
        "femo-array.qsub": QSUB.format(
            script=shlex.quote(str(run.path / "femo-array.qsub")), **values
        ),
    }


@dataclass(frozen=True)
class NoneLauncherConfig:
    """Plan the run folder and stop; the user submits the array script femo writes."""

    name: str = "none"


class NoneLauncher(Launcher):
    settings_class = NoneLauncherConfig
    config: NoneLauncherConfig

    @property
    def waits(self) -> bool:
        return False

    def launch(self, run: RunDir, tasks: list[ShardTask], say: Say) -> Launch:
        n = run.read_plan().n_shards
        scripts = array_scripts(run, n)
        for name, text in scripts.items():
            write_text(run.path / name, text)
        shards = ",".join(str(t.index) for t in tasks)
        sbatch = run.path / "femo-array.sbatch"
        qsub = run.path / "femo-array.qsub"
        every = len(tasks) == n
        return Launch(
            instructions=[
                f"planned {len(tasks)} shard(s) in {run.path}; nothing submitted. "
                f"Edit and submit one of the array scripts femo wrote there:",
                f"  sbatch --array={'0-' + str(n - 1) if every else shards} {sbatch}",
                f"  qsub -t 1-{n} {qsub}"
                if every
                else f"  for t in {_one_based(tasks)}; do qsub -t $t {qsub}; done",
                f"then: femo status {run.path}; femo reduce {run.path}",
            ]
        )


def _one_based(tasks: list[ShardTask]) -> str:
    return " ".join(str(t.index + 1) for t in tasks)
