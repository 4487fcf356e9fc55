"""Reduce and report on synthetic shard files with known scores: exact predictions and metrics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from femo.config import (
    EMOTIONS,
    ConfigError,
    DatasetConfig,
    MappingConfig,
    ReduceConfig,
    ReportConfig,
    RunConfig,
    to_dict,
)
from femo.results.model import ClipResult
from femo.results.reduce import compute_metrics, frame_emotions, vote
from femo.results.shard_rows import FRAME_COLUMNS, load_shards
from femo.rundir import RunDir
from femo.shard_files import SCHEMA

from .builders import (
    THREE,
    clip_row,
    clip_rows,
    face,
    make_run,
    no_face,
    reduce,
    videos_csv,
    write_shard,
)

SEVEN = MappingConfig(name="seven", classes=EMOTIONS, emotions={e: e for e in EMOTIONS})
HEADER = "video,group,predict,golden,status,frames_sampled,frames_with_face,Positive,Neutral,Negative,message"


pytestmark = pytest.mark.usefixtures("no_tensorflow")


# ------------------------------------------------------------------ reading back


def rows_by_video(run_dir: Path) -> dict[str, dict]:
    with open(run_dir / "report" / "videos.csv", newline="", encoding="utf-8") as fh:
        return {r["video"]: r for r in csv.DictReader(fh)}


# ------------------------------------------------------------- a hand-computed run

VIDEOS = ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4", "f.mp4", "g.mp4", "h.jpg", "i.mp4"]
GOLDEN = {
    "a.mp4": "Positive",
    "b.mp4": "Positive",
    "c.mp4": "Neutral",
    "d.mp4": "Neutral",
    "e.mp4": "Negative",
    "f.mp4": "Negative",
    "g.mp4": "Positive",
    # h.jpg unlabelled
    "i.mp4": "Positive",
}
ERROR = "cannot be opened as a video (not a video, or a codec OpenCV lacks)"


@pytest.fixture
def hand_run(tmp_path) -> Path:
    run_dir = make_run(tmp_path, VIDEOS, per_shard=4, labels=GOLDEN)
    # shard 0: a b c d
    write_shard(
        run_dir,
        0,
        [
            *clip_rows("a.mp4", ["happy", "surprise", "sad"]),  # P2 N1 -> Positive
            *clip_rows("b.mp4", ["neutral", "fear", "happy", None]),  # N2 P1, 1 frame no face
            *clip_rows("c.mp4", ["neutral"]),
            *clip_rows("d.mp4", ["angry", "disgust", "neutral"]),  # Negative 2 - 1
        ],
    )
    # shard 1: e f g h
    write_shard(
        run_dir,
        1,
        [
            *clip_rows("e.mp4", ["angry"]),
            *clip_rows("f.mp4", [None, None]),  # no face anywhere
            clip_row("g.mp4", status="error", message=ERROR),
            *clip_rows("h.jpg", ["happy"]),
        ],
    )
    # shard 2: i -- a 1-1 tie between Positive and Neutral goes to Positive
    write_shard(run_dir, 2, clip_rows("i.mp4", ["sad", "happy"]))
    return run_dir


def test_hand_computed_predictions_and_videos_csv(hand_run):
    result = reduce(hand_run)
    assert result.report_dir == hand_run / "report"
    assert videos_csv(hand_run) == [
        HEADER,
        "a.mp4,,Positive,Positive,ok,3,3,2,1,0,",
        "b.mp4,,Neutral,Positive,ok,4,3,1,2,0,",
        "c.mp4,,Neutral,Neutral,ok,1,1,0,1,0,",
        "d.mp4,,Negative,Neutral,ok,3,3,0,1,2,",
        "e.mp4,,Negative,Negative,ok,1,1,0,0,1,",
        "f.mp4,,,Negative,no_face,2,0,0,0,0,",
        f'g.mp4,,,Positive,error,0,0,0,0,0,"{ERROR}"',
        "h.jpg,,Positive,,ok,1,1,1,0,0,",
        "i.mp4,,Positive,Positive,ok,2,2,1,1,0,",
    ]


def test_hand_computed_metrics(hand_run):
    m = reduce(hand_run, min_units=2).metrics
    # labelled: a b c d e f g i (8); with a prediction: a b c d e i (6); correct: a c e i (4)
    assert (m["n_videos"], m["n_labelled"], m["n_scored"], m["n_correct"]) == (9, 8, 6, 4)
    assert m["accuracy"] == pytest.approx(4 / 8)
    assert m["accuracy_scored"] == pytest.approx(4 / 6)
    assert (m["n_no_face"], m["n_failed"], m["n_missing"]) == (1, 1, 0)
    assert m["confusion"] == {
        "Positive": {"Positive": 2, "Neutral": 1, "Negative": 0, "none": 1},
        "Neutral": {"Positive": 0, "Neutral": 1, "Negative": 1, "none": 0},
        "Negative": {"Positive": 0, "Neutral": 0, "Negative": 1, "none": 1},
    }
    pc = {c: dict(v) for c, v in m["per_class"].items()}
    for c, values in pc.items():  # every recall has its interval around it
        lo, hi = values.pop("recall_ci")
        assert lo <= values["recall"] <= hi, c
    assert pc["Positive"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 4}
    )
    assert pc["Neutral"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert pc["Negative"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0.5) / 3)
    assert m["unlabelled"] == ["h.jpg"]
    assert m["missing_clips"] == [] and m["unknown_labels"] == {}
    assert m["shards"] == {"planned": 3, "done": 3, "not_done": []}
    assert m["clips_in_several_shards"] == []
    assert m["labels_file"] == str(hand_run / "labels.csv")
    expected = to_dict(RunConfig(report=ReportConfig(min_units=2)))
    expected["dataset"]["labels"] = str(hand_run / "labels.csv")  # the snapshot it read
    assert m["config"] == expected
    on_disk = json.loads((hand_run / "report" / "metrics.json").read_text())
    assert on_disk["n_correct"] == 4 and on_disk["confusion"] == m["confusion"]


def test_report_markdown(hand_run):
    reduce(hand_run, min_units=2)
    lines = (hand_run / "report" / "report.md").read_text().splitlines()
    assert lines[:2] == ["# femo report", ""]  # the title first (issue 37)
    assert lines[2].startswith("**Accuracy: 50.0%** (95% CI ")
    assert lines[2].endswith("%) (4 of 8 labelled clips)")
    text = "\n".join(lines)
    assert "- accuracy over clips with a prediction: 66.7%" in text
    assert "- macro F1: 0.556" in text
    assert "| Positive | 1.000 | 0.500 (95% CI " in text
    assert "| Negative | 0 | 0 | 1 | 1 |" in text
    assert f"| g.mp4 | error | {ERROR} |" in text
    assert "| f.mp4 | no_face |  |" in text
    assert "## Unlabelled clips (1)" in text and "- h.jpg" in text


def test_other_mapping_with_unknown_labels_is_refused(hand_run):
    with pytest.raises(ConfigError, match="Set dataset.unknown_labels=unlabelled"):
        reduce(hand_run, mapping=SEVEN)


def test_other_mapping_reuses_the_shards(hand_run):
    result = reduce(hand_run, SEVEN, DatasetConfig(unknown_labels="unlabelled"))
    rows = rows_by_video(hand_run)
    assert list(rows["a.mp4"])[7:14] == list(EMOTIONS)
    assert {v: r["predict"] for v, r in rows.items()} == {
        "a.mp4": "happy",  # happy, surprise, sad: 1-1-1, first in the class order
        "b.mp4": "fear",  # neutral, fear, happy: 1-1-1, fear comes first
        "c.mp4": "neutral",
        "d.mp4": "angry",
        "e.mp4": "angry",
        "f.mp4": "",
        "g.mp4": "",
        "h.jpg": "happy",
        "i.mp4": "happy",  # sad, happy
    }
    m = result.metrics
    # 'Neutral' matches the class 'neutral' case-insensitively; the others are unknown.
    assert {v: r["golden"] for v, r in rows.items() if r["golden"]} == {
        "c.mp4": "neutral",
        "d.mp4": "neutral",
    }
    assert sorted(m["unknown_labels"]) == ["a.mp4", "b.mp4", "e.mp4", "f.mp4", "g.mp4", "i.mp4"]
    assert (m["n_labelled"], m["n_correct"], m["accuracy"]) == (2, 1, 0.5)
    neutral = {k: v for k, v in m["per_class"]["neutral"].items() if k != "recall_ci"}
    assert neutral == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["macro_f1"] == pytest.approx(2 / 3)  # the only class with support
    # the 6 emotions without a labelled clip: nothing to score them on, n/a (not 0.000)
    assert m["per_class"]["happy"] == {
        "precision": None, "recall": None, "f1": None, "support": 0, "recall_ci": None,
    }  # fmt: skip
    lines = (hand_run / "report" / "report.md").read_text().splitlines()
    # 2 labelled clips: no "0.0-100.0%" interval, and the intervals line says why (not
    # the headline: issue 37)
    assert lines[2] == "**Accuracy: 50.0%** (1 of 2 labelled clips)"
    assert "- intervals: none (no interval: 2 clips, fewer than report.min_units=10)" in lines
    assert "| happy | n/a | n/a | n/a | 0 |" in lines
    assert "| neutral | 1.000 | 0.500 | 0.667 | 2 |" in lines
    saved = json.loads((hand_run / "report" / "metrics.json").read_text())
    assert saved["per_class"]["fear"]["precision"] is None
    assert saved["per_class"]["fear"]["f1"] is None
    html = (hand_run / "report" / "index.html").read_text()
    assert '<td>happy</td><td class="num">n/a</td><td class="num">n/a</td>' in html
    assert "no interval: 2 clips, fewer than report.min_units=10" in html


def test_a_run_without_labels(tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4"], per_shard=1)
    write_shard(run_dir, 0, clip_rows("a.mp4", ["happy"]))
    m = reduce(run_dir).metrics
    assert m["accuracy"] is None and m["macro_f1"] is None and m["labels_file"] is None
    assert videos_csv(run_dir)[1] == "a.mp4,,Positive,,ok,1,1,1,0,0,"
    first = (run_dir / "report" / "report.md").read_text().splitlines()[2]
    # What was predicted, not "**Accuracy: n/a** (0 of 0 labelled clips)"
    assert first == (
        "**Predicted (1 clip, no labels): Positive 1, Neutral 0, Negative 0** "
        "(0 without a face, 0 failed)"
    )


# -------------------------------------------------------------- face selection


def test_first_versus_largest_face(tmp_path):
    run_dir = make_run(tmp_path, ["x.mp4"], per_shard=1, labels={"x.mp4": "Negative"})
    write_shard(
        run_dir,
        0,
        [
            # frame 0: face 0 is small and happy, face 1 large and angry
            face("x.mp4", 0, "happy", face_index=0, w=60, h=60),
            face("x.mp4", 0, "angry", face_index=1, w=120, h=130),
            # frame 10: equal areas: the lower face index wins under 'largest' too
            face("x.mp4", 10, "neutral", face_index=0, w=100, h=90),
            face("x.mp4", 10, "disgust", face_index=1, w=90, h=100),
            # frame 20: face 0 has no scores (empty crop): face 1 is the first classified
            face("x.mp4", 20, None, face_index=0, w=300, h=300),
            face("x.mp4", 20, "surprise", face_index=1, w=50, h=50),
            # frame 30: listed largest first, but face 2 is 'first'
            face("x.mp4", 30, "disgust", face_index=3, w=200, h=200),
            face("x.mp4", 30, "happy", face_index=2, w=70, h=70),
            clip_row("x.mp4", frames_sampled=4),
        ],
    )
    frames = load_shards(run_dir / "shards").frame_rows
    first = frame_emotions(frames, ReduceConfig(face="first"))
    assert list(zip(first.frame, first.emotion, strict=True)) == [
        (0, "happy"),
        (10, "neutral"),
        (20, "surprise"),
        (30, "happy"),
    ]
    largest = frame_emotions(frames, ReduceConfig(face="largest"))
    assert list(zip(largest.frame, largest.emotion, strict=True)) == [
        (0, "angry"),
        (10, "neutral"),
        (20, "surprise"),
        (30, "disgust"),
    ]
    # first: happy, neutral, surprise, happy -> Positive 3, Neutral 1
    reduce(run_dir, face="first")
    assert videos_csv(run_dir)[1] == "x.mp4,,Positive,Negative,ok,4,4,3,1,0,"
    # largest: angry, neutral, surprise, disgust -> Negative 2, Neutral 1, Positive 1
    m = reduce(run_dir, face="largest").metrics
    assert videos_csv(run_dir)[1] == "x.mp4,,Negative,Negative,ok,4,4,1,1,2,"
    assert m["accuracy"] == 1.0


def _chosen_faces_by_hand(rows: list[dict], face_rule: str, decimals: int) -> list[tuple]:
    """(video, frame, top emotion) of the face chosen in each frame, one frame at a time,
    the way fer and the face rule say: rounded with Python's round(), first of ties."""
    frames: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["kind"] == "frame" and r.get("face") is not None and EMOTIONS[0] in r:
            frames.setdefault((r["video"], r["frame"]), []).append(r)
    chosen = []
    for key in sorted(frames):
        faces = frames[key]
        if face_rule == "largest":
            best = min(faces, key=lambda r: (-r["w"] * r["h"], r["face"]))
        else:
            best = min(faces, key=lambda r: r["face"])
        rounded = {e: round(float(np.float32(best[e])), decimals) for e in EMOTIONS}
        chosen.append((*key, max(rounded, key=rounded.get)))
    return chosen


