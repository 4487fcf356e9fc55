"""The study's method, end to end through the real CLI, against fer.FER frame by frame."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from femo.config import MappingConfig

from .builders import reference_frames
from .conftest import femo

pytestmark = pytest.mark.slow

MAPPING = MappingConfig()


def study_prediction(detector, path: Path, every_n: int) -> str | None:
    """Sample 1 in n frames, fer's top emotion of the first face, map to 3 classes, vote.

    A tie in the vote goes to the class listed first in the mapping (Positive,
    Neutral, Negative), the rule femo documents.
    """
    votes = Counter()
    for frame in reference_frames(str(path), every_n).values():
        emotion, _ = detector.top_emotion(frame)
        if emotion is not None:
            votes[MAPPING.emotions[emotion]] += 1
    if not votes:
        return None
    best = max(votes.values())
    return next(c for c in MAPPING.classes if votes[c] == best)


def read_videos_csv(run_dir: Path, report: str = "report") -> dict[str, dict]:
    with open(run_dir / report / "videos.csv", newline="") as fh:
        return {r["video"]: r for r in csv.DictReader(fh)}


def only_run_dir(output_root: Path) -> Path:
    runs = [p.parent for p in output_root.glob("*/*/femo.json")]
    assert len(runs) == 1, runs
    return runs[0]


def test_dev_clips_match_the_study_method(tmp_path, dev_clips):
    from fer import FER

    clips = tmp_path / "clips"
    shutil.copytree(dev_clips, clips)
    out = tmp_path / "outputs"
    proc = femo(
        "run",
        "dataset.root=clips",  # relative to the folder femo was started in
        "dataset.labels=clips/labels.csv",
        "sampling.every_n=5",
        "shards.videos_per_shard=10",
        f"output_root={out}",
        cwd=tmp_path,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = only_run_dir(out)
    assert "report.md" in proc.stdout
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())
    assert metrics["n_videos"] == 24
    assert metrics["n_labelled"] == 21
    assert sorted(p.name for p in (run_dir / "shards").iterdir()) == [
        "shard-00000.parquet",
        "shard-00001.parquet",
        "shard-00002.parquet",
    ]

    # Every shard recorded its speed; status and the report add it up for sizing jobs.
    status = femo("status", str(run_dir), cwd=tmp_path, timeout=1200)
    assert status.returncode == 0, status.stderr[-3000:]
    speed = [line for line in status.stdout.splitlines() if line.startswith("speed:")]
    assert (
        len(speed) == 1
        and "sampled frames/s" in speed[0]
        and "over 3 finished shard(s)" in speed[0]
    )
    # A finished run: the measured seconds per shard, and nothing left to estimate.
    assert "time: every shard is done (" in status.stdout
    assert "per shard, measured over 3 finished)" in status.stdout
    throughput = metrics["throughput"]
    assert throughput["shards"] == 3 and throughput["clips"] == 24
    assert throughput["frames_sampled"] == sum(
        int(r["frames_sampled"]) for r in read_videos_csv(run_dir).values()
    )
    assert throughput["frames_per_s"] > 0
    assert set(throughput["stage_frames_per_s"]) == {"decode", "detect", "classify"}
    assert "## Throughput" in (run_dir / "report" / "report.md").read_text()

    rows = read_videos_csv(run_dir)
    detector = FER()
    reference = {v: study_prediction(detector, clips / v, 5) for v in sorted(rows)}
    assert {v: r["predict"] or None for v, r in rows.items()} == reference
    correct = sum(1 for v, r in rows.items() if r["golden"] and r["predict"] == r["golden"])
    assert metrics["n_correct"] == correct
    assert metrics["accuracy"] == pytest.approx(correct / 21)

    # The reduce step never opens a video: remove them all, then re-report for 7 classes.
    shutil.rmtree(clips)
    proc = femo(
        "reduce",
        str(run_dir),
        "mapping=seven",
        "dataset.label_column=emotion",
        "dataset.unknown_labels=unlabelled",
        cwd=tmp_path,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # other settings than the run's: their own report folder; the 3-class report stays
    folder = run_dir / (
        "report-mapping-seven_dataset.label_column-emotion_dataset.unknown_labels-unlabelled"
    )
    assert f"femo: report: {folder / 'index.html'}" in proc.stdout
    assert json.loads((run_dir / "report" / "metrics.json").read_text())["n_correct"] == correct
    seven = json.loads((folder / "metrics.json").read_text())
    assert seven["n_videos"] == 24
    assert seven["n_labelled"] == 21  # the 3 'contempt' clips are outside fer's 7 emotions
    assert sorted(seven["unknown_labels"]) == [v for v in sorted(rows) if "contempt" in v]
    assert set(seven["per_class"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    header = (folder / "videos.csv").read_text().splitlines()[0].split(",")
    assert header[7:14] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    with open(dev_clips / "labels.csv", newline="") as fh:
        emotion = {r["video"]: r["emotion"] for r in csv.DictReader(fh)}
    for v, r in read_videos_csv(run_dir, folder.name).items():
        assert sum(int(r[e]) for e in header[7:14]) == int(r["frames_with_face"])
        assert r["golden"] == ("" if emotion[v] == "contempt" else emotion[v])
        if r["predict"]:  # the 7-class vote, mapped, lands in a class that got 3-class votes
            assert int(rows[v][MAPPING.emotions[r["predict"]]]) > 0
