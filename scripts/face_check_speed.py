"""The blazeface preset's speed with its face check against without, passes alternated.

Usage: python scripts/face_check_speed.py [--data ../shared/data] [--rounds 5]
       [--every 1] [--clip fer-samples/woman2.mp4 ...]

Each clip is extracted as one shard (``run_shard``, femo's own path, default onnx
classifier) with the ``blazeface`` preset (``detector.verify=mesh``) and with
``detector.verify=none`` (the preset as it was), alternating A, B, A, B... for
``--rounds`` rounds in one process (both extractors loaded first), so that a noisy
neighbour weighs on both alike. Prints each pass's frames per second and the median of
the per-round ratios (with / without). ``femo bench`` times one pass of each, one after
the other, which on a shared machine can differ by 30 % either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from femo.bench.cases import detector_preset
from femo.config import ExtractConfig, SamplingConfig
from femo.dataset import Clip
from femo.node.engine import get_extractor
from femo.node.extract import run_shard
from femo.task import ShardTask


def task(extract: ExtractConfig, root: Path, video: str, out: str) -> ShardTask:
    return ShardTask(run_dir=out, index=0, dataset_root=str(root),
                     clips=(Clip(video, "video"),), extract=extract)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FEMO_SHARED_DATA", default_data))
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument(
        "--clip",
        nargs="*",
        default=["fer-samples/woman2.mp4", "fr-samples/clips/short_hamilton_clip.mp4"],
    )
    args = parser.parse_args()
    preset = detector_preset("blazeface")
    sampling = SamplingConfig(every_n=args.every)
    configs = {
        "with": ExtractConfig(detector=preset, sampling=sampling),
        "without": ExtractConfig(detector=replace(preset, verify="none"), sampling=sampling),
    }
    for config in configs.values():
        get_extractor(config)
    for clip in args.clip:
        path = args.data / clip
        speeds: dict[str, list[float]] = {name: [] for name in configs}
        with tempfile.TemporaryDirectory() as out:
            for _ in range(args.rounds):
                for name, config in configs.items():
                    result = run_shard(task(config, path.parent, path.name, out))
                    speeds[name].append(result.frames_sampled / result.seconds)
        ratios = [a / b for a, b in zip(speeds["with"], speeds["without"], strict=True)]
        print(f"{clip}, every {args.every}: frames/s with the check "
              f"{[round(s, 1) for s in speeds['with']]}, without "
              f"{[round(s, 1) for s in speeds['without']]}; with / without, median of "
              f"{args.rounds} rounds: {statistics.median(ratios):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
