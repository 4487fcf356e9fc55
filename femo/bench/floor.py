"""The floor against femo, process for process: what a node's cores can give.

The floor is decode -> detector (with the preset's face check) -> classifier and nothing
else: one thread, one loop, each frame's faces cropped as fer crops them and classified
at once, no rows, no files.
femo is the same media through watched workers (:class:`~femo.node.supervise.Supervisor`,
what ``femo run`` on a node runs), one shard per worker, one thread each.

Both run in the same layout: ``P`` processes started together, each given the same
clips, so every process has the same work. A layout's rate is the frames of all its
processes over the longest one's working time (model loading left out, reported apart);
femo's ratio to the floor is taken at each ``P`` in the same run.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

# Library thread pools sized to one thread before any of them loads: the floor's and
# femo's processes each own one core.
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


@dataclass(frozen=True)
class FloorSpec:
    """What one process of a layout does: these clips, this detector, every n-th frame."""

    root: str
    videos: tuple[str, ...]
    detector: str = "blazeface"  # a conf/detector preset
    every_n: int = 1


@dataclass
class LayoutRun:
    """One layout measured: ``processes`` processes of ``kind`` (floor or femo)."""

    kind: str
    processes: int
    frames: int
    seconds: float  # the longest process's working time
    startup_s: float  # the longest model loading
    peak_rss_mb: float  # the largest process's peak
    per_process_fps: list[float]

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def floor_pass(spec: FloorSpec) -> dict[str, Any]:
    """Run the floor over ``spec``'s clips in this process; frames, faces and seconds."""
    import cv2
    import numpy as np

    from ..node.classifier import OnnxClassifier
    from ..node.crops import face_crop, pad_gray
    from ..node.detectors import make_detector
    from ..node.verify import make_check
    from .cases import detector_preset

    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    config = detector_preset(spec.detector)
    detector = make_detector(config)
    detector.warm_up()
    check = make_check(config)  # the preset's face check is part of its detector
    if check is not None:
        check.warm_up_thread()
    classifier = OnnxClassifier(threads=1, device="cpu")
    classifier.predict(np.zeros((1, *classifier.target_size[::-1]), np.float32))
    startup = time.perf_counter() - t0
    frames = faces = 0
    started = time.perf_counter()
    for video in spec.videos:
        for image in _sampled(os.path.join(spec.root, video), spec.every_n):
            frames += 1
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            found = detector.detect([image], [gray])[0]
            if check is not None and found:
                found = [f for f, v in zip(found, check.check(image, found), strict=True) if v.kept]
            if not found:
                continue
            padded = pad_gray(gray)
            crops = [face_crop(padded, f, config.offsets, classifier.target_size) for f in found]
            crops = [c for c in crops if c is not None]
            if crops:
                classifier.predict(np.stack(crops))
                faces += len(crops)
    seconds = time.perf_counter() - started
    return {"frames": frames, "faces": faces, "seconds": seconds, "startup_s": startup,
            "peak_rss_mb": _peak_rss_mb(resource.RUSAGE_SELF)}  # fmt: skip


def _sampled(path: str, every_n: int) -> Iterator[Any]:
    """Frames 0, n, 2n... of a video, decoded on one thread; the others only grabbed."""
    import cv2

    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    try:
        index = 0
        while True:
            if index % every_n == 0:
                ok, image = cap.read()
                if not ok:
                    return
                yield image
            elif not cap.grab():
                return
            index += 1
    finally:
        cap.release()


def femo_workers(spec: FloorSpec, workers: int, run_dir: str, threads: int = 1) -> dict[str, Any]:
    """femo over ``spec``'s clips in ``workers`` watched workers, one shard (all clips) each,
    ``threads`` threads per worker."""
    from ..config import ExtractConfig, SamplingConfig
    from ..dataset import Clip
    from ..node.supervise import Supervisor
    from ..rundir import RunDir
    from ..task import ShardTask
    from .cases import detector_preset

    extract = ExtractConfig(
        detector=detector_preset(spec.detector),
        sampling=SamplingConfig(every_n=spec.every_n),
        device="cpu",
        threads=threads,
    )
    clips = tuple(Clip(v, "video") for v in spec.videos)
    RunDir(run_dir).shards_dir.mkdir(parents=True, exist_ok=True)
    tasks = [ShardTask(run_dir, k, spec.root, clips, extract) for k in range(workers)]
    results, failures = Supervisor(workers).run(tasks)
    if failures:
        raise RuntimeError(f"femo failed: {failures}")
    runs = list(results.values())
    return {
        "frames": [r.frames_sampled for r in runs],
        "seconds": [r.seconds - r.startup_seconds for r in runs],
        "startup_s": max(r.startup_seconds for r in runs),
        "peak_rss_mb": _peak_rss_mb(resource.RUSAGE_CHILDREN),
    }


