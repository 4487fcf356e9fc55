"""A process granted one CPU runs its pipeline on one thread, with the same rows."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import cv2
import pyarrow.parquet as pq
import pytest

from femo.config import ClassifierConfig, ExtractConfig, HaarConfig, SamplingConfig
from femo.node.engine import Extractor
from femo.node.extract import run_shard
from femo.node.stream import InlineExecutor, chain_ahead, ordered_map
from femo.node.video import open_video

from .conftest import shard_task, write_video


def test_the_inline_executor_runs_each_call_at_once_on_the_calling_thread():
    ran_on = []
    future = InlineExecutor().submit(lambda x: ran_on.append(threading.get_ident()) or x * 2, 21)
    assert future.done() and future.result() == 42
    assert ran_on == [threading.get_ident()]
    failed = InlineExecutor().submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failed.result()


def test_ordered_map_on_the_inline_executor_keeps_the_order():
    assert list(ordered_map(InlineExecutor(), str, range(10), window=3)) == list(
        map(str, range(10))
    )


def test_chain_ahead_zero_reads_on_the_calling_thread_and_closes_the_open_source():
    closed, threads = [], set()

    def source(k):
        try:
            for i in range(3):
                threads.add(threading.get_ident())
                yield (k, i)
        finally:
            closed.append(k)

    before = threading.active_count()
    stream = chain_ahead((source(k) for k in range(3)), ahead=0, maxsize=1)
    assert [next(stream) for _ in range(4)] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert threading.active_count() == before and threads == {threading.get_ident()}
    stream.close()
    assert closed == [0, 1]  # the source being read is closed with the stream


def test_a_capture_takes_the_threads_it_is_given(tmp_path, face_image):
    path = write_video(tmp_path / "a.mp4", [face_image] * 3)
    cap = open_video(str(path), threads=1)
    assert cap.isOpened() and cap.get(cv2.CAP_PROP_N_THREADS) == 1
    cap.release()


@pytest.fixture(scope="module")
def face_clips(tmp_path_factory, face_image):
    folder = tmp_path_factory.mktemp("faces")
    small = cv2.resize(face_image, (256, 320))
    for k in range(3):
        write_video(folder / f"clip{k}.mp4", [cv2.flip(small, 1) if k == 1 else small] * 12)
    return folder


def rows(tmp_path, root, threads: int, name: str):
    extract = ExtractConfig(
        detector=HaarConfig(),
        sampling=SamplingConfig(every_n=2),
        classifier=ClassifierConfig("onnx"),
        device="cpu",
        threads=threads,
    )
    run = tmp_path / name
    (run / "shards").mkdir(parents=True)
    task = shard_task(run, ["clip0.mp4", "clip1.mp4", "clip2.mp4"], root=root, extract=extract)
    run_shard(task)
    table = pq.read_table(run / "shards" / "shard-00000.parquet").to_pandas()
    return table.drop(columns=["seconds"])


def test_one_thread_runs_every_stage_inline_and_gives_the_threaded_rows(tmp_path, face_clips):
    one = Extractor(ExtractConfig(classifier=ClassifierConfig("onnx"), device="cpu", threads=1))
    assert one.inline and one.decoders == 0 and one.decode_threads == 1
    assert isinstance(one.detect_pool, InlineExecutor)
    assert isinstance(one.classify_pool, InlineExecutor)
    two = Extractor(ExtractConfig(classifier=ClassifierConfig("onnx"), device="cpu", threads=4))
    assert not two.inline and two.decoders == 2 and two.decode_threads == 2
    two.detect_pool.shutdown()
    two.classify_pool.shutdown()

    inline, threaded = rows(tmp_path, face_clips, 1, "one"), rows(tmp_path, face_clips, 2, "two")
    assert (inline.kind == "frame").sum() == 18 and inline.x.notna().sum() >= 18
    assert inline.equals(threaded)


def test_an_inline_extractor_starts_no_thread_while_it_runs(tmp_path, face_clips):
    from femo.dataset import Clip
    from femo.node.units import Columns

    extractor = Extractor(
        ExtractConfig(classifier=ClassifierConfig("onnx"), device="cpu", threads=1)
    )
    before = set(threading.enumerate())
    seen: list[set[threading.Thread]] = []
    clips = [Clip(f"clip{k}.mp4", "video") for k in range(3)]
    statuses = extractor.run(
        str(face_clips),
        clips,
        Columns(),
        on_clip=lambda video, status: seen.append(set(threading.enumerate()) - before),
    )
    assert statuses == dict.fromkeys((c.video for c in clips), "ok")
    assert seen == [set(), set(), set()]


# Counts the process's native threads (Linux), which threading.enumerate() does not see.
DLIB_THREADS = """
import os
import numpy as np
from femo.node.identity import Embedder

def native_threads():
    return len(os.listdir("/proc/self/task"))

embedder = Embedder()
rgb = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
before = native_threads()
vectors = embedder.embed(rgb, [(20, 20, 100, 100), (40, 30, 90, 90)])
print(len(vectors), before, native_threads())
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_dlib_embeds_on_the_calling_thread_and_starts_none():
    """identity=dlib takes only the detector thread that calls it: dlib-bin is built
    without BLAS and starts no pool of its own, so a worker's grant holds for it too."""
    pytest.importorskip("dlib", reason="identity=dlib needs femo[identity]")
    out = subprocess.run(
        [sys.executable, "-c", DLIB_THREADS], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    embedded, before, after = (int(v) for v in out.stdout.split()[-3:])
    assert embedded == 2
    assert after == before
