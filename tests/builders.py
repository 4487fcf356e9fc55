"""Builders that test files share: shard rows, run folders, shard tasks, report input and
runs over real media. Test files import these from here, never from each other.

Run folders, by what a test needs:

- :func:`make_run`: given videos in shards of ``per_shard``, labels optional (a Path);
- :func:`shard_per_clip_run`: one clip per shard, ``v0.mp4`` ... (a :class:`RunDir`);
- :func:`labelled_run`: as ``femo run`` starts it, with a labels snapshot (a Path);
- :func:`synthetic_run`: 60 clips of 12 persons with shards written (a Path);
- :func:`talk_run`: one real clip, ``talk.avi``, with its shard written (a Path).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from femo.config import (
    EMOTIONS,
    DatasetConfig,
    ExtractConfig,
    MappingConfig,
    ReduceConfig,
    ReportConfig,
    RunConfig,
    SamplingConfig,
    detector_config,
    to_dict,
)
from femo.dataset import Clip
from femo.results.commands import report_run
from femo.results.metrics import Metrics
from femo.results.model import ClipResult, Report
from femo.results.run import open_run
from femo.rundir import RunDir, make_plan
from femo.shard_files import SCHEMA
from femo.task import ShardResult, ShardTask, make_tasks

from .conftest import SHARED, need, shard_task

# --------------------------------------------------------------- shard rows


THREE = MappingConfig()


def scores(top: str | None = None, value: float = 0.6, **explicit: float) -> dict[str, float]:
    """Seven scores: ``top`` gets ``value``, the others share the rest; or given explicitly."""
    if explicit:
        return {e: explicit.get(e, 0.01) for e in EMOTIONS}
    rest = (1.0 - value) / (len(EMOTIONS) - 1)
    return {e: value if e == top else rest for e in EMOTIONS}


def face(video, frame, emotion=None, *, face_index=0, w=80, h=80, **explicit) -> dict:
    row = {"video": video, "kind": "frame", "frame": frame, "time_s": frame / 25.0}
    row.update(face=face_index, x=10 * face_index, y=5, w=w, h=h)
    if emotion is not None or explicit:
        row.update(scores(emotion, **explicit))
    return row


def no_face(video, frame) -> dict:
    return {"video": video, "kind": "frame", "frame": frame, "time_s": frame / 25.0}


def clip_row(video, status="ok", message=None, frames_sampled=0) -> dict:
    return {
        "video": video,
        "kind": "clip",
        "status": status,
        "message": message,
        "fps": 25.0,
        "frames_read": 100,
        "frames_sampled": frames_sampled,
        "seconds": 0.5,
    }


def clip_rows(video: str, emotions: list[str | None], status="ok", message=None) -> list[dict]:
    """Frame rows (one face per frame; None: no face) then the clip row."""
    rows = [
        face(video, 5 * i, e) if e is not None else no_face(video, 5 * i)
        for i, e in enumerate(emotions)
    ]
    return [*rows, clip_row(video, status, message, len(emotions))]


def write_shard(run_dir: Path, index: int, rows: list[dict]) -> Path:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    path = RunDir(run_dir).shard_file(index)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


# ---------------------------------------------------------------- run folders


def make_run(
    tmp_path: Path,
    videos: list[str],
    per_shard: int,
    labels: dict[str, str] | None = None,
) -> Path:
    run_dir = tmp_path / "run"
    clips = [Clip(v, "image" if v.endswith(".jpg") else "video") for v in videos]
    plan = make_plan(clips, per_shard)
    labels_file = None
    if labels is not None:
        labels_file = tmp_path / "labels.csv"
        lines = ["video,label", *(f"{v},{labels.get(v, '')}" for v in videos)]
        labels_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    RunDir(run_dir).create(plan, to_dict(RunConfig()), str(labels_file) if labels_file else None)
    return run_dir


def shard_per_clip_run(tmp_path: Path, n_shards: int = 3) -> RunDir:
    plan = make_plan([Clip(f"v{i}.mp4", "video") for i in range(n_shards)], 1)
    run = RunDir(tmp_path / "run")
    config = to_dict(RunConfig())
    config["dataset"]["root"] = str(tmp_path / "clips")
    run.create(plan, config, None)
    return run


def labelled_run(tmp_path: Path, n_shards: int = 3) -> Path:
    """A run folder as `femo run` starts it: manifest, plan, labels snapshot, logs/."""
    videos = [f"v{i}.mp4" for i in range(2 * n_shards - 1)]
    plan = make_plan([Clip(v, "video") for v in videos], 2)
    assert plan.n_shards == n_shards
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\nv0.mp4,Positive\nv1.mp4,Negative\nv2.mp4,neutral\n")
    run_dir = tmp_path / "run"
    config = to_dict(RunConfig())
    config["dataset"]["root"] = str(tmp_path / "clips")
    config["dataset"]["labels"] = str(labels)
    RunDir(run_dir).create(plan, config, str(labels))
    return run_dir


def synthetic_run(tmp_path, n_clips: int = 60, persons: int = 12, label_step: int = 1):
    """60 clips of 12 persons whose Negative clips look Neutral to the vote but not to
    their mean scores (the study's bias); clip i's label is class (i // label_step) % 3."""
    rng = np.random.default_rng(0)
    classes = ["Positive", "Neutral", "Negative"]
    videos = [f"p{i % persons:02d}_{i:03d}.mp4" for i in range(n_clips)]
    labels = {v: classes[(i // label_step) % 3] for i, v in enumerate(videos)}
    run_dir = make_run(tmp_path, videos, per_shard=30, labels=labels)
    for k in range(-(-n_clips // 30)):
        rows = []
        for v in videos[30 * k : 30 * (k + 1)]:
            for f in range(6):
                s = {e: 0.02 + 0.02 * rng.random() for e in EMOTIONS}
                s["neutral"] = 0.5
                if labels[v] == "Positive":
                    s["happy"] = 0.6 + 0.2 * rng.random()
                elif labels[v] == "Negative":
                    s["angry"] = 0.3 + 0.15 * rng.random()  # raised, seldom on top
                rows.append(face(v, 5 * f, **s))
            rows.append(clip_row(v, frames_sampled=6))
        write_shard(run_dir, k, rows)
    return run_dir


def write_clip(path: Path, n: int = 12, size=(320, 160)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    for k in range(n):
        writer.write(np.full((size[1], size[0], 3), 10 * k, np.uint8))
    writer.release()


def talk_run(tmp_path: Path) -> Path:
    """talk.avi (labelled Negative): frames 0, 4, 8 sampled; frame 0 has two faces (both
    happy), frame 4 none, frame 8 one (happy): predicted Positive, wrong."""
    data = tmp_path / "data"
    data.mkdir()
    write_clip(data / "talk.avi")
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\ntalk.avi,Negative\n", encoding="utf-8")
    run = tmp_path / "run"
    config = RunConfig(dataset=DatasetConfig(root=str(data), labels=str(labels)))
    RunDir(run).create(make_plan([Clip("talk.avi", "video")], 10), to_dict(config), str(labels))
    write_shard(
        run,
        0,
        [
            face("talk.avi", 0, "happy", face_index=0, w=40, h=40),
            face("talk.avi", 0, "happy", face_index=1, w=90, h=90),
            no_face("talk.avi", 4),
            face("talk.avi", 8, "happy", w=60, h=60),
            clip_row("talk.avi", frames_sampled=3),
        ],
    )
    return run


def reduce(run_dir: Path, mapping=THREE, dataset=None, min_units=10, **reduce_options):
    """Report ``run_dir`` with these settings, its labels read from its snapshot (as
    ``femo reduce`` reads them) unless ``dataset`` names a labels file."""
    dataset = dataset or DatasetConfig()
    snapshot = RunDir(run_dir).labels_file
    if dataset.labels is None and snapshot.is_file():
        dataset = replace(dataset, labels=str(snapshot))
    config = RunConfig(
        dataset=dataset,
        mapping=mapping,
        reduce=ReduceConfig(**reduce_options),
        report=ReportConfig(min_units=min_units),
    )
    return report_run(open_run(run_dir, config=config))


def videos_csv(run_dir: Path) -> list[str]:
    return (run_dir / "report" / "videos.csv").read_text(encoding="utf-8").splitlines()


# ----------------------------------------------------------- tasks and shards


def make_shard(task: ShardTask) -> ShardResult:
    """What a worker leaves: the shard file of ``task`` (every clip happy, one frame)."""
    rows = [row for clip in task.clips for row in clip_rows(clip.video, ["happy"])]
    path = write_shard(Path(task.run_dir), task.index, rows)
    return ShardResult(task.index, str(path), len(task.clips), 0, 1, 0.0)


def tasks_of(run: RunDir) -> list[ShardTask]:
    return make_tasks(run.path, run.read_plan(), run.config())


# -------------------------------------------------------------- report input

CLASSES = ["Positive", "Neutral", "Negative"]
EVIL = "<script>alert('x')</script>&.mp4"
EVIL_GROUP = '<b onmouseover="x">eve</b>'


def report_scores(top: str, strength: float = 0.7) -> dict[str, float]:
    rest = (1 - strength) / (len(EMOTIONS) - 1)
    return {e: strength if e == top else rest for e in EMOTIONS}


def report_group(name: str, clips: int, happy: float, accuracy: float | None) -> dict:
    others = (1 - happy) / 6
    emotion_share = {e: (happy if e == "happy" else others) for e in EMOTIONS}
    return {
        "group": name,
        "clips": clips,
        "labelled": clips - 1,
        "frames_with_face": clips * 40,
        "emotion_share": emotion_share,
        "emotion_mean_score": {e: v * 0.8 for e, v in emotion_share.items()},
        "class_share": {"Positive": happy, "Neutral": others, "Negative": 1 - happy - others},
        "predicted_share": {"Positive": 0.5, "Neutral": 0.25, "Negative": 0.25},
        "accuracy": accuracy,
        "accuracy_ci": None if accuracy is None else [max(accuracy - 0.2, 0), 1.0],
    }


def report_clip(video, group, golden, predict, status="ok", sampled=30, with_face=28, message=None):
    votes = {c: 0 for c in CLASSES}
    if predict is not None:
        votes[predict] = with_face // 2 + 1
        votes[CLASSES[(CLASSES.index(predict) + 1) % 3]] = with_face - votes[predict]
    return {
        "video": video,
        "group": group,
        "golden": golden,
        "predict": predict,
        "status": status,
        "frames_sampled": sampled,
        "frames_with_face": with_face,
        "face_rate": None if sampled == 0 else with_face / sampled,
        "votes": votes,
        "message": message,
    }


def as_report(metrics: dict, clips: list[dict]) -> Report:
    """The report model of hand-written input: ``metrics.json``'s dict and clip rows
    (video, group, golden, predict, status, frames_sampled, frames_with_face, votes,
    message)."""
    results = tuple(
        ClipResult(
            video=c["video"],
            predict=c["predict"],
            golden=c["golden"],
            status=c["status"],
            frames_sampled=c["frames_sampled"],
            frames_with_face=c["frames_with_face"],
            counts=dict(c["votes"]),
            message=c["message"],
            group=c["group"],
        )
        for c in clips
    )
    return Report(Metrics.from_json(metrics), results)


def build_report_input(*, partial: bool = False, groups: bool = True) -> tuple[dict, list[dict]]:
    """A small but complete run: 3 classes, 3 persons, 2 timelines (one with gaps)."""
    clips = [
        report_clip("anna/a_01.mp4", "anna", "Positive", "Positive"),
        report_clip("anna/a_02.mp4", "anna", "Negative", "Neutral"),
        report_clip("anna/a_03.mp4", "anna", None, "Positive"),
        report_clip("bert/b_01.mp4", "bert", "Neutral", "Neutral", with_face=12),
        report_clip("bert/b_02.mp4", "bert", "Positive", None, "no_face", with_face=0),
        report_clip("bert/b_03.mp4", "bert", "Negative", "Negative"),
        report_clip(f"eve/{EVIL}", EVIL_GROUP, "Positive", "Negative"),
        report_clip(
            "eve/e_02.mp4",
            EVIL_GROUP,
            "Neutral",
            None,
            "error",
            0,
            0,
            "cv2 could not open <file> & gave up",
        ),
        report_clip("eve/e_03.mp4", EVIL_GROUP, None, None, "no_face", with_face=0),
    ]
    frames_gappy = [
        {
            "frame": i * 5,
            "time_s": i * 0.2,
            "scores": None if i in (3, 4, 9) else report_scores("sad"),
        }
        for i in range(14)
    ]
    frames_plain = [
        {"frame": i, "time_s": None, "scores": report_scores("happy", 0.6)} for i in range(8)
    ]
    metrics = {
        "accuracy": 0.625,
        "accuracy_ci": [0.41, 0.802],
        "accuracy_scored": 0.714,
        "macro_f1": 0.583,
        "macro_f1_ci": [0.3, 0.81],
        "n_videos": 9,
        "n_labelled": 7,
        "n_scored": 5,
        "n_correct": 3,
        "n_no_face": 2,
        "n_failed": 1,
        "n_missing": 0,
        "classes": CLASSES,
        "emotions": list(EMOTIONS),
        "per_class": {
            "Positive": {
                "precision": 1.0,
                "recall": 0.333,
                "f1": 0.5,
                "support": 3,
                "recall_ci": [0.0, 0.8],
            },
            "Neutral": {
                "precision": 0.5,
                "recall": 0.5,
                "f1": 0.5,
                "support": 2,
                "recall_ci": [0.0, 1.0],
            },
            "Negative": {
                "precision": 0.5,
                "recall": 0.5,
                "f1": 0.5,
                "support": 2,
                "recall_ci": None,
            },
        },
        "confusion": {
            "Positive": {"Positive": 1, "Neutral": 0, "Negative": 1, "none": 1},
            "Neutral": {"Positive": 0, "Neutral": 1, "Negative": 0, "none": 1},
            "Negative": {"Positive": 0, "Neutral": 1, "Negative": 1, "none": 0},
        },
        "ci": {
            "method": "percentile bootstrap",
            "level": 0.95,
            "resamples": 2000,
            "unit": "group",
            "n_units": 3,
        },
        "partial": partial,
        "shards": {"planned": 4, "done": 3 if partial else 4, "not_done": [2] if partial else []},
        "groups": (
            [
                report_group("anna", 3, 0.5, 0.5),
                report_group("bert", 3, 0.2, 0.667),
                report_group(EVIL_GROUP, 3, 0.1, None),
            ]
            if groups
            else []
        ),
        "timelines": [
            {
                "video": "bert/b_01.mp4",
                "group": "bert",
                "golden": "Neutral",
                "predict": "Negative",
                "correct": False,
                "confidence": 0.81,
                "frames": frames_gappy,
            },
            {
                "video": "anna/a_01.mp4",
                "group": "anna",
                "golden": "Positive",
                "predict": "Positive",
                "correct": True,
                "confidence": 0.64,
                "frames": frames_plain,
            },
        ],
        "throughput": {"lines": ["412 frames in 20.1 s: 20.5 frames/s"], "frames_per_s": 20.5},
        "provenance": {
            "femo_version": "0.2.0",
            "fer_version": "22.4.0",
            "emotion_model_sha256": "ab" * 32,
            "dataset_root": "/data/study <2024>",
            "labels_file": "/data/labels.csv",
            "label_column": "label",
            "run_created": "2024-05-01T10:00:00",
            "reported_at": "2024-05-01T11:00:00",
        },
        "settings_yaml": "dataset:\n  root: /data/study\n  group_pattern: '^([a-z]+)/'\n",
        "unlabelled": ["anna/a_03.mp4", "eve/e_03.mp4"],
        "missing_clips": ["carl/c_01.mp4"],
        "unknown_labels": {"dora/d_01.mp4": "Ecstatic"},
    }
    return metrics, clips


# ------------------------------------------------------- real models and media


class RawScoreFER:
    """fer.FER with its classifier output captured before fer rounds it."""

    def __init__(self, mtcnn: bool):
        from fer import FER

        self.fer = FER(mtcnn=mtcnn)
        self.raw: list[np.ndarray] = []
        classify = self.fer._classify_emotions

        def spy(faces):
            out = classify(faces)
            self.raw.append(np.asarray(out))
            return out

        self.fer._classify_emotions = spy

    def detect(self, frame: np.ndarray) -> tuple[list[tuple[int, int, int, int]], np.ndarray]:
        self.raw.clear()
        result = self.fer.detect_emotions(frame)
        boxes = [tuple(int(v) for v in r["box"]) for r in result]
        scores = self.raw[0] if self.raw else np.zeros((0, 7))
        return boxes, scores


def reference_frames(path: str, every_n: int) -> dict[int, np.ndarray]:
    """The frames fer.Video.analyze(frequency=every_n) analyses: read all, keep i % n == 0."""
    cap = cv2.VideoCapture(path)
    frames, i = {}, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % every_n == 0:
            frames[i] = frame
        i += 1
    cap.release()
    return frames


def femo_rows(tmp_path, root, clips, detector: str, every_n: int, threads: int | None = None):
    extract = ExtractConfig(
        detector=detector_config({"name": detector}),
        sampling=SamplingConfig(every_n=every_n),
        threads=threads,
    )
    from femo.node.extract import run_shard

    task = shard_task(tmp_path, clips, root=root, extract=extract)
    run_shard(task)
    return pq.read_table(tmp_path / "shards" / "shard-00000.parquet").to_pandas()


FR_SAMPLES = SHARED / "fr-samples"


def femo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "femo", *args], cwd=cwd, capture_output=True, text=True,
        env=dict(os.environ, XDG_CACHE_HOME=str(cwd / "cache")),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def fr_samples_unlabelled_report(tmp_path: Path) -> Path:
    """``femo run`` on fr-samples as a new user would: BlazeFace, identities, no labels;
    the report folder."""
    root = need(FR_SAMPLES)
    femo("run", f"dataset.root={root / 'clips'}", "identity=dlib", "detector=blazeface",
         f"dataset.references={root / 'refs'}", f"hydra.run.dir={tmp_path / 'run'}",
         cwd=tmp_path)  # fmt: skip
    return tmp_path / "run" / "report"


def predicted_counts(report: Path) -> str:
    """``Neutral 3, Positive 0, Negative 0``: videos.csv's predictions, most first (ties in
    the mapping's order)."""
    from collections import Counter

    with open(report / "videos.csv", newline="") as fh:
        counts = Counter(r["predict"] for r in csv.DictReader(fh) if r["predict"])
    order = ["Positive", "Neutral", "Negative"]
    ranked = sorted(order, key=lambda c: (-counts[c], order.index(c)))
    return ", ".join(f"{c} {counts[c]}" for c in ranked)


# Haar's box of justin.jpg (fer's cascade, fer's settings), as x, y, w, h.
JUSTIN_BOX = (88, 84, 193, 193)


def rgb(name: str) -> np.ndarray:
    """A fer-samples image as RGB (skips where the shared media is absent)."""
    from .conftest import FER_SAMPLES, need

    return cv2.cvtColor(cv2.imread(str(need(FER_SAMPLES / name))), cv2.COLOR_BGR2RGB)
