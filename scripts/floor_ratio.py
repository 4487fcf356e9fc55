#!/usr/bin/env python3
"""femo against its floor, side by side, at 1 process and at N processes (issue 29).

    python scripts/floor_ratio.py [--data ../shared/data] [--clips 12] [--every 1]
                                  [--processes 1,2] [--rounds 3] [--no-threaded] [--out FILE]

The floor is decode -> BlazeFace -> fer's classifier on ONNX Runtime, one thread, one
loop, nothing else (:mod:`femo.bench.floor`); femo is the same clips through watched
workers (``run_shard``, part files, journal, Parquet), one thread each. At each process
count P, P floor processes and then P femo workers start together, each over the same
dev clips, every ``--every``-th frame; this alternates ``--rounds`` times, so a change
in the machine's load falls on both. femo's ratio is the median of the rounds' ratios
(femo over the floor measured just before it); ``--together`` runs both at once, for a
machine whose load moves faster than a round. With threads, one femo worker with P threads is measured too (the other way
to use P cores). Target (issue 29): femo >= 0.85 of the floor at 1 and at 2 processes.

About 2 minutes (estimated) on a quiet 2-core machine with the defaults, 4-8 minutes at
a load of 12-14; the load average before and after is printed, since a shared machine
moves every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from femo.bench.floor import FloorSpec, compare_layouts  # noqa: E402

TARGET = 0.85


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument(
        "--media",
        default="dev-clips",
        choices=["dev-clips", "woman2"],
        help="dev-clips (256x256, 91-128 frames each) or woman2 (596x336, 464 frames)",
    )
    parser.add_argument("--clips", type=int, default=12, help="dev clips per process")
    parser.add_argument("--every", type=int, default=1, help="every n-th frame")
    parser.add_argument("--processes", default="1,2", help="process counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--detector", default="blazeface")
    parser.add_argument("--no-threaded", action="store_true", help="skip 1 worker x P threads")
    parser.add_argument(
        "--together",
        action="store_true",
        help="run the floor and femo at the same time (a loaded, shared machine)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    if args.media == "woman2":
        root, videos = args.data / "fer-samples", ("woman2.mp4",)
        videos = videos if (root / videos[0]).is_file() else ()
    else:
        root = args.data / "dev-clips"
        videos = tuple(sorted(p.name for p in root.glob("*.mp4")))[: args.clips]
    if not videos:
        print(f"floor_ratio: no clips in {root} (use --data)", file=sys.stderr)
        return 2
    spec = FloorSpec(str(root), videos, args.detector, args.every)
    processes = [int(p) for p in args.processes.split(",")]
    started, load = time.perf_counter(), os.getloadavg()
    print(f"floor_ratio: {len(videos)} {args.media} clip(s) per process, every {args.every}, "
          f"{args.detector} + ONNX, {os.cpu_count()} CPUs, load {load[0]:.1f}"
          f"{', floor and femo together' if args.together else ''}")  # fmt: skip
    points = compare_layouts(
        spec, processes, args.rounds, threaded=not args.no_threaded, together=args.together
    )
    print(f"\n{'P':>3} {'floor':>9} {'femo':>9} {'femo/floor':>10} {'of medians':>10} "
          f"{'rounds':>20} {'1 x P threads':>13} {'RSS MB':>13}")  # fmt: skip
    for p in points:
        rounds = " ".join(f"{r:.2f}" for r in p.round_ratios)
        threaded = f"{p.median_fps('threaded'):.1f}" if p.threaded else "-"
        rss = (
            f"{max(r.peak_rss_mb for r in p.floor):.0f} / {max(r.peak_rss_mb for r in p.femo):.0f}"
        )
        print(f"{p.processes:>3} {p.median_fps('floor'):>9.1f} {p.median_fps('femo'):>9.1f} "
              f"{p.paired_ratio:>10.2f} {p.ratio:>10.2f} {rounds:>20} {threaded:>13} "
              f"{rss:>13}")  # fmt: skip
    end_load = os.getloadavg()[0]
    print(
        "\nP: processes started together, each over the same clips. floor, femo: median "
        "frames/s of all P processes (frames over the longest process's working time, "
        "model loading left out). femo/floor: the median of the rounds' ratios, each femo "
        f"over the floor measured just before it (target >= {TARGET}); of medians: femo's "
        "median over the floor's; rounds: each round's ratio. 1 x P threads: one femo "
        "worker with P "
        "threads. RSS MB: peak resident memory of one floor process / one femo worker."
    )
    print(f"load average {load[0]:.1f} before, {end_load:.1f} after; "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"spec": asdict(spec), "load": [load[0], end_load],
                                        "together": args.together,
                                        "points": [asdict(p) for p in points]}, indent=1))  # fmt: skip
    return 0 if all(p.paired_ratio >= TARGET for p in points) else 1


if __name__ == "__main__":
    raise SystemExit(main())
