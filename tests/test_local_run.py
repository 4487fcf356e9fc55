"""A local run in progress: what `femo status` shows, and what Ctrl-C and SIGTERM leave.

Real models, real worker processes: a run over clips long enough (the demo clips
played 8 times, every frame) that the signals land while shards are in progress.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from femo.demo import build_demo

from .conftest import femo, femo_argv, femo_env

pytestmark = pytest.mark.slow


def start(*args: str, cwd: Path) -> subprocess.Popen:
    """`femo` in its own process group, as a terminal runs it: with Ctrl-C's default
    action even where pytest runs as a background job (which ignores SIGINT, and would
    pass that on)."""
    return subprocess.Popen(
        femo_argv(*args), cwd=cwd, env=femo_env(), start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(predicate, timeout: float = 180, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def status_counts(text: str) -> dict[str, int]:
    line = next(ln for ln in text.splitlines() if ln.startswith("shards:"))
    return {
        " ".join(part.split()[1:]): int(part.split()[0])
        for part in line.partition(":")[2].split(",")[1:]
    }


def interrupt(proc: subprocess.Popen, run_dir: Path, how: str) -> str:
    """Send Ctrl-C to the group (or SIGTERM to femo alone) once a shard is in progress."""
    wait_for(lambda: any(run_dir.glob("logs/*.running")), what="a shard in progress")
    time.sleep(2)
    if how == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    wait_for(lambda: group_is_gone(proc.pid), timeout=30, what="every worker to exit")
    return err


def test_status_ctrl_c_sigterm_and_resume_of_a_local_run(long_clips, tmp_path):
    out = tmp_path / "out"
    args = [
        f"dataset.root={long_clips}",
        f"dataset.labels={long_clips / 'labels.csv'}",
        "sampling.every_n=1",
        "shards.videos_per_shard=1",
        f"output_root={out}",
    ]
    proc = start("run", *args, cwd=tmp_path)
    wait_for(lambda: list(out.glob("*/*/logs/*.running")), what="the run to start a shard")
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]

    # In progress: shards show running and pending, not 'not submitted'.
    counts = status_counts(femo("status", str(run_dir), cwd=tmp_path, timeout=600).stdout)
    assert counts["running"] >= 1 and counts["not submitted"] == 0
    assert counts["running"] + counts["pending"] + counts["done"] == 5, counts

    # Ctrl-C in the terminal: one line, exit 130, no process left, nothing looks finished.
    err = interrupt(proc, run_dir, "SIGINT")
    last = err.strip().splitlines()[-1]
    done = len(list((run_dir / "shards").glob("shard-*.parquet")))
    assert last == (
        f"femo: interrupted: {done} of 5 shards done; continue with femo run resume={run_dir}"
    )
    assert "Traceback" not in err
    assert not list(run_dir.glob("shards/.*.tmp")) and not list(run_dir.glob("logs/*.running"))
    counts = status_counts(femo("status", str(run_dir), cwd=tmp_path, timeout=600).stdout)
    assert counts["done"] == done and counts["interrupted"] == 5 - done, counts

    # SIGTERM to femo alone (a scheduler or `kill`): the same, workers included.
    proc = start("run", f"resume={run_dir}", cwd=tmp_path)
    err = interrupt(proc, run_dir, "SIGTERM")
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("femo: interrupted: ")

    # Resume finishes the rest: every clip exactly once.
    before = {p.name: p.stat().st_mtime_ns for p in (run_dir / "shards").glob("shard-*.parquet")}
    proc = femo("run", f"resume={run_dir}", cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{len(before)} done, 0 queued or running, {5 - len(before)} to redo" in proc.stdout
    after = {p.name: p.stat().st_mtime_ns for p in (run_dir / "shards").glob("shard-*.parquet")}
    assert len(after) == 5
    assert all(after[name] == mtime for name, mtime in before.items())  # finished work kept
    with open(run_dir / "report" / "videos.csv", newline="") as fh:
        videos = [r["video"] for r in csv.DictReader(fh)]
    assert sorted(videos) == sorted(
        p.name for p in long_clips.iterdir() if p.suffix in (".mp4", ".jpg")
    )


def _demo_run(tmp_path: Path, **env: str) -> tuple[Path, subprocess.CompletedProcess]:
    """The demo's 5 clips in one shard, one clip per part file, one worker, with the
    test-only fault hooks of ``env`` set; returns the run folder and ``femo run``."""
    clips = tmp_path / "clips"
    clips.mkdir()
    build_demo(clips)
    out = tmp_path / "out"
    args = [f"dataset.root={clips}", f"dataset.labels={clips / 'labels.csv'}",
            "shards.videos_per_shard=5", "shards.part_clips=1", "launcher.workers=1",
            f"output_root={out}"]  # fmt: skip
    extra = env.pop("extra", "").split()
    proc = femo("run", *args, *extra, cwd=tmp_path, env=env, timeout=600)
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]
    return run_dir, proc


def _videos(run_dir: Path) -> dict[str, dict[str, str]]:
    with open(run_dir / "report" / "videos.csv", newline="") as fh:
        return {r["video"]: r for r in csv.DictReader(fh)}


OTHER_CLIPS = {"empty_wall.mp4": "no_face", "hopper.jpg": "ok", "hopper_mirrored.mp4": "ok",
               "hopper_still.mp4": "ok"}  # fmt: skip


def test_a_poison_clip_is_skipped_with_its_signal_and_the_shard_completes(tmp_path):
    """A clip whose decoder kills the worker (os.abort, a test-only hook): the
    supervisor records the signal, a new worker runs the clip alone, dies again, and
    the next one skips it; the run completes in one go and nothing is done twice."""
    run_dir, proc = _demo_run(tmp_path, FEMO_TEST_CRASH_ON="hopper_zoom.mp4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _videos(run_dir)
    assert len(rows) == 5
    assert rows["hopper_zoom.mp4"]["status"] == "error"
    assert rows["hopper_zoom.mp4"]["message"] == (
        "the worker died on this clip (signal 6, SIGABRT), also when it ran alone; it was skipped"
    )
    assert {v: r["status"] for v, r in rows.items() if v != "hopper_zoom.mp4"} == OTHER_CLIPS
    log = (run_dir / "logs" / "shard-00000.log").read_text()
    for clip in OTHER_CLIPS:  # finished clips were kept, never extracted again
        assert log.count(f"clip {clip}: ") == 1, clip
    assert not (run_dir / "shards" / ".parts-00000").exists()  # merged into the shard file
    assert not (run_dir / "logs" / "shard-00000.journal").exists()


def test_a_clip_that_hangs_is_cut_off_and_the_shard_completes(tmp_path):
    """A clip whose decoder never returns (a test-only hook sleeps): after
    shards.clip_timeout_s its worker is killed, the clip is reported, the rest done."""
    run_dir, proc = _demo_run(
        tmp_path, FEMO_TEST_HANG_ON="hopper_mirrored.mp4", extra="shards.clip_timeout_s=20"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _videos(run_dir)
    assert len(rows) == 5
    assert rows["hopper_mirrored.mp4"]["status"] == "error"
    assert rows["hopper_mirrored.mp4"]["message"].startswith(
        "cut off after 20 s (shards.clip_timeout_s)"
    )
    expected = {**OTHER_CLIPS, "hopper_zoom.mp4": "ok"}
    del expected["hopper_mirrored.mp4"]
    assert {v: r["status"] for v, r in rows.items() if v != "hopper_mirrored.mp4"} == expected


def test_a_full_disk_fails_the_shard_cleanly_and_resume_completes_it(tmp_path):
    """A file-size limit (RLIMIT_FSIZE) stands in for a full disk: the write fails with
    EFBIG, the temporary file is removed, nothing looks finished, and once the limit is
    gone the shard is done once."""
    import resource

    clips = tmp_path / "clips"
    clips.mkdir()
    build_demo(clips)
    proc = femo("run", "launcher=none", f"dataset.root={clips}", "shards.videos_per_shard=5",
                f"output_root={tmp_path / 'out'}", cwd=tmp_path, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p.parent for p in (tmp_path / "out").glob("*/*/femo.json")]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    worker = femo_argv(str(run_dir), "0", module="femo.worker")
    failed = subprocess.run(worker, env=femo_env(), capture_output=True, text=True,
                            preexec_fn=limit, timeout=600)  # fmt: skip
    assert failed.returncode != 0
    marker = (run_dir / "logs" / "shard-00000.failed").read_text()
    assert marker.startswith("no space left writing shard 0 (") and "File too large" in marker
    assert f"femo run resume={run_dir}" in marker
    leftovers = [p for p in (run_dir / "shards").rglob("*") if p.is_file()]
    assert not [p for p in leftovers if p.name.endswith(".tmp")]
    assert not list((run_dir / "shards").glob("shard-*.parquet"))
    status = femo("status", str(run_dir), cwd=tmp_path, timeout=600).stdout
    assert "no space left writing shard 0" in status
    done = femo(str(run_dir), "0", cwd=tmp_path, timeout=600, module="femo.worker")
    assert done.returncode == 0, done.stderr[-2000:]
    proc = femo("reduce", str(run_dir), cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with open(run_dir / "report" / "videos.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 5