@pytest.mark.parametrize("face_rule", ["first", "largest"])
def test_face_choice_over_shuffled_rows_of_several_shards(tmp_path, face_rule):
    """Several faces per frame, equal areas, unclassified faces, frames without a face,
    rows in no order, clips in two files: the chosen face and its top emotion per
    (clip, frame) are those a frame-by-frame reading gives, sorted by clip and frame."""
    rng = np.random.default_rng(7)
    videos = [f"v{k:02d}.mp4" for k in range(12)]
    run_dir = make_run(tmp_path, videos, per_shard=6)
    shards_rows = []
    for part in (videos[:6], videos[6:]):
        rows = []
        for video in part:
            for frame in range(0, 40, 5):
                for index in rng.permutation(int(rng.integers(0, 4))):
                    side = int(rng.choice([40, 60, 80]))  # often the same area
                    rows.append(face(video, frame, face_index=int(index), w=side, h=side))
                    if rng.random() < 0.9:  # else an unclassified face (empty crop)
                        values = rng.dirichlet(np.ones(len(EMOTIONS))).round(3)
                        rows[-1].update(zip(EMOTIONS, values.tolist(), strict=True))
                if rng.random() < 0.2:
                    rows.append(no_face(video, frame))
            rows.append(clip_row(video, frames_sampled=8))
        shards_rows.append([rows[k] for k in rng.permutation(len(rows))])
    for k, rows in enumerate(shards_rows):
        write_shard(run_dir, k, rows)
    frames = load_shards(run_dir / "shards").frame_rows
    every_row = [r for rows in shards_rows for r in rows]
    for decimals in (2, 1):
        got = frame_emotions(frames, ReduceConfig(face=face_rule, score_decimals=decimals))
        expected = _chosen_faces_by_hand(every_row, face_rule, decimals)
        assert len(expected) > 50
        assert list(zip(got.video, got.frame, got.emotion, strict=True)) == expected