def _peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _child(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, **ONE_THREAD_ENV, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-m", "femo.bench.floor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _answer(proc: subprocess.Popen) -> dict[str, Any]:
    out, err = proc.communicate()
    for line in out.splitlines():
        if line.startswith("FEMO-FLOOR "):
            return json.loads(line[len("FEMO-FLOOR ") :])
    tail = (err.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"a measuring process failed (exit {proc.returncode}): {tail}")


def start_floor(spec: FloorSpec, processes: int) -> Callable[[], LayoutRun]:
    """Start the floor in ``processes`` processes, each over all of ``spec``; the function
    returned waits for them and gives what they measured."""
    procs = [_child(["floor", json.dumps(asdict(spec))]) for _ in range(processes)]

    def finish() -> LayoutRun:
        runs = [_answer(p) for p in procs]
        return LayoutRun(
            "floor",
            processes,
            frames=sum(r["frames"] for r in runs),
            seconds=max(r["seconds"] for r in runs),
            startup_s=max(r["startup_s"] for r in runs),
            peak_rss_mb=max(r["peak_rss_mb"] for r in runs),
            per_process_fps=[r["frames"] / r["seconds"] for r in runs],
        )

    return finish


def start_femo(spec: FloorSpec, workers: int, threads: int = 1) -> Callable[[], LayoutRun]:
    """Start femo with ``workers`` workers of ``threads`` threads, each a shard of all of
    ``spec``; the function returned waits for it and gives what it measured."""
    run_dir = tempfile.TemporaryDirectory(prefix="femo-floor-")
    proc = _child(["femo", json.dumps(asdict(spec)), str(workers), str(threads), run_dir.name])

    def finish() -> LayoutRun:
        with run_dir:
            run = _answer(proc)
        return LayoutRun(
            "femo" if threads == 1 else f"femo, {threads} threads",
            workers,
            frames=sum(run["frames"]),
            seconds=max(run["seconds"]),
            startup_s=run["startup_s"],
            peak_rss_mb=run["peak_rss_mb"],
            per_process_fps=[f / s for f, s in zip(run["frames"], run["seconds"], strict=True)],
        )

    return finish


def measure_floor(spec: FloorSpec, processes: int) -> LayoutRun:
    """The floor in ``processes`` processes started together, each over all of ``spec``."""
    return start_floor(spec, processes)()


def measure_femo(spec: FloorSpec, workers: int, threads: int = 1) -> LayoutRun:
    """femo with ``workers`` workers of ``threads`` threads, each a shard of all of ``spec``."""
    return start_femo(spec, workers, threads)()


@dataclass
class LayoutPoint:
    """At ``processes`` processes: every round's floor and femo, and femo's ratio."""

    processes: int
    floor: list[LayoutRun]
    femo: list[LayoutRun]
    threaded: list[LayoutRun]  # one femo worker with ``processes`` threads (if measured)

    def median_fps(self, kind: str) -> float:
        runs = {"floor": self.floor, "femo": self.femo, "threaded": self.threaded}[kind]
        return statistics.median(r.frames_per_s for r in runs) if runs else math.nan

    @property
    def ratio(self) -> float:
        """femo's median frames/s over the floor's median, in the same run."""
        return self.median_fps("femo") / self.median_fps("floor")

    @property
    def round_ratios(self) -> list[float]:
        """Each round's ratio: femo over the floor measured just before (or beside) it."""
        return [m.frames_per_s / f.frames_per_s for f, m in zip(self.floor, self.femo, strict=True)]

    @property
    def paired_ratio(self) -> float:
        """The median of the rounds' ratios: a change of load between rounds cancels out."""
        return statistics.median(self.round_ratios)


def compare_layouts(
    spec: FloorSpec,
    processes: list[int],
    rounds: int,
    threaded: bool = False,
    echo: Callable[[str], None] = print,
    together: bool = False,
) -> list[LayoutPoint]:
    """Floor and femo at each process count, ``rounds`` times, alternating, so that a
    change in the machine's load falls on both; with ``threaded`` also one femo worker
    with that many threads (the other way to use the same cores).

    ``together`` runs the floor's processes and femo's at the same time, for a machine
    whose load moves from second to second (a shared one): both then see the same load,
    at the cost of sharing the cores with each other.
    """
    points = [LayoutPoint(p, [], [], []) for p in processes]
    for k in range(rounds):
        for point in points:
            p = point.processes
            echo(f"  round {k + 1}/{rounds}, {p} process(es): floor, femo ...")
            if together:
                floor, femo = start_floor(spec, p), start_femo(spec, p)
                point.floor.append(floor())
                point.femo.append(femo())
            else:
                point.floor.append(measure_floor(spec, p))
                point.femo.append(measure_femo(spec, p))
            if threaded and p > 1:
                point.threaded.append(measure_femo(spec, 1, threads=p))
            echo(f"    {describe(point.floor[-1])}; {describe(point.femo[-1])}")
    return points


def describe(run: LayoutRun) -> str:
    """One measured layout in a few words."""
    return f"{run.kind} x{run.processes}: {run.frames_per_s:.1f} frames/s"


NODE_LEGEND = (
    "P: processes started together, each over the same clips (femo: P workers of one "
    "thread, one shard each). floor: decode -> detector -> classifier in one loop, "
    "nothing else. frames/s: the frames of all P processes over the longest one's "
    "working time (model loading left out); a median where there were several rounds. "
    "femo/floor: femo's frames/s over the floor's measured just before it at the same P "
    "(the median of the rounds' ratios; target >= 0.85). "
    "per process: femo's frames/s over P. 1 worker x P threads: one femo worker with P "
    "threads on the same cores ('-': not measured). RSS MB: peak resident memory of one "
    "process, floor / femo (what one pipeline needs)."
)


def node_table(points: list[LayoutPoint]) -> str:
    """The floor-against-femo table, one line per process count, then its legend."""
    lines = [
        f"{'P':>3} {'floor':>9} {'femo':>9} {'femo/floor':>10} {'per process':>11} "
        f"{'1 worker x P threads':>20} {'RSS MB':>11}"
    ]
    for p in points:
        threaded = f"{p.median_fps('threaded'):.1f}" if p.threaded else "-"
        rss = (
            f"{max(r.peak_rss_mb for r in p.floor):.0f} / {max(r.peak_rss_mb for r in p.femo):.0f}"
        )
        lines.append(
            f"{p.processes:>3} {p.median_fps('floor'):>9.1f} {p.median_fps('femo'):>9.1f} "
            f"{p.paired_ratio:>10.2f} {p.median_fps('femo') / p.processes:>11.1f} {threaded:>20} "
            f"{rss:>11}"
        )
    return "\n".join(lines)


def node_summary(spec: FloorSpec, points: list[LayoutPoint]) -> dict[str, Any]:
    """The JSON-able figures of :func:`compare_layouts`."""
    return {
        "spec": asdict(spec),
        "points": [
            {
                "processes": p.processes,
                "floor_frames_per_s": round(p.median_fps("floor"), 2),
                "femo_frames_per_s": round(p.median_fps("femo"), 2),
                "femo_vs_floor": round(p.paired_ratio, 3),
                "femo_vs_floor_of_medians": round(p.ratio, 3),
                "round_ratios": [round(r, 3) for r in p.round_ratios],
                "threaded_frames_per_s": (
                    round(p.median_fps("threaded"), 2) if p.threaded else None
                ),
                "floor_peak_rss_mb": round(max(r.peak_rss_mb for r in p.floor), 1),
                "femo_peak_rss_mb": round(max(r.peak_rss_mb for r in p.femo), 1),
                "runs": [asdict(r) for r in p.floor + p.femo + p.threaded],
            }
            for p in points
        ],
    }


def process_counts(cpus: int, full: bool) -> list[int]:
    """1 and ``cpus`` processes; with ``full`` also every power of two between them."""
    counts = {1, cpus}
    if full:
        counts |= {2**k for k in range(1, cpus.bit_length()) if 2**k < cpus}
    return sorted(counts)


def main(argv: list[str]) -> int:
    """``python -m femo.bench.floor floor SPEC`` or ``femo SPEC WORKERS THREADS RUN_DIR``."""
    kind, raw = argv[0], json.loads(argv[1])
    spec = FloorSpec(**{**raw, "videos": tuple(raw["videos"])})
    if kind == "floor":
        answer = floor_pass(spec)
    else:
        answer = femo_workers(spec, int(argv[2]), argv[4], threads=int(argv[3]))
    print("FEMO-FLOOR " + json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
