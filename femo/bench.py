"""``femo bench``: femo's extraction against fer and against the detector's floor, in one run.

For every (media set, detector, sampling step) it measures, each in a fresh process
so that thread settings and peak memory do not leak from one measurement into the
next:

* ``fer``: ``fer.Video.analyze`` (frames and video saving off) at frequency N;
* ``floor``: decoding the same sampled frames plus the detector alone (Haar with
  fer's parameters, best of 1 and 2 OpenCV threads; MTCNN batched across frames);
* ``femo``: :func:`femo.extract.run_shard`, the code path of every ``femo run`` task,
  in parity mode and, where asked, in fast mode (``detector.downscale``).

Model loading is left out of every figure (it is reported apart, as ``startup_s``).
A pass over the media shorter than ``MIN_SECONDS`` is repeated (up to ``MAX_PASSES``)
and the median pass is reported, fer and femo alike; every pass is kept in the JSON.
Results are compared frame by frame with fer's, and accuracy against the labels is
computed where the media set has a ``labels.csv``. Everything goes to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .throughput import format_duration, wall_time_estimate

STUDY_CLIPS = 2826
STUDY_TASKS = 16
# The opt-in fast preset measured next to each detector's parity mode.
FAST_PRESETS = {"haar": "haar_fast"}


@dataclass(frozen=True)
class MediaSet:
    name: str
    root: str
    videos: tuple[str, ...]
    labels: str | None = None


@dataclass(frozen=True)
class Case:
    """One measurement: what runs, on which media, with which detector and step."""

    kind: str  # fer | floor | femo
    media: MediaSet
    detector: str
    every_n: int
    max_frames: int | None = None
    preset: str = ""  # femo's detector config group option; "" = the detector itself
    out_dir: str = ""
    repeat: bool = True  # repeat short passes (off where peak memory of one pass is wanted)


@dataclass
class Measurement:
    kind: str
    mode: str
    frames: int
    seconds: float
    startup_s: float
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else math.nan


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# A pass shorter than this is repeated: one pass over a short clip lasts a fraction
# of a second, and a noisy neighbour on a shared machine would decide the ratio.
MIN_SECONDS = 3.0
MAX_PASSES = 5


def timed_passes(
    one_pass: Callable[[], tuple[int, float]], repeat: bool = True
) -> tuple[int, float, list[float]]:
    """Run ``one_pass`` (returns frames, seconds) until ``MIN_SECONDS`` have passed.

    Returns the frames of one pass, the median pass's seconds, and every pass's
    seconds (the first one includes whatever a new frame size costs the first time).
    """
    passes: list[float] = []
    frames = 0
    while not passes or (repeat and sum(passes) < MIN_SECONDS and len(passes) < MAX_PASSES):
        frames, seconds = one_pass()
        passes.append(seconds)
    return frames, statistics.median(passes), [round(p, 4) for p in passes]


def detector_preset(name: str):
    """The :class:`DetectorConfig` of femo's ``conf/detector/<name>.yaml``."""
    import yaml

    from .cli import conf_dir
    from .config import DetectorConfig, _build

    path = conf_dir() / "detector" / f"{name}.yaml"
    return _build(DetectorConfig, yaml.safe_load(path.read_text()), f"detector={name}")


# --------------------------------------------------------------------------- workers
# Each runs in its own process (``python -m femo.bench --worker``).