def test_shards_of_an_older_schema_are_read_with_the_newer(tmp_path):
    """A shard written before a column existed (here detector_confidence) is read
    together with one that has it; frame rows keep only what the reduce side reads,
    and frame rows of a clip that has no clip row anywhere are left out."""
    run_dir = make_run(tmp_path, ["a.mp4", "b.mp4"], per_shard=1, labels={"a.mp4": "Positive"})
    old_schema = pa.schema([f for f in SCHEMA if f.name != "detector_confidence"])
    old = RunDir(run_dir).shard_file(0)
    old.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(clip_rows("a.mp4", ["happy", "sad"]), old_schema), old)
    newer = [{**r, "detector_confidence": 0.75} for r in clip_rows("b.mp4", ["angry"])]
    write_shard(run_dir, 1, [*newer, face("orphan.mp4", 0, "happy")])
    shards = load_shards(run_dir / "shards")
    frames = shards.frame_rows
    assert list(frames.columns) == list(FRAME_COLUMNS)
    assert list(frames.video) == ["a.mp4", "a.mp4", "b.mp4"]
    assert frames.detector_confidence.isna().tolist() == [True, True, False]
    assert sorted(shards.clip_rows.index) == ["a.mp4", "b.mp4"]
    reduce(run_dir)
    assert videos_csv(run_dir)[1:] == [
        "a.mp4,,Positive,Positive,ok,2,2,1,1,0,",
        "b.mp4,,Negative,,ok,1,1,0,0,1,",
    ]


