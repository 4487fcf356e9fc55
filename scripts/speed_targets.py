#!/usr/bin/env python3
"""The speed targets of issues 18 and 20, measured back to back, with their ratios.

    python scripts/speed_targets.py [--data ../shared/data] [--out DIR] [--skip-bench]

(a) ``femo bench`` on woman2 at every frame: ``detector=blazeface`` against Haar parity
    (target: >= 3x), one bench run;
(b) ``femo run`` over 3 copies of woman2 (symlinks in a temporary folder), every frame:
    blazeface against Haar (target: <= 40 % of Haar's wall time);
(c) ``femo run detector=blazeface classifier.backend=onnx`` against ``fer.Video.analyze``
    over the same clips, whole processes (target: <= 1/8 of fer's time), and femo's
    extraction rate from the shard's metadata (target: >= 239 frames/s, half the 478 of
    issue 20's sketch on the 2-core machine);
(d) blazeface with onnx against keras, whole ``femo run`` (target: onnx faster).

Each ``femo run`` and fer's run is a whole process timed from outside (startup, model
loading and the report included). The figures move with the machine's load: the script
prints the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

COPIES = 3
FER_SCRIPT = """
import os, sys, tempfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from fer import FER, Video
detector = FER()
with tempfile.TemporaryDirectory() as out:
    for path in sys.argv[1:]:
        Video(path, outdir=out).analyze(detector, display=False, frequency=1,
            save_frames=False, save_video=False, annotate_frames=False, zip_images=False)
"""


def timed(command: list[str], cwd: Path) -> float:
    """Wall seconds of ``command`` as a whole process; raises where it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {proc.stderr[-2000:]}")
    return seconds


def femo_run(clips: Path, out: Path, name: str, *overrides: str) -> dict:
    """One whole ``femo run`` over ``clips`` at every frame: wall time and shard timing."""
    runs = out / name
    command = [sys.executable, "-m", "femo", "run", f"dataset.root={clips}",
               "sampling.every_n=1", f"output_root={runs}", *overrides]  # fmt: skip
    seconds = timed(command, out)
    timing = {"seconds": 0.0, "frames_sampled": 0}
    for shard in sorted(runs.glob("*/*/shards/*.parquet")):
        meta = json.loads(pq.read_schema(shard).metadata[b"femo.timing"])
        timing["seconds"] = max(timing["seconds"], meta["seconds"])
        timing["frames_sampled"] += meta["frames_sampled"]
        timing.setdefault("stage_seconds", meta["stage_seconds"])
    timing["wall_s"] = seconds
    timing["frames_per_s"] = timing["frames_sampled"] / max(timing["seconds"], 1e-9)
    timing["command"] = "femo run dataset.root=DIR sampling.every_n=1 " + " ".join(overrides)
    return timing


def bench_ratio(data: Path, out: Path) -> dict:
    """(a): one ``femo bench`` run, blazeface over Haar parity on woman2, every frame."""
    args = ["--data", str(data), "--media", "woman2", "--detectors", "haar,blazeface",
            "--every", "1", "--no-fast", "--backends", "keras", "--no-demo",
            "--long-clip-minutes", "0", "--out-dir", str(out / "bench")]  # fmt: skip
    timed([sys.executable, "-m", "femo", "bench", *args], out)
    rows = json.loads((out / "bench" / "bench.json").read_text())["results"]
    by = {r["detector"]: r["femo"][0]["frames_per_s"] for r in rows}
    return {
        "haar_frames_per_s": by["haar"],
        "blazeface_frames_per_s": by["blazeface"],
        "ratio": by["blazeface"] / by["haar"],
        "command": "femo bench " + " ".join(args[2:-2]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FEMO_SHARED_DATA", default_data))
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for the runs (temporary)")
    parser.add_argument("--skip-bench", action="store_true", help="skip (a), femo bench")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    woman2 = (args.data / "fer-samples" / "woman2.mp4").resolve()
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        out = Path(tmp)
        clips = out / "clips"
        clips.mkdir()
        for i in range(COPIES):
            (clips / f"woman2_{i + 1}.mp4").symlink_to(woman2)
        print(f"load average before: {os.getloadavg()}", flush=True)
        figures: dict = {}
        if not args.skip_bench:
            a = figures["a"] = bench_ratio(args.data, out)
            print(f"(a) femo bench, woman2, every frame: blazeface "
                  f"{a['blazeface_frames_per_s']:.1f} frames/s, Haar parity "
                  f"{a['haar_frames_per_s']:.1f}: {a['ratio']:.2f}x (target >= 3x)",
                  flush=True)  # fmt: skip
        haar = figures["haar"] = femo_run(clips, out, "haar")
        keras = figures["blazeface_keras"] = femo_run(clips, out, "bk", "detector=blazeface")
        onnx = figures["blazeface_onnx"] = femo_run(
            clips, out, "bo", "detector=blazeface", "classifier.backend=onnx"
        )
        fer = figures["fer_s"] = timed(
            [sys.executable, "-c", FER_SCRIPT, *(str(p) for p in sorted(clips.iterdir()))], out
        )
        print(f"load average after: {os.getloadavg()}")
        for name, run in (("haar", haar), ("blazeface keras", keras), ("blazeface onnx", onnx)):
            print(f"femo run {name}: {run['wall_s']:.1f} s wall, extraction "
                  f"{run['frames_per_s']:.0f} frames/s ({run['frames_sampled']} frames), "
                  f"stages {run['stage_seconds']}")  # fmt: skip
        print(f"fer.Video.analyze: {fer:.1f} s wall")
        print(f"(b) blazeface / Haar, whole femo run: {keras['wall_s'] / haar['wall_s']:.1%}"
              f" (target <= 40 %)")  # fmt: skip
        print(f"(c) blazeface+onnx / fer, whole processes: 1/{fer / onnx['wall_s']:.1f}"
              f" (target <= 1/8); femo's extraction {onnx['frames_per_s']:.0f} frames/s"
              f" (target >= 239)")  # fmt: skip
        print(f"(d) blazeface onnx / keras, whole femo run: {onnx['wall_s'] / keras['wall_s']:.2f}"
              f" (target < 1)")  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
