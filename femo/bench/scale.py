"""``python -m femo.bench.scale``: the reduce side at scale, on synthetic or copied shards.

Makes a run folder with N clips (plan, labels with a person column, Parquet shards of
``--per-shard`` clips, each clip ``--frames`` sampled frames with one face in most of
them and seeded random scores), or, with ``--from-run RUN``, copies a real run's shard
files (its footers and rows as femo wrote them) until N clips, each copy's clips and
persons renamed; then times ``femo status`` and ``femo reduce`` on it, each in a fresh
process pinned to one core (``taskset -c 0`` where available), and reports wall time and
peak memory. ``--baseline SRC`` times a second femo checkout (its source folder, put
first on PYTHONPATH) on the same folder, alternating with this one, ``--rounds`` times.
No video is decoded: this measures what happens after the array jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..config import EMOTIONS, RunConfig, to_dict
from ..dataset import Clip
from ..rundir import RunDir, make_plan
from ..shard_files import SCHEMA, encode_metadata, write_table

CLASSES = ("Positive", "Neutral", "Negative")


def _shard_table(videos: list[str], frames: int, rng: np.random.Generator) -> pa.Table:
    """Frame rows (a face in 90 % of frames, random scores) then one clip row per clip."""
    n_clips, n = len(videos), len(videos) * frames
    face = rng.random(n) < 0.9
    scores = rng.dirichlet(np.full(len(EMOTIONS), 0.6), size=n).astype(np.float32)
    is_clip = np.r_[np.zeros(n, bool), np.ones(n_clips, bool)]
    no_face = np.r_[~face, np.ones(n_clips, bool)]

    def column(frame_values: Any, clip_values: Any, mask: np.ndarray | None = None) -> np.ndarray:
        values = np.concatenate([np.asarray(frame_values), np.asarray(clip_values)])
        return values if mask is None else np.ma.masked_array(values, mask)

    frame_index = np.tile(np.arange(frames) * 20, n_clips)
    data = {
        "video": column(np.repeat(videos, frames), videos),
        "kind": column(["frame"] * n, ["clip"] * n_clips),
        "frame": column(frame_index, np.zeros(n_clips, int), is_clip),
        "time_s": column(frame_index / 25.0, np.zeros(n_clips), is_clip),
        "face": column(np.zeros(n, int), np.zeros(n_clips, int), no_face),
        **{k: column(np.full(n, 10), np.zeros(n_clips, int), no_face) for k in ("x", "y")},
        **{k: column(np.full(n, 80), np.zeros(n_clips, int), no_face) for k in ("w", "h")},
        **{
            e: column(scores[:, i], np.zeros(n_clips, np.float32), no_face)
            for i, e in enumerate(EMOTIONS)
        },
        "status": column([""] * n, ["ok"] * n_clips, ~is_clip),
        "fps": column(np.zeros(n), np.full(n_clips, 25.0), ~is_clip),
        "frames_read": column(np.zeros(n, int), np.full(n_clips, frames * 20), ~is_clip),
        "frames_sampled": column(np.zeros(n, int), np.full(n_clips, frames), ~is_clip),
        "seconds": column(np.zeros(n), np.full(n_clips, 0.5), ~is_clip),
    }
    arrays = {
        f.name: pa.array(data[f.name], type=f.type)
        if f.name in data
        else pa.nulls(n + n_clips, f.type)
        for f in SCHEMA
    }
    return pa.table(arrays, schema=SCHEMA)


def make_run(
    folder: Path, clips: int, per_shard: int, frames: int, persons: int, seed: int = 0
) -> RunDir:
    """A run folder of ``clips`` synthetic clips whose shards are all done."""
    rng = np.random.default_rng(seed)
    videos = [f"p{k % persons:05d}_{k:07d}.mp4" for k in range(clips)]
    plan = make_plan([Clip(v, "video") for v in sorted(videos)], per_shard)
    labels = folder.parent / f"{folder.name}-labels.csv"
    golden = rng.integers(0, len(CLASSES), clips)
    labels.write_text(
        "video,label,person\n"
        + "".join(f"{v},{CLASSES[g]},{v[:6]}\n" for v, g in zip(videos, golden, strict=True)),
        encoding="utf-8",
    )
    config = to_dict(RunConfig())
    config["dataset"].update(root=str(folder.parent), labels=str(labels), group_column="person")
    run = RunDir(folder)
    run.create(plan, config, str(labels))
    timing = json.dumps({"seconds": 60.0, "startup_seconds": 15.0, "frames_sampled": 1})
    for k in range(plan.n_shards):
        shard_videos = [c.video for c in plan.shard_clips(k)]
        table = _shard_table(shard_videos, frames, rng)
        meta = {"n_clips": str(len(shard_videos)), "timing": timing, "femo_version": "bench"}
        write_table(run.shard_file(k), table.replace_schema_metadata(encode_metadata(meta)))
    return run


def copy_run(source: Path, folder: Path, clips: int) -> RunDir:
    """A run folder of ``clips`` clips made of copies of ``source``'s finished shards: copy
    ``c`` renames each clip ``cNNN/<clip>`` and each labels row's persons ``<person>-cNNN``."""
    import csv

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    src = RunDir(source)
    plan, config = src.read_plan(), src.config_dict()
    with open(src.labels_file, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    group = config["dataset"].get("group_column")
    copies = -(-clips // len(plan.clips))
    labels = folder.parent / f"{folder.name}-labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        for c in range(copies):
            for row in rows:
                named = {**row, "video": f"c{c:03d}/{row['video']}"}
                if group:
                    named[group] = f"{row[group]}-c{c:03d}"
                writer.writerow(named)
    clip_list = [Clip(f"c{c:03d}/{k.video}", k.kind) for c in range(copies) for k in plan.clips]
    per_shard = max(len(plan.shard_clips(k)) for k in range(plan.n_shards))
    new_plan = make_plan(clip_list[:clips], per_shard)
    config["dataset"].update(root=str(folder.parent), labels=str(labels))
    run = RunDir(folder)
    run.create(new_plan, config, str(labels))
    tables = [pq.read_table(p) for _, p in sorted(src.finished_shards().items())]
    for c in range(copies):
        for k, table in enumerate(tables):
            index = c * len(tables) + k
            if index >= new_plan.n_shards:
                break
            renamed = pc.binary_join_element_wise(f"c{c:03d}/", table["video"], "")
            column = table.schema.get_field_index("video")
            write_table(run.shard_file(index), table.set_column(column, "video", renamed))
    return run


# Runs a command and prints its peak resident memory (kB) as the last line of stderr:
# RUSAGE_CHILDREN of a process with one child is that child's own peak.
_PEAK = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(rc)"
)


def source_env(source: Path) -> dict[str, str]:
    """The environment that makes ``python -m femo`` run the femo in ``source`` (the
    folder holding its ``femo`` package)."""
    return {**os.environ, "PYTHONPATH": str(source.resolve())}


def _timed(command: list[str], pin: bool, env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Wall time and peak RSS of ``command`` in a fresh process (one core if ``pin``), run
    in ``cwd``: never a checkout's folder, whose own femo ``python -m`` would put first."""
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, *command], capture_output=True, text=True, env=env, cwd=cwd
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {proc.stderr[-2000:]}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_kb / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m femo.bench.scale", description=__doc__)
    parser.add_argument("--clips", type=int, default=3000)
    parser.add_argument("--per-shard", type=int, default=300)
    parser.add_argument("--frames", type=int, default=10, help="sampled frames per clip")
    parser.add_argument("--persons", type=int, default=60)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    parser.add_argument("--from-run", type=Path, default=None, help="copy this run's shards")
    parser.add_argument("--baseline", type=Path, default=None, help="another femo's source")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="femo-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.from_run is not None:
        run = copy_run(args.from_run.resolve(), work / "run", args.clips)
    else:
        run = make_run(work / "run", args.clips, args.per_shard, args.frames, args.persons)
    made = time.perf_counter() - t0
    femo = [sys.executable, "-m", "femo"]
    pin = not args.no_pin
    results: dict[str, Any] = {
        "clips": args.clips,
        "shards": run.read_plan().n_shards,
        "from_run": str(args.from_run) if args.from_run else None,
        "frames_per_clip": None if args.from_run else args.frames,
        "persons": None if args.from_run else args.persons,
        "cpus": "1 (taskset -c 0)" if pin and shutil.which("taskset") else os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "make_s": round(made, 1),
    }
    versions = {"this": source_env(Path(__file__).resolve().parents[2])}
    if args.baseline is not None:
        versions["baseline"] = source_env(args.baseline)
    for _ in range(args.rounds):
        for name, env in versions.items():
            for command in ("status", "reduce"):
                timed = _timed([*femo, command, str(run.path)], pin, env, work)
                results.setdefault(name, {}).setdefault(command, []).append(timed)
    results["report_files"] = sorted(p.name for p in run.report_dir.iterdir())
    results["run_dir"] = str(run.path)
    print(json.dumps(results, indent=2))
    (work / "scale.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