# --------------------------------------------------------- fer's score rounding


def test_rounding_to_two_decimals_creates_a_tie_won_by_fers_first_emotion(tmp_path):
    run_dir = make_run(tmp_path, ["r.mp4"], per_shard=1, labels={"r.mp4": "Neutral"})
    tie = {"happy": 0.441, "neutral": 0.444, "sad": 0.05, "angry": 0.02}  # both round to 0.44
    clear = {"happy": 0.444, "neutral": 0.446, "sad": 0.05}  # 0.44 < 0.45: no tie
    write_shard(
        run_dir,
        0,
        [
            face("r.mp4", 0, **tie),
            face("r.mp4", 5, **tie),
            face("r.mp4", 10, **clear),
            clip_row("r.mp4", frames_sampled=3),
        ],
    )
    frames = load_shards(run_dir / "shards").frame_rows
    rounded = frame_emotions(frames, ReduceConfig(score_decimals=2))
    assert list(rounded.emotion) == ["happy", "happy", "neutral"]
    raw = frame_emotions(frames, ReduceConfig(score_decimals=None))
    assert list(raw.emotion) == ["neutral", "neutral", "neutral"]
    one = frame_emotions(frames, ReduceConfig(score_decimals=1))  # 0.4 == 0.4 in all frames
    assert list(one.emotion) == ["happy", "happy", "happy"]

    m = reduce(run_dir, score_decimals=2).metrics
    assert videos_csv(run_dir)[1] == "r.mp4,,Positive,Neutral,ok,3,3,2,1,0,"
    assert m["n_correct"] == 0
    m = reduce(run_dir, score_decimals=None).metrics
    assert videos_csv(run_dir)[1] == "r.mp4,,Neutral,Neutral,ok,3,3,0,3,0,"
    assert m["n_correct"] == 1


