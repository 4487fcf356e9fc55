"""Shard assignment, shard file names, and atomic writes (a killed writer included)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from femo.rundir import TIMESTAMP, RunDir, assign_shards, timestamp
from femo.shard_files import (
    clip_owners,
    clip_videos,
    finished_shards,
    owning_shard,
    shard_name,
    write_atomically,
)

SHARD_DIR = "shards"


def shard_path(run_dir, index: int) -> Path:
    return RunDir(run_dir).shard_file(index)


REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("no_tensorflow")


@pytest.fixture
def umask():
    """Set the process umask for a test and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


# ------------------------------------------------------------------ assign_shards


def test_assign_shards_cuts_consecutive_slices_in_order():
    items = [f"clip{i:02d}.mp4" for i in range(10)]
    shards = assign_shards(items, 4)
    assert shards == [items[0:4], items[4:8], items[8:10]]
    assert [len(s) for s in shards] == [4, 4, 2]  # only the last shard is smaller


def test_assign_shards_every_item_exactly_once_and_in_its_slot():
    items = list(range(103))
    for per_shard in (1, 2, 7, 16, 102, 103, 104, 1000):
        shards = assign_shards(items, per_shard)
        flat = [x for s in shards for x in s]
        assert flat == items, per_shard
        assert len(shards) == -(-len(items) // per_shard)
        for k, shard in enumerate(shards):
            assert shard == items[k * per_shard : (k + 1) * per_shard]
        assert all(len(s) == per_shard for s in shards[:-1])
        assert 1 <= len(shards[-1]) <= per_shard


def test_assign_shards_is_deterministic_and_does_not_touch_its_input():
    items = ("b.mp4", "a.mp4", "c.mp4", "d.mp4", "e.mp4")
    first = assign_shards(items, 2)
    second = assign_shards(list(items), 2)
    assert first == second == [["b.mp4", "a.mp4"], ["c.mp4", "d.mp4"], ["e.mp4"]]
    assert items == ("b.mp4", "a.mp4", "c.mp4", "d.mp4", "e.mp4")
    # Shards are fresh lists: mutating one changes neither the input nor a recomputation.
    first[0].append("x")
    assert assign_shards(items, 2)[0] == ["b.mp4", "a.mp4"]


def test_assign_shards_of_nothing_is_no_shard():
    assert assign_shards([], 5) == []


@pytest.mark.parametrize("per_shard", [0, -1, -16])
def test_assign_shards_rejects_per_shard_below_one(per_shard):
    with pytest.raises(ValueError, match=f"per_shard must be >= 1, not {per_shard}"):
        assign_shards([1, 2, 3], per_shard)


# ------------------------------------------------------------ names and listings


def test_shard_name_and_path():
    assert shard_name(0) == "shard-00000.parquet"
    assert shard_name(42) == "shard-00042.parquet"
    assert shard_name(123456) == "shard-123456.parquet"
    assert shard_path("/runs/r1", 7) == Path("/runs/r1") / SHARD_DIR / "shard-00007.parquet"
    assert SHARD_DIR == "shards"


def test_every_file_of_a_shard_is_named_by_the_run_folder():
    run = RunDir("/runs/r1")
    logs, shards = Path("/runs/r1/logs"), Path("/runs/r1/shards")
    assert run.log_file(42) == logs / "shard-00042.log"
    assert run.failed_marker(42) == logs / "shard-00042.failed"
    assert run.running_marker(42) == logs / "shard-00042.running"
    assert run.task_record(42) == logs / "shard-00042.job.json"
    assert run.journal_file(42) == logs / "shard-00042.journal"
    assert run.parts_dir(42) == shards / ".parts-00042"
    assert run.part_file(42, 3) == shards / ".parts-00042" / "part-00003.parquet"


def test_the_lowest_numbered_shard_wins_a_clip():
    assert clip_owners([["a", "b"], ["b", "c"], ["a", "d"]]) == {"a": 0, "b": 0, "c": 1, "d": 2}
    assert clip_owners([]) == {}


def test_owning_shard_reads_the_clip_rows_of_shard_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def shard(index, rows):
        path = tmp_path / shard_name(index)
        videos, kinds = zip(*rows, strict=True)
        pq.write_table(pa.table({"video": list(videos), "kind": list(kinds)}), path)
        return path

    files = {
        3: shard(3, [("a", "clip"), ("a", "frame"), ("b", "frame")]),
        1: shard(1, [("b", "frame"), ("c", "clip")]),
        7: shard(7, [("a", "clip"), ("b", "clip")]),
    }
    assert clip_videos(files[3]) == ["a"]
    assert owning_shard(files, "a") == 3  # shard 7 holds it too; the lower one wins
    assert owning_shard(files, "b") == 7  # frame rows alone do not hold a clip
    assert owning_shard(files, "z") is None
    files[0] = tmp_path / shard_name(0)
    files[0].write_bytes(b"not parquet")
    with pytest.raises(ValueError, match=rf"^shard file {files[0]} is damaged \("):
        owning_shard(files, "a")


def test_a_run_folders_time_stamp_reads_back():
    import datetime

    stamp = timestamp()
    assert datetime.datetime.strptime(stamp, TIMESTAMP).utcoffset() is not None
    assert TIMESTAMP == "%Y-%m-%dT%H:%M:%S%z"


def test_finished_shards_without_a_shards_folder_is_empty(tmp_path):
    assert finished_shards(tmp_path / SHARD_DIR) == {}
    assert finished_shards(tmp_path / "not-there") == {}


def test_finished_shards_lists_only_finished_files(tmp_path):
    folder = tmp_path / SHARD_DIR
    folder.mkdir()
    for name in (
        "shard-00003.parquet",
        "shard-00000.parquet",
        "shard-123456.parquet",
        # Everything below is not a finished shard.
        ".shard-00001.parquet.k2j3h4.tmp",  # write_atomically's temp file
        ".shard-00002.parquet.tmp",
        "shard-00004.parquet.tmp",
        "shard-00005.parquet.bak",
        "shard-0006.parquet",  # too few digits
        "shard-00007.csv",
        "xshard-00008.parquet",
        "notes.txt",
    ):
        (folder / name).write_bytes(b"x")
    (folder / "shard-00009.parquet.d").mkdir()
    found = finished_shards(folder)
    assert list(found) == [0, 3, 123456]  # sorted by index
    assert found[0] == folder / "shard-00000.parquet"
    assert found[3] == folder / "shard-00003.parquet"
    assert found[123456] == folder / "shard-123456.parquet"


# ------------------------------------------------------------ write_atomically


def test_write_atomically_renames_a_complete_file(tmp_path, umask):
    umask(0o022)
    target = tmp_path / SHARD_DIR / "shard-00001.parquet"  # folder made on demand
    payload = os.urandom(300_000)
    seen = {}

    def writer(tmp: str) -> None:
        seen["tmp"] = tmp
        assert not target.exists()  # nothing final before the write is done
        with open(tmp, "wb") as fh:
            fh.write(payload)

    write_atomically(target, writer)
    assert target.read_bytes() == payload
    tmp = Path(seen["tmp"])
    assert tmp.parent == target.parent  # same folder, so the rename is atomic
    assert tmp.name.startswith(".shard-00001.parquet.") and tmp.name.endswith(".tmp")
    assert not tmp.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["shard-00001.parquet"]
    assert finished_shards(tmp_path / SHARD_DIR) == {1: target}


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_write_atomically_mode_honours_umask(tmp_path, umask, mask, mode):
    umask(mask)
    target = tmp_path / "out.txt"
    write_atomically(target, lambda tmp: Path(tmp).write_text("hello"))
    assert stat.S_IMODE(target.stat().st_mode) == mode  # not mkstemp's 0600
    assert target.read_text() == "hello"


def test_write_atomically_replaces_an_existing_file(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    write_atomically(target, lambda tmp: Path(tmp).write_text("new"))
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_writer_leaves_neither_final_nor_temp_file(tmp_path, error):
    target = tmp_path / SHARD_DIR / "shard-00002.parquet"

    def writer(tmp: str) -> None:
        Path(tmp).write_bytes(b"half a shard")
        raise error("writer died")

    with pytest.raises(error, match="writer died"):
        write_atomically(target, writer)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    assert finished_shards(tmp_path / SHARD_DIR) == {}


def test_failed_rewrite_keeps_the_previous_complete_file(tmp_path):
    target = tmp_path / "videos.csv"
    write_atomically(target, lambda tmp: Path(tmp).write_text("complete\n"))

    def writer(tmp: str) -> None:
        Path(tmp).write_text("trunc")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, writer)
    assert target.read_text() == "complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["videos.csv"]


def test_killed_writer_leaves_no_finished_shard(tmp_path):
    run_dir = tmp_path / "run"
    done = shard_path(run_dir, 0)
    write_atomically(done, lambda tmp: Path(tmp).write_bytes(b"shard zero"))
    target = shard_path(run_dir, 1)
    script = textwrap.dedent(
        """
        import os, signal, sys
        from femo.shard_files import write_atomically

        def writer(tmp):
            with open(tmp, "wb") as fh:
                fh.write(b"x" * 5000)  # half of the shard
                fh.flush()
                os.fsync(fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
            with open(tmp, "ab") as fh:  # never reached
                fh.write(b"y" * 5000)

        write_atomically(sys.argv[1], writer)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not target.exists()
    assert finished_shards(run_dir / SHARD_DIR) == {0: done}
    # The killed writer could not clean up: only its temp file is left, half written.
    leftovers = [p for p in (run_dir / SHARD_DIR).iterdir() if p != done]
    assert len(leftovers) == 1
    assert leftovers[0].name.startswith(".shard-00001.parquet.")
    assert leftovers[0].name.endswith(".tmp")
    assert leftovers[0].read_bytes() == b"x" * 5000


FIRST_WRITE = """
import sys
import pyarrow.parquet as pq
from femo.node.units import Columns
from femo.shard_files import load_arrow

load_arrow()
before = set(sys.modules)
columns = Columns()
pq.write_table(columns.table({}), sys.argv[1])
print(" ".join(sorted(m for m in set(sys.modules) - before if m.split(".")[0] == "pandas")))
"""


def test_after_load_arrow_the_first_shard_write_imports_no_pandas(tmp_path):
    """pyarrow imports pandas when it builds its first array: load_arrow (run with the
    models, as startup) pays that, so the first shard's clips do not."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_WRITE, str(tmp_path / "s.parquet")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
    assert (tmp_path / "s.parquet").stat().st_size > 0
