#!/usr/bin/env python3
"""What every 20th frame costs per sampled frame, floor and femo, one process (issue 29).

    python scripts/floor_every20.py [--data ../shared/data] [--rounds 3]

On 12 dev clips (256x256) and on woman2 (596x336) played 3 times, alternating in each
round: the floor at every frame, the floor at every 20th, femo (1 worker, 1 thread) at
every 20th. Prints each round's frames/s and the ratios the projection in
docs/speed.md stands on, and femo's startup and working seconds. About 1 minute on a quiet 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from femo.bench.floor import FloorSpec, measure_femo, measure_floor  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dev = args.data / "dev-clips"
    sets = {
        "dev-clips": (dev, tuple(sorted(p.name for p in dev.glob("*.mp4")))[:12]),
        "woman2": (args.data / "fer-samples", ("woman2.mp4",) * 3),
    }
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name, (root, videos) in sets.items():
        every1, every20, femo = [], [], []
        for _ in range(args.rounds):
            every1.append(measure_floor(FloorSpec(str(root), videos, "blazeface", 1), 1))
            every20.append(measure_floor(FloorSpec(str(root), videos, "blazeface", 20), 1))
            femo.append(measure_femo(FloorSpec(str(root), videos, "blazeface", 20), 1))
        fps = {k: [r.frames_per_s for r in v] for k, v in
               {"floor 1": every1, "floor 20": every20, "femo 20": femo}.items()}  # fmt: skip
        cost = [b / a for a, b in zip(fps["floor 1"], fps["floor 20"], strict=True)]
        ratio = [b / a for a, b in zip(fps["floor 20"], fps["femo 20"], strict=True)]
        print(f"{name}: " + "; ".join(f"{k} {', '.join(f'{x:.0f}' for x in v)} frames/s"
                                      for k, v in fps.items()))  # fmt: skip
        print(f"  floor every 20 / every 1: {', '.join(f'{x:.3f}' for x in cost)} "
              f"(median {statistics.median(cost):.3f}); femo / floor at every 20: "
              f"{', '.join(f'{x:.2f}' for x in ratio)} (median {statistics.median(ratio):.2f})")  # fmt: skip
        print("  femo's startup (models and first-use imports) + work = total, s: "
              + ", ".join(f"{r.startup_s:.2f} + {r.seconds:.2f} = {r.startup_s + r.seconds:.2f}"
                          for r in femo))  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
