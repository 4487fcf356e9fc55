"""Long videos in segments (issue 27): planning segments, naming them, reading them.

The expected spans are worked out by hand in each test; the decoding tests compare
segments read with seeks against a full read of the shared long videos.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from femo.config import ConfigError, DatasetConfig, MappingConfig, SamplingConfig
from femo.dataset import Clip, Segment, read_labels
from femo.node.video import ClipError, ClipInfo, VideoReader, probe, sampled_frames
from femo.rundir import RunDir, make_plan
from femo.segments import VideoLength, cut, plan_segments

from .conftest import SHARED, assert_no_run_folder, error_line, need, read_all, write_video

LONG = SHARED / "long-videos"
FPS25 = VideoLength(fps=25.0, frames=1233)


def _labels(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _config(root: Path, labels: Path | None = None, **kw) -> DatasetConfig:
    return DatasetConfig(root=str(root), labels=str(labels) if labels else None, **kw)


# ------------------------------------------------------------------ planning


def test_segment_s_cuts_consecutive_segments_the_last_one_shorter():
    # 2 s at 25 fps = 50 frames; 1233 frames = 24 x 50 + 33.
    segments = cut("d.mp4", FPS25, DatasetConfig(segment_s=2))
    assert len(segments) == 25
    assert segments[0] == Segment("d.mp4", 0, 50, 0.0, 2.0)
    assert segments[-1] == Segment("d.mp4", 1200, 1233, 48.0, 49.32)
    assert all(a.end_frame == b.start_frame for a, b in zip(segments, segments[1:], strict=False))


def test_segment_s_rounds_each_start_to_its_frame():
    # 0.3 s at 29.97 fps = 8.991 frames: starts round(k * 8.991) = 0, 9, 18, 27, 36, 45, 54.
    segments = cut("d.mp4", VideoLength(29.97, 60), DatasetConfig(segment_s=0.3))
    assert [s.start_frame for s in segments] == [0, 9, 18, 27, 36, 45, 54]
    assert segments[-1].end_frame == 60


def test_segment_frames_cuts_by_frames():
    segments = cut("d.mp4", FPS25, DatasetConfig(segment_frames=1000))
    assert [(s.start_frame, s.end_frame) for s in segments] == [(0, 1000), (1000, 1233)]
    assert segments[1].start_s == 40.0


def test_a_video_of_unknown_length_is_not_cut():
    assert cut("d.mp4", VideoLength(error="cannot be opened"), DatasetConfig(segment_s=2)) is None


def _plan(tmp_path: Path, header: str, *rows: str, lengths=None, **kw) -> list[Clip]:
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(b"x")
    labels = _labels(tmp_path / "labels.csv", header, *rows)
    lengths = lengths or {}
    return plan_segments(
        [Clip(n, "video") for n in ("a.mp4", "b.mp4", "c.mp4")],
        _config(tmp_path, labels, **kw),
        lambda path: lengths.get(Path(path).name, FPS25),
    )


def test_labelled_segments_are_the_clips_in_order(tmp_path):
    clips = _plan(
        tmp_path, "video,start_frame,end_frame,label", "a.mp4,98,192,", "a.mp4,0,98,", "b.mp4,5,6,"
    )
    assert [c.video for c in clips] == ["a.mp4@0", "a.mp4@98", "b.mp4@5", "c.mp4"]
    assert clips[1].segment == Segment("a.mp4", 98, 192, 3.92, 7.68)
    assert clips[1].file == "a.mp4" and clips[3].file == "c.mp4"


def test_labelled_seconds_become_frames(tmp_path):
    # 3.92 s * 25 fps = 97.99999... frames: frame 98.
    clips = _plan(tmp_path, "video,start_s,end_s", "a.mp4,3.92,7.68")
    assert clips[0].video == "a.mp4@98"
    assert clips[0].segment == Segment("a.mp4", 98, 192, 3.92, 7.68)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["a.mp4,0,100", "a.mp4,99,150"],
            "labels file {labels}: segments of a.mp4 overlap: line 2 [0, 100) and line 3 [99, 150)",
        ),
        (
            ["a.mp4,1200,1234"],
            "labels file {labels}, line 2: segment [1200, 1234) of a.mp4 ends past the video's "
            "end (frame 1234 of 1233)",
        ),
        (
            ["a.mp4,10,10"],
            "labels file {labels}, line 2: segment [10, 10) of a.mp4 is empty or negative; a "
            "segment is [start, end) with start >= 0 and end > start",
        ),
        (
            ["a.mp4,x,10"],
            "labels file {labels}, line 2: start_frame 'x' is not a whole number of frames",
        ),
        (
            ["a.mp4,,10"],
            "labels file {labels}, line 2: empty 'start_frame'; every segment needs its span",
        ),
    ],
)
def test_bad_segments_are_one_line(tmp_path, rows, message):
    with pytest.raises(ConfigError) as err:
        _plan(tmp_path, "video,start_frame,end_frame", *rows)
    assert str(err.value) == message.format(labels=tmp_path / "labels.csv")


def test_a_span_of_seconds_shorter_than_a_frame_is_refused(tmp_path):
    # 1.00 s and 1.01 s at 25 fps are both frame 25.
    with pytest.raises(ConfigError) as err:
        _plan(tmp_path, "video,start_s,end_s", "a.mp4,1.00,1.01")
    assert str(err.value) == (
        f"labels file {tmp_path / 'labels.csv'}, line 2: segment [1, 1.01) of a.mp4 is "
        "shorter than a frame at 25 fps"
    )


def test_half_a_span_and_two_ways_of_segmenting_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="has a 'start_s' column but no 'end_s' column"):
        _plan(tmp_path, "video,start_s", "a.mp4,1")
    with pytest.raises(ConfigError, match="use one of them"):
        _plan(tmp_path, "video,start_s,end_s", "a.mp4,1,2", segment_s=2)
    with pytest.raises(ConfigError, match="both set"):
        DatasetConfig(segment_s=2, segment_frames=50)


def test_an_unopenable_video_keeps_its_segments_and_is_not_cut(tmp_path):
    broken = {"a.mp4": VideoLength(error="cannot be opened as a video")}
    clips = _plan(tmp_path, "video,start_frame,end_frame", "a.mp4,0,10", "a.mp4,10,20",
                  lengths=broken)  # fmt: skip
    assert [c.video for c in clips] == ["a.mp4@0", "a.mp4@10", "b.mp4", "c.mp4"]
    assert clips[0].segment == Segment("a.mp4", 0, 10, None, None)
    clips = plan_segments([Clip("a.mp4", "video")], _config(tmp_path, segment_s=2),
                          lambda path: broken["a.mp4"])  # fmt: skip
    assert clips == [Clip("a.mp4", "video")]


def test_labels_of_segments_find_their_segment(tmp_path):
    clips = _plan(tmp_path, "video,start_s,end_s,label,actor", "a.mp4,0,1,Positive,x",
                  "a.mp4,1,2,,y", "b.mp4,0,1,negative,z", "zz.mp4,0,1,Neutral,z")  # fmt: skip
    labels = read_labels(tmp_path / "labels.csv", _config(tmp_path, group_column="actor"),
                         MappingConfig(), clips)  # fmt: skip
    assert labels.by_video == {"a.mp4@0": "Positive", "b.mp4@0": "Negative"}
    assert labels.groups == {"a.mp4@0": "x", "a.mp4@25": "y", "b.mp4@0": "z"}
    assert labels.missing_clips == ["zz.mp4@0.0"]


def test_the_plan_names_segments_by_video_and_span_and_reads_back(tmp_path):
    clips = [Clip("a.mp4@98", "video", Segment("a.mp4", 98, 192, 3.92, 7.68)),
             Clip("b.jpg", "image"),
             Clip("c.mp4@0.1s", "video", Segment("c.mp4", None, None, 0.1, 0.30000000000000004))]  # fmt: skip
    run = RunDir(tmp_path / "run")
    run.create(make_plan(clips, 2), {"dataset": {}}, None)
    with open(run.plan_file, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[:3] == [
        ["video", "start_frame", "end_frame", "start_s", "end_s", "kind", "shard"],
        ["a.mp4", "98", "192", "3.92", "7.68", "video", "0"],
        ["b.jpg", "", "", "", "", "image", "0"],
    ]
    plan = run.read_plan()
    assert plan.clips == clips
    assert plan.shard_of == {"a.mp4@98": 0, "b.jpg": 0, "c.mp4@0.1s": 1}


def test_an_unsegmented_plan_is_written_as_before(tmp_path):
    run = RunDir(tmp_path / "run")
    run.create(
        make_plan([Clip("a.mp4", "video"), Clip("b.jpg", "image")], 1), {"dataset": {}}, None
    )
    assert run.plan_file.read_text() == "video,kind,shard\na.mp4,video,0\nb.jpg,image,1\n"


# ------------------------------------------------------------------ decoding


def _segments(video: str) -> list[Segment]:
    with open(need(LONG) / "segments.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["video"] == video]
    return [Segment(video, int(r["start_frame"]), int(r["end_frame"])) for r in rows]


@pytest.mark.parametrize("video", ["debate-0.mp4", "debate-1.mp4"])
def test_segments_read_with_seeks_are_the_frames_of_a_full_read(video):
    path = str(need(LONG) / video)
    full = read_all(Path(path))
    assert probe(path) == VideoLength(25.0, len(full))
    every = SamplingConfig(every_n=1)
    segments = _segments(video)
    # Each segment alone, in reverse order (a seek each), and every 3rd with one reader.
    for order, shared in ((segments[::-1], False), (segments[::3], True)):
        reader = VideoReader(path) if shared else None
        for seg in order:
            info = ClipInfo()
            frames = list(sampled_frames(path, "video", every, info, seg, reader))
            assert [f.index for f in frames] == list(range(seg.start_frame, seg.end_frame))
            assert all(np.array_equal(f.image, full[f.index]) for f in frames), seg
            assert info.frames_read == info.frames_announced == seg.end_frame - seg.start_frame
            assert frames[0].time_s == seg.start_frame / 25
    # Mid-GOP starts: every 2 s segment read back to back.
    reader = VideoReader(path)
    for seg in cut(video, VideoLength(25.0, len(full)), DatasetConfig(segment_s=2))[::2]:
        frames = list(sampled_frames(path, "video", every, ClipInfo(), seg, reader))
        assert all(np.array_equal(f.image, full[f.index]) for f in frames), seg


def test_sampling_restarts_at_each_segment():
    path = str(need(LONG) / "debate-0.mp4")
    seg = _segments("debate-0.mp4")[1]  # frames [98, 192)
    sampling = SamplingConfig(every_n=20, max_frames=3)
    frames = list(sampled_frames(path, "video", sampling, ClipInfo(), seg))
    assert [f.index for f in frames] == [98, 118, 138]


class _NoSeek:
    """A capture whose seek does not land (as some containers do): set() says no."""

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self.cap = cap

    def set(self, prop: int, value: float) -> bool:
        return False

    def __getattr__(self, name: str):
        return getattr(self.cap, name)


def test_a_seek_that_does_not_land_reads_from_the_start():
    path = str(need(LONG) / "debate-1.mp4")
    full = read_all(Path(path))
    reader = VideoReader(path)
    reader.cap = _NoSeek(reader.open())
    seg = _segments("debate-1.mp4")[5]
    frames = list(sampled_frames(path, "video", SamplingConfig(every_n=7), ClipInfo(), seg, reader))
    assert frames[0].index == seg.start_frame and frames[-1].index < seg.end_frame
    assert all(np.array_equal(f.image, full[f.index]) for f in frames)
    assert reader.seeks == 1


def test_every_segment_of_an_unopenable_video_fails_with_one_reason(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    reader = VideoReader(str(bad))
    reasons = set()
    for seg in (Segment("bad.mp4", 0, 10), Segment("bad.mp4", 10, 20)):
        with pytest.raises(ClipError) as err:
            list(sampled_frames(str(bad), "video", SamplingConfig(), ClipInfo(), seg, reader))
        reasons.add(str(err.value))
    assert reasons == {"cannot be opened as a video (not a video, or a codec OpenCV lacks)"}


# ------------------------------------------------------------------ femo run


def _small_video(folder: Path, name: str, frames: int) -> Path:
    image = np.zeros((32, 32, 3), np.uint8)
    return write_video(folder / name, [image] * frames, fps=10)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["v.mp4,0,12", "v.mp4,10,20"],
            "labels file {labels}: segments of v.mp4 overlap: line 2 [0, 12) and line 3 [10, 20)",
        ),
        (
            ["v.mp4,2.5,3.5"],
            "labels file {labels}, line 2: segment [2.5, 3.5) of v.mp4 ends past the video's "
            "end (frame 35 of 30)",
        ),
    ],
)
def test_run_with_bad_segments_stops_before_any_work(fast_femo, tmp_path, rows, message):
    clips = tmp_path / "clips"
    clips.mkdir()
    _small_video(clips, "v.mp4", 30)
    header = (
        "video,start_s,end_s" if "." in rows[0].split(",", 1)[1] else "video,start_frame,end_frame"
    )
    labels = _labels(clips / "labels.csv", header, *rows)
    out = tmp_path / "out"
    proc = fast_femo(
        "run", f"dataset.root={clips}", f"dataset.labels={labels}", f"output_root={out}"
    )
    assert error_line(proc) == "femo: error: " + message.format(labels=labels)
    assert_no_run_folder(out)


def _videos_by_segment(run_dir: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(run_dir / "report" / "videos.csv", newline="") as fh:
        return {(r["video"], r["start_frame"]): r for r in csv.DictReader(fh)}


def test_segments_fail_poison_and_finish_one_by_one(tmp_path):
    """A segment whose decoder kills the worker is skipped alone (a test-only hook, keyed
    by the segment's id), the segments finished before it are kept, and every segment of
    a file that is no video fails with the one reason it cannot be opened."""
    from .conftest import femo

    clips = tmp_path / "clips"
    clips.mkdir()
    _small_video(clips, "v.mp4", 60)
    (clips / "bad.mp4").write_text("not a video")
    labels = _labels(clips / "labels.csv", "video,start_frame,end_frame,label",
                     "v.mp4,0,20,Positive", "v.mp4,20,40,", "v.mp4,40,60,Negative",
                     "bad.mp4,0,10,Neutral", "bad.mp4,10,20,")  # fmt: skip
    out = tmp_path / "out"
    proc = femo("run", f"dataset.root={clips}", f"dataset.labels={labels}",
                "shards.videos_per_shard=5", "shards.part_clips=1", "launcher.workers=1",
                f"output_root={out}", cwd=tmp_path, env={"FEMO_TEST_CRASH_ON": "v.mp4@20"},
                timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]
    rows = _videos_by_segment(run_dir)
    unopenable = "cannot be opened as a video (not a video, or a codec OpenCV lacks)"
    assert {k: (r["status"], r["message"], r["golden"]) for k, r in rows.items()} == {
        ("bad.mp4", "0"): ("error", unopenable, "Neutral"),
        ("bad.mp4", "10"): ("error", unopenable, ""),
        ("v.mp4", "0"): ("no_face", "", "Positive"),
        ("v.mp4", "20"): (
            "error",
            "the worker died on this clip (signal 6, SIGABRT), also "
            "when it ran alone; it was skipped",
            "",
        ),  # fmt: skip
        ("v.mp4", "40"): ("no_face", "", "Negative"),
    }
    assert [(r["end_frame"], r["start_s"], r["end_s"]) for r in rows.values()] == [
        ("10", "", ""), ("20", "", ""), ("20", "0.0", "2.0"), ("40", "2.0", "4.0"),
        ("60", "4.0", "6.0")]  # fmt: skip
    assert rows["v.mp4", "0"]["frames_sampled"] == "1"  # frame 0 of 20, every 20th
    log = (run_dir / "logs" / "shard-00000.log").read_text()
    for done in ("v.mp4@0", "v.mp4@40", "bad.mp4@0"):  # kept in part files, never redone
        assert log.count(f"clip {done}: ") == 1, done


def test_a_segment_that_hangs_is_cut_off_alone(tmp_path):
    """A segment whose decoder never returns (a test-only hook keyed by the segment's
    id): after shards.clip_timeout_s that segment alone is cut off and reported; the
    video's other segments, before and after it, are done once and kept."""
    from .conftest import femo

    clips = tmp_path / "clips"
    clips.mkdir()
    _small_video(clips, "v.mp4", 60)
    labels = _labels(clips / "labels.csv", "video,start_frame,end_frame,label",
                     "v.mp4,0,20,Positive", "v.mp4,20,40,", "v.mp4,40,60,Negative")  # fmt: skip
    out = tmp_path / "out"
    proc = femo("run", f"dataset.root={clips}", f"dataset.labels={labels}",
                "shards.videos_per_shard=5", "shards.part_clips=1", "launcher.workers=1",
                "shards.clip_timeout_s=20", f"output_root={out}", cwd=tmp_path,
                env={"FEMO_TEST_HANG_ON": "v.mp4@20"}, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]
    rows = _videos_by_segment(run_dir)
    assert {k: r["status"] for k, r in rows.items()} == {
        ("v.mp4", "0"): "no_face", ("v.mp4", "20"): "error", ("v.mp4", "40"): "no_face"}  # fmt: skip
    assert rows["v.mp4", "20"]["message"].startswith("cut off after 20 s (shards.clip_timeout_s)")
    log = (run_dir / "logs" / "shard-00000.log").read_text()
    for done in ("v.mp4@0", "v.mp4@40"):  # kept in part files, never redone
        assert log.count(f"clip {done}: ") == 1, done


# ------------------------------------------------------------------ slow: real models


def _run(tmp: Path, name: str, *args: str) -> Path:
    from .conftest import femo

    out = tmp / name
    proc = femo("run", *args, f"output_root={out}", cwd=tmp, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]
    return run_dir


@pytest.fixture(scope="module")
def long_runs(tmp_path_factory) -> dict[str, Path]:
    """The shared long videos by their segments.csv, and the dev clips they were made
    of, at every_n 1 and 20; at 20 also in 6 shards of 4 segments and every 2 s."""
    root, dev = need(LONG), need(SHARED / "dev-clips")
    tmp = tmp_path_factory.mktemp("long")
    labelled = [f"dataset.root={root}", f"dataset.labels={root / 'segments.csv'}"]
    runs = {}
    for n in (1, 20):
        runs[f"long-{n}"] = _run(tmp, f"long-{n}", *labelled, f"sampling.every_n={n}",
                                 "shards.videos_per_shard=100")  # fmt: skip
        runs[f"dev-{n}"] = _run(tmp, f"dev-{n}", f"dataset.root={dev}",
                                f"dataset.labels={dev / 'labels.csv'}", f"sampling.every_n={n}")  # fmt: skip
    runs["long-20-x6"] = _run(tmp, "long-20-x6", *labelled, "shards.videos_per_shard=4")
    runs["segment_s"] = _run(tmp, "segment_s", f"dataset.root={root}", "dataset.segment_s=2")
    return runs


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
@pytest.mark.parametrize("every_n", [1, 20])
def test_each_segment_gets_its_clips_prediction_and_votes(long_runs, every_n):
    import pandas as pd

    segments = _csv(LONG / "segments.csv")
    long = {
        (r["video"], r["start_frame"]): r
        for r in _csv(long_runs[f"long-{every_n}"] / "report" / "videos.csv")
    }
    dev = {r["video"]: r for r in _csv(long_runs[f"dev-{every_n}"] / "report" / "videos.csv")}
    same = ("predict", "golden", "status", "frames_sampled", "frames_with_face", "Positive",
            "Neutral", "Negative")  # fmt: skip
    assert len(long) == len(segments) == 24
    for seg in segments:
        mine, theirs = long[seg["video"], seg["start_frame"]], dev[seg["source"]]
        assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}, seg
        assert (mine["end_frame"], mine["start_s"]) == (
            seg["end_frame"],
            str(float(seg["start_s"])),
        )
    expected = len(range(0, 98, every_n))  # the first segment: frames 0-97
    assert long["debate-0.mp4", "0"]["frames_sampled"] == str(expected)
    # Every face's scores too, frame by frame (a segment's frames count from its start).
    rows = {}
    for name in (f"long-{every_n}", f"dev-{every_n}"):
        table = pd.concat(
            pd.read_parquet(p) for p in sorted((long_runs[name] / "shards").glob("*.parquet"))
        )
        rows[name] = table[table["kind"] == "frame"]
    start = {
        f"{s['video']}@{s['start_frame']}": (s["source"], int(s["start_frame"])) for s in segments
    }
    mine = rows[f"long-{every_n}"].copy()
    mine["frame"] -= mine["video"].map(lambda v: start[v][1])
    mine["video"] = mine["video"].map(lambda v: start[v][0])
    emotions = [
        "video",
        "frame",
        "face",
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    ]
    key = ["video", "frame", "face"]
    a = mine[emotions].sort_values(key).reset_index(drop=True)
    b = rows[f"dev-{every_n}"][emotions].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_six_shards_of_four_segments_give_the_one_shard_result(long_runs):
    x6 = long_runs["long-20-x6"]
    assert sorted(p.name for p in (x6 / "shards").glob("*.parquet")) == [
        f"shard-{k:05d}.parquet" for k in range(6)
    ]
    plan = _csv(x6 / "clips.csv")
    assert [r["shard"] for r in plan] == [str(k // 4) for k in range(24)]
    one = long_runs["long-20"]
    assert len(list((one / "shards").glob("*.parquet"))) == 1
    assert (x6 / "report" / "videos.csv").read_bytes() == (
        one / "report" / "videos.csv"
    ).read_bytes()


@pytest.mark.slow
def test_segment_s_gives_one_row_per_two_seconds(long_runs):
    rows = _csv(long_runs["segment_s"] / "report" / "videos.csv")
    # 1233 frames at 25 fps = 24 segments of 50 frames and one of 33; 1298 = 25 x 50 + 48.
    assert len(rows) == 25 + 26
    for video, n, last in (("debate-0.mp4", 25, 1233), ("debate-1.mp4", 26, 1298)):
        mine = [r for r in rows if r["video"] == video]
        assert [int(r["start_frame"]) for r in mine] == [50 * k for k in range(n)]
        assert [float(r["start_s"]) for r in mine] == [2.0 * k for k in range(n)]
        assert int(mine[-1]["end_frame"]) == last
        assert [int(r["frames_sampled"]) for r in mine] == [3] * (n - 1) + [
            len(range(0, last - 50 * (n - 1), 20))
        ]


# ------------------------------------------------------------------ the report over time


def test_timelines_list_each_videos_segments_in_time_order():
    import pandas as pd

    from femo.config import MappingConfig
    from femo.results.analysis import segment_timelines
    from femo.results.metrics import Metrics
    from femo.results.model import ClipResult
    from femo.results.pages.over_time import clock, over_time_markdown

    def result(video, predict, golden, status="ok"):
        return ClipResult(video, predict, golden, status, 1, 1, {})

    spans = {"b.mp4@50": Segment("b.mp4", 50, 100, 2.0, 4.0),
             "b.mp4@0": Segment("b.mp4", 0, 50, 0.0, 2.0),
             "a.mp4@0": Segment("a.mp4", 0, 25, 0.0, 1.0)}  # fmt: skip
    results = [result("a.mp4@0", "Neutral", None), result("b.mp4@50", None, "Positive", "no_face"),
               result("b.mp4@0", "Negative", "Negative"), result("c.jpg", "Positive", None)]  # fmt: skip
    no_frames = pd.DataFrame({"video": [], "frame": [], "emotion": []})
    timelines = segment_timelines(results, spans, no_frames, MappingConfig())
    assert [t.video for t in timelines] == ["a.mp4", "b.mp4"]
    assert [(s.start_frame, s.predict, s.golden) for s in timelines[1].segments] == [
        (0, "Negative", "Negative"), (50, None, "Positive")]  # fmt: skip
    assert clock(62.5) == "1:02.50" and clock(None) == "–"
    metrics = Metrics.of(accuracy=None, macro_f1=None, n_videos=4, n_labelled=2,
                         over_time=[t.to_json() for t in timelines])  # fmt: skip
    assert over_time_markdown(metrics)[-4:] == [
        "| time | frames | predicted | golden | status |",
        "|---|---|---|---|---|",
        "| 0:00.00–0:02.00 | 0–50 | Negative | Negative | ok |",
        "| 0:02.00–0:04.00 | 50–100 | – | Positive | no_face |",
    ]
    assert over_time_markdown(Metrics.of(accuracy=None, macro_f1=None, n_videos=0,
                                         n_labelled=0)) == []  # fmt: skip


@pytest.mark.slow
def test_segment_s_gives_a_timeline_per_video(long_runs):
    import json

    report = long_runs["segment_s"] / "report"
    timelines = json.loads((report / "metrics.json").read_text())["over_time"]
    assert [(t["video"], len(t["segments"])) for t in timelines] == [
        ("debate-0.mp4", 25), ("debate-1.mp4", 26)]  # fmt: skip
    rows = _csv(report / "videos.csv")
    assert [s["predict"] or "" for t in timelines for s in t["segments"]] == [
        r["predict"] for r in rows
    ]
    markdown = (report / "report.md").read_text()
    assert "### debate-0.mp4 (25 segments)" in markdown
    assert "| 0:48.00–0:49.32 | 1200–1233 | " in markdown
    assert "![debate-0.mp4 over time](over-time/debate-0.mp4.png)" in markdown
    assert (report / "over-time" / "debate-1.mp4.png").read_bytes()[:4] == b"\x89PNG"
    page = (report / "index.html").read_text()
    assert 'id="over-time"' in page and 'alt="debate-1.mp4 over time"' in page
    assert "no golden lane: this run has no labels" in page


@pytest.mark.slow
def test_a_segments_sheet_shows_its_own_frames(long_runs):
    from femo.results.run import open_run
    from femo.results.sheets.show import find_clip, make_sheet

    run = open_run(long_runs["long-20"])
    clip = find_clip(run.plan, "debate-0.mp4@980", run.path)
    sheet = make_sheet(run, clip)
    # Segment [980, 1105) every 20th frame: 980, 1000, ..., 1100, at 25 fps.
    assert [t["frame"] for t in sheet.layout["tiles"]] == list(range(980, 1105, 20))
    assert sheet.layout["tiles"][0]["time_s"] == 39.2
    assert sheet.layout["title"][0] == "debate-0.mp4@980"


def test_the_page_shows_each_video_as_its_timeline():
    """Issue 37: a figure per video, no longer bars of blocks as wide as their share."""
    from femo.results.pages.html_page import render_index_html
    from tests.builders import as_report, build_report_input

    metrics, clips = build_report_input()
    rows = [{"start_frame": 0, "end_frame": 30, "start_s": 0.0, "end_s": 1.2, "predict": "Positive",
             "golden": None, "status": "ok"},
            {"start_frame": 30, "end_frame": 120, "start_s": 1.2, "end_s": 4.8, "predict": None,
             "golden": "Negative", "status": "no_face"}]  # fmt: skip
    metrics["over_time"] = [{"video": "<debate>.mp4", "segments": rows}]
    page = render_index_html(as_report(metrics, clips))
    assert '<a href="#over-time">Over time</a>' in page
    section = page.split('id="over-time"')[1].split("<h2")[0]
    assert "<h3>&lt;debate&gt;.mp4 (2 segments)</h3><figure><img " in section
    assert 'alt="&lt;debate&gt;.mp4 over time"' in section
    assert "width:" not in section
    del metrics["over_time"]
    assert "over-time" not in render_index_html(as_report(metrics, clips))


def test_resume_redoes_only_the_segments_of_a_lost_shard(tmp_path):
    """A segmented run whose second shard is lost: resume reads the plan's segments back
    from clips.csv and extracts that shard's segment alone, to the same report."""
    from .conftest import femo

    clips = tmp_path / "clips"
    clips.mkdir()
    _small_video(clips, "v.mp4", 60)
    out = tmp_path / "out"
    proc = femo("run", f"dataset.root={clips}", "dataset.segment_frames=20",
                "shards.videos_per_shard=2", f"output_root={out}", cwd=tmp_path, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]
    before = (run_dir / "report" / "videos.csv").read_text()
    assert [line.split(",")[:3] for line in before.splitlines()[1:]] == [
        ["v.mp4", "0", "20"], ["v.mp4", "20", "40"], ["v.mp4", "40", "60"]]  # fmt: skip
    (run_dir / "shards" / "shard-00001.parquet").unlink()
    (run_dir / "logs" / "shard-00001.log").unlink()
    proc = femo("run", f"resume={run_dir}", cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "report" / "videos.csv").read_text() == before
    log = (run_dir / "logs" / "shard-00001.log").read_text()
    assert "clip v.mp4@40: " in log and "clip v.mp4@0: " not in log
