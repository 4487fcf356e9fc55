"""Grid Engine (SGE / Son of Grid Engine / Univa) as a submitit executor plugin.

femo registers this module in submitit's ``submitit`` entry-point group, the way
third-party executors do, so ``submitit.AutoExecutor(folder, cluster="sge")``
builds an :class:`SgeExecutor` and submitit's own pickling, result and log handling
apply unchanged. Array tasks are 1-based in SGE (``$SGE_TASK_ID``) and 0-based in
submitit; :mod:`.dialects` converts, so job ids read ``<JOB_ID>_<task - 1>``.

submitit imports this module each time it looks for plugins, in every array task
too: it imports submitit, the standard library and :mod:`.qsub_script` only, never
femo's launcher layer (that is :mod:`.sge`, which imports this).
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import typing as tp
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from submitit.core import core, job_environment, logger, utils

from .dialects import sge_index, sge_job_id, sge_task
from .qsub_script import default_parameters, make_qsub_script

# Seconds a task may be absent from both qstat and qacct (accounting lag) before
# it is declared lost: it died without leaving a trace, so nobody waits forever.
ACCOUNTING_GRACE_S = 120.0


def _expand_tasks(spec: str) -> list[int]:
    """SGE task specs: '3', '1-5:1', '2,4,7-9:2' -> task numbers."""
    tasks: list[int] = []
    for part in spec.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if not m:
            continue
        first = int(m.group(1))
        last = int(m.group(2) or first)
        step = int(m.group(3) or 1)
        tasks.extend(range(first, last + 1, step))
    return tasks


def parse_qstat_xml(text: str | bytes) -> dict[str, dict[str, str]]:
    """``qstat -xml`` -> {submitit job id: {"State": ..., "sge_state": ...}}."""
    info: dict[str, dict[str, str]] = {}
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return info
    for job in root.iter("job_list"):
        number = (job.findtext("JB_job_number") or "").strip()
        if not number:
            continue
        code = (job.findtext("state") or "").strip()
        if "E" in code:
            state = "FAILED"  # Eqw: the task cannot start; it would wait forever
        elif "r" in code or "t" in code:
            state = "RUNNING"
        elif "d" in code:
            state = "CANCELLED"
        elif "q" in code or "w" in code:
            state = "PENDING"  # also Rq, hRwq: restarted ("R") and waiting again
        elif "R" in code:
            state = "RUNNING"
        else:
            state = "PENDING"
        tasks = (job.findtext("tasks") or "").strip()
        entry = {"State": state, "sge_state": code}
        if tasks:
            for t in _expand_tasks(tasks):
                info[sge_job_id(number, t)] = entry
        else:
            info[number] = entry
    return info


def parse_qacct(text: str | bytes) -> dict[str, dict[str, str]]:
    """``qacct -j ID`` -> {submitit job id: {"State": COMPLETED|FAILED, "exit_status": ...}}."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    info: dict[str, dict[str, str]] = {}
    for block in re.split(r"^=+\s*$", text, flags=re.M):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                fields[key] = value.strip()
        if "jobnumber" not in fields:
            continue
        job_id = sge_job_id(fields["jobnumber"], fields.get("taskid"))
        failed = fields.get("failed", "0").split()[0] if fields.get("failed") else "0"
        exit_status = (
            fields.get("exit_status", "0").split()[0] if fields.get("exit_status") else "0"
        )
        ok = failed == "0" and exit_status == "0"
        info[job_id] = {
            "State": "COMPLETED" if ok else "FAILED",
            "exit_status": exit_status,
            "failed": fields.get("failed", "0"),
        }
    return info