def test_ties_in_rounded_scores_follow_fers_emotion_order(tmp_path):
    run_dir = make_run(tmp_path, ["t.mp4"], per_shard=1)
    # Every pair of emotions tied at 0.30 after rounding; the earlier one in EMOTIONS wins.
    rows = []
    pairs = [(a, b) for i, a in enumerate(EMOTIONS) for b in EMOTIONS[i + 1 :]]
    for n, (a, b) in enumerate(pairs):
        rows.append(face("t.mp4", n, **{b: 0.304, a: 0.296}))
    rows.append(clip_row("t.mp4", frames_sampled=len(pairs)))
    write_shard(run_dir, 0, rows)
    frames = load_shards(run_dir / "shards").frame_rows
    rounded = frame_emotions(frames, ReduceConfig(score_decimals=2))
    assert list(rounded.sort_values("frame").emotion) == [a for a, _ in pairs]
    raw = frame_emotions(frames, ReduceConfig(score_decimals=None))
    assert list(raw.sort_values("frame").emotion) == [b for _, b in pairs]


# ------------------------------------------------------------------- the vote


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"Positive": 2, "Neutral": 1, "Negative": 0}, "Positive"),
        ({"Positive": 1, "Neutral": 1, "Negative": 0}, "Positive"),
        ({"Positive": 0, "Neutral": 2, "Negative": 2}, "Neutral"),
        ({"Positive": 3, "Neutral": 1, "Negative": 3}, "Positive"),
        ({"Positive": 0, "Neutral": 0, "Negative": 1}, "Negative"),
        ({"Positive": 0, "Neutral": 0, "Negative": 0}, None),
        ({}, None),
    ],
)
def test_vote(counts, expected):
    assert vote(counts, ("Positive", "Neutral", "Negative")) == expected


def test_vote_tie_follows_the_mapping_order_not_the_counts_order():
    counts = {"Negative": 2, "Neutral": 2, "Positive": 1}
    assert vote(counts, ("Positive", "Neutral", "Negative")) == "Neutral"
    assert vote(counts, ("Negative", "Neutral", "Positive")) == "Negative"