def _fer_worker(case: Case) -> Measurement:
    """fer.Video.analyze on each clip; records what fer found per analysed frame."""
    from fer import FER, Video

    t0 = time.perf_counter()
    detector = FER(mtcnn=case.detector == "mtcnn")
    startup = time.perf_counter() - t0
    found: dict[str, list] = {}
    detect_emotions = detector.detect_emotions

    def recording(frame, *args, **kwargs):
        result = detect_emotions(frame, *args, **kwargs)
        found[current].append(
            [
                {"box": [int(v) for v in face["box"]], "emotions": face["emotions"]}
                for face in result
            ]
        )
        return result

    detector.detect_emotions = recording

    def one_pass() -> tuple[int, float]:
        nonlocal current
        seconds, frames = 0.0, 0
        with tempfile.TemporaryDirectory() as outdir:
            for video in case.media.videos:
                current = video
                found[video] = []
                clip = Video(os.path.join(case.media.root, video), outdir=outdir)
                t0 = time.perf_counter()
                clip.analyze(
                    detector,
                    display=False,
                    frequency=case.every_n,
                    max_results=None if case.max_frames is None else case.max_frames - 1,
                    save_frames=False,
                    save_video=False,
                    annotate_frames=False,
                    zip_images=False,
                )
                seconds += time.perf_counter() - t0
                frames += len(found[video])
        return frames, seconds

    current = ""
    frames, seconds, passes = timed_passes(one_pass, case.repeat)
    results_path = Path(case.out_dir) / "fer-results.json"
    results_path.write_text(json.dumps(found))
    extra = {"results": str(results_path), "passes_s": passes}
    return Measurement("fer", "reference", frames, seconds, startup, _peak_rss_mb(), extra)


def _floor_worker(case: Case) -> Measurement:
    """Decode the sampled frames and run the detector alone: no crops, no classifier."""
    import cv2

    from .config import DetectorConfig, SamplingConfig
    from .models import HaarDetector, MtcnnDetector
    from .video import ClipInfo, sampled_frames

    sampling = SamplingConfig(every_n=case.every_n, max_frames=case.max_frames)
    config = DetectorConfig(name=case.detector)
    t0 = time.perf_counter()
    detector = HaarDetector(config) if case.detector == "haar" else MtcnnDetector(config)
    detector.warm_up()  # as femo's workers do before any clip is timed
    startup = time.perf_counter() - t0
    batch = 1 if case.detector == "haar" else detector.frames_per_call

    def one_pass() -> tuple[int, float]:
        frames, started = 0, time.perf_counter()
        for video in case.media.videos:
            pending: list = []
            path = os.path.join(case.media.root, video)
            for frame in sampled_frames(path, "video", sampling, ClipInfo()):
                frames += 1
                pending.append(frame.image)
                if len(pending) == batch:
                    detector.detect(pending, [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in pending])
                    pending = []
            if pending:
                detector.detect(pending, [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in pending])
        return frames, time.perf_counter() - started

    runs = {}
    thread_options = (1, 2) if case.detector == "haar" else (None,)
    for threads in thread_options:
        if threads is not None:
            cv2.setNumThreads(threads)
        runs[str(threads or "tf")] = timed_passes(one_pass, case.repeat)
    best = min(runs, key=lambda k: runs[k][1])
    frames, seconds, passes = runs[best]
    extra = {
        "best_threads": best,
        "frames_per_s_by_threads": {k: f / s for k, (f, s, _) in runs.items()},
        "passes_s": passes,
    }
    return Measurement("floor", "detector only", frames, seconds, startup, _peak_rss_mb(), extra)


def _femo_worker(case: Case) -> Measurement:
    """femo's extraction of the clips as one shard, through ``run_shard``."""
    from .config import ExtractConfig, SamplingConfig
    from .dataset import Clip
    from .extract import ShardTask, get_extractor, read_shard_metadata, run_shard

    detector = detector_preset(case.preset or case.detector)
    extract = ExtractConfig(
        detector=detector,
        sampling=SamplingConfig(every_n=case.every_n, max_frames=case.max_frames),
    )
    t0 = time.perf_counter()
    get_extractor(extract)
    startup = time.perf_counter() - t0
    task = ShardTask(
        run_dir=case.out_dir,
        index=0,
        dataset_root=case.media.root,
        clips=tuple(Clip(v, "video") for v in case.media.videos),
        extract=extract,
    )
    results = []

    def one_pass() -> tuple[int, float]:
        results.append(run_shard(task))  # each pass rewrites the same shard file
        return results[-1].frames_sampled, results[-1].seconds

    frames, seconds, passes = timed_passes(one_pass, case.repeat)
    timing = json.loads(read_shard_metadata(results[-1].path)["timing"])
    mode = "parity" if not case.preset else f"fast ({case.preset})"
    extra = {
        "shard": results[-1].path,
        "stage_seconds": timing["stage_seconds"],
        "passes_s": passes,
    }
    return Measurement("femo", mode, frames, seconds, startup, _peak_rss_mb(), extra)


