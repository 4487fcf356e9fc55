"""The ``femo bench`` driver: media, the long-clip memory check, estimates, the table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import textwrap
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..config.detectors import DETECTORS
from ..node.runtime import cpu_count
from ..results.throughput import format_duration
from ..rundir import timestamp
from .backends import backends_bench
from .cases import (
    Case,
    Measurement,
    MediaSet,
    _worker_main,
    bench_facts,
    measure,
)
from .compare import accuracy, compare_with_fer
from .floor import NODE_LEGEND, FloorSpec, compare_layouts, node_summary, node_table, process_counts
from .frame_sizes import format_size_row, frame_size_bench
from .machine import load_text, machine_load
from .memory import media_cache, memory_check
from .mesh_cost import mesh_bench
from .progress import Heartbeat
from .table import HEADER, format_estimate, format_row, frame_sizes, study_estimates

# What ``femo bench`` runs with no arguments (a few minutes) and with ``--full`` (the
# whole comparison); an option given on the command line overrides either.
QUICK = {
    "media": "woman2",
    "detectors": "haar",
    "every": "20",
    "backends": "onnx",
    "fast": False,
    "demo": False,
    "long_clip_minutes": 0.0,
    "mesh_every": 0,
    "frame_sizes": False,
}
FULL = {
    "media": "woman2,dev-clips",
    "detectors": ",".join(e.name for e in DETECTORS if e.bench.in_full),
    "every": "1,20",
    "backends": "keras,onnx",
    "fast": True,
    "demo": True,
    "long_clip_minutes": 20.0,
    "mesh_every": 5,
    "frame_sizes": True,
}
# The node table: femo against the floor on these dev clips, every frame, BlazeFace.
NODE_CLIPS = 8

LEGEND = (
    "N: every N-th frame. fps: sampled frames per second (model loading left out; the "
    "median pass where a pass was shorter than 3 s). x fer: femo's fps over "
    "fer.Video.analyze's. t/floor: femo's time per frame over the floor's (floor: decoding "
    "plus the detector alone; 1.00 = at the floor). RSS MB: the process's peak resident "
    "memory. same as fer: frames where femo's boxes and scores equal fer's, of those "
    "compared; '*': not all of them. IoU>=.5: frames where every face overlaps fer's by "
    "IoU >= 0.5. accuracy: on the labelled clips, where the media has labels. A BlazeFace "
    "row is compared with fer's Haar (fer has no BlazeFace)."
)


# ------------------------------------------------------------------------- driver


# The media sets default_media finds under the data folder, by name (--media).
MEDIA_SETS = ("woman2", "dev-clips")


def default_media(data_dir: Path, max_clips: int | None) -> list[MediaSet]:
    """The media sets of :data:`MEDIA_SETS` present under ``data_dir``."""
    sets = []
    woman2 = data_dir / "fer-samples" / "woman2.mp4"
    if woman2.is_file():
        sets.append(MediaSet("woman2", str(woman2.parent), ("woman2.mp4",)))
    dev = data_dir / "dev-clips"
    if dev.is_dir():
        videos = tuple(sorted(p.name for p in dev.glob("*.mp4")))[:max_clips]
        labels = dev / "labels.csv"
        sets.append(
            MediaSet("dev-clips", str(dev), videos, str(labels) if labels.is_file() else None)
        )
    return sets


def _default_data_dir() -> Path:
    env = os.environ.get("FEMO_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def run_bench(
    media: list[MediaSet],
    detectors: list[str],
    steps: list[int],
    fast: bool,
    max_frames: int | None,
    work_dir: Path,
    echo=print,
    backends: tuple[str, ...] = ("keras",),
) -> dict[str, Any]:
    """Measure every (media, detector, step) and return the JSON-able results."""
    rows = []
    fer_runs: dict = {}  # fer's Haar run serves both the Haar and the BlazeFace points
    for media_set in media:
        for detector in detectors:
            for every_n in steps:
                base = Case("", media_set, detector, every_n, max_frames)
                row = _measure_point(base, fast, work_dir, echo, backends, fer_runs)
                rows.append(row)
    _versus_haar(rows, echo)
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": timestamp(),
        "results": rows,
        "estimates": study_estimates(rows),
    }


def _measure_point(
    base: Case,
    fast: bool,
    work_dir: Path,
    echo,
    backends: tuple[str, ...] = ("keras",),
    fer_runs: dict | None = None,
) -> dict[str, Any]:
    def case(
        kind: str,
        preset: str = "",
        detector: str = base.detector,
        backend: str = "keras",
        verify: str = "",
    ) -> Measurement:
        fields = {**asdict(base), "media": base.media, "kind": kind, "preset": preset}
        fields.update(detector=detector, backend=backend, verify=verify)
        return measure(Case(**fields), work_dir)

    facts = bench_facts(base.detector)
    fer_detector = facts.fer_reference
    key = (base.media, base.every_n, base.max_frames, fer_detector)
    fer_runs = {} if fer_runs is None else fer_runs
    if key not in fer_runs:
        fer_runs[key] = case("fer", detector=fer_detector)
    fer, floor = fer_runs[key], case("floor")
    femos = [case("femo", backend=backend) for backend in backends]
    if fast and facts.fast_preset is not None:
        femos.append(case("femo", facts.fast_preset))
    check = None
    if facts.check_apart:
        # The preset without its face check, beside it in the same run; and the check's
        # own cost per face.
        femos.append(case("femo", backend=backends[-1], verify="none"))
        check = case("check")
    row = {
        "media": base.media.name,
        "clips": len(base.media.videos),
        "frame_size": frame_sizes(base.media),
        "detector": base.detector,
        "every_n": base.every_n,
        "fer": _summary(fer),
        "floor": _summary(floor),
        "femo": [],
    }
    for femo in femos:
        summary = _summary(femo)
        summary["vs_fer"] = femo.frames_per_s / fer.frames_per_s
        # Time per sampled frame, femo over floor (<= 1.15 is the target).
        summary["time_vs_floor"] = floor.frames_per_s / femo.frames_per_s
        summary["results_vs_fer"] = compare_with_fer(fer.extra["results"], femo.extra["shard"])
        summary["accuracy"] = accuracy(base.media, femo.extra["shard"])
        summary["seconds_per_clip"] = femo.seconds / len(base.media.videos)
        row["femo"].append(summary)
    if check is not None:
        row["check"] = _summary(check)
    echo(format_row(row))
    return row


def _versus_haar(rows: list[dict[str, Any]], echo) -> None:
    """Each other detector's parity-mode speed over Haar's, on the same media and step."""
    # Haar: the detector a run takes where none is chosen (fer's, the study's).
    haar = {
        (r["media"], r["every_n"]): r["femo"][0] for r in rows if r["detector"] == DETECTORS.default
    }
    for row in rows:
        reference = haar.get((row["media"], row["every_n"]))
        if row["detector"] == DETECTORS.default or reference is None:
            continue
        femo = row["femo"][0]
        femo["vs_haar"] = femo["frames_per_s"] / reference["frames_per_s"]
        echo(
            f"{row['media']}, every {row['every_n']}: femo {row['detector']} "
            f"{femo['frames_per_s']:.1f} frames/s, {femo['vs_haar']:.2f} x femo Haar parity "
            f"({reference['frames_per_s']:.1f} frames/s)"
        )


def _summary(m: Measurement) -> dict[str, Any]:
    out = {
        "mode": m.mode,
        "frames": m.frames,
        "seconds": round(m.seconds, 3),
        "frames_per_s": round(m.frames_per_s, 2),
        "startup_s": round(m.startup_s, 2),
        "peak_rss_mb": round(m.peak_rss_mb, 1),
    }
    out.update({k: v for k, v in m.extra.items() if k not in ("results",)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="femo bench",
        description="Measure femo's workers against the floor of decode -> detector -> "
        "classifier at 1 and N processes, and femo's extraction against fer.Video.analyze "
        "and the detector's floor, in one run; write the figures to a JSON file.",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder holding fer-samples/woman2.mp4 and dev-clips/ "
        "(default: $FEMO_SHARED_DATA or ../shared/data beside the femo checkout)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="the whole comparison (every detector, backend, step and media set, fast "
        "mode, the demo, the long-clip memory check; 25-30 minutes on 2 cores) instead "
        "of the quick one (66-92 s on 2 shared cores)",
    )
    parser.add_argument("--media", help="media sets to run (quick: woman2; full: +dev-clips)")
    parser.add_argument(
        "--detectors",
        help="haar, mtcnn, blazeface (fer has no BlazeFace: it is compared with fer's Haar; "
        "quick: haar; full: all three)",
    )
    parser.add_argument("--every", help="sampling steps N, comma-separated (quick: 20; full: 1,20)")
    parser.add_argument("--no-fast", action="store_true", help="skip the fast mode")
    parser.add_argument(
        "--backends", help="classifier backends femo runs with (quick: onnx; full: keras,onnx)"
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="skip the demo's wall time with each backend"
    )
    parser.add_argument(
        "--processes",
        help="process counts of the node table, femo against its floor (default: 1 and "
        "the CPUs; full: also the powers of two between them; 0: no node table)",
    )
    parser.add_argument(
        "--mesh-every",
        type=int,
        default=None,
        help="the mesh row (landmarks=mesh, Haar's faces) at every Nth frame (default: 0, "
        "no mesh row; full: 5)",
    )
    parser.add_argument(
        "--mesh-only", action="store_true", help="only the mesh row (a couple of minutes)"
    )
    parser.add_argument(
        "--frame-sizes",
        action="store_true",
        default=None,
        help="also the preset detector at every frame of a 256-px dev clip and of 720p and "
        "1080p clips made from face-sizes' wide shots: frames/s, faces found, the smallest "
        "(full: on)",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="sampled frames per clip")
    parser.add_argument("--max-clips", type=int, default=None, help="dev clips to use")
    parser.add_argument(
        "--long-clip-minutes",
        type=float,
        default=None,
        help="also measure femo's peak memory on woman2 repeated to this many minutes, "
        "against woman2 itself (0 to skip; quick: 0; full: 20)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="folder for bench.json, the shards and each worker's log "
        "(default: outputs/bench/<date>_<time>)",
    )
    args = parser.parse_args(argv)
    if args.worker:
        _worker_main(args.worker)
        return 0
    options = resolve_options(args)
    data_dir = Path(args.data or _default_data_dir()).resolve()
    wanted = options["media"].split(",")
    if unknown := [name for name in wanted if name not in MEDIA_SETS]:
        print(
            f"femo: error: unknown media {', '.join(map(repr, unknown))} "
            f"(--media takes: {', '.join(MEDIA_SETS)})",
            file=sys.stderr,
        )
        return 2
    media = [m for m in default_media(data_dir, args.max_clips) if m.name in wanted]
    if not media:
        print(f"femo: error: no media found under {data_dir} (use --data)", file=sys.stderr)
        return 2
    work_dir = Path(
        args.out_dir or Path("outputs", "bench", time.strftime("%Y-%m-%d_%H-%M-%S"))
    ).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    command = "femo bench " + " ".join(sys.argv[2:] if argv is None else argv)
    if args.mesh_only:
        return _mesh_only(media, args.mesh_every or 5, work_dir, command)
    with Heartbeat() as beat:
        start = machine_load()
        beat.echo(load_text(start, "at the start"))
        results = _bench(args, options, data_dir, media, work_dir, beat)
        results["load"] = {"start": start, "end": machine_load()}
        beat.echo(load_text(results["load"]["end"], "at the end"))
        results["command"] = command.strip()
        results["seconds"] = round(beat.elapsed(), 1)
        out = work_dir / "bench.json"
        out.write_text(json.dumps(results, indent=2))
        beat.echo(f"femo bench: wrote {out} ({format_duration(beat.elapsed())})")
    return 0


def _mesh_only(media: list[MediaSet], every: int, work_dir: Path, command: str) -> int:
    """``femo bench --mesh-only``: the mesh row alone, written to bench.json."""
    results = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "date": timestamp(),
        "mesh": mesh_bench(media, "haar", every, work_dir),
        "load": machine_load(),
        "command": command.strip(),
    }
    print(load_text(results["load"], "at the end"))
    out = work_dir / "bench.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"femo bench: wrote {out}")
    return 0


def resolve_options(args: argparse.Namespace) -> dict[str, Any]:
    """The quick or full preset, with what the command line gave over it."""
    preset = FULL if args.full else QUICK
    options = {k: getattr(args, k, None) for k in preset}
    options = {k: preset[k] if v is None else v for k, v in options.items()}
    options["fast"] = preset["fast"] and not args.no_fast
    options["demo"] = preset["demo"] and not args.no_demo
    cpus = cpu_count()
    if args.processes is None:
        options["processes"] = process_counts(cpus, args.full)
    else:
        options["processes"] = [int(p) for p in args.processes.split(",") if int(p) > 0]
    return options


def _bench(
    args: argparse.Namespace,
    options: dict[str, Any],
    data_dir: Path,
    media: list[MediaSet],
    work_dir: Path,
    beat: Heartbeat,
) -> dict[str, Any]:
    """Every part of the bench in turn, each announced, with a line at least every 30 s."""
    echo = beat.echo
    echo(f"femo bench ({'full' if args.full else 'quick'}): data {data_dir}, results in {work_dir}")
    results: dict[str, Any] = {}
    if options["processes"]:
        results["node"] = _node_bench(data_dir, options["processes"], beat)
    beat.begin("femo against fer.Video.analyze and the detector's floor")
    echo(HEADER)
    results.update(
        run_bench(
            media,
            options["detectors"].split(","),
            [int(n) for n in options["every"].split(",")],
            fast=options["fast"],
            max_frames=args.max_frames,
            work_dir=work_dir,
            echo=echo,
            backends=tuple(options["backends"].split(",")),
        )
    )
    echo(wrap(LEGEND))
    if options["mesh_every"]:
        beat.begin("the face mesh (landmarks=mesh) alone")
        results["mesh"] = mesh_bench(media, "haar", options["mesh_every"], work_dir)
    if options["demo"] or len(options["backends"].split(",")) > 1:
        beat.begin("the classifier backends alone and on the demo")
        backends = options["backends"].split(",")
        results["backends"] = backends_bench(backends, options["demo"], work_dir, echo=echo)
    woman2 = data_dir / "fer-samples" / "woman2.mp4"
    minutes = options["long_clip_minutes"]
    if minutes > 0 and woman2.is_file():
        beat.begin(f"memory on woman2 repeated to {minutes:g} minutes")
        memory = memory_check(woman2, minutes, 20, work_dir, media_cache())
        results["memory"] = memory
        echo(
            f"memory: one femo worker, Haar, N=20: {memory['short_peak_rss_mb']:.0f} MB on "
            f"woman2 ({memory['short_frames']} frames sampled), {memory['long_peak_rss_mb']:.0f} MB "
            f"on it repeated to {memory['long_minutes']:g} min ({memory['long_frames']} frames "
            f"sampled): x{memory['ratio']:.2f}"
        )
    if options["frame_sizes"]:
        beat.begin("the preset detector at each frame size, every frame")
        results["frame_sizes"] = frame_size_bench(
            data_dir, media_cache(), work_dir, args.max_frames
        )
        for row in results["frame_sizes"]:
            echo(format_size_row(row))
    for estimate in results["estimates"]:
        echo(format_estimate(estimate))
    return results


def _node_bench(data_dir: Path, processes: list[int], beat: Heartbeat) -> dict[str, Any] | None:
    """femo against its floor at each process count (BlazeFace, ONNX, dev clips, every frame)."""
    dev = data_dir / "dev-clips"
    videos = tuple(sorted(p.name for p in dev.glob("*.mp4")))[:NODE_CLIPS]
    if not videos:
        beat.echo(f"femo bench: no dev-clips under {data_dir}: no node table")
        return None
    spec = FloorSpec(str(dev), videos, "blazeface", 1)
    counts = ", ".join(map(str, processes))
    beat.begin(f"femo against its floor at {counts} process(es), {len(videos)} dev clips each")
    points = compare_layouts(spec, processes, rounds=1, threaded=False, echo=beat.echo)
    beat.echo(node_table(points))
    beat.echo(wrap(NODE_LEGEND))
    return node_summary(spec, points)


def wrap(text: str) -> str:
    """A legend, wrapped to the width of the tables."""
    return textwrap.fill(text, width=100)
