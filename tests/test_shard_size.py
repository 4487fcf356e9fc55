"""``shards.target_minutes`` (issue 37): femo run chooses videos_per_shard for a target
task length from measured seconds per clip, and says what it chose."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from femo.results.throughput import DEFAULT_SECONDS_PER_CLIP, DEFAULT_STARTUP_S, clips_per_task
from femo.rundir import RunDir

from .builders import labelled_run
from .conftest import error_line


def test_clips_per_task_fills_the_target_after_model_loading():
    assert clips_per_task(1200, 0.5, 2.0) == 2396  # (1200 - 2) / 0.5
    assert clips_per_task(1200, 0.52, 0.95) == 2305
    assert clips_per_task(10, 30.0, 1.0) == 1  # a clip longer than the target: one a task


def fake_clips(tmp_path: Path, n: int) -> None:
    (tmp_path / "clips").mkdir()
    for i in range(n):
        (tmp_path / "clips" / f"c{i:02d}.mp4").write_bytes(b"never decoded")


def planned(out: Path) -> tuple[int, int]:
    """The planned run's videos_per_shard (femo.json) and its number of shards."""
    (run_dir,) = out.glob("*/*")
    run = RunDir(run_dir)
    return run.config().videos_per_shard, run.read_plan().n_shards


def test_run_chooses_the_shard_size_from_femos_default_speed(fast_femo, tmp_path):
    fake_clips(tmp_path, 11)
    proc = fast_femo("run", "dataset.root=clips", "launcher=none", "shards.target_minutes=0.1",
                     "output_root=out")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    chosen = int((6 - DEFAULT_STARTUP_S) // DEFAULT_SECONDS_PER_CLIP)
    assert proc.stdout.splitlines()[0] == (
        f"femo: shards.videos_per_shard={chosen}: about 0.1 min per task "
        f"(shards.target_minutes) at {DEFAULT_SECONDS_PER_CLIP:.2f} s per clip and "
        f"{DEFAULT_STARTUP_S:.2f} s of model loading (femo's default, from the dev clips; "
        "shards.timed_by=RUN_DIR measures yours)"
    )
    assert planned(tmp_path / "out") == (chosen, -(-11 // chosen))


def timed_run(tmp_path: Path) -> Path:
    """A finished run whose one shard of 4 clips took 42 s, 2 of them loading models."""
    run_dir = labelled_run(tmp_path, n_shards=1)
    timing = {"seconds": 42.0, "startup_seconds": 2.0, "frames_sampled": 80}
    meta = {b"femo.n_clips": b"4", b"femo.timing": json.dumps(timing).encode()}
    path = RunDir(run_dir).shard_file(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"video": ["a"]}).replace_schema_metadata(meta), path)
    return run_dir


def test_run_chooses_the_shard_size_from_a_timed_run(fast_femo, tmp_path):
    timed = timed_run(tmp_path)
    fake_clips(tmp_path, 30)
    proc = fast_femo("run", "dataset.root=clips", "launcher=none", "shards.target_minutes=2",
                     f"shards.timed_by={timed}", "output_root=out")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # 10 s per clip ((42 - 2) / 4), 2 s of loading: (120 - 2) / 10 -> 11 clips a task
    assert proc.stdout.splitlines()[0] == (
        "femo: shards.videos_per_shard=11: about 2 min per task (shards.target_minutes) at "
        f"10.00 s per clip and 2.00 s of model loading (measured over 4 clips of {timed.name})"
    )
    assert planned(tmp_path / "out") == (11, 3)


def test_timed_by_without_a_target_is_one_line(fast_femo, tmp_path):
    fake_clips(tmp_path, 2)
    proc = fast_femo("run", "dataset.root=clips", "shards.timed_by=old", "output_root=out")
    assert error_line(proc) == (
        "femo: error: shards.timed_by times shards.target_minutes: give both, e.g. "
        f"shards.target_minutes=20 shards.timed_by={tmp_path / 'old'}"
    )
    assert not (tmp_path / "out").exists()