class SgeInfoWatcher(core.InfoWatcher):
    """Task states from ``qstat -xml`` while queued or running, ``qacct`` once ended."""

    def __init__(self, delay_s: int = 60, grace_s: float = ACCOUNTING_GRACE_S) -> None:
        super().__init__(delay_s)
        self._grace_s = grace_s
        self._missing_since: dict[str, float] = {}

    def _make_command(self) -> list[str] | None:
        if not self._registered - self._finished:
            return None
        return ["qstat", "-xml", "-u", getpass.getuser()]

    def read_info(self, string: bytes | str) -> dict[str, dict[str, str]]:
        return parse_qstat_xml(string)

    def get_state(self, job_id: str, mode: str = "standard") -> str:
        return self.get_info(job_id, mode=mode).get("State") or "UNKNOWN"

    def update(self) -> None:
        """qstat for live tasks; qacct for tasks that left the queue; lost after a grace period."""
        command = self._make_command()
        if command is None:
            return
        self._num_calls += 1
        try:
            live = self.read_info(
                subprocess.check_output(command, shell=False, stderr=subprocess.DEVNULL)
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            logger.get_logger().warning(f"qstat failed ({exc}); status may be inaccurate")
            self._last_status_check = time.time()
            return
        pending = self._registered - self._finished
        ended = {j for j in pending if j not in live}
        accounted: dict[str, dict[str, str]] = {}
        for array_id in sorted({j.split("_")[0] for j in ended}):
            accounted.update(qacct(array_id))
        now = time.time()
        for job_id in pending:
            if job_id in live:
                self._info_dict[job_id] = live[job_id]
                self._missing_since.pop(job_id, None)
            elif job_id in accounted:
                self._info_dict[job_id] = accounted[job_id]
            else:
                first = self._missing_since.setdefault(job_id, now)
                lost = now - first > self._grace_s
                self._info_dict[job_id] = {"State": "LOST" if lost else "UNKNOWN"}
        self._last_status_check = now
        for job_id in pending:
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)


