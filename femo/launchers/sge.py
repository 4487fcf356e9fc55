"""``launcher=sge``: one Grid Engine array job per run (``qsub -t 1-N``), submitted
through femo's submitit plugin (:mod:`.sge_plugin`), and the task answers of
``femo status`` from ``qstat`` and ``qacct``."""

from __future__ import annotations

import getpass
import time
import typing as tp

from ..config import to_dict
from ..rundir import RunDir, Submission
from .base import TaskAnswer
from .cluster import ClusterLauncher
from .qsub_script import default_parameters
from .settings import SgeLauncherConfig

# An install made before the plugin moved to sge_plugin names these in its entry points.
from .sge_plugin import (  # noqa: F401
    ACCOUNTING_GRACE_S,
    SgeExecutor,
    SgeJob,
    SgeJobEnvironment,
    parse_qstat_xml,
    qacct,
)


def answers_of(
    live: dict[str, dict[str, str]],
    accounted: dict[str, dict[str, str]],
    submissions: list[Submission],
    now: float,
    grace_s: float = ACCOUNTING_GRACE_S,
) -> dict[str, TaskAnswer]:
    """Task answers from qstat (live) and qacct (ended); a task in neither is unknown
    while accounting may still lag, and lost after ``grace_s``."""
    answers: dict[str, TaskAnswer] = {}
    for s in submissions:
        for job_id in s.job_ids:
            if job_id in live:
                state = live[job_id]["State"]
                if state == "RUNNING":
                    answers[job_id] = TaskAnswer("running")
                elif state == "PENDING":
                    answers[job_id] = TaskAnswer("pending")
                else:
                    answers[job_id] = TaskAnswer(
                        "ended", f"qstat state {live[job_id]['sge_state']}"
                    )
            elif job_id in accounted:
                record = accounted[job_id]
                detail = None
                if record["State"] != "COMPLETED":
                    detail = f"exit status {record['exit_status']}, failed {record['failed']}"
                answers[job_id] = TaskAnswer("ended", detail)
            elif now - s.submitted_at <= grace_s:
                answers[job_id] = TaskAnswer("unknown", "not in qstat or qacct yet")
            else:
                answers[job_id] = TaskAnswer("ended", "lost: in neither qstat nor qacct")
    return answers


class SgeLauncher(ClusterLauncher):
    settings_class = SgeLauncherConfig
    config: SgeLauncherConfig

    def executor_parameters(self) -> dict[str, tp.Any]:
        """Every setting the plugin takes, as ``sge_<setting>`` (its flag table makes
        the directives); unset ones are left to its defaults."""
        accepted = default_parameters()
        params = {
            f"sge_{key}": value
            for key, value in to_dict(self.config).items()
            if key in accepted and value not in (None, [], {})
        }
        return {"name": "femo", **params}

    def query(self, run: RunDir, submissions: list[Submission]) -> dict[str, TaskAnswer] | None:
        out = self._run_query(["qstat", "-xml", "-u", getpass.getuser()])
        if out is None:
            return None
        live = parse_qstat_xml(out)
        ended = {j for s in submissions for j in s.job_ids if j not in live}
        accounted: dict[str, dict[str, str]] = {}
        for array_id in sorted({j.split("_")[0] for j in ended}):
            accounted.update(qacct(array_id, timeout=self.query_timeout_s))
        return answers_of(live, accounted, submissions, time.time())
