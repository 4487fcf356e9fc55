"""`femo fit` and `reduce.head` end to end on a synthetic run (no TensorFlow)."""

from __future__ import annotations

import json

import numpy as np

from femo.config import EMOTIONS

from .test_cli import error_line
from .test_reduce import clip_row, face, make_run, write_shard


def synthetic_run(tmp_path):
    """60 clips of 12 persons whose Negative clips look Neutral to the vote but not to
    their mean scores (the study's bias)."""
    rng = np.random.default_rng(0)
    classes = ["Positive", "Neutral", "Negative"]
    videos = [f"p{i % 12:02d}_{i:03d}.mp4" for i in range(60)]
    labels = {v: classes[i % 3] for i, v in enumerate(videos)}
    run_dir = make_run(tmp_path, videos, per_shard=30, labels=labels)
    for k in range(2):
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


def test_fit_then_apply_the_head(fast_femo, tmp_path):
    run_dir = synthetic_run(tmp_path)
    proc = fast_femo("fit", str(run_dir), "dataset.group_pattern='^(p[0-9]+)_'")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "femo: held-out accuracy: head " in proc.stdout
    head_file = run_dir / "fit" / "head.json"
    head = json.loads(head_file.read_text())  # plain JSON, nothing to unpickle
    assert head["format"] == "femo-head" and head["provenance"]["detectors"] == ["haar"]
    assert head["provenance"]["labelled_clips"] == 60
    report = (run_dir / "fit" / "report.md").read_text()
    assert "grouped by person" in report and "(12 persons" in report
    proc = fast_femo("reduce", str(run_dir), f"reduce.head={head_file}")
    assert proc.returncode == 0, proc.stderr
    (folder,) = [p for p in run_dir.iterdir() if p.name.startswith("report-reduce.head")]
    metrics = json.loads((folder / "metrics.json").read_text())
    vote = (
        json.loads((run_dir / "report" / "metrics.json").read_text())
        if (run_dir / "report").exists()
        else None
    )
    assert vote is None  # the run's own report was never written over
    assert metrics["per_class"]["Negative"]["recall"] >= 0.65
    # the run's own report shows the head's cross-validated figures beside the vote
    assert fast_femo("reduce", str(run_dir)).returncode == 0
    page = (run_dir / "report" / "index.html").read_text()
    assert 'id="fit"' in page and "learnt head" in page
    # a head fit on MTCNN runs refuses a Haar run
    head["provenance"]["detectors"] = ["mtcnn"]
    other = tmp_path / "mtcnn-head.json"
    other.write_text(json.dumps(head))
    assert error_line(fast_femo("reduce", str(run_dir), f"reduce.head={other}")) == (
        "femo: error: reduce.head: this head was fit on mtcnn runs; this run used haar "
        "(fit a head on both to use it here)"
    )


def test_fit_needs_labels(fast_femo, tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4"], per_shard=1)
    write_shard(run_dir, 0, [face("a.mp4", 0, "happy"), clip_row("a.mp4", frames_sampled=1)])
    assert error_line(fast_femo("fit", str(run_dir))) == (
        "femo: error: femo fit needs at least 10 labelled clips"
    )
