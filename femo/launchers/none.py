"""``launcher=none``: plan the run folder and stop. femo writes a plain sbatch and a
plain qsub array script into the run folder, filled from the launcher's settings; the
user checks and submits one. Each task runs ``python -m femo.worker RUN_DIR INDEX``,
which records its scheduler job id in the run folder, so ``femo status`` follows it."""

from __future__ import annotations

import shlex
import sys

from ..config import to_dict
from ..rundir import RunDir, write_text
from ..task import ShardTask
from .base import Launch, Launcher, Say
from .dialects import (
    QSUB,
    SBATCH,
    SGE_SHELL_INDEX,
    directives,
    flag,
    setting_values,
    sge_task,
    sge_task_range,
)
from .settings import NoneLauncherConfig

# Settings a script cannot guess: left unset, each is written commented out with a
# placeholder, for the user to fill in.
PLACEHOLDERS = {"partition": "PARTITION", "account": "ACCOUNT", "queue": "QUEUE",
                "project": "PROJECT"}  # fmt: skip
SETUP_PLACEHOLDER = "# module load python3             # EDIT"


def _placeholder(prefix: str, key: str) -> str:
    """A directive commented out, with its placeholder, for the user to edit."""
    return f"#{flag(prefix, key, PLACEHOLDERS[key])}".ljust(33) + " # EDIT (remove one '#')"


def _asked(
    prefix: str, c: NoneLauncherConfig, head: dict[str, object], tail: dict[str, object]
) -> list[str]:
    """The directives of a script: ``head``, every setting asked for in the flag table's
    order, a placeholder for each unset one the user must name, then ``tail``."""
    values = setting_values(prefix, to_dict(c))
    unset = [_placeholder(prefix, k) for k in PLACEHOLDERS if k in values and not values[k]]
    return [*directives(prefix, {**head, **values}), *unset, *directives(prefix, tail)]


def sbatch_command(shards: list[int], n_shards: int, at_once: int, script: str) -> str:
    """The sbatch line that submits ``shards`` of a plan of ``n_shards``, ``at_once`` at a time."""
    every = list(shards) == list(range(n_shards))
    spec = f"0-{n_shards - 1}" if every else ",".join(map(str, shards))
    return f"sbatch --array={spec}%{at_once} {script}"


def qsub_command(shards: list[int], n_shards: int, at_once: int, script: str) -> str:
    """The qsub line that submits ``shards`` (Grid Engine's -t takes ranges only: others
    one task each)."""
    if list(shards) == list(range(n_shards)):
        return f"qsub -t {sge_task_range(n_shards)} -tc {at_once} {script}"
    tasks = " ".join(str(sge_task(k)) for k in shards)
    return f"for t in {tasks}; do qsub -t $t {script}; done"


def sbatch_script(c: NoneLauncherConfig, values: dict[str, str], n_shards: int) -> str:
    """The plain-sbatch array script of a planned run."""
    command = sbatch_command(list(range(n_shards)), n_shards, c.array_parallelism, values["sbatch"])
    lines = [
        "#!/bin/bash",
        "# Plain-sbatch array script for one femo run: one array task per shard.",
        f"# Filled from launcher=none's settings; check it, then: {command}",
        *_asked(
            SBATCH,
            c,
            head={"job_name": "femo"},
            tail={"output": f"{values['logs']}/slurm-%A_%a.out"},
        ),
        "set -euo pipefail",
        *(c.setup or [SETUP_PLACEHOLDER]),
        f'exec {values["python"]} -m femo.worker {values["run_dir"]} "$SLURM_ARRAY_TASK_ID"',
    ]
    return "\n".join(lines) + "\n"


def qsub_script(c: NoneLauncherConfig, values: dict[str, str], n_shards: int) -> str:
    """The plain-qsub array script of a planned run (SGE tasks count from 1)."""
    command = qsub_command(list(range(n_shards)), n_shards, c.array_parallelism, values["qsub"])
    lines = [
        "#!/bin/bash",
        "# Plain-qsub array script for one femo run: one array task per shard.",
        f"# Filled from launcher=none's settings; check it, then: {command}",
        *_asked(
            QSUB,
            c,
            head={"job_name": "femo", "shell": "/bin/bash", "cwd": True, "join": True},
            tail={"output": f"{values['logs']}/sge-$JOB_ID.$TASK_ID.out"},
        ),
        "set -euo pipefail",
        *(c.setup or [SETUP_PLACEHOLDER]),
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
    sbatch, qsub = run.array_scripts
    values = {
        "logs": shlex.quote(str(run.logs_dir)),
        "python": shlex.quote(python or sys.executable),
        "run_dir": shlex.quote(str(run.path)),
        "sbatch": shlex.quote(str(sbatch)),
        "qsub": shlex.quote(str(qsub)),
    }
    config = config or NoneLauncherConfig()
    return {
        sbatch.name: sbatch_script(config, values, n_shards),
        qsub.name: qsub_script(config, values, n_shards),
    }


class NoneLauncher(Launcher):
    settings_class = NoneLauncherConfig
    config: NoneLauncherConfig

    def launch(self, run: RunDir, tasks: list[ShardTask], say: Say) -> Launch:
        n = run.read_plan().n_shards
        sbatch, qsub = run.array_scripts
        scripts = array_scripts(run, n, config=self.config)
        for path in (sbatch, qsub):
            write_text(path, scripts[path.name])
        shards = [t.index for t in tasks]
        at_once = self.config.array_parallelism
        return Launch(
            instructions=[
                f"planned {len(tasks)} shard(s) in {run.path}; nothing submitted. "
                f"Check and submit one of the array scripts femo wrote there:",
                f"  {sbatch_command(shards, n, at_once, shlex.quote(str(sbatch)))}",
                f"  {qsub_command(shards, n, at_once, shlex.quote(str(qsub)))}",
                f"then: femo status {run.path}; femo reduce {run.path}",
            ]
        )