def test_majority_vote_tie_in_a_run(tmp_path):
    run_dir = make_run(tmp_path, ["n.mp4", "p.mp4"], per_shard=2, labels={"n.mp4": "Negative"})
    write_shard(
        run_dir,
        0,
        [
            *clip_rows("n.mp4", ["angry", "sad", "disgust", "fear"]),  # Neutral 2 = Negative 2
            *clip_rows("p.mp4", ["angry", "happy"]),  # Positive 1 = Negative 1
        ],
    )
    reduce(run_dir)
    assert videos_csv(run_dir)[1:] == [
        "n.mp4,,Neutral,Negative,ok,4,4,0,2,2,",
        "p.mp4,,Positive,,ok,2,2,1,0,1,",
    ]


# ---------------------------------------------------------- statuses and metrics


def test_no_face_and_error_clips_count_as_wrong_but_not_scored():
    results = [
        ClipResult("a", "Positive", "Positive", "ok", 3, 3, {}),
        ClipResult("b", None, "Positive", "no_face", 3, 0, {}),
        ClipResult("c", None, "Negative", "error", 0, 0, {}, "broken"),
        ClipResult("d", "Negative", None, "ok", 1, 1, {}),
    ]
    m = compute_metrics(results, ("Positive", "Neutral", "Negative"))
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["accuracy_scored"] == 1.0
    assert (m["n_labelled"], m["n_scored"], m["n_correct"]) == (3, 1, 1)
    assert (m["n_no_face"], m["n_failed"], m["n_missing"]) == (1, 1, 0)
    assert m["confusion"]["Positive"] == {"Positive": 1, "Neutral": 0, "Negative": 0, "none": 1}
    assert m["confusion"]["Negative"] == {"Positive": 0, "Neutral": 0, "Negative": 0, "none": 1}
    assert m["per_class"]["Positive"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    )
    assert m["per_class"]["Negative"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # Neutral has no support, so it is left out of the macro F1.
    assert m["per_class"]["Neutral"]["support"] == 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)


def test_metrics_without_labels():
    m = compute_metrics([ClipResult("a", "Neutral", None, "ok", 1, 1, {})], THREE.classes)
    assert m["accuracy"] is None and m["accuracy_scored"] is None and m["macro_f1"] is None
    assert m["n_videos"] == 1 and m["n_labelled"] == 0


