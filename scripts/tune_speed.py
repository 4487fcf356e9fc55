#!/usr/bin/env python3
"""Time femo fit --tune's training: seconds per 1,000 faces per epoch, and peak memory.

    python scripts/tune_speed.py RUN_DIR [--epochs 6] [--rate 3e-4] [overrides ...]

Re-reads the run's labelled faces as ``femo fit --tune`` does, trains the adapted network
(fer's, with its new softmax) on all of them for ``--epochs`` epochs, and prints each
epoch's seconds, the rate per 1,000 faces per epoch over the epochs after the first
(the first also builds the step functions, and is given apart), the time to predict
every face once, the process's peak resident memory and the load average. Nothing is
written. docs/speed.md keeps its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from femo.results.fit.clips import gather_clips
from femo.results.shard_rows import FRAME_COLUMNS
from femo.tune import network
from femo.tune.faces import read_faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rate", type=float, default=3e-4)
    args = parser.parse_args()
    clips = gather_clips([args.run_dir], args.overrides, frame_columns=(*FRAME_COLUMNS, "x", "y"))
    faces = read_faces(clips, print)
    index = {c: i for i, c in enumerate(clips.classes)}
    y = [index[clips.golden[c]] for c in faces.clip]
    clock: list[tuple[int, float, int]] = []
    import numpy as np

    started = time.perf_counter()
    model = network.train(
        faces.crops, np.array(y), len(clips.classes), network.Recipe(args.rate, args.epochs),
        clock=clock,
    )  # fmt: skip
    train_seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    network.predictor_of(model)(faces.crops)
    later = [(s, n) for e, s, n in clock if e > 1]
    print(json.dumps({
        "faces": len(faces),
        "epochs": [round(s, 2) for _, s, _ in clock],
        "first_epoch_s": round(clock[0][1], 2),
        "s_per_1000_faces_per_epoch": round(1000 * sum(s for s, _ in later) / sum(n for _, n in later), 3),
        "train_s_with_building": round(train_seconds, 1),
        "predict_all_s": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
