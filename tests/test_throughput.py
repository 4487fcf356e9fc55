"""Speed bookkeeping: shard timing metadata, run totals, wall-time estimates, fast mode boxes."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from femo.config import HaarConfig
from femo.dataset import Clip
from femo.node.detectors import Detector, Face
from femo.node.extract import shard_timing
from femo.node.units import ClipEnd, Tagged, detector_calls
from femo.node.video import ClipInfo, Frame
from femo.results.throughput import read_throughput, throughput_lines, wall_time_estimate
from femo.task import ShardResult


def test_wall_time_estimate_takes_the_fullest_task():
    est = wall_time_estimate(seconds_per_clip=2.0, startup_s=10.0, clips=2826, tasks=16)
    assert est["clips_per_task"] == 177  # ceil(2826 / 16)
    assert est["wall_s"] == pytest.approx(10 + 177 * 2.0)
    assert est["wall_h"] == pytest.approx((10 + 354) / 3600, abs=1e-3)
    assert wall_time_estimate(1.0, 0.0, clips=3, tasks=16)["clips_per_task"] == 1
    with pytest.raises(ValueError):
        wall_time_estimate(1.0, 0.0, clips=0, tasks=1)


def test_shard_timing_leaves_model_loading_out_of_the_rates():
    result = ShardResult(
        index=0,
        path="x",
        clips=4,
        clips_failed=0,
        frames_sampled=100,
        seconds=12.0,
        startup_seconds=2.0,
        timing={"decode": 1.0, "detect": 10.0, "classify": 0.5},
    )
    timing = shard_timing(result, n_clips=4)
    assert timing["frames_per_s"] == 10.0  # 100 frames in 12 - 2 seconds
    assert timing["clips_per_hour"] == 1440.0
    assert timing["stage_frames_per_s"] == {"decode": 100.0, "detect": 10.0, "classify": 200.0}


def _shard_with_timing(path, n_clips: int, timing: dict, device: str = "CPU (2 threads)"):
    meta = {
        b"femo.n_clips": str(n_clips).encode(),
        b"femo.timing": json.dumps(timing).encode(),
        b"femo.device": device.encode(),
    }
    table = pa.table({"video": ["a"]}).replace_schema_metadata(meta)
    pq.write_table(table, path)
    return path


def test_read_throughput_adds_up_shards(tmp_path):
    a = _shard_with_timing(
        tmp_path / "a.parquet",
        2,
        {
            "seconds": 13.0,
            "startup_seconds": 3.0,
            "frames_sampled": 40,
            "stage_seconds": {"decode": 1.0, "detect": 8.0},
        },
    )
    b = _shard_with_timing(
        tmp_path / "b.parquet",
        2,
        {
            "seconds": 11.0,
            "startup_seconds": 1.0,
            "frames_sampled": 60,
            "stage_seconds": {"decode": 1.0, "detect": 12.0},
        },
    )
    total = read_throughput([a, b])
    assert (total.shards, total.clips, total.frames_sampled) == (2, 4, 100)
    assert total.seconds == pytest.approx(20.0)
    assert total.frames_per_s == pytest.approx(5.0)
    assert total.seconds_per_clip == pytest.approx(5.0)
    assert total.clips_per_hour == pytest.approx(720.0)
    assert total.stage_frames_per_s() == {"decode": 50.0, "detect": 5.0}
    lines = throughput_lines(total, clips=2826, tasks=16)
    assert lines[0].startswith("speed:  5.0 sampled frames/s and 720 clips/hour per task")
    # 2 s mean model loading + 177 clips * 5 s = 887 s
    assert lines[2] == (
        "estimate: 2826 clips on 16 array task(s) at that speed: "
        "14.8 min of wall time (model loading 2 s per task included), not counting queueing"
    )


def test_model_loading_counts_once_per_task_even_when_a_local_worker_paid_it_once(tmp_path):
    timing = {"seconds": 30.0, "frames_sampled": 50, "stage_seconds": {}}
    first = _shard_with_timing(tmp_path / "a.parquet", 5, {**timing, "startup_seconds": 20.0})
    later = [
        _shard_with_timing(tmp_path / f"{k}.parquet", 5, {**timing, "startup_seconds": 0.0})
        for k in range(3)
    ]
    total = read_throughput([first, *later])
    # one worker loaded the models once for 4 shards; each array task would load them
    assert total.startup_per_task == pytest.approx(20.0)
    # (30 - 20 + 3 * 30) s over 20 clips = 5 s per clip; 20 s + 10 clips * 5 s = 70 s
    assert throughput_lines(total, clips=20, tasks=2)[2] == (
        "estimate: 20 clips on 2 array task(s) at that speed: 70 s of wall time "
        "(model loading 20 s per task included), not counting queueing"
    )


def test_throughput_lines_are_empty_without_measurements(tmp_path):
    assert throughput_lines(read_throughput([]), clips=10, tasks=2) == []


def _frame(i: int) -> Frame:
    return Frame(i, None, np.zeros((2, 2, 3), np.uint8))


def test_units_group_frames_per_clip_and_never_across_clips():
    a, b = Clip("a.mp4", "video"), Clip("b.mp4", "video")
    stream = [
        *[Tagged(a, _frame(i)) for i in range(5)],
        ClipEnd(a, ClipInfo(), None, 5),
        Tagged(b, _frame(0)),
        ClipEnd(b, ClipInfo(), None, 1),
    ]
    units = list(detector_calls(stream, frames_per_call=2))
    shape = [(u.clip.video, len(u.frames), u.end is not None) for u in units]
    assert shape == [
        ("a.mp4", 2, False),
        ("a.mp4", 2, False),
        ("a.mp4", 1, False),
        ("a.mp4", 0, True),
        ("b.mp4", 1, False),
        ("b.mp4", 0, True),
    ]


class _RecordingDetector(Detector):
    """Finds one face at a fixed place in whatever image it is given."""

    name = "recording"

    def __init__(self, config):
        super().__init__(config)
        self.seen: list[tuple[int, int]] = []

    def _detect(self, frames_bgr, grays):
        out = []
        for gray in grays:
            self.seen.append(gray.shape[:2])
            out.append([Face(10, 20, 30, 31, 0.9)])
        return out


def test_downscale_detects_on_the_small_frame_and_maps_boxes_back():
    gray = np.zeros((336, 596), np.uint8)
    parity = _RecordingDetector(HaarConfig())
    assert parity.detect([gray], [gray]) == [[Face(10, 20, 30, 31, 0.9)]]
    assert parity.seen == [(336, 596)]
    fast = _RecordingDetector(HaarConfig(downscale=2))
    assert fast.detect([gray], [gray]) == [[Face(20, 40, 60, 62, 0.9)]]
    assert fast.seen == [(168, 298)]
    assert fast.scaled_min(50) == 25