WORKERS = {"fer": _fer_worker, "floor": _floor_worker, "femo": _femo_worker}


def _worker_main(spec: str) -> None:
    raw = json.loads(spec)
    raw["media"] = MediaSet(**{**raw["media"], "videos": tuple(raw["media"]["videos"])})
    case = Case(**raw)
    measurement = WORKERS[case.kind](case)
    print("FEMO-BENCH " + json.dumps(asdict(measurement)), flush=True)


def measure(case: Case, log_dir: Path) -> Measurement:
    """Run ``case`` in a fresh Python process and return what it measured."""
    name = f"{case.media.name}-{case.preset or case.detector}-n{case.every_n}-{case.kind}"
    out_dir = log_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    case = Case(**{**asdict(case), "media": case.media, "out_dir": str(out_dir)})
    spec = json.dumps({**asdict(case), "media": asdict(case.media)})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    # cwd is the case folder because fer.Video.analyze writes "data.csv" into the
    # current directory whatever outdir it is given.
    proc = subprocess.run(
        [sys.executable, "-m", "femo.bench", "--worker", spec],
        capture_output=True,
        text=True,
        env=env,
        cwd=out_dir,
    )
    (out_dir / "worker.log").write_text(proc.stdout + proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith("FEMO-BENCH "):
            return Measurement(**json.loads(line[len("FEMO-BENCH ") :]))
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"{name} failed (exit {proc.returncode}): {tail}; see {out_dir}/worker.log")


# --------------------------------------------------------------------- comparisons


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def _faces_agree(mine: list[tuple[int, ...]], theirs: list[tuple[int, ...]]) -> bool:
    """Same number of faces, each of fer's overlapping one of femo's by IoU >= 0.5."""
    return len(mine) == len(theirs) and all(
        any(_iou(box, other) >= 0.5 for other in mine) for box in theirs
    )


def compare_with_fer(fer_results: str, femo_shard: str) -> dict[str, Any]:
    """Frame-by-frame comparison of femo's boxes and rounded scores with fer's.

    ``equal`` is exact parity: the same boxes and the same rounded scores in every
    frame. For fast mode, which is not meant to be exact, ``frames_faces_agree``
    (boxes overlapping by IoU >= 0.5) and ``top_emotion_agree`` (first face's top
    emotion, frames where both found a face) say how close it stays.
    """
    import numpy as np
    import pyarrow.parquet as pq

    from .config import EMOTIONS

    fer = json.loads(Path(fer_results).read_text())
    rows = pq.read_table(femo_shard).to_pandas()
    frames = rows[rows.kind == "frame"]
    compared = boxes_equal = scores_equal = faces_agree = both_found = top_agree = 0
    max_diff = 0.0
    for video, fer_frames in fer.items():
        mine = frames[frames.video == video]
        indices = sorted(mine.frame.unique())
        for index, fer_faces in zip(indices, fer_frames, strict=False):
            compared += 1
            faces = mine[(mine.frame == index) & mine.face.notna()].sort_values("face")
            femo_faces = {
                (int(r.x), int(r.y), int(r.w), int(r.h)): [
                    round(float(np.float32(getattr(r, e))), 2) for e in EMOTIONS
                ]
                for r in faces.itertuples()
            }
            fer_faces_by_box = {
                tuple(f["box"]): [f["emotions"][e] for e in EMOTIONS] for f in fer_faces
            }
            faces_agree += _faces_agree(list(femo_faces), list(fer_faces_by_box))
            if femo_faces and fer_faces_by_box:
                both_found += 1
                first_mine = next(iter(femo_faces.values()))
                first_fer = next(iter(fer_faces_by_box.values()))
                top_agree += int(np.argmax(first_mine) == np.argmax(first_fer))
            if set(femo_faces) != set(fer_faces_by_box):
                continue
            boxes_equal += 1
            diffs = [
                abs(a - b)
                for box, scores in fer_faces_by_box.items()
                for a, b in zip(scores, femo_faces[box], strict=True)
            ]
            frame_diff = max(diffs, default=0.0)
            max_diff = max(max_diff, frame_diff)
            scores_equal += frame_diff == 0.0
        compared += max(0, len(fer_frames) - len(indices))  # frames femo never sampled
    return {
        "frames_compared": compared,
        "frames_boxes_equal": boxes_equal,
        "frames_scores_equal": scores_equal,
        "max_rounded_score_diff": round(max_diff, 6),
        "equal": compared > 0 and boxes_equal == compared and scores_equal == compared,
        "frames_faces_agree": faces_agree,
        "top_emotion_agree": round(top_agree / both_found, 4) if both_found else None,
    }


