"""A full disk (issue 37): while the report is written, one line that says what could not
be written and how to rebuild the report; while a shard is written, ``femo status``
gives the reason from the shard's log where its ``.failed`` marker did not fit."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from femo.launchers.base import Launch
from femo.node import runner
from femo.pipeline import IncompleteRun, _after_launch
from femo.rundir import RunDir
from femo.status import ShardState, read_status
from femo.worker import task_of

from .builders import clip_rows, labelled_run, write_shard


def files_and_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_full_disk_while_the_report_is_written_is_one_line(tmp_path, monkeypatch, capsys):
    """It was a traceback: OSError [Errno 28] from write_report. Here the disk fills
    after videos.csv: the next file's write fails as a full disk's does (no file name)."""
    from femo import cli
    from femo.results import write

    run_dir = labelled_run(tmp_path, n_shards=1)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    written = []

    def until_the_disk_is_full(path, text):
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(path)
        path.write_text(text)

    monkeypatch.setattr(write, "write_text", until_the_disk_is_full)
    shards = files_and_bytes(run_dir / "shards")
    with pytest.raises(SystemExit) as exc:
        cli.main(["reduce", str(run_dir)])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"femo: error: cannot write the report into {run_dir / 'report'}: No space left on "
        f"device; the shards are kept: once there is space, femo reduce {run_dir} rebuilds "
        "the report"
    ]
    assert written == [run_dir / "report" / "videos.csv"]
    assert files_and_bytes(run_dir / "shards") == shards  # the shards survive, untouched
    monkeypatch.undo()
    assert cli.main(["reduce", str(run_dir)]) == 0  # once there is space
    assert (run_dir / "report" / "index.html").is_file()


def full_disk_shard(run_dir: Path, index: int, monkeypatch) -> None:
    """Run shard ``index`` through the worker's own code on a disk that is full: its
    shard cannot be written, and its ``.failed`` marker is made but takes no line."""
    from femo.node import extract

    def no_space_for_the_shard(task, on_clip=None):
        shard = RunDir(task.run_dir).shard_file(task.index)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{shard}.tmp")

    real_write_text = Path.write_text

    def full_disk_write_text(self, *args, **kwargs):
        if self.suffix != ".failed":
            return real_write_text(self, *args, **kwargs)
        self.touch()  # opened for writing, then nothing fits
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(extract, "run_shard", no_space_for_the_shard)
    monkeypatch.setattr(Path, "write_text", full_disk_write_text)
    with pytest.raises(OSError):
        runner.execute(task_of(run_dir, index))
    monkeypatch.undo()


def test_status_reads_a_full_disks_reason_from_the_shards_log(tmp_path, monkeypatch):
    """It gave 'Shard 1 failed: failed': the worker could not write its marker."""
    run_dir = labelled_run(tmp_path, n_shards=2)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    full_disk_shard(run_dir, 1, monkeypatch)
    run = RunDir(run_dir)
    assert run.failed_marker(1).read_text() == ""
    reason = (
        f"no space left writing shard 1 (No space left on device: {run.shard_file(1)}.tmp); "
        f"nothing was kept half-written: free space, then femo run resume={run_dir}"
    )
    shard = read_status(run, query=False).statuses[1]
    assert (shard.state, shard.error) == (ShardState.FAILED, reason)
    with pytest.raises(IncompleteRun) as exc:
        _after_launch(run, run.config(), Launch())
    assert str(exc.value).startswith(
        f"1 shard(s) not done; no report written. Shard 1 failed: {reason}."
    )


def test_status_falls_back_on_the_logs_last_exception(tmp_path):
    """Without the worker's own line, the traceback's last line is the reason."""
    run_dir = labelled_run(tmp_path, n_shards=2)
    run = RunDir(run_dir)
    run.failed_marker(1).write_text("")
    run.log_file(1).write_text(
        "2026-12-07 20:00:00 ERROR femo.node.runner: shard 1 failed:\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "OSError: [Errno 28] No space left on device\n"
        "2026-12-07 20:00:01 INFO femo: bye\n"
    )
    shard = read_status(run, query=False).statuses[1]
    assert shard.error == "OSError: [Errno 28] No space left on device"
