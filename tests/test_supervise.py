"""The supervisor and the shard journal, offline: light stand-in workers (no models)
that finish, die on a clip, die outside any clip or are stopped. The real worker, with
real crashes and hangs, is in test_local_run.py."""

from __future__ import annotations

import os
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from femo.node.progress import (
    POISON_MESSAGE,
    JournalEvent,
    ShardProgress,
    parse_journal_line,
    signal_text,
)
from femo.node.supervise import JournalWatch, ShardFailed, Supervisor, run_one
from femo.rundir import RunDir
from femo.task import ShardResult, ShardTask

from .conftest import shard_task


def test_journal_lines_with_and_without_a_detail():
    assert parse_journal_line("start a b.mp4") == JournalEvent("start", "a b.mp4")
    assert parse_journal_line("died 11 a b.mp4") == JournalEvent("died", "a b.mp4", "11")
    assert parse_journal_line("timeout 2.5 x.mp4") == JournalEvent("timeout", "x.mp4", "2.5")
    assert parse_journal_line("died 11") is None  # cut short by a kill
    assert parse_journal_line("start") is None


def test_signal_text_names_the_signal():
    assert signal_text(6) == "signal 6, SIGABRT"
    assert signal_text(9) == "signal 9, SIGKILL"
    assert signal_text(99) == "signal 99"


def _progress(tmp_path: Path, lines: list[str]) -> ShardProgress:
    progress = ShardProgress(RunDir(tmp_path), 0)
    progress.journal.parent.mkdir(parents=True, exist_ok=True)
    progress.journal.write_text("".join(line + "\n" for line in lines))
    return progress


def test_a_clip_is_poison_only_when_a_watched_worker_died_on_it_alone(tmp_path):
    progress = _progress(
        tmp_path,
        [
            "start a.mp4", "start b.mp4", "died 6 a.mp4", "died 6 b.mp4",  # in flight
            "isolate a.mp4", "start a.mp4", "end a.mp4",  # a was innocent
            "isolate b.mp4", "start b.mp4", "died 11 b.mp4",  # b kills its worker alone
            "isolate c.mp4", "start c.mp4",  # c: the task was killed, nobody saw how
        ],
    )  # fmt: skip
    assert progress.suspects() == ["b.mp4", "c.mp4"]
    assert progress.poisoned() == {"b.mp4": "signal 11, SIGSEGV"}
    assert POISON_MESSAGE.format("signal 11, SIGSEGV") == (
        "the worker died on this clip (signal 11, SIGSEGV), also when it ran alone; it was skipped"
    )


def test_timed_out_clips_and_their_limit(tmp_path):
    progress = _progress(tmp_path, ["start a.mp4", "timeout 30 a.mp4", "start b.mp4"])
    assert progress.timed_out() == {"a.mp4": 30.0}


def test_record_death_blames_the_clips_given(tmp_path):
    progress = _progress(tmp_path, [])
    progress.record_death(9, ["x y.mp4", "z.mp4"])
    assert progress.journal.read_text() == "died 9 x y.mp4\ndied 9 z.mp4\n"


def test_journal_watch_times_the_clip_in_flight_from_its_turn(tmp_path):
    journal = tmp_path / "journal"
    journal.write_text("start old.mp4\n")  # an earlier attempt's: not this worker's
    watch = JournalWatch(journal, timeout_s=10, now=0.0)
    with open(journal, "a") as fh:
        fh.write("start a.mp4\nstart b.mp4\nend a.mp4\nstart c")  # c's line not written yet
    watch.poll(now=1.0)
    assert list(watch.started) == ["b.mp4"]
    # b started at 1 (it was decoded ahead), but its turn came when a ended, at 1.
    assert watch.overdue(now=10.5) is None
    assert watch.overdue(now=11.5) == "b.mp4"
    with open(journal, "a") as fh:
        fh.write(".mp4\nend b.mp4\n")
    watch.poll(now=12.0)
    assert list(watch.started) == ["c.mp4"]
    assert watch.overdue(now=21.0) is None  # c's turn came at 12
    assert watch.overdue(now=22.5) == "c.mp4"


def test_journal_watch_without_a_limit_never_fires(tmp_path):
    journal = tmp_path / "journal"
    journal.write_text("start a.mp4\n")
    watch = JournalWatch(journal, timeout_s=None, now=0.0)
    watch.poll(now=0.0)
    assert watch.overdue(now=10**9) is None


# Stand-in workers. Each behaves as its task's dataset_root says.


def stand_in(conn: Connection) -> None:
    while (task := conn.recv()) is not None:
        progress = ShardProgress(RunDir(task.run_dir), task.index)
        events = progress.journal_lines()
        done = {e.clip for e in events if e.event == "end"} | set(progress.timed_out())
        blamed = {e.clip for e in events if e.event == "died"}
        if task.dataset_root == "always-dies":  # count the workers the shard is handed to
            with open(Path(task.run_dir) / "handed-out", "a") as fh:
                fh.write(f"{task.index}\n")
        for clip in task.clips:
            if clip.video in done:
                continue
            if task.dataset_root == "dies-outside-clips":
                os.kill(os.getpid(), signal.SIGSEGV)
            progress.record("start", clip.video)
            if task.dataset_root == "stopped":
                os.kill(os.getpid(), signal.SIGTERM)
            if task.dataset_root == "hangs" and clip.video == "b.mp4":
                time.sleep(60)
            if task.dataset_root == "always-dies":  # also where it should have been skipped
                os.kill(os.getpid(), signal.SIGSEGV)
            if clip.video == "poison.mp4" and clip.video not in blamed:
                os.kill(os.getpid(), signal.SIGSEGV)
            progress.record("end", clip.video)
            conn.send(("clip", clip.video, "ok"))
        conn.send(("done", ShardResult(task.index, "", len(task.clips), 0, 0, 0.0)))