def accuracy(media: MediaSet, femo_shard: str) -> dict[str, Any] | None:
    """Three-class accuracy of one femo shard against the media set's labels."""
    if media.labels is None:
        return None
    from .config import DatasetConfig, MappingConfig, ReduceConfig
    from .dataset import Clip, read_labels
    from .reduce import compute_metrics, load_shards, reduce_clips

    mapping = MappingConfig()
    clips = [Clip(v, "video") for v in media.videos]
    labels = read_labels(media.labels, DatasetConfig(root=media.root), mapping, clips)
    shards = load_shards(Path(femo_shard).parent.parent)
    results = reduce_clips(list(media.videos), shards, labels.by_video, mapping, ReduceConfig())
    metrics = compute_metrics(results, mapping.classes)
    return {k: metrics[k] for k in ("accuracy", "n_labelled", "n_correct", "n_no_face")}


# ------------------------------------------------------------------ long-clip memory


def make_long_clip(source: Path, minutes: float, out: Path) -> Path:
    """``source`` played over and over until ``minutes`` long, written as MPEG-4.

    Decoded one frame at a time and never held whole, so it costs no memory itself.
    """
    import cv2

    if out.is_file():
        return out
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    wanted = int(minutes * 60 * fps)
    tmp = out.with_suffix(".partial.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    written = 0
    while written < wanted:
        ok, frame = cap.read()
        if not ok:  # end of the source: start it again
            cap.release()
            cap = cv2.VideoCapture(str(source))
            continue
        writer.write(frame)
        written += 1
    writer.release()
    cap.release()
    tmp.rename(out)
    return out


def media_cache() -> Path:
    """Where generated benchmark media are kept between runs (femo's cache folder)."""
    from .demo import cache_dir

    folder = cache_dir() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def memory_check(
    source: Path, minutes: float, every_n: int, work_dir: Path, media_dir: Path
) -> dict[str, Any]:
    """Peak memory of one femo worker on ``source`` and on it repeated to ``minutes``."""
    long_clip = make_long_clip(source, minutes, media_dir / f"{source.stem}-{minutes:g}min.mp4")
    runs = {}
    for name, path in (("short", source), ("long", long_clip)):
        media = MediaSet(f"memory-{name}", str(path.parent), (path.name,))
        runs[name] = measure(Case("femo", media, "haar", every_n, repeat=False), work_dir)
    short, long = runs["short"], runs["long"]
    return {
        "detector": "haar",
        "every_n": every_n,
        "long_minutes": minutes,
        "short_frames": short.frames,
        "long_frames": long.frames,
        "short_peak_rss_mb": round(short.peak_rss_mb, 1),
        "long_peak_rss_mb": round(long.peak_rss_mb, 1),
        "ratio": round(long.peak_rss_mb / short.peak_rss_mb, 3),
        "long_frames_per_s": round(long.frames_per_s, 2),
    }


# ------------------------------------------------------------------------- driver


def default_media(data_dir: Path, max_clips: int | None) -> list[MediaSet]:
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
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def run_bench(
    media: list[MediaSet],
    detectors: list[str],
    steps: list[int],
    fast: bool,
    max_frames: int | None,
    work_dir: Path,
    echo=print,
) -> dict[str, Any]:
    """Measure every (media, detector, step) and return the JSON-able results."""
    rows = []
    for media_set in media:
        for detector in detectors:
            for every_n in steps:
                base = Case("", media_set, detector, every_n, max_frames)
                row = _measure_point(base, fast, work_dir, echo)
                rows.append(row)
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "results": rows,
        "estimates": _estimates(rows),
    }


