"""Runs combined over the same clips (`--with`): the averaged vote, and side-by-side features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from femo.config import ConfigError, RunConfig, to_dict
from femo.dataset import Clip
from femo.results.commands import reduce_run
from femo.rundir import RunDir, make_plan

from .builders import clip_row, face, no_face, synthetic_run, write_shard
from .conftest import error_line

pytestmark = pytest.mark.usefixtures("no_tensorflow")


def run_of(folder: Path, videos: list[str], detector: str, labels: Path | None = None) -> Path:
    config = to_dict(RunConfig())
    config["detector"]["name"] = detector
    config["detector"]["scale_factor"] = 0.709 if detector == "mtcnn" else 1.1
    plan = make_plan([Clip(v, "video") for v in videos], len(videos))
    RunDir(folder).create(plan, config, str(labels) if labels else None)
    return folder


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na.mp4,Negative\nb.mp4,Positive\n")
    haar = run_of(tmp_path / "haar", ["a.mp4", "b.mp4"], "haar", labels)
    mtcnn = run_of(tmp_path / "mtcnn", ["a.mp4", "b.mp4"], "mtcnn", labels)
    # a: Haar leans neutral (0.5), MTCNN is sure of anger (0.9): mean angry 0.46 > neutral 0.3
    write_shard(haar, 0, [face("a.mp4", 0, angry=0.02, neutral=0.5), clip_row("a.mp4", frames_sampled=1),
                          no_face("b.mp4", 0), clip_row("b.mp4", frames_sampled=1)])  # fmt: skip
    write_shard(mtcnn, 0, [face("a.mp4", 0, angry=0.9, neutral=0.1), clip_row("a.mp4", frames_sampled=1),
                           face("b.mp4", 0, "happy"), clip_row("b.mp4", frames_sampled=1)])  # fmt: skip
    return haar, mtcnn


def test_the_ensemble_vote_averages_the_runs(pair):
    haar, mtcnn = pair
    alone = reduce_run(haar, [])
    assert alone.metrics["accuracy"] == 0.0  # a: Neutral; b: no face
    both = reduce_run(haar, [], (mtcnn,))
    assert both.report_dir == haar / "report-with-mtcnn"
    assert both.metrics["accuracy"] == 1.0  # a: Negative; b: Positive (MTCNN found the face)
    assert both.metrics["n_no_face"] == 0
    assert (haar / "report" / "metrics.json").is_file()  # the run's own report is kept


def test_an_ensemble_needs_the_same_clips(pair, tmp_path):
    haar, _ = pair
    other = run_of(tmp_path / "other", ["a.mp4", "c.mp4"], "mtcnn")
    with pytest.raises(ConfigError, match="ran over other clips"):
        reduce_run(haar, [], (other,))


def test_fit_with_side_by_side_features(fast_femo, tmp_path):
    (tmp_path / "h").mkdir()
    haar = synthetic_run(tmp_path / "h")
    # the same clips seen by a second detector: the same shards, called MTCNN here
    mtcnn = tmp_path / "m"
    saved = json.loads((haar / "femo.json").read_text())
    run_of(
        mtcnn, [r.split(",")[0] for r in (haar / "clips.csv").read_text().splitlines()[1:]], "mtcnn"
    )
    for shard in (haar / "shards").iterdir():
        (mtcnn / "shards").mkdir(exist_ok=True)
        (mtcnn / "shards" / shard.name).write_bytes(shard.read_bytes())
    assert saved["config"]["detector"]["name"] == "haar"
    proc = fast_femo("fit", str(haar), "--with", str(mtcnn), "--out", str(tmp_path / "fit"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    head = json.loads((tmp_path / "fit" / "head.json").read_text())
    assert head["provenance"]["detectors"] == ["haar", "mtcnn"]
    assert head["feature_names"][0] == "0.haar:mean_angry"
    assert any(n.startswith("1.mtcnn:") for n in head["feature_names"])
    ok = fast_femo(
        "reduce", str(haar), "--with", str(mtcnn), f"reduce.head={tmp_path / 'fit' / 'head.json'}"
    )
    assert ok.returncode == 0, ok.stderr
    line = error_line(
        fast_femo("reduce", str(haar), f"reduce.head={tmp_path / 'fit' / 'head.json'}")
    )
    assert line.startswith(
        "femo: error: reduce.head: this head was fit on other features than this run's"
    )
