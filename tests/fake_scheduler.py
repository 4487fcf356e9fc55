"""A stateful stand-in for SLURM and Grid Engine, shared by the launcher tests.

In the spirit of submitit's own ``MockedSubprocess`` (submitit/core/test_core.py), but
with state: :class:`FakeScheduler` keeps a job table and answers, from it, the commands
femo and submitit run, the way the real ones print:

* SLURM: ``sbatch`` (arrays capped by ``MaxArraySize``), ``squeue -h -r -o %i|%T``,
  ``sacct -o JobID,State,NodeList --parsable2``, ``scontrol requeue|show config``,
  ``scancel``;
* Grid Engine: ``qsub -terse`` (arrays capped by ``max_aj_tasks``), ``qstat -xml``,
  ``qacct -j`` (with its accounting lag, and a record per attempt), ``qdel``.

``install(monkeypatch)`` routes ``subprocess.run/check_output/check_call/call``,
``shutil.which`` and submitit's ``CommandFunction`` to it; every other command runs for
real. The test then moves tasks along: :meth:`FakeScheduler.start`, :meth:`run` (the
task's submitit pickle runs in this process, as the array task would),
:meth:`finish`, :meth:`requeue`, :meth:`lose` (the scheduler forgets the task),
:meth:`account` (accounting catches up) and :attr:`down` (the scheduler does not answer).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from submitit.core import submission, utils

SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scontrol", "scancel", "srun")
SGE_COMMANDS = ("qsub", "qstat", "qacct", "qdel")
LIVE = ("PENDING", "RUNNING", "COMPLETING")

# ------------------------------------------------- what Son of Grid Engine 8.1.9 prints

XML_HEAD = (
    "<?xml version='1.0'?>\n"
    '<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/'
    'resources/schemas/qstat/qstat.xsd">\n'
)
QACCT_SEP = "=" * 62


def job_list(
    number: int | str,
    state: str,
    code: str,
    tasks: str | None = None,
    queue: str = "",
    slots: int = 1,
    name: str = "femo",
) -> str:
    """One <job_list> element as SoGE 8.1.9's ``qstat -xml`` prints it."""
    when = (
        "      <JAT_start_time>2024-03-04T10:00:05</JAT_start_time>\n"
        if state == "running"
        else "      <JB_submission_time>2024-03-04T09:59:58</JB_submission_time>\n"
    )
    return (
        f'    <job_list state="{state}">\n'
        f"      <JB_job_number>{number}</JB_job_number>\n"
        "      <JAT_prio>0.55500</JAT_prio>\n"
        f"      <JB_name>{name}</JB_name>\n"
        "      <JB_owner>alice</JB_owner>\n"
        f"      <state>{code}</state>\n"
        f"{when}"
        f"      <queue_name>{queue}</queue_name>\n"
        f"      <slots>{slots}</slots>\n"
        + (f"      <tasks>{tasks}</tasks>\n" if tasks is not None else "")
        + "    </job_list>\n"
    )


def qstat_xml(running: list[str], pending: list[str]) -> str:
    """A whole ``qstat -xml`` answer: running jobs in queue_info, the others in job_info."""
    return (
        XML_HEAD
        + "  <queue_info>\n"
        + "".join(running)
        + "  </queue_info>\n"
        + "  <job_info>\n"
        + "".join(pending)
        + "  </job_info>\n"
        + "</job_info>\n"
    )


def qacct_record(**fields: str) -> str:
    """One record as SoGE 8.1.9's ``qacct -j`` prints it (13-wide keys, padded values)."""
    base = {
        "qname": "all.q", "hostname": "node01.cluster", "group": "users", "owner": "alice",
        "project": "femo", "department": "defaultdepartment", "jobname": "femo",
        "jobnumber": "123", "taskid": "1", "account": "sge", "priority": "0",
        "qsub_time": "Mon Mar  4 09:59:58 2024", "start_time": "Mon Mar  4 10:00:05 2024",
        "end_time": "Mon Mar  4 10:12:41 2024", "granted_pe": "smp", "slots": "4",
        "failed": "0", "exit_status": "0", "ru_wallclock": "756s", "ru_utime": "2890.512s",
        "ru_stime": "12.004s", "ru_maxrss": "3.214MB", "cpu": "2902.516s", "mem": "1.234TBs",
        "io": "0.512GB", "iow": "0.000s", "maxvmem": "6.789GB", "arid": "undefined",
        "ar_sub_time": "undefined", "category": "-u alice -l h_rt=7500,mem_free=8G -pe smp 4",
    }  # fmt: skip
    base.update(fields)
    return QACCT_SEP + "\n" + "".join(f"{k:<13}{v:<20}\n" for k, v in base.items())