def _measure_point(base: Case, fast: bool, work_dir: Path, echo) -> dict[str, Any]:
    def case(kind: str, preset: str = "") -> Measurement:
        fields = {**asdict(base), "media": base.media, "kind": kind, "preset": preset}
        return measure(Case(**fields), work_dir)

    fer, floor = case("fer"), case("floor")
    femos = [case("femo")]
    if fast and base.detector in FAST_PRESETS:
        femos.append(case("femo", FAST_PRESETS[base.detector]))
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
    echo(format_row(row))
    return row


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


@cache
def frame_sizes(media: MediaSet) -> str:
    """The media set's frame sizes, e.g. "596x336" (several joined by ", "); probed once."""
    import cv2

    sizes = set()
    for video in media.videos:
        cap = cv2.VideoCapture(os.path.join(media.root, video))
        sizes.add(
            f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        )
        cap.release()
    return ", ".join(sorted(sizes))


def clip_basis(femo_shard: str) -> dict[str, float]:
    """Mean length of the clips a shard measured: what a per-clip estimate stands on."""
    import pyarrow.parquet as pq

    clips = pq.read_table(femo_shard).to_pandas()
    clips = clips[clips.kind == "clip"]
    seconds = (clips.frames_read / clips.fps).mean()
    return {
        "mean_frames": round(float(clips.frames_read.mean()), 1),
        "mean_seconds": round(float(seconds), 2),
    }


