"""Offline tests of the Grid Engine submitit plugin (femo/launchers/sge_plugin.py).

No scheduler is needed: the parsers read string literals modelled on Son of Grid
Engine 8.1.9, and the watcher asks the shared fake scheduler (tests/fake_scheduler.py),
which prints the same way.

Golden qsub scripts live in tests/golden/; regenerate them after an intended change with

    FEMO_UPDATE_GOLDEN=1 python -m pytest tests/test_sge_offline.py -q

and review the diff before committing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from submitit.core import utils as submitit_utils

from femo.launchers import dialects
from femo.launchers import sge_plugin as sge
from femo.launchers.qsub_script import make_qsub_script
from femo.launchers.sge_plugin import (
    SgeExecutor,
    SgeInfoWatcher,
    SgeJobEnvironment,
    _expand_tasks,
    parse_qacct,
    parse_qstat_xml,
)

from .conftest import GOLDEN, check_golden
from .fake_scheduler import QACCT_SEP, XML_HEAD, FakeScheduler, job_list, qacct_record, qstat_xml

# --------------------------------------------------------------------------- qstat -xml

QSTAT_XML = qstat_xml(
    running=[
        # array 123: task 3 runs, tasks 4-6 wait (below)
        job_list(123, "running", "r", tasks="3", queue="all.q@node01.cluster", slots=4),
        # array 126: task 2 is being qdel'ed while it still runs
        job_list(126, "running", "dr", tasks="2", queue="all.q@node02.cluster"),
        # plain (non-array) job: no <tasks> element
        job_list(127, "running", "r", queue="all.q@node03.cluster", name="single"),
        # array 129: task 1 is being transferred to its execution host
        job_list(129, "running", "t", tasks="1", queue="all.q@node04.cluster"),
    ],
    pending=[
        job_list(123, "pending", "qw", tasks="4-6:1", slots=4),
        job_list(124, "pending", "qw", tasks="2,8-10:2"),
        job_list(125, "pending", "Eqw", tasks="1"),
        job_list(128, "pending", "hqw", name="single"),
    ],
)


def test_parse_qstat_xml_realistic_output():
    run, pend = "RUNNING", "PENDING"
    expected = {
        "123_2": {"State": run, "sge_state": "r"},
        "123_3": {"State": pend, "sge_state": "qw"},
        "123_4": {"State": pend, "sge_state": "qw"},
        "123_5": {"State": pend, "sge_state": "qw"},
        "124_1": {"State": pend, "sge_state": "qw"},
        "124_7": {"State": pend, "sge_state": "qw"},
        "124_9": {"State": pend, "sge_state": "qw"},
        # Eqw never starts by itself: reported as failed so nobody waits forever
        "125_0": {"State": "FAILED", "sge_state": "Eqw"},
        # dr: qdel'ed but still running until the kill lands; sge_status(5) maps the
        # "d" states to the state without the "d", so RUNNING (not done yet) is right
        "126_1": {"State": run, "sge_state": "dr"},
        "127": {"State": run, "sge_state": "r"},
        "128": {"State": pend, "sge_state": "hqw"},
        "129_0": {"State": run, "sge_state": "t"},
    }
    assert parse_qstat_xml(QSTAT_XML) == expected
    # qstat's output arrives as bytes from subprocess.check_output
    assert parse_qstat_xml(QSTAT_XML.encode()) == expected


@pytest.mark.parametrize(
    ("code", "state"),
    [
        ("qw", "PENDING"),
        ("hqw", "PENDING"),
        ("r", "RUNNING"),
        ("hr", "RUNNING"),
        ("t", "RUNNING"),
        ("Rr", "RUNNING"),
        ("Rt", "RUNNING"),
        ("Eqw", "FAILED"),
        ("Ehqw", "FAILED"),
        ("EhRqw", "FAILED"),
        ("dr", "RUNNING"),
        ("dt", "RUNNING"),
        ("dRr", "RUNNING"),
        ("ds", "CANCELLED"),  # deleting a suspended task
        ("s", "PENDING"),  # suspended: not done, no better submitit state
        ("S", "PENDING"),
    ],
)
def test_parse_qstat_state_codes(code, state):
    xml = qstat_xml(running=[job_list(300, "running", code, tasks="1")], pending=[])
    assert parse_qstat_xml(xml) == {"300_0": {"State": state, "sge_state": code}}


@pytest.mark.parametrize("code", ["Rq", "hRwq"])
def test_parse_qstat_requeued_pending_is_pending(code):
    """'R' (restarted) is a flag, not running: Rq and hRwq wait in the queue again."""
    xml = qstat_xml(running=[], pending=[job_list(301, "pending", code, tasks="2")])
    assert parse_qstat_xml(xml) == {"301_1": {"State": "PENDING", "sge_state": code}}


def test_parse_qstat_xml_no_jobs():
    assert parse_qstat_xml(qstat_xml(running=[], pending=[])) == {}


@pytest.mark.parametrize(
    "text",
    [
        QSTAT_XML[: len(QSTAT_XML) // 2],  # truncated
        "error: commlib error: got select error (Connection refused)\n",
        "",
        b"",
        b"<job_info><queue_info></job_info>",
    ],
)
def test_parse_qstat_xml_malformed(text):
    assert parse_qstat_xml(text) == {}


def test_parse_qstat_xml_skips_entries_without_job_number():
    xml = XML_HEAD + "<queue_info><job_list><state>r</state></job_list></queue_info></job_info>"
    assert parse_qstat_xml(xml) == {}


# ------------------------------------------------------------------------------- qacct

QACCT_123 = "".join(
    [
        qacct_record(taskid="1"),
        # killed by the kernel's OOM killer / h_vmem: SIGKILL -> 128 + 9
        qacct_record(
            taskid="2", hostname="node02.cluster", failed="100 : assumedly after job",
            exit_status="137",
        ),
        qacct_record(taskid="3", exit_status="1"),
        # task 4 was rescheduled (-r y) after its host went away, then succeeded:
        # records are in accounting-file (chronological) order, the last one counts
        qacct_record(taskid="4", failed="25  : rescheduling", exit_status="0"),
        qacct_record(taskid="4", hostname="node05.cluster"),
    ]
)  # fmt: skip


def test_parse_qacct_array_records():
    assert parse_qacct(QACCT_123) == {
        "123_0": {"State": "COMPLETED", "exit_status": "0", "failed": "0"},
        "123_1": {
            "State": "FAILED",
            "exit_status": "137",
            "failed": "100 : assumedly after job",
        },
        "123_2": {"State": "FAILED", "exit_status": "1", "failed": "0"},
        "123_3": {"State": "COMPLETED", "exit_status": "0", "failed": "0"},
    }
    assert parse_qacct(QACCT_123.encode()) == parse_qacct(QACCT_123)


def test_parse_qacct_non_array_job():
    text = qacct_record(jobnumber="127", taskid="undefined", jobname="single", granted_pe="NONE")
    assert parse_qacct(text) == {"127": {"State": "COMPLETED", "exit_status": "0", "failed": "0"}}
    failed = qacct_record(
        jobnumber="127", taskid="undefined", failed="37  : qmaster enforced h_rt, h_cpu, or h_vmem limit",
        exit_status="137",
    )  # fmt: skip
    assert parse_qacct(failed) == {
        "127": {
            "State": "FAILED",
            "exit_status": "137",
            "failed": "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit",
        }
    }


def test_parse_qacct_failed_with_zero_exit_status_is_failed():
    # the job never ran (e.g. prolog failure): exit_status 0 but failed != 0
    text = qacct_record(taskid="1", failed="8   : in prolog", exit_status="0")
    assert parse_qacct(text)["123_0"]["State"] == "FAILED"


def test_parse_qacct_exit_status_with_signal_note():
    # newer Grid Engines append the signal name to exit_status
    text = qacct_record(taskid="1", exit_status="137                  (Killed)")
    assert parse_qacct(text)["123_0"]["exit_status"] == "137"
    assert parse_qacct(text)["123_0"]["State"] == "FAILED"


@pytest.mark.parametrize(
    "text", ["", b"", "error: job id 123 not found\n", QACCT_SEP + "\n" + QACCT_SEP + "\n"]
)
def test_parse_qacct_empty_or_unrelated(text):
    assert parse_qacct(text) == {}


def test_qacct_wrapper(scheduler):
    """sge.qacct reads what the (fake) qacct prints, which prints as SoGE does."""
    scheduler.add("sge", 4, array_id="123")
    scheduler.finish("123_0")
    scheduler.finish("123_1", exit_status=137, failed="100 : assumedly after job")
    scheduler.finish("123_2", exit_status=1)
    scheduler.requeue("123_3")  # rescheduled (-r y) after its host went away, then succeeded
    scheduler.finish("123_3")
    assert sge.qacct("123") == parse_qacct(QACCT_123)
    assert set(sge.qacct("123")) == {"123_0", "123_1", "123_2", "123_3"}
    assert sge.qacct("999") == {}  # accounting lag / unknown job
    assert scheduler.calls == [["qacct", "-j", "123"]] * 2 + [["qacct", "-j", "999"]]

    scheduler.down = FileNotFoundError(2, "No such file or directory", "qacct")
    assert sge.qacct("123") == {}


# ------------------------------------------------------------------------ _expand_tasks


@pytest.mark.parametrize(
    ("spec", "tasks"),
    [
        ("3", [3]),
        ("1-5:1", [1, 2, 3, 4, 5]),
        ("4-6:1", [4, 5, 6]),
        ("1-5", [1, 2, 3, 4, 5]),
        ("1-10:3", [1, 4, 7, 10]),
        ("1-9:4", [1, 5, 9]),
        ("1-8:4", [1, 5]),  # last is not a multiple of the step past first
        ("2,8-10:2", [2, 8, 10]),
        ("2, 4 ,7-9:2", [2, 4, 7, 9]),
        ("7-7:1", [7]),
        ("5-3:1", []),
        ("", []),
        ("undefined", []),
        ("1-3:1,x,9", [1, 2, 3, 9]),  # garbage parts are skipped, not fatal
        ("-3", []),
        ("100000-100002:1", [100000, 100001, 100002]),
    ],
)
def test_expand_tasks(spec, tasks):
    assert _expand_tasks(spec) == tasks


# --------------------------------------------------------------------- qsub script

FOLDER = "/runs/x/jobs"
COMMAND = "/opt/venv/bin/python -u -m submitit.core._submit /runs/x/jobs"

ARRAY_KWARGS = dict(
    job_name="femo-extract",
    queue="gpu.q",
    project="affect",
    time_min=125,
    pe="smp",
    cpus_per_task=4,
    mem_gb=8,
    mem_resource="mem_free",
    gpus=1,
    array_parallelism=2,
    extra_flags={"m": "e"},
    setup=["module load cuda/12.1", "source /opt/venv/bin/activate"],
    map_count=5,
)


def test_qsub_script_array_golden():
    text = make_qsub_script(command=COMMAND, folder=FOLDER, **ARRAY_KWARGS)
    check_golden("sge_array.qsub", text)
    directives = [line for line in text.splitlines() if line.startswith("#$ ")]
    for flag in [
        "#$ -S /bin/bash",
        "#$ -N femo-extract",
        "#$ -l h_rt=02:05:00",
        "#$ -q gpu.q",
        "#$ -P affect",
        "#$ -pe smp 4",
        "#$ -l mem_free=8G",
        "#$ -l gpus=1",
        "#$ -t 1-5",
        "#$ -tc 2",
        "#$ -m e",
    ]:
        assert flag in directives


def test_qsub_script_single_golden():
    text = make_qsub_script(command=COMMAND, folder=FOLDER)
    check_golden("sge_single.qsub", text)
    assert "#$ -l h_rt=00:05:00" in text
    assert "-t " not in text and "-tc " not in text and "-pe " not in text
    assert "# setup" not in text


def test_qsub_script_variants():
    text = make_qsub_script(command="true", folder=FOLDER, gpus=2, mem_gb=7.5)
    assert "#$ -l gpus=2" in text.splitlines()
    assert "#$ -l mem_free=7.5G" in text.splitlines()
    # gpu_resource names the resource GPUs are asked by
    text = make_qsub_script(command="true", folder=FOLDER, gpus=2, gpu_resource="gpu")
    assert "#$ -l gpu=2" in text.splitlines() and "#$ -l gpus=2" not in text
    # extra flags: a flag without a value, and a value quoted for qsub
    text = make_qsub_script(command="t", folder=FOLDER, extra_flags={"notify": True, "N": "a b"})
    assert [ln for ln in text.splitlines() if ln.startswith("#$")][-2:] == [
        "#$ -notify",
        "#$ -N 'a b'",
    ]
    # -tc only with an array
    assert "-tc" not in make_qsub_script(command="true", folder=FOLDER, array_parallelism=3)
    # stderr_to_stdout: both streams into the .out log
    text = make_qsub_script(command="true", folder=FOLDER, stderr_to_stdout=True)
    assert "_0_log.err" not in text and text.count("_0_log.out") == 2
    assert "#$ -l h_rt=25:00:00" in make_qsub_script(command="t", folder=FOLDER, time_min=1500)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(cpus_per_task=4), "parallel environment"),
        (dict(cpus_per_task=2, pe=""), "parallel environment"),
        (dict(slots=2, pe="smp"), "unknown qsub setting"),
        (dict(nodes=2), "one task per job"),
        (dict(nodes=0), "one task per job"),
        (dict(tasks_per_node=2), "one task per job"),
    ],
)
def test_qsub_script_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_qsub_script(command="true", folder=FOLDER, **kwargs)


def test_qsub_script_slots_with_pe_ok():
    assert "#$ -pe mpi 8" in make_qsub_script(command="t", folder=FOLDER, pe="mpi", cpus_per_task=8)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("name", ["sge_array.qsub", "sge_single.qsub"])
def test_golden_scripts_are_valid_bash(name):
    subprocess.run(["bash", "-n", str(GOLDEN / name)], check=True)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("task", "job_id"), [("3", "77_2"), ("undefined", "77")])
def test_qsub_script_logs_land_where_submitit_reads_them(tmp_path, monkeypatch, task, job_id):
    """Run the script body with SGE's variables: logs go to submitit's JobPaths."""
    folder = tmp_path / "my jobs"  # a space, to exercise the quoting
    folder.mkdir()
    script = tmp_path / "job.sh"
    script.write_text(
        make_qsub_script(
            command='echo "to stdout $SUBMITIT_EXECUTOR"; echo to-stderr >&2',
            folder=folder,
            setup=["echo setup-ran"],
        )
    )
    env = {**os.environ, "JOB_ID": "77", "SGE_TASK_ID": task}
    subprocess.run(["bash", str(script)], check=True, env=env)
    paths = submitit_utils.JobPaths(folder, job_id=job_id, task_id=0)
    assert paths.stdout.read_text() == "setup-ran\nto stdout sge\n"
    assert paths.stderr.read_text() == "to-stderr\n"
    # and the job environment computes the same id inside the job
    monkeypatch.setenv("JOB_ID", "77")
    monkeypatch.setenv("SGE_TASK_ID", task)
    assert SgeJobEnvironment().job_id == job_id


# ------------------------------------------------------------------- qsub's answer


@pytest.mark.parametrize(
    ("output", "job_id"),
    [
        (b"123\n", "123"),
        ("124.1-5:1\n", "124"),
        ('Your job-array 125.1-3:1 ("femo") has been submitted\n', "125"),
        ('Your job 126 ("femo") has been submitted', "126"),
        (b"warning: no suitable queues right now\n127.1-4:1\n", "127"),
    ],
)
def test_job_id_from_submission(output, job_id):
    assert SgeExecutor._get_job_id_from_submission_command(output) == job_id


@pytest.mark.parametrize(
    "output",
    [
        b"",
        'Unable to run job: Job was rejected because job requests unknown queue "gpu.q".\nExiting.',
        "error: no suitable queues",
        "job 12a submitted",
    ],
)
def test_job_id_from_submission_garbage(output):
    with pytest.raises(submitit_utils.FailedSubmissionError):
        SgeExecutor._get_job_id_from_submission_command(output)


# ------------------------------------------------------------------ job environment


def test_job_environment_array_task(monkeypatch):
    monkeypatch.setenv("JOB_ID", "77")
    monkeypatch.setenv("SGE_TASK_ID", "3")
    env = SgeJobEnvironment()
    assert env.array_task_id == "2"
    assert env.array_job_id == "77"
    assert env.raw_job_id == "77"
    assert env.job_id == "77_2"
    assert env.name() == "sge"
    assert (env.global_rank, env.local_rank, env.num_tasks, env.num_nodes) == (0, 0, 1, 1)


@pytest.mark.parametrize("task", ["undefined", None])
def test_job_environment_not_an_array(monkeypatch, task):
    monkeypatch.setenv("JOB_ID", "78")
    if task is None:
        monkeypatch.delenv("SGE_TASK_ID", raising=False)
    else:
        monkeypatch.setenv("SGE_TASK_ID", task)
    env = SgeJobEnvironment()
    assert env.array_task_id is None
    assert env.array_job_id is None
    assert env.job_id == "78"


def test_job_environment_activated_by_script_export(monkeypatch):
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "sge")
    assert SgeJobEnvironment().activated()
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    assert not SgeJobEnvironment().activated()
    assert "export SUBMITIT_EXECUTOR=sge" in make_qsub_script(command="t", folder=FOLDER)


# --------------------------------------------------------------------- info watcher


def watching(scheduler: FakeScheduler) -> None:
    """Array 200: task 1 runs; array 201: tasks 1-2 wait (qstat's picture of the watcher)."""
    scheduler.add("sge", 1, array_id="200")
    scheduler.start("200_0")
    scheduler.add("sge", 2, array_id="201")


def qstat_calls(scheduler: FakeScheduler) -> list[list[str]]:
    return [c for c in scheduler.calls if c[0] == "qstat"]


def qacct_calls(scheduler: FakeScheduler) -> list[str]:
    return [c[-1] for c in scheduler.calls if c[0] == "qacct"]


def _watcher(*job_ids: str, grace_s: float = 120.0) -> SgeInfoWatcher:
    watcher = SgeInfoWatcher(delay_s=60, grace_s=grace_s)
    for job_id in job_ids:
        watcher.register_job(job_id)
    return watcher


def test_watcher_live_ended_and_missing_tasks(scheduler):
    ok = {"State": "COMPLETED", "exit_status": "0", "failed": "0"}
    oom = {"State": "FAILED", "exit_status": "137", "failed": "100 : assumedly after job"}
    scheduler.add("sge", 10, array_id="200")
    scheduler.start("200_0")
    scheduler.finish("200_1", "200_9")
    scheduler.finish("200_2", exit_status=137, failed="100 : assumedly after job")
    scheduler.lose(*(f"200_{k}" for k in range(3, 9)))  # 200_3: neither queued nor accounted
    scheduler.add("sge", 2, array_id="201")
    ids = ["200_0", "200_1", "200_2", "200_3", "201_0", "201_1"]
    watcher = _watcher(*ids)
    watcher.update()

    assert qstat_calls(scheduler) == [["qstat", "-xml", "-u", "alice"]]
    assert qacct_calls(scheduler) == ["200"]  # only arrays with tasks gone from qstat
    states = {j: watcher.get_state(j, mode="cache") for j in ids}
    assert states == {
        "200_0": "RUNNING",
        "200_1": "COMPLETED",
        "200_2": "FAILED",
        "200_3": "UNKNOWN",  # neither queued nor accounted yet: accounting lag
        "201_0": "PENDING",
        "201_1": "PENDING",
    }
    assert watcher.get_info("200_2", mode="cache") == oom
    assert watcher.get_info("200_1", mode="cache") == ok
    assert watcher.get_info("200_0", mode="cache") == {"State": "RUNNING", "sge_state": "r"}
    assert "200_9" not in watcher._info_dict  # not registered: not tracked
    assert watcher._finished == {"200_1", "200_2"}
    assert watcher.num_calls == 1


def test_watcher_missing_task_lost_after_grace(scheduler):
    scheduler.lose(*scheduler.add("sge", 1, array_id="300"))
    watcher = _watcher("300_0", grace_s=120.0)
    t0 = scheduler.now

    watcher.update()
    assert watcher.get_state("300_0", mode="cache") == "UNKNOWN"
    assert not watcher.is_done("300_0", mode="cache")

    scheduler.now = t0 + 119
    watcher.update()
    assert watcher.get_state("300_0", mode="cache") == "UNKNOWN"

    scheduler.now = t0 + 121
    watcher.update()
    assert watcher.get_state("300_0", mode="cache") == "LOST"
    assert watcher.is_done("300_0", mode="cache")
    assert "300_0" in watcher._finished

    # finished: no more qstat calls
    watcher.update()
    assert qacct_calls(scheduler) == ["300", "300", "300"]
    assert watcher.num_calls == 3


def test_watcher_grace_zero(scheduler):
    watcher = _watcher("301_0", grace_s=0)
    watcher.update()
    # first sighting of the absence: not lost yet, even with no grace
    assert watcher.get_state("301_0", mode="cache") == "UNKNOWN"
    scheduler.now += 0.5
    watcher.update()
    assert watcher.get_state("301_0", mode="cache") == "LOST"


def test_watcher_reappearing_task_restarts_grace(scheduler):
    watcher = _watcher("302_0", grace_s=120.0)
    t0 = scheduler.now
    watcher.update()
    assert watcher.get_state("302_0", mode="cache") == "UNKNOWN"
    scheduler.now = t0 + 60
    scheduler.add("sge", 1, array_id="302")  # back in the queue
    watcher.update()
    assert watcher.get_state("302_0", mode="cache") == "PENDING"
    scheduler.lose("302_0")
    scheduler.now = t0 + 200  # > grace after the first absence, < grace after the second
    watcher.update()
    assert watcher.get_state("302_0", mode="cache") == "UNKNOWN"
    scheduler.now = t0 + 321
    watcher.update()
    assert watcher.get_state("302_0", mode="cache") == "LOST"


@pytest.mark.parametrize(
    "error",
    [
        subprocess.CalledProcessError(1, ["qstat"], output=b"error: failed receiving gdi request"),
        FileNotFoundError(2, "No such file or directory", "qstat"),
    ],
)
def test_watcher_qstat_failure_keeps_states(scheduler, error):
    watching(scheduler)
    watcher = _watcher("200_0", "201_0", "201_1")
    watcher.update()
    before = {j: dict(watcher.get_info(j, mode="cache")) for j in ("200_0", "201_0", "201_1")}
    assert before["200_0"]["State"] == "RUNNING"

    scheduler.now += 30
    with scheduler.unanswered(error):
        watcher.update()  # must not raise
    after = {j: dict(watcher.get_info(j, mode="cache")) for j in ("200_0", "201_0", "201_1")}
    assert after == before
    assert qacct_calls(scheduler) == []  # a failed qstat does not mean the tasks ended
    assert watcher._missing_since == {}
    assert watcher._last_status_check == scheduler.now
    assert len(qstat_calls(scheduler)) == 2 and watcher.num_calls == 2


def test_watcher_nothing_to_watch(scheduler):
    watcher = _watcher()
    watcher.update()
    assert scheduler.calls == [] and watcher.num_calls == 0


def test_watcher_get_state_force_calls_qstat(scheduler):
    watching(scheduler)
    watcher = SgeInfoWatcher(delay_s=60)
    # get_state registers unknown ids itself (submitit's InfoWatcher.get_info)
    assert watcher.get_state("201_1", mode="force") == "PENDING"
    assert len(qstat_calls(scheduler)) == 1
    assert watcher.get_state("never_seen", mode="cache") == "UNKNOWN"


# ------------------------------------------------------------------------ hygiene


def test_sge_module_does_not_import_tensorflow():
    code = "import sys, femo.launchers.sge; sys.exit('tensorflow' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_submitit_plugin_loads_only_what_submitit_needs():
    """submitit imports the plugin each time it looks for plugins (in every task too):
    it loads neither femo's launcher layer nor pyarrow."""
    code = (
        "import sys, json, femo.launchers.sge_plugin;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('femo', 'pyarrow')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == [
        "femo",
        "femo.launchers",
        "femo.launchers.dialects",
        "femo.launchers.qsub_script",
        "femo.launchers.sge_plugin",
    ]


def test_the_entry_points_name_the_plugin_module():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    entry = tomllib.loads(text)["project"]["entry-points"]["submitit"]
    assert entry == {
        "executor": "femo.launchers.sge_plugin:SgeExecutor",
        "job_environment": "femo.launchers.sge_plugin:SgeJobEnvironment",
    }


@pytest.mark.parametrize(
    "task, index, job_id",
    [("1", 0, "77_0"), ("12", 11, "77_11"), ("undefined", None, "77"), (None, None, "77")],
)
def test_grid_engine_task_numbers_convert_in_one_place(task, index, job_id):
    assert dialects.sge_index(task) == index
    assert dialects.sge_job_id("77", task) == job_id
    if index is not None:
        assert dialects.sge_task(index) == int(task)
    assert dialects.sge_task_range(3) == "1-3"


def test_one_flag_table_per_dialect():
    assert dialects.directives("#$", {"time_min": "02:00:00", "queue": None, "cwd": True}) == [
        "#$ -l h_rt=02:00:00",
        "#$ -cwd",
    ]
    assert dialects.flag("#SBATCH", "cpus_per_task", 4) == "#SBATCH --cpus-per-task=4"
    assert dialects.hms(125) == "02:05:00"
