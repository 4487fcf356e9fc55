"""Groups, intervals, profiles and timelines, on synthetic shards with known answers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from femo.config import EMOTIONS, ConfigError, DatasetConfig, MappingConfig, ReportConfig
from femo.dataset import Clip, Labels, clip_groups, read_labels
from femo.pipeline import latest_run
from femo.results.analysis import group_profiles, intervals, pick_timelines, timelines
from femo.results.commands import reduce_run, report_changes
from femo.results.model import ClipResult
from femo.results.reduce import compute_metrics, frame_emotions, reduce_clips
from femo.results.shard_rows import load_shards
from femo.rundir import RunDir

from .builders import clip_row, clip_rows, face, make_run, no_face, reduce, write_shard

pytestmark = pytest.mark.usefixtures("no_tensorflow")

THREE = MappingConfig()
CLASSES = THREE.classes


def result(video: str, golden: str | None, predict: str | None, group=None, votes=None):
    counts = votes or {c: int(c == predict) * 3 for c in CLASSES}
    return ClipResult(video, predict, golden, "ok", 4, sum(counts.values()), counts, group=group)


# ------------------------------------------------------------------- groups


def test_group_column_or_pattern(tmp_path):
    clips = [Clip(v, "video") for v in ("biden_1.mp4", "biden_2.mp4", "trump_1.mp4", "x.mp4")]
    labels_csv = tmp_path / "labels.csv"
    labels_csv.write_text("video,label,person\nbiden_1.mp4,Positive,Joe\ntrump_1.mp4,,\n")
    config = DatasetConfig(group_column="person")
    labels = read_labels(labels_csv, config, THREE, clips)
    assert clip_groups([c.video for c in clips], config, labels) == {"biden_1.mp4": "Joe"}
    # the pattern: its first capture group; x.mp4 does not match
    pattern = DatasetConfig(group_pattern=r"^([a-z]+)_")
    assert clip_groups([c.video for c in clips], pattern, Labels()) == {
        "biden_1.mp4": "biden",
        "biden_2.mp4": "biden",
        "trump_1.mp4": "trump",
    }
    # both at once would leave one of them unused for most clips: refused
    with pytest.raises(ConfigError, match="group_column and dataset.group_pattern are both set"):
        DatasetConfig(group_column="person", group_pattern=r"^([a-z]+)_")


def test_the_labelled_person_is_the_group_where_no_group_is_set(tmp_path):
    clips = [Clip(v, "video") for v in ("a.mp4", "b.mp4", "c.mp4")]
    labels_csv = tmp_path / "labels.csv"
    labels_csv.write_text(
        "video,label,who,debate\na.mp4,Positive,Joe,d1\nb.mp4,,Ann,d1\nc.mp4,,,d2\n"
    )
    videos = [c.video for c in clips]
    by_person = DatasetConfig(person_column="who")
    labels = read_labels(labels_csv, by_person, THREE, clips)
    assert clip_groups(videos, by_person, labels) == {"a.mp4": "Joe", "b.mp4": "Ann"}
    # a group column or pattern, where set, is the group
    by_debate = DatasetConfig(person_column="who", group_column="debate")
    labels = read_labels(labels_csv, by_debate, THREE, clips)
    assert clip_groups(videos, by_debate, labels) == {"a.mp4": "d1", "b.mp4": "d1", "c.mp4": "d2"}


def test_group_settings_are_checked():
    with pytest.raises(ConfigError, match="needs a capture group"):
        DatasetConfig(group_pattern="^[a-z]+_")
    with pytest.raises(ConfigError, match="is not a regex"):
        DatasetConfig(group_pattern="([a-z")


def test_missing_group_column_is_named(tmp_path):
    labels_csv = tmp_path / "labels.csv"
    labels_csv.write_text("video,label\na.mp4,Positive\n")
    with pytest.raises(ConfigError, match="has no 'speaker' column \\(dataset.group_column\\)"):
        read_labels(
            labels_csv, DatasetConfig(group_column="speaker"), THREE, [Clip("a.mp4", "video")]
        )


# ---------------------------------------------------------------- intervals


def metrics_with_intervals(results, resamples=2000):
    metrics = compute_metrics(results, CLASSES)
    ci = intervals(results, CLASSES, ReportConfig(resamples=resamples))
    metrics.update(
        accuracy_ci=ci.accuracy,
        macro_f1_ci=ci.macro_f1,
        ci=None if ci.basis is None else ci.basis.to_json(),
    )
    for c in CLASSES:
        metrics["per_class"][c]["recall_ci"] = ci.recall[c]
    return metrics


def sample(n: int, right_share: float, per_group: int | None = None) -> list[ClipResult]:
    """n clips, a share of them right; whole groups right or wrong when per_group is set."""
    out = []
    for i in range(n):
        group = f"p{i // per_group}" if per_group else None
        right = (i // per_group if per_group else i) % 10 < right_share * 10
        golden = CLASSES[i % 3]
        predict = golden if right else CLASSES[(i + 1) % 3]
        out.append(result(f"c{i}.mp4", golden, predict, group))
    return out


def test_intervals_contain_the_estimate_and_narrow_with_more_clips():
    small = metrics_with_intervals(sample(60, 0.6))
    large = metrics_with_intervals(sample(600, 0.6))
    for m in (small, large):
        lo, hi = m["accuracy_ci"]
        assert lo <= m["accuracy"] <= hi
        lo, hi = m["macro_f1_ci"]
        assert lo <= m["macro_f1"] <= hi
        for c in CLASSES:
            lo, hi = m["per_class"][c]["recall_ci"]
            assert lo <= m["per_class"][c]["recall"] <= hi
    width = lambda m: m["accuracy_ci"][1] - m["accuracy_ci"][0]  # noqa: E731
    # ten times the clips: about sqrt(10) = 3.2 times narrower
    assert 2.3 < width(small) / width(large) < 4.5
    assert small["ci"]["unit"] == "clip" and small["ci"]["resamples"] == 2000


def test_whole_persons_are_resampled_when_groups_are_known():
    clips = sample(400, 0.6)
    persons = sample(400, 0.6, per_group=20)  # each person's 20 clips all right or all wrong
    by_clip, by_person = metrics_with_intervals(clips), metrics_with_intervals(persons)
    assert by_clip["accuracy"] == by_person["accuracy"] == 0.6
    assert by_person["ci"]["unit"] == "group" and by_person["ci"]["n_units"] == 20
    width = lambda m: m["accuracy_ci"][1] - m["accuracy_ci"][0]  # noqa: E731
    assert width(by_person) > 3 * width(by_clip)


def test_intervals_are_seeded():
    clips = sample(100, 0.5)
    assert (
        metrics_with_intervals(clips)["accuracy_ci"] == metrics_with_intervals(clips)["accuracy_ci"]
    )


def test_no_labels_no_intervals():
    m = metrics_with_intervals([result("a.mp4", None, "Positive")])
    assert (m["accuracy_ci"], m["macro_f1_ci"], m["ci"]) == (None, None, None)


# --------------------------------------------------------------- profiles


def test_group_profiles_by_hand(tmp_path):
    run_dir = make_run(
        tmp_path,
        ["a.mp4", "b.mp4", "c.mp4"],
        per_shard=3,
        labels={"a.mp4": "Positive", "b.mp4": "Negative", "c.mp4": "Neutral"},
    )
    write_shard(
        run_dir,
        0,
        [
            *clip_rows("a.mp4", ["happy", "happy", "sad", None]),  # ann: Positive, right
            *clip_rows("b.mp4", ["angry", "neutral", "neutral"]),  # ann: Neutral, wrong
            *clip_rows("c.mp4", ["surprise"]),  # bob: Positive, wrong
        ],
    )
    shards = load_shards(run_dir / "shards")
    per_frame = frame_emotions(shards.frame_rows, reduce_config())
    groups = {"a.mp4": "ann", "b.mp4": "ann", "c.mp4": "bob"}
    results = reduce_clips(
        ["a.mp4", "b.mp4", "c.mp4"],
        shards,
        {"a.mp4": "Positive", "b.mp4": "Negative", "c.mp4": "Neutral"},
        THREE,
        reduce_config(),
        groups,
        per_frame,
    )
    ann, bob = group_profiles(results, per_frame, THREE, ReportConfig())
    assert (ann.group, ann.clips, ann.labelled, ann.frames_with_face) == (
        "ann",
        2,
        2,
        6,
    )
    # ann's 6 faces: happy 2, sad 1, angry 1, neutral 2
    assert ann.emotion_share == {
        "angry": pytest.approx(1 / 6, abs=1e-6), "disgust": 0.0, "fear": 0.0,
        "happy": pytest.approx(2 / 6, abs=1e-6), "sad": pytest.approx(1 / 6, abs=1e-6),
        "surprise": 0.0, "neutral": pytest.approx(2 / 6, abs=1e-6),
    }  # fmt: skip
    assert ann.class_share == {
        "Positive": pytest.approx(2 / 6, abs=1e-6),
        "Neutral": pytest.approx(3 / 6, abs=1e-6),
        "Negative": pytest.approx(1 / 6, abs=1e-6),
    }
    assert ann.predicted_share == {"Positive": 0.5, "Neutral": 0.5, "Negative": 0.0}
    # 2 labelled clips, fewer than report.min_units (10): no interval, and why
    assert (ann.accuracy, ann.accuracy_ci, ann.ci_withheld) == (
        0.5, None, "no interval: 2 clips, fewer than report.min_units=10",
    )  # fmt: skip
    # allowed down to 2 clips, ann's two clips (one right) resample to [0, 1]
    ann2, _ = group_profiles(results, per_frame, THREE, ReportConfig(min_units=2))
    assert (ann2.accuracy_ci, ann2.ci_withheld) == ([0.0, 1.0], None)
    # the happy face scores 0.6 (the others share 0.4 / 6)
    assert ann.emotion_mean_score["happy"] == pytest.approx((0.6 * 2 + 4 * 0.4 / 6) / 6, abs=1e-5)
    assert (bob.clips, bob.accuracy, bob.predicted_share["Positive"]) == (1, 0.0, 1.0)
    assert (bob.accuracy_ci, bob.ci_withheld) == (
        None, "no interval: 1 clip, fewer than report.min_units=10",
    )  # fmt: skip


def reduce_config():
    from femo.config import ReduceConfig

    return ReduceConfig()


# -------------------------------------------------------------- timelines


def test_pick_timelines_prefers_confident_wrong_ones():
    results = [
        result("w1", "Positive", "Negative", votes={"Positive": 1, "Neutral": 0, "Negative": 3}),
        result("w2", "Positive", "Negative", votes={"Positive": 2, "Neutral": 0, "Negative": 2}),
        result("r1", "Neutral", "Neutral", votes={"Positive": 0, "Neutral": 5, "Negative": 0}),
        result("r2", "Neutral", "Neutral", votes={"Positive": 1, "Neutral": 2, "Negative": 0}),
        result("none", "Neutral", None, votes=dict.fromkeys(CLASSES, 0)),
    ]
    assert [r.video for r in pick_timelines(results, 3)] == ["w1", "w2", "r1"]
    assert [r.video for r in pick_timelines(results, 6)] == ["w1", "w2", "r1", "r2"]
    assert pick_timelines(results, 0) == []
    unlabelled = [
        result("u1", None, "Positive"),
        result("u2", None, "Neutral", votes={"Positive": 1, "Neutral": 1, "Negative": 0}),
    ]
    assert [r.video for r in pick_timelines(unlabelled, 1)] == ["u1"]


def test_timelines_have_gaps_where_no_face_was_found(tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4"], per_shard=1)
    rows = [face("a.mp4", 0, "happy"), no_face("a.mp4", 5), face("a.mp4", 10, "sad")]
    rows += [face("a.mp4", 10, "angry", face_index=1)]
    write_shard(run_dir, 0, [*rows, clip_row("a.mp4", frames_sampled=3)])
    shards = load_shards(run_dir / "shards")
    per_frame = frame_emotions(shards.frame_rows, reduce_config())
    (line,) = timelines(shards.frame_rows, per_frame, [result("a.mp4", "Positive", "Positive")])
    assert [f.frame for f in line.frames] == [0, 5, 10]
    assert [f.time_s for f in line.frames] == [0.0, 0.2, 0.4]
    assert line.frames[1].scores is None
    assert line.frames[0].scores["happy"] == pytest.approx(0.6)
    assert line.frames[2].scores["sad"] == pytest.approx(0.6)  # the first face, not face 1
    assert set(line.frames[0].scores) == set(EMOTIONS)
    assert line.correct is True


# ------------------------------------------------------------ run reports


@pytest.fixture
def grouped_run(tmp_path) -> Path:
    videos = [f"{p}_{i}.mp4" for p in ("ann", "bob", "cy") for i in range(4)]
    labels = {v: "Positive" for v in videos}
    run_dir = make_run(tmp_path, videos, per_shard=6, labels=labels)
    emotion = {"ann": "happy", "bob": "sad", "cy": "happy"}
    write_shard(
        run_dir,
        0,
        [r for v in videos[:6] for r in clip_rows(v, [emotion[v.split("_")[0]]] * 2 + [None])],
    )
    write_shard(
        run_dir, 1, [r for v in videos[6:] for r in clip_rows(v, [emotion[v.split("_")[0]]] * 2)]
    )
    return run_dir


def test_a_report_with_groups_profiles_and_intervals(grouped_run):
    grouped = DatasetConfig(group_pattern=r"^([a-z]+)_")
    result = reduce(grouped_run, dataset=grouped, min_units=3)
    m = result.metrics
    assert [g["group"] for g in m["groups"]] == ["ann", "bob", "cy"]
    assert [g["accuracy"] for g in m["groups"]] == [1.0, 0.0, 1.0]
    assert m["accuracy"] == pytest.approx(8 / 12)
    assert m["ci"]["unit"] == "group" and m["ci"]["n_units"] == 3
    assert m["partial"] is False and m["classes"] == list(CLASSES)
    assert m["timelines"] and m["timelines"][0]["correct"] is False  # bob's, wrong first
    assert m["provenance"]["label_column"] == "label"
    assert "name: haar" in m["settings_yaml"] and "min_face_size" not in m["settings_yaml"]
    with open(grouped_run / "report" / "videos.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["group"] for r in rows[:5]] == ["ann"] * 4 + ["bob"]
    with open(grouped_run / "report" / "groups.csv", newline="") as fh:
        table = {r["group"]: r for r in csv.DictReader(fh)}
    assert list(table) == ["ann", "bob", "cy"]
    assert (table["bob"]["clips"], table["bob"]["accuracy"], table["bob"]["share_sad"]) == (
        "4",
        "0.0",
        "1.0",
    )
    md = (grouped_run / "report" / "report.md").read_text()
    assert md.startswith("# femo report\n\n**Accuracy: 66.7%** (95% CI ")
    bob = "| bob | 4 | 4 | 8 | sad 100% | " + "Positive 0%, Neutral 100%, Negative 0% | " * 2
    assert "## Groups (3)" in md and f"{bob}0.0% (95% CI 0.0-0.0%) |" in md
    html = (grouped_run / "report" / "index.html").read_text()
    assert "bob_0.mp4" in html and "http://" not in html and "https://" not in html
    saved = json.loads((grouped_run / "report" / "metrics.json").read_text())
    assert saved["accuracy_ci"] == m["accuracy_ci"]


def test_a_re_reduce_with_other_settings_keeps_the_default_report(grouped_run):
    reduce_run(grouped_run, [])
    default = (grouped_run / "report" / "metrics.json").read_text()
    other = reduce_run(grouped_run, ["mapping=seven", "dataset.unknown_labels=unlabelled"])
    assert (
        other.report_dir == grouped_run / "report-mapping-seven_dataset.unknown_labels-unlabelled"
    )
    assert (other.report_dir / "index.html").is_file()
    assert (grouped_run / "report" / "metrics.json").read_text() == default
    run = RunDir(grouped_run)
    assert run.report_dir_for(report_changes(["reduce.allow_partial=true"])) == run.report_dir
    long = run.report_dir_for(report_changes([f"dataset.labels=/very/long/path/{'x' * 100}.csv"]))
    assert len(long.name) < 90 and long.name.startswith("report-dataset.labels-")


def test_a_partial_report_says_so(tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4", "b.mp4"], per_shard=1, labels={"a.mp4": "Positive"})
    write_shard(run_dir, 0, clip_rows("a.mp4", ["happy"]))
    with pytest.raises(ConfigError, match="with --allow-partial \\(reduce.allow_partial=true\\)"):
        reduce(run_dir)
    m = reduce(run_dir, allow_partial=True).metrics
    assert m["partial"] is True and m["shards"]["not_done"] == [1]
    assert (
        (run_dir / "report" / "report.md")
        .read_text()
        .startswith(
            "# femo report\n\n**PARTIAL: 1 of 2 clips missing (1 of 2 shard(s) not done); the "
            "accuracy is over the 1 clip present.**\n\n**Accuracy: 100.0%** "
            "(1 of 1 labelled clips present)"
        )
    )
    html = (run_dir / "report" / "index.html").read_text()
    assert "1 of 2 clips are missing; the accuracy is over the 1 clips present." in html


def test_latest_run(tmp_path):
    import os

    out = tmp_path / "outputs"
    older = out / "2026-11-24" / "10-00-00-a"
    newer = out / "sweeps" / "2026-11-25" / "09-00-00" / "0-b"
    for k, run in enumerate((older, newer)):
        run.mkdir(parents=True)
        (run / "clips.csv").write_text("video,kind,shard\n")
        os.utime(run / "clips.csv", (1000 + k, 1000 + k))
    assert latest_run(out) == newer
    with pytest.raises(Exception, match="no femo run under"):
        latest_run(tmp_path / "empty")


def test_both_pages_state_the_level_the_intervals_were_computed_with(grouped_run):
    """report.level=0.9: report.md and index.html both say 90 %, nowhere 95 %."""
    result = reduce_run(
        grouped_run,
        ["report.level=0.9", "report.min_units=3", "dataset.group_pattern='^([a-z]+)_'"],
    )
    m = result.metrics
    assert m["ci"]["level"] == 0.9 and m["ci"]["unit"] == "group"
    lo, hi = m["accuracy_ci"]
    markdown = (result.report_dir / "report.md").read_text(encoding="utf-8").splitlines()
    assert markdown[2] == (
        f"**Accuracy: 66.7%** (90% CI {100 * lo:.1f}-{100 * hi:.1f}%) (8 of 12 labelled clips)"
    )
    assert "- intervals: 90% percentile bootstrap, resampling whole groups" in markdown
    assert not [line for line in markdown if "95%" in line]
    page = (result.report_dir / "index.html").read_text(encoding="utf-8")
    assert f"(90 % CI {100 * lo:.1f}–{100 * hi:.1f} %, bootstrap over 3 persons)" in page
    assert "recall (90 % CI)" in page and "accuracy (90 % CI)" in page
    assert "95 %" not in page


def test_too_few_persons_or_clips_show_no_interval_and_say_why(grouped_run):
    """3 persons of 4 clips each, report.min_units=10 (the default): no interval anywhere,
    not bob's "0.0% (0.0-0.0%)"; report.md, index.html and metrics.json say why."""
    m = reduce(grouped_run, dataset=DatasetConfig(group_pattern=r"^([a-z]+)_")).metrics
    assert (m["accuracy_ci"], m["macro_f1_ci"]) == (None, None)
    assert m["ci"]["withheld"] == "no interval: 3 persons, fewer than report.min_units=10"
    assert (m["ci"]["unit"], m["ci"]["n_units"], m["ci"]["min_units"]) == ("group", 3, 10)
    assert [g["accuracy_ci"] for g in m["groups"]] == [None, None, None]
    assert m["groups"][1]["ci_withheld"] == "no interval: 4 clips, fewer than report.min_units=10"
    md = (grouped_run / "report" / "report.md").read_text().splitlines()
    assert md[2] == "**Accuracy: 66.7%** (8 of 12 labelled clips)"
    assert "- intervals: none (no interval: 3 persons, fewer than report.min_units=10)" in md
    bob = "| bob | 4 | 4 | 8 | sad 100% | " + "Positive 0%, Neutral 100%, Negative 0% | " * 2
    assert f"{bob}0.0% (no interval) |" in md
    assert (
        "No interval where a group has fewer than 10 labelled clips (report.min_units): "
        "a bootstrap of so few clips says little."
    ) in md
    html = (grouped_run / "report" / "index.html").read_text()
    assert "0.0 % (no interval)" in html and 'id="min-units"' in html
    assert "Accuracy 66.7 % (no interval: 3 persons, fewer than report.min_units=10)" in html