def _estimates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The study's 2,826 clips on 16 tasks, from the measured time per clip of each media set.

    The study's clips are not at hand, so each estimate stands on one media set's
    clip length and frame size (dev clips: short and small; woman2: longer and
    larger), which gives a range; the time scales with the frames sampled and with
    frame size.
    """
    estimates = []
    for row in rows:
        if row["detector"] != "haar" or row["every_n"] != 20:
            continue
        femo = row["femo"][0]
        basis = clip_basis(femo["shard"])
        fer_per_clip = row["fer"]["seconds"] / row["clips"]
        estimates.append(
            {
                "media": row["media"],
                "basis": f"femo parity mode, Haar, every 20th frame, {row['media']} on this "
                f"machine (mean {basis['mean_seconds']:.1f} s, {basis['mean_frames']:.0f} "
                f"frames of {row['frame_size']} per clip)",
                "frame_size": row["frame_size"],
                **basis,
                **wall_time_estimate(
                    femo["seconds_per_clip"], femo["startup_s"], STUDY_CLIPS, STUDY_TASKS
                ),
                "fer": wall_time_estimate(
                    fer_per_clip, row["fer"]["startup_s"], STUDY_CLIPS, STUDY_TASKS
                ),
            }
        )
    return estimates


def format_estimate(estimate: dict[str, Any]) -> str:
    return (
        f"estimate: {estimate['clips']} clips on {estimate['tasks']} array tasks like this "
        f"machine: {format_duration(estimate['wall_s'])} ({estimate['clips_per_task']} clips "
        f"per task at {estimate['seconds_per_clip']:.2f} s each, plus "
        f"{estimate['startup_s']:.1f} s model loading; queueing not counted); "
        f"fer.Video.analyze: {format_duration(estimate['fer']['wall_s'])}. Basis: "
        f"{estimate['basis']}; longer clips and larger frames cost proportionally more"
    )


HEADER = (
    f"{'media':<10} {'detector':<6} {'N':>3} {'run':<22} {'frames':>6} {'fps':>8} "
    f"{'x fer':>6} {'t/floor':>7} {'RSS MB':>7} {'same as fer':>11} {'IoU>=.5':>8} "
    f"{'accuracy':>8}"
)


def format_row(row: dict[str, Any]) -> str:
    """The table lines for one (media, detector, N) point."""

    def line(name: str, s: dict[str, Any], femo: dict[str, Any] | None = None) -> str:
        vs_fer = f"{femo['vs_fer']:.2f}" if femo else ""
        vs_floor = f"{femo['time_vs_floor']:.2f}" if femo else ""
        same = near = acc = ""
        if femo:
            cmp = femo["results_vs_fer"]
            same = f"{cmp['frames_boxes_equal']}/{cmp['frames_compared']}"
            same += "" if cmp["equal"] else "*"
            near = f"{cmp['frames_faces_agree']}/{cmp['frames_compared']}"
            if femo["accuracy"] and femo["accuracy"]["accuracy"] is not None:
                acc = f"{100 * femo['accuracy']['accuracy']:.1f}%"
        return (
            f"{row['media']:<10} {row['detector']:<6} {row['every_n']:>3} {name:<22} "
            f"{s['frames']:>6} {s['frames_per_s']:>8.2f} {vs_fer:>6} {vs_floor:>7} "
            f"{s['peak_rss_mb']:>7.0f} {same:>11} {near:>8} {acc:>8}"
        )

    lines = [line("fer.Video.analyze", row["fer"]), line("floor", row["floor"])]
    lines += [line(f"femo {f['mode']}", f, f) for f in row["femo"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="femo bench",
        description="Measure femo's extraction against fer.Video.analyze and the detector's "
        "floor, in one run, and write the figures to a JSON file.",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder holding fer-samples/woman2.mp4 and dev-clips/ "
        "(default: $FEMO_SHARED_DATA or ../shared/data beside the femo checkout)",
    )
    parser.add_argument("--media", default="woman2,dev-clips", help="media sets to run")
    parser.add_argument("--detectors", default="haar,mtcnn")
    parser.add_argument("--every", default="1,20", help="sampling steps N, comma-separated")
    parser.add_argument("--no-fast", action="store_true", help="skip the fast mode")
    parser.add_argument("--max-frames", type=int, default=None, help="sampled frames per clip")
    parser.add_argument("--max-clips", type=int, default=None, help="dev clips to use")
    parser.add_argument(
        "--long-clip-minutes",
        type=float,
        default=20.0,
        help="also measure femo's peak memory on woman2 repeated to this many minutes, "
        "against woman2 itself (0 to skip)",
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
    data_dir = Path(args.data or _default_data_dir()).resolve()
    wanted = args.media.split(",")
    media = [m for m in default_media(data_dir, args.max_clips) if m.name in wanted]
    if not media:
        print(f"femo bench: no media found under {data_dir} (use --data)", file=sys.stderr)
        return 2
    work_dir = Path(
        args.out_dir or Path("outputs", "bench", time.strftime("%Y-%m-%d_%H-%M-%S"))
    ).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    out = work_dir / "bench.json"
    print(f"femo bench: data {data_dir}, results in {work_dir}")
    print(HEADER)
    results = run_bench(
        media,
        args.detectors.split(","),
        [int(n) for n in args.every.split(",")],
        fast=not args.no_fast,
        max_frames=args.max_frames,
        work_dir=work_dir,
    )
    woman2 = data_dir / "fer-samples" / "woman2.mp4"
    if args.long_clip_minutes > 0 and woman2.is_file():
        memory = memory_check(woman2, args.long_clip_minutes, 20, work_dir, media_cache())
        results["memory"] = memory
        print(
            f"memory: one femo worker, Haar, N=20: {memory['short_peak_rss_mb']:.0f} MB on "
            f"woman2 ({memory['short_frames']} frames sampled), {memory['long_peak_rss_mb']:.0f} MB "
            f"on it repeated to {memory['long_minutes']:g} min ({memory['long_frames']} frames "
            f"sampled): x{memory['ratio']:.2f}"
        )
    results["command"] = "femo bench " + " ".join(sys.argv[2:] if argv is None else argv)
    out.write_text(json.dumps(results, indent=2))
    for estimate in results["estimates"]:
        print(format_estimate(estimate))
    print(f"femo bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
