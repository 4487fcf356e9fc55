"""`femo fit` and `reduce.head` end to end on a synthetic run (no TensorFlow)."""

from __future__ import annotations

import csv
import json
import re

import pytest

from .builders import clip_row, face, make_run, synthetic_run, write_shard
from .conftest import error_line, femo


def test_fit_then_apply_the_head(fast_femo, tmp_path):
    run_dir = synthetic_run(tmp_path)
    proc = fast_femo("fit", str(run_dir), "dataset.group_pattern='^(p[0-9]+)_'")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "femo: held-out accuracy: head " in proc.stdout
    head_file = run_dir / "fit" / "head.json"
    head = json.loads(head_file.read_text())  # plain JSON, nothing to unpickle
    assert head["format"] == "femo-head" and head["provenance"]["detectors"] == ["haar"]
    assert head["provenance"]["labelled_clips"] == 60
    assert head["provenance"]["classifiers"] == ["fer's 7-emotion model"]
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
    # and a head fit on another model's scores refuses fer's
    head["provenance"]["detectors"] = ["haar"]
    head["provenance"]["classifiers"] = ["custom model enet.onnx (sha256 ab12cd34ef56)"]
    other.write_text(json.dumps(head))
    assert error_line(fast_femo("reduce", str(run_dir), f"reduce.head={other}")) == (
        "femo: error: reduce.head: this head was fit on the scores of custom model enet.onnx "
        "(sha256 ab12cd34ef56); this run's are from fer's 7-emotion model (fit a head on "
        "this run's scores)"
    )


def test_fit_needs_labels(fast_femo, tmp_path):
    """Issue 37: on an unlabelled run the line named no way to give the labels."""
    run_dir = make_run(tmp_path, ["a.mp4"], per_shard=1)
    write_shard(run_dir, 0, [face("a.mp4", 0, "happy"), clip_row("a.mp4", frames_sampled=1)])
    assert error_line(fast_femo("fit", str(run_dir))) == (
        f"femo: error: femo fit needs at least 10 labelled clips; {run_dir} has no labels: "
        f"give them after the run folders, femo fit {run_dir} dataset.labels=FILE"
    )
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\na.mp4,Positive\n")
    assert error_line(fast_femo("fit", str(run_dir), f"dataset.labels={labels}")) == (
        "femo: error: femo fit needs at least 10 labelled clips (1 here)"
    )


def test_fit_on_three_persons_prints_no_interval_and_mcnemars_p(fast_femo, tmp_path):
    """3 persons are fewer than report.min_units=10: no interval anywhere, and the console
    line gives the paired difference and McNemar's p (issue 26)."""
    from scipy.stats import binomtest

    run_dir = synthetic_run(tmp_path, n_clips=30, persons=3, label_step=3)  # each: 3 classes
    persons = "dataset.group_pattern='^(p[0-9]+)_'"
    proc = fast_femo("fit", str(run_dir), persons)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("femo: held-out")]
    head = json.loads((run_dir / "fit" / "head.json").read_text())
    figures = head["provenance"]["cross_validation"]["all"]
    comp = figures["comparison"]
    # The vote (top emotion per frame, majority) calls every Negative clip Neutral: the
    # 12 Positive and 9 Neutral of the 30 clips are right, 21 / 30 = 70.0%.
    vote_right = 21
    head_right = vote_right + comp["head_only_right"] - comp["vote_only_right"]
    discordant = comp["head_only_right"] + comp["vote_only_right"]
    p = binomtest(comp["head_only_right"], discordant, 0.5).pvalue
    assert lines == [
        f"femo: held-out accuracy: head {100 * head_right / 30:.1f}%, the study's vote 70.0% "
        "(the same 30 clips; folds grouped by person); head − vote "
        f"{100 * (head_right - vote_right) / 30:+.1f} points (no interval: 3 persons, fewer "
        f"than report.min_units=10), McNemar p = {p:.2g}"
    ]
    assert comp["head_only_right"] > comp["vote_only_right"]  # the head sees the anger
    report = (run_dir / "fit" / "report.md").read_text()
    assert "[" not in report.split("| Clips |")[1]  # no interval in any table
    assert "No intervals (no interval: 3 persons, fewer than report.min_units=10)" in report
    assert figures["head"]["accuracy_ci"] is None and comp["difference_ci"] is None
    # With report.min_units=3 the same 3 persons get intervals, and the line shows them.
    proc = fast_femo("fit", str(run_dir), persons, "report.min_units=3")
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("femo: held-out")]
    assert re.fullmatch(
        r"femo: held-out accuracy: head \d+\.\d% \[\d+\.\d, \d+\.\d\], the study's vote "
        r"70\.0% \[\d+\.\d, \d+\.\d\] \(the same 30 clips; folds grouped by person\); "
        r"head − vote \+\d+\.\d points \[[-+]\d+\.\d, \+\d+\.\d\], McNemar p = [0-9.e-]+",
        line,
    ), line


@pytest.mark.slow
def test_fit_on_the_three_dev_clip_actors_prints_no_interval_and_mcnemars_p(dev_clips, tmp_path):
    """The issue-26 trial, exactly: `femo fit` over the 21 labelled dev clips of 3 actors."""
    from scipy.stats import binomtest

    run = tmp_path / "run"
    done = femo("run", f"dataset.root={dev_clips}", f"dataset.labels={dev_clips / 'labels.csv'}",
                "dataset.group_column=actor", f"hydra.run.dir={run}", cwd=tmp_path, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    proc = femo("fit", str(run), cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("femo: held-out")]
    assert line == (
        "femo: held-out accuracy: head 71.4%, the study's vote 66.7% (the same 21 clips; "
        "folds grouped by person); head − vote +4.8 points (no interval: 3 persons, fewer "
        "than report.min_units=10), McNemar p = 1"
    )
    # The vote's figure is the run's own report's: 14 of its 21 labelled clips right.
    rows = list(csv.DictReader((run / "report" / "videos.csv").open()))
    labelled = [r for r in rows if r["golden"]]
    assert (sum(r["predict"] == r["golden"] for r in labelled), len(labelled)) == (14, 21)
    # The head: 14 + 2 - 1 = 15 of 21 right (71.4%); McNemar on 2 against 1 discordant: p = 1.
    comp = json.loads((run / "fit" / "head.json").read_text())["provenance"]["cross_validation"][
        "all"
    ]["comparison"]
    assert (comp["head_only_right"], comp["vote_only_right"]) == (2, 1)
    assert binomtest(2, 3, 0.5).pvalue == 1.0
    assert "[" not in (run / "fit" / "report.md").read_text().split("| Clips |")[1]