def _task(tmp_path: Path, index: int, root: str, clips: list[str], **kw) -> ShardTask:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return shard_task(tmp_path, clips, index=index, root=root, **kw)


def test_supervisor_runs_every_task_and_reports_every_clip(tmp_path):
    tasks = [_task(tmp_path, k, "fine", [f"{k}-{i}.mp4" for i in range(3)]) for k in range(4)]
    seen: list[str] = []
    results, failures = Supervisor(2, on_clip=lambda v, s: seen.append(v), target=stand_in).run(
        tasks
    )
    assert failures == {}
    assert sorted(results) == [0, 1, 2, 3]
    assert sorted(seen) == sorted(c.video for t in tasks for c in t.clips)


def test_a_worker_that_dies_on_a_clip_is_replaced_and_the_clip_blamed(tmp_path):
    task = _task(tmp_path, 0, "fine", ["a.mp4", "poison.mp4", "c.mp4"])
    seen: list[str] = []
    results, failures = Supervisor(1, on_clip=lambda v, s: seen.append(v), target=stand_in).run(
        [task]
    )
    assert failures == {} and list(results) == [0]
    assert seen == ["a.mp4", "poison.mp4", "c.mp4"]  # each clip once
    journal = ShardProgress(RunDir(tmp_path), 0).journal.read_text().splitlines()
    assert journal.count(f"died {int(signal.SIGSEGV)} poison.mp4") == 1
    assert journal.count("start a.mp4") == 1


def test_a_clip_over_its_time_limit_has_its_worker_killed(tmp_path):
    task = _task(tmp_path, 0, "hangs", ["a.mp4", "b.mp4", "c.mp4"], clip_timeout_s=1.0)
    started = time.monotonic()
    results, failures = Supervisor(1, target=stand_in).run([task])
    assert time.monotonic() - started < 30  # not the 60 s the clip sleeps
    assert failures == {} and list(results) == [0]
    assert ShardProgress(RunDir(tmp_path), 0).timed_out() == {"b.mp4": 1.0}


def test_a_death_outside_any_clip_fails_the_shard_once(tmp_path):
    tasks = [
        _task(tmp_path, 0, "dies-outside-clips", ["a.mp4"]),
        _task(tmp_path, 1, "fine", ["b.mp4"]),
    ]
    results, failures = Supervisor(1, target=stand_in).run(tasks)
    assert failures == {0: "the worker died (signal 11, SIGSEGV) outside any clip"}
    assert list(results) == [1]  # the next shard got a new worker
    assert (tmp_path / "logs" / "shard-00000.failed").read_text().startswith("the worker died")


def test_a_stopped_worker_leaves_its_shard_for_a_rerun_without_a_failure_marker(tmp_path):
    task = _task(tmp_path, 0, "stopped", ["a.mp4"])
    with pytest.raises(
        ShardFailed, match=r"stopped before the shard finished \(signal 15, SIGTERM\)"
    ):
        run_one(task, target=stand_in)
    assert not (tmp_path / "logs" / "shard-00000.failed").exists()


def test_a_worker_that_keeps_dying_is_replaced_a_bounded_number_of_times(tmp_path):
    """Each clip may kill its worker twice (in flight, then alone), and two deaths more
    are forgiven: 2n + 2 new workers for n clips. A worker that dies on its first clip
    every time (where it should have been skipped) gets a 2-clip shard 1 + 6 times,
    then the shard fails; the next shard still gets a worker."""
    handed_out = 7
    tasks = [_task(tmp_path, 0, "always-dies", ["0.mp4", "1.mp4"]),
             _task(tmp_path, 1, "fine", ["z.mp4"])]  # fmt: skip
    results, failures = Supervisor(1, target=stand_in).run(tasks)
    assert failures == {0: f"the worker died {handed_out} times"}
    assert list(results) == [1]
    assert (tmp_path / "handed-out").read_text() == "0\n" * handed_out
    journal = ShardProgress(RunDir(tmp_path), 0).journal.read_text().splitlines()
    assert [line for line in journal if line.startswith("died")] == (
        [f"died {int(signal.SIGSEGV)} 0.mp4"] * handed_out
    )
    marker = tmp_path / "logs" / "shard-00000.failed"
    assert marker.read_text() == f"the worker died {handed_out} times\n"


def test_run_one_raises_the_failure_line(tmp_path):
    task = _task(tmp_path, 0, "dies-outside-clips", ["a.mp4"])
    with pytest.raises(ShardFailed, match="outside any clip"):
        run_one(task, target=stand_in)
    task = _task(tmp_path, 1, "fine", ["a.mp4"])
    assert run_one(task, target=stand_in).clips == 1