def test_a_run_where_no_clip_has_a_face(tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4", "b.jpg"], per_shard=2, labels={"a.mp4": "Neutral"})
    write_shard(run_dir, 0, [*clip_rows("a.mp4", [None, None, None]), *clip_rows("b.jpg", [None])])
    m = reduce(run_dir).metrics
    assert videos_csv(run_dir)[1:] == [
        "a.mp4,,,Neutral,no_face,3,0,0,0,0,",
        "b.jpg,,,,no_face,1,0,0,0,0,",
    ]
    assert (m["accuracy"], m["accuracy_scored"], m["n_no_face"]) == (0.0, None, 2)


def test_partial_clip_keeps_its_status_and_message(tmp_path):
    run_dir = make_run(tmp_path, ["p.avi"], per_shard=1, labels={"p.avi": "Positive"})
    note = "decoded 14 of the 30 frames the container announces (truncated or damaged file?)"
    write_shard(
        run_dir, 0, clip_rows("p.avi", ["happy", "happy", None], status="partial", message=note)
    )
    m = reduce(run_dir).metrics
    assert videos_csv(run_dir)[1] == f"p.avi,,Positive,Positive,partial,3,2,2,0,0,{note}"
    assert m["n_correct"] == 1 and m["n_failed"] == 0


# ------------------------------------------------------------ duplicate clips


def test_a_clip_in_two_shard_files_is_counted_once(tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4", "b.mp4"], per_shard=1, labels={"a.mp4": "Positive"})
    write_shard(run_dir, 0, clip_rows("a.mp4", ["happy", "happy", "sad"]))
    # shard 1 also holds a (stale) copy of a.mp4 with other scores and frames
    write_shard(
        run_dir,
        1,
        [
            *clip_rows("b.mp4", ["angry"]),
            face("a.mp4", 100, "angry"),
            face("a.mp4", 105, "angry"),
            face("a.mp4", 110, "angry"),
            face("a.mp4", 115, "angry"),
            clip_row("a.mp4", frames_sampled=4),
            # a clip not in the plan is ignored
            *clip_rows("stranger.mp4", ["happy"]),
        ],
    )
    shards = load_shards(run_dir / "shards")
    assert shards.duplicates == ["a.mp4"]
    assert sorted(shards.clip_rows.index) == ["a.mp4", "b.mp4", "stranger.mp4"]
    m = reduce(run_dir).metrics
    assert videos_csv(run_dir)[1:] == [
        "a.mp4,,Positive,Positive,ok,3,3,2,1,0,",
        "b.mp4,,Negative,,ok,1,1,0,0,1,",
    ]
    assert m["n_videos"] == 2
    assert m["clips_in_several_shards"] == ["a.mp4"]
    assert m["n_correct"] == 1


# --------------------------------------------------------------- missing shards


@pytest.fixture
def partial_run(tmp_path) -> Path:
    videos = ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4"]
    run_dir = make_run(
        tmp_path,
        videos,
        per_shard=2,
        labels={"a.mp4": "Positive", "c.mp4": "Neutral", "e.mp4": "Negative"},
    )
    write_shard(run_dir, 0, [*clip_rows("a.mp4", ["happy"]), *clip_rows("b.mp4", ["sad"])])
    # shard 1 (c, d) never ran; shard 2 (e) failed
    (run_dir / "logs" / "shard-00002.failed").write_text("RuntimeError: out of memory\n")
    return run_dir


def test_missing_shards_are_refused(partial_run):
    with pytest.raises(ConfigError) as exc:
        reduce(partial_run)
    assert str(exc.value) == (
        "2 of 3 shard(s) are not done (1-2); wait for them, resume the run, "
        "or report what is there with --allow-partial (reduce.allow_partial=true)"
    )
    assert not (partial_run / "report").exists()


def test_allow_partial_reports_missing_clips(partial_run):
    m = reduce(partial_run, allow_partial=True).metrics
    assert videos_csv(partial_run)[1:] == [
        "a.mp4,,Positive,Positive,ok,1,1,1,0,0,",
        "b.mp4,,Neutral,,ok,1,1,0,1,0,",
        "c.mp4,,,Neutral,missing,0,0,0,0,0,",
        "d.mp4,,,,missing,0,0,0,0,0,",
        "e.mp4,,,Negative,missing,0,0,0,0,0,",
    ]
    assert m["n_missing"] == 3
    assert m["shards"] == {"planned": 3, "done": 1, "not_done": [1, 2]}
    # a (right) is the only labelled clip present; c and e are missing, not wrong
    assert (m["n_labelled"], m["n_compared"], m["n_scored"], m["n_correct"]) == (3, 1, 1, 1)
    assert m["n_missing_labelled"] == 2
    assert m["accuracy"] == 1.0
    assert m["confusion"]["Neutral"]["none"] == 0 and m["confusion"]["Negative"]["none"] == 0


def test_allow_partial_with_no_shard_done(tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4", "b.mp4"], per_shard=1, labels={"a.mp4": "Positive"})
    m = reduce(run_dir, allow_partial=True).metrics
    assert m["n_missing"] == 2
    assert videos_csv(run_dir)[1:] == [
        "a.mp4,,,Positive,missing,0,0,0,0,0,",
        "b.mp4,,,,missing,0,0,0,0,0,",
    ]


def test_clips_after_a_missing_shard_keep_their_votes(tmp_path):
    run_dir = make_run(tmp_path, ["a.mp4", "b.mp4"], per_shard=1, labels={"b.mp4": "Negative"})
    write_shard(run_dir, 1, clip_rows("b.mp4", ["angry", "angry", "happy"]))  # shard 0 missing
    reduce(run_dir, allow_partial=True)
    assert videos_csv(run_dir)[1:] == [
        "a.mp4,,,,missing,0,0,0,0,0,",
        "b.mp4,,Negative,Negative,ok,3,3,1,0,2,",
    ]


# ------------------------------------------------- clip confidence (issue 26)


def test_confidence_is_the_predicted_class_mean_score_not_the_vote_share(tmp_path):
    """A still whose one face is 0.35 happy is not "confidence 1.00": its confidence is
    the mean Positive score; the sheets and timelines take the most confident wrong first."""
    from femo.results.analysis import pick_timelines
    from femo.results.build import reduce_shards
    from femo.results.run import open_run
    from femo.results.sheets.section import pick_sheets

    videos = ["still.jpg", "talk.mp4"]
    run_dir = make_run(
        tmp_path, videos, 2, labels={"still.jpg": "Negative", "talk.mp4": "Negative"}
    )
    write_shard(
        run_dir,
        0,
        [
            # 0.35 happy, 0.05 surprise: Positive 0.40; every vote (one) Positive
            face("still.jpg", 0, happy=0.35, surprise=0.05, neutral=0.3, sad=0.3),
            clip_row("still.jpg", frames_sampled=1),
            # 2 of 3 frames happy at 0.9 (+0.01 surprise): Positive 0.91, 0.91 and 0.02
            face("talk.mp4", 0, happy=0.9),
            face("talk.mp4", 5, happy=0.9),
            face("talk.mp4", 10, neutral=0.9),
            clip_row("talk.mp4", frames_sampled=3),
        ],
    )
    results = {r.video: r for r in reduce_shards(open_run(run_dir)).results}
    assert (results["still.jpg"].predict, results["talk.mp4"].predict) == ("Positive", "Positive")
    assert results["still.jpg"].confidence == pytest.approx(0.40, abs=1e-6)
    assert results["talk.mp4"].confidence == pytest.approx((0.91 + 0.91 + 0.02) / 3, abs=1e-6)
    ordered = [r.video for r in pick_sheets(list(results.values()), 2)]
    assert ordered == ["talk.mp4", "still.jpg"]
    assert [r.video for r in pick_timelines(list(results.values()), 2)] == ordered


def test_the_cycle_collector_is_paused_while_a_report_is_built_and_on_again_after(
    tmp_path, monkeypatch
):
    import gc

    import femo.results.commands as commands

    run_dir = make_run(tmp_path, ["n.mp4"], per_shard=1, labels={"n.mp4": "Negative"})
    write_shard(run_dir, 0, clip_rows("n.mp4", ["angry", "disgust"]))
    seen = []
    build = commands.build_report

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return build(*args, **kwargs)

    monkeypatch.setattr(commands, "build_report", watched)
    assert gc.isenabled()
    reduce(run_dir)
    assert seen == [False]
    assert gc.isenabled()
    assert videos_csv(run_dir)[1:] == ["n.mp4,,Negative,Negative,ok,2,2,0,0,2,"]
    # A caller that had it off finds it off.
    gc.disable()
    try:
        reduce(run_dir)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_rows_read_ahead_are_the_rows_read_on_first_use(partial_run):
    from femo.results.run import open_run

    write_shard(partial_run, 1, [*clip_rows("c.mp4", ["angry"]), *clip_rows("d.mp4", ["sad"])])
    write_shard(partial_run, 2, [*clip_rows("e.mp4", ["happy"]), *clip_rows("a.mp4", ["fear"])])
    ahead = open_run(partial_run, read_ahead=True)
    assert "_reading" in ahead.__dict__  # started before open_run returned
    lazy = open_run(partial_run)
    assert "_reading" not in lazy.__dict__ and "shards" not in lazy.__dict__
    assert ahead.shards.clip_rows.equals(lazy.shards.clip_rows)
    assert ahead.shards.frame_rows.equals(lazy.shards.frame_rows)
    # a.mp4 is in two files: the first one's rows win, read ahead (on threads) or not
    assert ahead.shards.clip_rows.at["a.mp4", "_shard"] == 0
    assert list(ahead.shards.clip_rows.index) == ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4"]


def test_rows_are_not_read_ahead_for_a_run_the_report_refuses(partial_run):
    from femo.results.run import open_run

    assert "_reading" not in open_run(partial_run, read_ahead=True).__dict__
    partial = open_run(partial_run, ["reduce.allow_partial=true"], read_ahead=True)
    assert "_reading" in partial.__dict__
    assert list(partial.shards.clip_rows.index) == ["a.mp4", "b.mp4"]


def test_a_damaged_file_read_ahead_is_the_one_line_of_reading_it_later(partial_run):
    from femo.results.run import open_run

    write_shard(partial_run, 1, clip_rows("c.mp4", ["angry"]))
    write_shard(partial_run, 2, clip_rows("e.mp4", ["happy"]))
    damaged = partial_run / "shards" / "shard-00001.parquet"
    damaged.write_bytes(damaged.read_bytes()[:200])
    messages = []
    for ahead in (True, False):
        with pytest.raises(ConfigError) as exc:
            open_run(partial_run, read_ahead=ahead).shards  # noqa: B018
        messages.append(str(exc.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"shard file {damaged} is damaged (")