def qacct(array_id: str, timeout: float = 60) -> dict[str, dict[str, str]]:
    """Accounting records of one job (all its tasks); {} while accounting lags."""
    try:
        out = subprocess.run(
            ["qacct", "-j", str(array_id)], capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_qacct(out.stdout) if out.returncode == 0 else {}


class SgeJob(core.Job[core.R]):
    _cancel_command = "qdel"
    watcher = SgeInfoWatcher(delay_s=60)

    def cancel(self, check: bool = True) -> None:
        array_id, _, task = self.job_id.partition("_")
        command = ["qdel", array_id] + (["-t", str(sge_task(int(task)))] if task else [])
        (subprocess.check_call if check else subprocess.call)(command)


class SgeJobEnvironment(job_environment.JobEnvironment):
    # Variables SGE does not set fall back to submitit's defaults (1 task, rank 0).
    _env = {
        "job_id": "JOB_ID",
        "num_tasks": "FEMO_SGE_NUM_TASKS",
        "num_nodes": "FEMO_SGE_NUM_NODES",
        "node": "FEMO_SGE_NODE",
        "global_rank": "FEMO_SGE_GLOBAL_RANK",
        "local_rank": "FEMO_SGE_LOCAL_RANK",
        "array_job_id": "JOB_ID",
        "array_task_id": "SGE_TASK_ID",
    }

    @property
    def array_job_id(self) -> str | None:
        return os.environ.get("JOB_ID") if self.array_task_id is not None else None

    @property
    def array_task_id(self) -> str | None:
        index = sge_index(os.environ.get("SGE_TASK_ID"))
        return None if index is None else str(index)

    def _requeue(self, countdown: int) -> None:
        # Grid Engine has no portable requeue of a running task; resume= redoes it.
        logger.get_logger().warning(f"SGE cannot requeue {self.job_id}; run `femo run resume=...`")


class SgeExecutor(core.PicklingExecutor):
    """submitit executor for Grid Engine: ``qsub`` array jobs, one task per call.

    Parameters (through ``update_parameters``, or ``sge_*`` in AutoExecutor): see
    :func:`make_qsub_script`.
    """

    job_class = SgeJob

    def __init__(
        self,
        folder: str | Path,
        max_num_timeout: int = 3,
        max_pickle_size_gb: float = 1.0,
        python: str | None = None,
    ) -> None:
        super().__init__(
            folder, max_num_timeout=max_num_timeout, max_pickle_size_gb=max_pickle_size_gb
        )
        self.python = shlex.quote(sys.executable) if python is None else python
        if self.affinity() <= 0:
            raise RuntimeError('Could not find "qsub": is this a Grid Engine submit host?')

    @classmethod
    def _equivalence_dict(cls) -> core.EquivalenceDict:
        return {
            "name": "job_name",
            "timeout_min": "time_min",
            "mem_gb": "mem_gb",
            "nodes": "nodes",
            "cpus_per_task": "cpus_per_task",
            "gpus_per_node": "gpus",
            "tasks_per_node": "tasks_per_node",
        }

    @classmethod
    def _valid_parameters(cls) -> set[str]:
        return set(default_parameters())

    def _internal_update_parameters(self, **kwargs: tp.Any) -> None:
        invalid = sorted(set(kwargs) - set(default_parameters()))
        if invalid:
            raise ValueError(
                f"Unavailable SGE parameter(s): {invalid}; valid: {sorted(default_parameters())}"
            )
        make_qsub_script(command="true", folder=self.folder, **kwargs)  # validates values
        super()._internal_update_parameters(**kwargs)

    def _internal_process_submissions(
        self, delayed_submissions: list[utils.DelayedSubmission]
    ) -> list[core.Job[tp.Any]]:
        if len(delayed_submissions) == 1:
            return super()._internal_process_submissions(delayed_submissions)
        folder = utils.JobPaths.get_first_id_independent_folder(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        pickle_paths = []
        for delayed in delayed_submissions:
            path = folder / f"{uuid.uuid4().hex}.pkl"
            delayed.set_timeout(self.parameters.get("time_min", 5), self.max_num_timeout)
            delayed.dump(path)
            pickle_paths.append(path)
        array_ex = SgeExecutor(self.folder, self.max_num_timeout, python=self.python)
        array_ex.update_parameters(**self.parameters)
        array_ex.parameters["map_count"] = len(delayed_submissions)
        self._throttle()
        first = array_ex._submit_command(self._submitit_command_str)
        jobs: list[core.Job[tp.Any]] = [
            SgeJob(folder=self.folder, job_id=f"{first.job_id}_{a}", tasks=[0])
            for a in range(len(delayed_submissions))
        ]
        for job, path in zip(jobs, pickle_paths, strict=True):
            job.paths.move_temporary_file(path, "submitted_pickle")
        return jobs

    @property
    def _submitit_command_str(self) -> str:
        return " ".join([self.python, "-u -m submitit.core._submit", shlex.quote(str(self.folder))])

    def _make_submission_file_text(self, command: str, uid: str) -> str:
        return make_qsub_script(command=command, folder=self.folder, **self.parameters)

    def _num_tasks(self) -> int:
        return 1

    def _make_submission_command(self, submission_file_path: Path) -> list[str]:
        return ["qsub", "-terse", str(submission_file_path)]

    @staticmethod
    def _get_job_id_from_submission_command(string: bytes | str) -> str:
        """'123' or '123.1-4:1' (qsub -terse), or 'Your job(-array) 123...' -> '123'."""
        if not isinstance(string, str):
            string = string.decode(errors="replace")
        m = re.search(r"^(\d+)(?:\.\S+)?\s*$", string.strip(), flags=re.M) or re.search(
            r"Your job(?:-array)? (\d+)", string
        )
        if m is None:
            raise utils.FailedSubmissionError(f'Could not make sense of qsub output "{string}"')
        return m.group(1)

    @classmethod
    def affinity(cls) -> int:
        return -1 if shutil.which("qsub") is None else 1
