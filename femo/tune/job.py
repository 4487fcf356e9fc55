"""Where a tuning runs: in this process, or as one job where the run's launcher says.

``launcher=slurm`` (or ``sge``), the run's own or given as overrides (``launcher=slurm
launcher.partition=gpu launcher.gpus=1``), submits the whole tuning as one job through
the launcher's submitit executor, with the launcher's settings (time, memory, CPUs,
GPUs, partition or queue); ``local`` and ``none`` run it here. Either way each step is a
line of ``tune.log`` in the tuning's folder, and the job's own output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..rundir import write_json
from .request import TuneRequest, check_grid, gather, launcher_section

Say = Callable[[str], None]
SUBMITTED = "submitted"


@dataclass
class TuneOutcome:
    """A tuning done here (``outcome``: its figures and files), or submitted (``job_id``)."""

    log_file: Path
    outcome: dict[str, Any] | None = None
    job_id: str | None = None
    launcher: str | None = None


def logger(log_file: Path, echo: Say | None = None) -> Say:
    """A ``say`` that appends each line, timed, to ``log_file`` (and echoes it)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)

    def say(line: str) -> None:
        with open(log_file, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        if echo is not None:
            echo(line)

    return say


class TuneJob:
    """What the cluster job runs: the whole tuning, its lines in ``tune.log``."""

    def __call__(self, request: TuneRequest) -> dict[str, Any]:
        from .run import run_tuning

        say = logger(request.folder.log_file, print)
        try:
            return run_tuning(request, say)
        except ConfigError as exc:
            say(f"error: {exc}")
            raise


def tune(request: TuneRequest, say: Say) -> TuneOutcome:
    """Check the request (one line, nothing written), then tune here or submit it."""
    from ..launchers import make_launcher
    from ..launchers.cluster import ClusterLauncher

    check_grid(request)
    section = launcher_section(request)
    clips = gather(request)
    launcher = make_launcher(section)
    folder = request.folder
    if not isinstance(launcher, ClusterLauncher):
        from .run import run_tuning

        folder.log_file.unlink(missing_ok=True)
        outcome = run_tuning(request, logger(folder.log_file, say), clips)
        return TuneOutcome(folder.log_file, outcome)
    folder.jobs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    executor = launcher.make_executor(folder.jobs_dir)
    executor.update_parameters(name="femo-tune")
    folder.log_file.unlink(missing_ok=True)
    job = executor.submit(TuneJob(), request)
    write_json(
        folder.job_file, {"launcher": launcher.name, "job_id": job.job_id, "state": SUBMITTED}
    )
    say(f"submitted {launcher.name} job {job.job_id}: the tuning runs there, one job")
    if not launcher.waits:
        return TuneOutcome(folder.log_file, job_id=job.job_id, launcher=launcher.name)
    outcome = job.result()
    return TuneOutcome(folder.log_file, outcome, job.job_id, launcher.name)


def read_outcome(folder_outcome: Path) -> dict[str, Any] | None:
    """The figures a tuning left (``outcome.json``), or None."""
    try:
        return json.loads(folder_outcome.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
