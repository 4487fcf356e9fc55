"""Shard states: the pure classifier, each launcher's answers, and schedulers that hang.

Offline: schedulers answer from the shared fake (tests/fake_scheduler.py), and one that
never answers is a small script on PATH; the real ones are exercised in test_schedulers.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from femo.config import RunConfig, to_dict
from femo.dataset import Clip
from femo.launchers.base import TaskAnswer
from femo.launchers.local import LocalLauncher, this_process_id
from femo.launchers.sge import answers_of
from femo.launchers.slurm import answer_of, parse_squeue
from femo.rundir import RunDir, Submission, make_plan
from femo.status import Evidence, ShardState, classify, read_status

from .builders import clip_rows, shard_per_clip_run, write_shard
from .fake_scheduler import hanging_scheduler

pytestmark = pytest.mark.usefixtures("no_tensorflow")


# ---------------------------------------------------------------- classify (pure)


def ev(**fields) -> Evidence:
    return Evidence(index=3, **fields)


@pytest.mark.parametrize(
    ("evidence", "state", "error"),
    [
        # the file decides, whatever anything else says
        (ev(finished=True, job_id="9_3", answered=False), ShardState.DONE, None),
        (ev(finished=False), ShardState.NOT_SUBMITTED, None),
        # a shard run by hand (python -m femo.worker) that raised
        (ev(finished=False, failed_text="Trace\nOSError: disk"), ShardState.FAILED, "OSError: disk"),
        # the scheduler did not answer: unknown, never failed
        (ev(finished=False, job_id="9_3", answered=False), ShardState.UNKNOWN, "the scheduler did not answer"),
        (ev(finished=False, job_id="9_3", answered=False, failed_text="x"), ShardState.UNKNOWN, "the scheduler did not answer"),
        (ev(finished=False, job_id="9_3", answer=TaskAnswer("running")), ShardState.RUNNING, None),
        # a requeued task whose earlier attempt failed is pending again
        (ev(finished=False, job_id="9_3", answer=TaskAnswer("pending"), failed_text="old"), ShardState.PENDING, None),
        (ev(finished=False, job_id="9_3", answer=TaskAnswer("unknown", "not in qacct yet")), ShardState.UNKNOWN, "not in qacct yet"),
        (ev(finished=False, job_id="9_3", answer=TaskAnswer("ended"), failed_text="MemoryError: x\n"), ShardState.FAILED, "MemoryError: x"),
        (ev(finished=False, job_id="h:1:2_3", answer=TaskAnswer("interrupted", "stopped")), ShardState.INTERRUPTED, "stopped"),
        # ended without a file or a marker: the task's own log says why
        (ev(finished=False, job_id="9_3"), ShardState.FAILED, "slurmstepd: error: CANCELLED"),
        (ev(finished=False, job_id="9_3", answer=TaskAnswer("ended", "TIMEOUT")), ShardState.FAILED, "TIMEOUT: slurmstepd: error: CANCELLED"),
    ],
)  # fmt: skip
def test_classify(evidence, state, error):
    status = classify(evidence, lambda: "slurmstepd: error: CANCELLED")
    assert (status.state, status.error) == (state, error)
    assert status.index == 3


def test_classify_asks_for_the_log_reason_only_when_it_needs_it():
    def boom():
        raise AssertionError("read a log it did not need")

    classify(ev(finished=False, job_id="9_3", answer=TaskAnswer("running")), boom)
    status = classify(ev(finished=False, job_id="9_3", task_log="/jobs/9_3_0_log.err"))
    assert status.error.startswith("the task ended without writing its shard")
    assert status.log == "/jobs/9_3_0_log.err"


# ------------------------------------------------------------- launcher answers


def test_parse_squeue_keeps_only_our_arrays():
    text = "101_0|RUNNING\n101_1|PENDING\n102_0|RUNNING\n 101_2|COMPLETING \n"
    assert parse_squeue(text, {"101"}) == {
        "101_0": "RUNNING",
        "101_1": "PENDING",
        "101_2": "COMPLETING",
    }


@pytest.mark.parametrize(
    ("state", "answer"),
    [
        ("RUNNING", TaskAnswer("running")),
        ("COMPLETING", TaskAnswer("running")),
        ("PENDING", TaskAnswer("pending")),
        ("REQUEUED", TaskAnswer("pending", "REQUEUED")),
        ("TIMEOUT", TaskAnswer("ended", "TIMEOUT")),
        ("CANCELLED", TaskAnswer("ended", "CANCELLED")),
    ],
)
def test_squeue_states(state, answer):
    assert answer_of(state) == answer


def test_sge_answers_grace_for_accounting():
    fresh = Submission("sge", "7", [0, 1, 2, 3], ["7_0", "7_1", "7_2", "7_3"], submitted_at=1000.0)
    live = {
        "7_0": {"State": "RUNNING", "sge_state": "r"},
        "7_1": {"State": "PENDING", "sge_state": "qw"},
    }
    accounted = {
        "7_2": {"State": "FAILED", "exit_status": "137", "failed": "100 : assumedly after job"}
    }
    answers = answers_of(live, accounted, [fresh], now=1060.0, grace_s=120)
    assert answers == {
        "7_0": TaskAnswer("running"),
        "7_1": TaskAnswer("pending"),
        "7_2": TaskAnswer("ended", "exit status 137, failed 100 : assumedly after job"),
        "7_3": TaskAnswer("unknown", "not in qstat or qacct yet"),
    }
    later = answers_of(live, accounted, [fresh], now=1200.0, grace_s=120)
    assert later["7_3"] == TaskAnswer("ended", "lost: in neither qstat nor qacct")


# ---------------------------------------------------------------- run folders


def test_a_scheduler_that_hangs_means_unknown(tmp_path, monkeypatch):
    run = shard_per_clip_run(tmp_path)
    write_shard(run.path, 0, clip_rows("v0.mp4", ["happy"]))
    run.record_submission(Submission("slurm", "55", [0, 1, 2], ["55_0", "55_1", "55_2"]))
    for key, value in hanging_scheduler(tmp_path, "squeue", "sleep 60\n").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FEMO_QUERY_TIMEOUT_S", "0.5")
    started = time.monotonic()
    status = read_status(run)
    assert time.monotonic() - started < 10
    assert [s.state for s in status.statuses] == [
        ShardState.DONE,
        ShardState.UNKNOWN,
        ShardState.UNKNOWN,
    ]
    assert status.redo == [] and status.unknown == [1, 2]


def test_a_scheduler_that_answers(tmp_path, scheduler):
    run = shard_per_clip_run(tmp_path, n_shards=4)
    write_shard(run.path, 0, clip_rows("v0.mp4", ["happy"]))
    scheduler.add("slurm", 4, array_id="55")
    scheduler.add("slurm", 1, array_id="9")
    scheduler.finish("55_0")
    scheduler.start("55_1", "9_0")
    scheduler.finish("55_3", state="CANCELLED")
    run.record_submission(Submission("slurm", "55", [0, 1, 2, 3], ["55_0", "55_1", "55_2", "55_3"]))
    jobs = run.jobs_dir
    jobs.mkdir()
    (jobs / "55_3_0_log.err").write_text("slurmstepd: error: *** JOB 55 CANCELLED AT now ***\n")
    states = {s.index: (s.state, s.error) for s in read_status(run).statuses}
    assert states == {
        0: (ShardState.DONE, None),
        1: (ShardState.RUNNING, None),
        2: (ShardState.PENDING, None),
        3: (ShardState.FAILED, "slurmstepd: error: *** JOB 55 CANCELLED AT now ***"),
    }
    assert scheduler.calls == [["squeue", "-h", "-r", "-o", "%i|%T"]]


def test_local_answers(tmp_path):
    run = shard_per_clip_run(tmp_path, n_shards=4)
    me = this_process_id()
    run.record_submission(Submission("local", me, [0, 1, 2], [f"{me}_{k}" for k in range(3)]))
    run.running_marker(0).write_text(
        json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": 0})
    )
    run.failed_marker(1).write_text("ValueError: bad\n")
    states = [s.state for s in read_status(run).statuses]
    # this process is the 'pool': alive, so 0 runs, 1 failed, 2 waits; 3 never submitted
    assert states == [
        ShardState.RUNNING,
        ShardState.FAILED,
        ShardState.PENDING,
        ShardState.NOT_SUBMITTED,
    ]


def test_local_shards_of_a_pool_that_is_gone_are_interrupted(tmp_path):
    run = shard_per_clip_run(tmp_path, n_shards=2)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    array_id = f"{socket.gethostname()}:{int(gone.stdout)}:1"
    run.record_submission(Submission("local", array_id, [0, 1], [f"{array_id}_0", f"{array_id}_1"]))
    write_shard(run.path, 0, clip_rows("v0.mp4", ["happy"]))
    status = read_status(run)
    assert [s.state for s in status.statuses] == [ShardState.DONE, ShardState.INTERRUPTED]
    assert status.redo == [1]


def test_local_shards_run_from_another_host_are_unknown(tmp_path):
    run = shard_per_clip_run(tmp_path, n_shards=1)
    run.record_submission(Submission("local", "elsewhere:123:4", [0], ["elsewhere:123:4_0"]))
    (status,) = read_status(run).statuses
    assert status.state == ShardState.UNKNOWN
    assert status.error == "run by a femo process on elsewhere; ask there"
    assert LocalLauncher.name == "local"


# ------------------------------------------------------- femo status's estimate (issue 26)


def _timed_shard(run_dir: Path, index: int, video: str, seconds: float, startup: float) -> None:
    """A finished shard whose metadata says it took ``seconds`` (``startup`` of them loading)."""
    import pyarrow.parquet as pq

    path = write_shard(run_dir, index, clip_rows(video, ["happy"]))
    table = pq.read_table(path)
    timing = {"seconds": seconds, "startup_seconds": startup, "frames_sampled": 1}
    meta = {b"femo.n_clips": b"1", b"femo.timing": json.dumps(timing).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)


def _local_run(tmp_path: Path, n_shards: int, workers: int) -> Path:
    run_dir = tmp_path / "run"
    config = to_dict(RunConfig())
    config["launcher"] = {"name": "local", "workers": workers, "threads_per_worker": 1}
    plan = make_plan([Clip(f"v{k}.mp4", "video") for k in range(n_shards)], 1)
    RunDir(run_dir).create(plan, config, None)
    return run_dir


def test_status_estimates_the_shards_left_from_the_measured_seconds_of_finished_ones(
    fast_femo, tmp_path
):
    run_dir = _local_run(tmp_path, n_shards=5, workers=2)
    _timed_shard(run_dir, 0, "v0.mp4", seconds=12.0, startup=2.0)
    _timed_shard(run_dir, 1, "v1.mp4", seconds=8.0, startup=0.0)
    lines = fast_femo("status", str(run_dir)).stdout.splitlines()
    # (12 + 8) s / 2 shards = 10 s per shard; 3 left, 2 workers: 2 rounds = 20 s.
    assert [line for line in lines if line.startswith(("estimate:", "time:"))] == [
        "estimate: 3 shard(s) not done, 2 at a time at 10 s per shard, measured over 2 "
        "finished: about 20 s more, not counting queueing"
    ]
    # No what-if of every clip on its own array task at once (a local run is not one).
    assert not any("array task(s) at that speed" in line for line in lines)


def test_status_without_a_finished_shard_has_no_estimate_yet(fast_femo, tmp_path):
    run_dir = _local_run(tmp_path, n_shards=2, workers=1)
    lines = fast_femo("status", str(run_dir)).stdout.splitlines()
    assert "estimate: no estimate yet (no finished shard has measured its time)" in lines


def test_status_of_a_done_run_gives_the_measured_time_per_shard(fast_femo, tmp_path):
    run_dir = _local_run(tmp_path, n_shards=2, workers=1)
    _timed_shard(run_dir, 0, "v0.mp4", seconds=3.0, startup=1.0)
    _timed_shard(run_dir, 1, "v1.mp4", seconds=5.0, startup=0.0)
    lines = fast_femo("status", str(run_dir)).stdout.splitlines()
    assert "time: every shard is done (4 s per shard, measured over 2 finished)" in lines
