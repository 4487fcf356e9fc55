"""What reading long videos in segments costs against reading each video once (issue 27).

Usage: python scripts/segment_decode_cost.py [ROOT [LABELS]] [--every-n N] [--repeats R]
(default: ../shared/data/long-videos and its segments.csv, every_n 1 and 20, 3 repeats).

For each way of cutting the videos (the labels' segments, dataset.segment_s=2) and each
shard size, every shard's segments are decoded as a task decodes them (consecutive
segments of one file by one reader, seeking only where a segment does not start at the
next frame), and the summed decode time is compared with decoding each whole video
once at the same sampling. "alone" reads every segment with its own reader (a seek
each), the worst case. Prints the best of ``repeats`` timings in CPU seconds of this
process (decoder threads included: less noisy than wall time on a shared machine), and
the CPU time spent in seeks. Compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from femo.config import DatasetConfig, SamplingConfig
from femo.dataset import Clip, discover_clips
from femo.node.video import ClipInfo, VideoReader, probe, sampled_frames
from femo.rundir import assign_shards
from femo.segments import plan_segments

HERE = Path(__file__).resolve().parents[1]
DEFAULT = HERE.parent / "shared" / "data" / "long-videos"


class TimedReader(VideoReader):
    """A reader that adds up the seconds its seeks take."""

    seek_seconds = 0.0

    def seek(self, frame: int) -> None:
        t0 = time.process_time()
        try:
            super().seek(frame)
        finally:
            TimedReader.seek_seconds += time.process_time() - t0


def decode(root: Path, groups: list[list[Clip]], sampling: SamplingConfig) -> float:
    """CPU seconds to decode ``groups`` (each group read by one reader)."""
    t0 = time.process_time()
    for group in groups:
        reader = TimedReader(str(root / group[0].file))
        for clip in group:
            for _ in sampled_frames(str(root / clip.file), clip.kind, sampling, ClipInfo(),
                                    clip.segment, reader):  # fmt: skip
                pass
        reader.close()
    return time.process_time() - t0


def task_groups(clips: list[Clip], per_shard: int) -> list[list[Clip]]:
    """The readers a run's tasks use: per shard, consecutive clips of one file."""
    return [
        list(run)
        for shard in assign_shards(clips, per_shard)
        for _, run in itertools.groupby(shard, key=lambda c: c.file)
    ]


def best(root: Path, groups: list[list[Clip]], sampling: SamplingConfig, repeats: int):
    times, seeks = [], []
    for _ in range(repeats):
        TimedReader.seek_seconds = 0.0
        times.append(decode(root, groups, sampling))
        seeks.append(TimedReader.seek_seconds)
    k = min(range(repeats), key=times.__getitem__)
    return times[k], seeks[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(DEFAULT))
    parser.add_argument("labels", nargs="?", default=None)
    parser.add_argument("--every-n", type=int, action="append")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(args.root)
    labels = args.labels or str(root / "segments.csv")
    whole = discover_clips(DatasetConfig(root=str(root)))
    cuts = {
        "labels": plan_segments(whole, DatasetConfig(root=str(root), labels=labels), probe),
        "segment_s=2": plan_segments(whole, DatasetConfig(root=str(root), segment_s=2), probe),
    }
    for every_n in args.every_n or [1, 20]:
        sampling = SamplingConfig(every_n=every_n)
        base, _ = best(root, [[c] for c in whole], sampling, args.repeats)
        print(f"every_n={every_n}: each video read once: {base:.3f} CPU s")
        for name, clips in cuts.items():
            for per_shard in (4, 16, len(clips)):
                groups = task_groups(clips, per_shard)
                seconds, seeks = best(root, groups, sampling, args.repeats)
                print(f"  {name:12} {len(clips):3} segments, videos_per_shard={per_shard:<3} "
                      f"({len(groups):2} readers): {seconds:.3f} s = {seconds / base:.3f}x, "
                      f"seeks {seeks:.3f} s")  # fmt: skip
            seconds, seeks = best(root, [[c] for c in clips], sampling, args.repeats)
            print(f"  {name:12} every segment alone: {seconds:.3f} s = {seconds / base:.3f}x, "
                  f"seeks {seeks:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