# --------------------------------------------------------------------- the job table


@dataclass
class Task:
    """One array task (or plain job) as the scheduler keeps it."""

    kind: str  # "slurm" | "sge"
    array_id: str
    index: int | None  # 0-based array index; None for a plain job
    folder: Path | None = None  # submitit's job folder (where the script was written)
    state: str = "PENDING"  # PENDING RUNNING COMPLETING COMPLETED FAILED CANCELLED ...
    sge_code: str = "qw"  # qstat's state letters while it is live
    exit_status: int = 0
    failed: str = "0"  # qacct's failed field
    restarts: int = 0
    # (failed, exit_status) of each ended attempt; qacct shows those accounted.
    attempts: list[tuple[str, str]] = field(default_factory=list)
    accounted: int = 0  # how many attempts qacct knows of (accounting lags)

    @property
    def job_id(self) -> str:
        return self.array_id if self.index is None else f"{self.array_id}_{self.index}"


class FakeScheduler:
    """SLURM and Grid Engine in one table; see the module docstring."""

    def __init__(
        self,
        max_array_size: int = 1001,
        max_aj_tasks: int = 75000,
        accounting_lag: bool = False,
        first_id: int = 12,
    ) -> None:
        self.max_array_size = max_array_size  # SLURM: indices must stay below it
        self.max_aj_tasks = max_aj_tasks  # Grid Engine: tasks per array at most
        self.accounting_lag = accounting_lag  # True: qacct learns of ends on account()
        self.tasks: dict[str, Task] = {}
        self.next_id = first_id
        self.calls: list[list[str]] = []
        self.scripts: dict[str, str] = {}  # array id -> its submission script
        # Set to an exception: every scheduler command fails with it (down, or missing).
        self.down: BaseException | None = None
        self.now = time.time()  # Grid Engine's clock in femo.launchers.sge and .sge_plugin

    # ------------------------------------------------------------- moving tasks along

    def add(self, kind: str, n_tasks: int | None, array_id: str | None = None) -> list[str]:
        """An array of ``n_tasks`` (None: a plain job), as if submitted; its job ids."""
        array_id = array_id or self._new_id()
        indices: list[int | None] = [None] if n_tasks is None else list(range(n_tasks))
        for index in indices:
            task = Task(kind, array_id, index)
            self.tasks[task.job_id] = task
        return [Task(kind, array_id, i).job_id for i in indices]

    def task(self, job_id: str) -> Task:
        return self.tasks[job_id]

    def array(self, array_id: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.array_id == str(array_id)]

    def start(self, *job_ids: str, code: str = "r") -> None:
        for job_id in job_ids:
            task = self.tasks[job_id]
            task.state, task.sge_code = "RUNNING", code

    def finish(
        self, *job_ids: str, state: str = "COMPLETED", exit_status: int = 0, failed: str = "0"
    ) -> None:
        """Tasks end: COMPLETED, or FAILED/TIMEOUT/CANCELLED/OUT_OF_MEMORY with a status."""
        for job_id in job_ids:
            task = self.tasks[job_id]
            if state == "COMPLETED" and (exit_status or failed != "0"):
                state = "FAILED"
            task.state, task.exit_status, task.failed = state, exit_status, failed
            task.attempts.append((failed, str(exit_status)))
            if not self.accounting_lag:
                task.accounted = len(task.attempts)

    def requeue(self, *job_ids: str) -> None:
        """The scheduler puts tasks back in the queue (preemption, time-limit checkpoint)."""
        for job_id in job_ids:
            task = self.tasks[job_id]
            if task.kind == "sge":  # the attempt that was cut short is accounted
                task.attempts.append(("25  : rescheduling", "0"))
                if not self.accounting_lag:
                    task.accounted = len(task.attempts)
            task.state, task.sge_code = "PENDING", "Rq"
            task.restarts += 1

    def lose(self, *job_ids: str) -> None:
        """The scheduler forgets tasks: in no queue and no accounting (a purged record)."""
        for job_id in job_ids:
            del self.tasks[job_id]

    def account(self) -> None:
        """Grid Engine's accounting file catches up with every ended attempt."""
        for task in self.tasks.values():
            task.accounted = len(task.attempts)

    def run(self, job_id: str) -> None:
        """Run a task's submitit pickle here, as its array task would, and end it."""
        task = self.tasks[job_id]
        assert task.folder is not None, f"{job_id} was not submitted through submitit"
        self.start(job_id)
        if task.kind == "sge":
            env = {"JOB_ID": task.array_id, "SGE_TASK_ID": str((task.index or 0) + 1)}
            if task.index is None:
                env["SGE_TASK_ID"] = "undefined"
        elif task.index is None:
            env = {"SLURM_JOB_ID": task.array_id}
        else:
            env = {"SLURM_JOB_ID": str(1000 + task.index), "SLURM_ARRAY_JOB_ID": task.array_id,
                   "SLURM_ARRAY_TASK_ID": str(task.index)}  # fmt: skip
        env["SUBMITIT_EXECUTOR"] = task.kind
        handlers = {
            s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGCONT, signal.SIGUSR2)
        }
        try:
            with utils.environment_variables(**env, SUBMITIT_FOLDER=str(task.folder)):
                submission.process_job(task.folder)
        except Exception:  # noqa: BLE001 - the task fails, as on a node
            stderr = utils.JobPaths(task.folder, job_id=job_id, task_id=0).stderr
            with stderr.open("a") as fh:
                fh.write(traceback.format_exc())
            self.finish(job_id, exit_status=1)
        else:
            self.finish(job_id)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def run_all(self) -> None:
        for job_id in [j for j, t in self.tasks.items() if t.state in LIVE]:
            self.run(job_id)

    # ------------------------------------------------------------------ the commands

    def __call__(self, command: list[str]) -> tuple[int, str, str]:
        """(return code, stdout, stderr) of a scheduler command."""
        self.calls.append(list(command))
        if self.down is not None:
            raise self.down
        program, args = Path(command[0]).name, list(command[1:])
        return getattr(self, f"_{program}")(args)

    def _new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id - 1)

    def _submit(self, kind: str, script_path: str, n_tasks: int | None) -> str:
        array_id = self._new_id()
        self.scripts[array_id] = Path(script_path).read_text()
        self.add(kind, n_tasks, array_id)
        for task in self.array(array_id):
            task.folder = Path(script_path).parent
        return array_id

    def _sbatch(self, args: list[str]) -> tuple[int, str, str]:
        text = Path(args[-1]).read_text()
        m = re.search(r"^#SBATCH --array=0-(\d+)", text, flags=re.M)
        if m and int(m.group(1)) >= self.max_array_size:
            return (
                1,
                "",
                ("sbatch: error: Batch job submission failed: Invalid job array specification\n"),
            )
        array_id = self._submit("slurm", args[-1], int(m.group(1)) + 1 if m else None)
        return 0, f"Submitted batch job {array_id}\n", ""

    def _squeue(self, args: list[str]) -> tuple[int, str, str]:
        lines = [f"{t.job_id}|{t.state}" for t in self._of("slurm") if t.state in LIVE]
        return 0, "".join(f"{line}\n" for line in lines), ""

    def _sacct(self, args: list[str]) -> tuple[int, str, str]:
        wanted = {args[i + 1] for i, a in enumerate(args) if a == "-j"}
        lines = ["JobID|State|NodeList"]
        for t in self._of("slurm"):
            if t.array_id in wanted or t.job_id in wanted:
                state = "REQUEUED" if t.restarts and t.state == "PENDING" else t.state
                lines += [f"{t.job_id}|{state}|node01", f"{t.job_id}.batch|{state}|node01"]
        return 0, "\n".join(lines) + "\n", ""

    def _scontrol(self, args: list[str]) -> tuple[int, str, str]:
        if args[:2] == ["show", "config"]:
            return 0, f"MaxArraySize            = {self.max_array_size}\n", ""
        if args[0] == "requeue" and args[1] in self.tasks:
            self.requeue(args[1])
            return 0, "", ""
        return 1, "", f"scontrol: error: Invalid job id specified for {args}\n"

    def _scancel(self, args: list[str]) -> tuple[int, str, str]:
        for t in self._of("slurm"):
            if args[0] in (t.array_id, t.job_id) and t.state in LIVE:
                self.finish(t.job_id, state="CANCELLED", exit_status=0)
        return 0, "", ""

    def _qsub(self, args: list[str]) -> tuple[int, str, str]:
        text = Path(args[-1]).read_text()
        m = re.search(r"^#\$ -t 1-(\d+)", text, flags=re.M)
        if m and int(m.group(1)) > self.max_aj_tasks:
            return (
                1,
                "",
                (
                    f"Unable to run job: job rejected: {m.group(1)} tasks requested, "
                    f"max_aj_tasks is {self.max_aj_tasks}.\nExiting.\n"
                ),
            )
        array_id = self._submit("sge", args[-1], int(m.group(1)) if m else None)
        return 0, f"{array_id}.1-{m.group(1)}:1\n" if m else f"{array_id}\n", ""

    def _qstat(self, args: list[str]) -> tuple[int, str, str]:
        running, pending = [], []
        for t in self._of("sge"):
            if t.state not in LIVE:
                continue
            tasks = None if t.index is None else str(t.index + 1)
            if t.state == "RUNNING":
                running.append(job_list(t.array_id, "running", t.sge_code, tasks, "all.q@node01"))
            else:
                pending.append(job_list(t.array_id, "pending", t.sge_code, tasks))
        return 0, qstat_xml(running, pending), ""

    def _qacct(self, args: list[str]) -> tuple[int, str, str]:
        records = [
            qacct_record(
                jobnumber=t.array_id,
                taskid="undefined" if t.index is None else str(t.index + 1),
                failed=failed,
                exit_status=status,
            )
            for t in self._of("sge")
            if t.array_id == args[-1]
            for failed, status in t.attempts[: t.accounted]
        ]
        if not records:
            return 1, "", f"error: job id {args[-1]} not found\n"
        return 0, "".join(records), ""

    def _qdel(self, args: list[str]) -> tuple[int, str, str]:
        number = int(args[2]) - 1 if len(args) > 2 else None
        for t in self._of("sge"):
            if t.array_id == args[0] and number in (None, t.index) and t.state in LIVE:
                self.finish(t.job_id, state="CANCELLED", exit_status=137, failed="0")
        return 0, "", ""

    def _of(self, kind: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.kind == kind]

    # ---------------------------------------------------------------- installing it

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeScheduler:
        """Answer the scheduler commands of this process from this table."""
        real = types.SimpleNamespace(
            run=subprocess.run, check_output=subprocess.check_output,
            check_call=subprocess.check_call, call=subprocess.call, which=shutil.which,
            command_function=utils.CommandFunction,
        )  # fmt: skip
        ours = SLURM_COMMANDS + SGE_COMMANDS

        def mine(command: Any) -> bool:
            return isinstance(command, list | tuple) and Path(str(command[0])).name in ours

        def run(command, *args, **kwargs):
            if not mine(command):
                return real.run(command, *args, **kwargs)
            try:
                code, out, err = self(command)
            except subprocess.CalledProcessError as exc:
                code, out, err = exc.returncode, "", str(exc.output or "")
            if kwargs.get("check") and code:
                raise subprocess.CalledProcessError(code, command, out, err)
            text = kwargs.get("text") or kwargs.get("encoding")
            return subprocess.CompletedProcess(
                command, code, out if text else out.encode(), err if text else err.encode()
            )

        def check_output(command, *args, **kwargs):
            if not mine(command):
                return real.check_output(command, *args, **kwargs)
            code, out, err = self(command)
            if code:
                raise subprocess.CalledProcessError(code, command, out.encode(), err.encode())
            return out if kwargs.get("text") or kwargs.get("encoding") else out.encode()

        def check_call(command, *args, **kwargs):
            if not mine(command):
                return real.check_call(command, *args, **kwargs)
            code, _, err = self(command)
            if code:
                raise subprocess.CalledProcessError(code, command, None, err.encode())
            return 0

        def call(command, *args, **kwargs):
            return real.call(command, *args, **kwargs) if not mine(command) else self(command)[0]

        def which(name, *args, **kwargs):
            return f"/fake/bin/{name}" if name in ours else real.which(name, *args, **kwargs)

        scheduler = self

        class CommandFunction(real.command_function):  # type: ignore[misc, valid-type]
            def __call__(self, *args: Any, **kwargs: Any) -> str:
                if not mine(self.command):
                    return super().__call__(*args, **kwargs)
                code, out, err = scheduler(self.command)
                if code:  # as CommandFunction reports a failed command
                    raise utils.FailedJobError(err)
                return out

        for name in ("run", "check_output", "check_call", "call"):
            monkeypatch.setattr(subprocess, name, locals()[name])
        monkeypatch.setattr(shutil, "which", which)
        monkeypatch.setattr(utils, "CommandFunction", CommandFunction)
        from femo.launchers import sge, sge_plugin

        for module in (sge, sge_plugin):
            monkeypatch.setattr(module, "time", types.SimpleNamespace(time=lambda: self.now))
        monkeypatch.setattr(sge.getpass, "getuser", lambda: "alice")
        return self

    @contextlib.contextmanager
    def unanswered(self, error: BaseException | None = None) -> Iterator[None]:
        """The scheduler does not answer for a while (its controller is down)."""
        self.down = error or subprocess.CalledProcessError(
            1, ["squeue"], b"slurm_load_jobs error: Unable to contact slurm controller"
        )
        try:
            yield
        finally:
            self.down = None


def hanging_scheduler(tmp_path: Path, name: str, script: str) -> dict[str, str]:
    """An environment whose PATH finds ``name`` (a shell script) first."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
