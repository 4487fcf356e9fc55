"""Benchmark cases and the workers that measure them, each in a fresh process.

A pass over the media shorter than ``MIN_SECONDS`` is repeated (up to ``MAX_PASSES``)
and the median pass is reported, fer and femo alike; every pass is kept in the JSON.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config.detectors import DETECTORS, BenchFacts

# The study's size, which the bench's estimates scale to (not the media it measures):
# its clips, and the processes that work through them at once (16 array tasks running
# at a time, or launcher.workers=16), each taking shards of shards.videos_per_shard clips.
STUDY_CLIPS = 2826
STUDY_TASKS = 16


def bench_facts(detector: str) -> BenchFacts:
    """How the bench measures ``detector`` (the defaults for a name femo does not know)."""
    entry = DETECTORS.entry(detector)
    return entry.bench if entry is not None else BenchFacts()


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
    backend: str = "keras"  # femo's classifier.backend
    verify: str = ""  # femo's detector.verify; "" = the preset's own
    landmarks: str = "none"  # femo's landmarks (mesh: the face mesh on every face)

    def differs(self, key: str) -> str | None:
        """This case's ``key`` where it is not a Case's default (fer's own Keras backend,
        the preset's face check, no landmarks), for its names; None where it is."""
        value = getattr(self, key)
        return None if value == getattr(Case, key) else value


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
    """The :class:`DetectorConfig` of femo's ``conf/detector/<name>.yaml``, as composed."""
    import yaml

    from ..config import compose_option, conf_dir, detector_config

    path = conf_dir() / "detector" / f"{name}.yaml"
    return detector_config(compose_option("detector", yaml.safe_load(path.read_text())))


# --------------------------------------------------------------------------- workers
# Each runs in its own process (``python -m femo.bench --worker``).


def _fer_worker(case: Case) -> Measurement:
    """fer.Video.analyze on each clip; records what fer found per analysed frame.

    fer has no BlazeFace: a BlazeFace point is compared with fer's default, Haar.
    """
    from fer import FER, Video

    t0 = time.perf_counter()
    detector = FER(mtcnn=bench_facts(case.detector).fer_mtcnn)
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

    from ..config import SamplingConfig
    from ..node.detectors import make_detector
    from ..node.video import ClipInfo, sampled_frames

    sampling = SamplingConfig(every_n=case.every_n, max_frames=case.max_frames)
    t0 = time.perf_counter()
    detector = make_detector(detector_preset(case.detector))  # one call at a time
    detector.warm_up()  # as femo's workers do before any clip is timed
    startup = time.perf_counter() - t0
    batch = detector.frames_per_call

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
    for threads in bench_facts(case.detector).floor_threads:
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
    from ..config import ClassifierConfig, ExtractConfig, LandmarksConfig, SamplingConfig
    from ..dataset import Clip
    from ..node.engine import get_extractor
    from ..node.extract import run_shard
    from ..shard_files import read_shard_metadata
    from ..task import ShardTask

    detector = detector_preset(case.preset or case.detector)
    if case.verify:
        detector = replace(detector, verify=case.verify)
    extract = ExtractConfig(
        detector=detector,
        sampling=SamplingConfig(every_n=case.every_n, max_frames=case.max_frames),
        classifier=ClassifierConfig(backend=case.backend),
        landmarks=LandmarksConfig(case.landmarks),
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
    mode += f", {case.backend}" if case.differs("backend") else ""
    mode += f", verify={case.verify}" if case.differs("verify") else ""
    mode += f", landmarks={case.landmarks}" if case.differs("landmarks") else ""
    extra = {
        "shard": results[-1].path,
        "stage_seconds": timing["stage_seconds"],
        "passes_s": passes,
        **_faces_in(results[-1].path),
    }
    return Measurement("femo", mode, frames, seconds, startup, _peak_rss_mb(), extra)


def _check_worker(case: Case) -> Measurement:
    """The face check (``detector.verify=mesh``) alone, on every face the detector's
    preset finds in the sampled frames (found once, untimed): its cost per face."""
    from ..config import SamplingConfig
    from ..node.detectors import make_detector
    from ..node.verify import FaceCheck
    from ..node.video import ClipInfo, sampled_frames

    preset = detector_preset(case.detector)
    # verify_below null: every face is checked, whatever the preset would skip.
    everything = replace(preset, verify="mesh", verify_below=None)
    sampling = SamplingConfig(every_n=case.every_n, max_frames=case.max_frames)
    detector = make_detector(everything)
    found = []
    for video in case.media.videos:
        for frame in sampled_frames(
            os.path.join(case.media.root, video), "video", sampling, ClipInfo()
        ):
            faces = detector.detect([frame.image], [None])[0]
            if faces:
                found.append((frame.image, faces))
    t0 = time.perf_counter()
    check = FaceCheck(everything)
    check.warm_up_thread()
    startup = time.perf_counter() - t0

    def one_pass() -> tuple[int, float]:
        faces, started = 0, time.perf_counter()
        for image, frame_faces in found:
            check.check(image, frame_faces)
            faces += len(frame_faces)
        return faces, time.perf_counter() - started

    faces, seconds, passes = timed_passes(one_pass, case.repeat)
    checked = sum(
        preset.verify_below is None or f.confidence is None or f.confidence < preset.verify_below
        for _, frame_faces in found
        for f in frame_faces
    )
    extra = {
        "ms_per_face": round(1000 * seconds / faces, 3) if faces else None,
        # The faces the preset itself checks (the others it is sure of).
        "faces_the_preset_checks": checked if preset.checks else 0,
        "passes_s": passes,
    }
    return Measurement("check", "face check (mesh)", faces, seconds, startup, _peak_rss_mb(), extra)


def _faces_in(shard: str) -> dict[str, int]:
    """How many face rows a shard holds, and how many of them have a mesh."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(shard, columns=["face", "mesh"])
    return {
        "faces": int(pc.sum(pc.is_valid(table["face"])).as_py() or 0),
        "meshes": int(pc.sum(pc.is_valid(table["mesh"])).as_py() or 0),
    }


def _mesh_worker(case: Case) -> Measurement:
    """The face mesh alone on every face the detector finds in the sampled frames:
    wall and CPU seconds of :class:`femo.node.landmarks.MeshLandmarks` calls only."""
    import cv2

    from ..config import SamplingConfig
    from ..node.detectors import make_detector
    from ..node.landmarks import MeshLandmarks
    from ..node.video import ClipInfo, sampled_frames

    sampling = SamplingConfig(every_n=case.every_n, max_frames=case.max_frames)
    detector = make_detector(detector_preset(case.detector))
    t0 = time.perf_counter()
    landmarks = MeshLandmarks()
    landmarks.warm_up_thread()
    startup = time.perf_counter() - t0
    faces = []
    for video in case.media.videos:
        path = os.path.join(case.media.root, video)
        for frame in sampled_frames(path, "video", sampling, ClipInfo()):
            found = detector.detect([frame.image], [cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)])
            if found[0]:
                faces.append((cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB), found[0]))
    cpu: list[float] = []

    def one_pass() -> tuple[int, float]:
        started, cpu_started = time.perf_counter(), time.thread_time()
        for rgb, found in faces:
            landmarks.frame(rgb, found)
        cpu.append(time.thread_time() - cpu_started)
        return sum(len(f) for _, f in faces), time.perf_counter() - started

    n, seconds, passes = timed_passes(one_pass, case.repeat)
    extra = {"faces": n, "cpu_s": statistics.median(cpu), "passes_s": passes}
    return Measurement("mesh", "mesh alone", n, seconds, startup, _peak_rss_mb(), extra)


WORKERS = {
    "fer": _fer_worker,
    "floor": _floor_worker,
    "femo": _femo_worker,
    "check": _check_worker,
    "mesh": _mesh_worker,
}


def _worker_main(spec: str) -> None:
    raw = json.loads(spec)
    raw["media"] = MediaSet(**{**raw["media"], "videos": tuple(raw["media"]["videos"])})
    case = Case(**raw)
    measurement = WORKERS[case.kind](case)
    print("FEMO-BENCH " + json.dumps(asdict(measurement)), flush=True)


def measure(case: Case, log_dir: Path) -> Measurement:
    """Run ``case`` in a fresh Python process and return what it measured."""
    name = f"{case.media.name}-{case.preset or case.detector}-n{case.every_n}-{case.kind}"
    name += f"-{case.backend}" if case.differs("backend") else ""
    name += f"-verify-{case.verify}" if case.differs("verify") else ""
    name += f"-{case.landmarks}" if case.differs("landmarks") else ""
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
