"""The learnt head: hand-computed features, a synthetic problem with a known answer,
plain-JSON round trips, detector checks and determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import femo.results.fit.crossval
import femo.results.fit.model
from femo.config import EMOTIONS, MappingConfig, ReduceConfig
from femo.results.fit import (
    Head,
    check_head_fits,
    clip_features,
    cross_validate_head,
    cv_figures,
    fit_head,
    fit_report_markdown,
    head_from_json,
    head_probabilities,
    head_to_json,
    load_head,
    predict_head,
    save_head,
)
from femo.results.fit.headfile import FER_SCORES
from femo.results.reduce import ShardData, frame_emotions, reduce_clips

pytestmark = pytest.mark.usefixtures("no_tensorflow")

THREE = MappingConfig()
CLASSES = THREE.classes


# ---------------------------------------------------------------- clip_features


def scores(**given: float) -> dict[str, float]:
    return {e: given.get(e, 0.0) for e in EMOTIONS}


def frame_row(video, frame, face=None, confidence=None, **given) -> dict:
    row = {"video": video, "kind": "frame", "frame": frame, "face": face}
    if face is not None:
        row.update(scores(**given), detector_confidence=confidence)
    return row


def test_clip_features_hand_computed():
    frame_rows = pd.DataFrame(
        [
            # a: 3 sampled frames, 2 with a face (frame 20 has two faces), MTCNN
            frame_row("a", 0, 0, 0.9, happy=0.5, neutral=0.5),
            frame_row("a", 20, 0, 0.8, angry=0.7, neutral=0.3),
            frame_row("a", 20, 1, 0.4, sad=1.0),
            frame_row("a", 40),
            # b: sampled, never a face
            frame_row("b", 0),
            frame_row("b", 20),
            # c: one frame, one face, Haar (no confidence)
            frame_row("c", 0, 0, None, neutral=1.0),
        ]
    )
    per_frame = pd.DataFrame(
        [
            {"video": "a", "frame": 0, "emotion": "happy", **scores(happy=0.5, neutral=0.5)},
            {"video": "a", "frame": 20, "emotion": "angry", **scores(angry=0.7, neutral=0.3)},
            {"video": "c", "frame": 0, "emotion": "neutral", **scores(neutral=1.0)},
        ]
    )
    # "d" is in no row at all; the order of videos is kept
    X, names, has_face = clip_features(frame_rows, per_frame, THREE, ["c", "b", "a", "d"])

    assert names == [
        *(f"mean_{e}" for e in EMOTIONS),
        *(f"log_mean_{e}" for e in EMOTIONS),
        "share_Positive",
        "share_Neutral",
        "share_Negative",
        "face_rate",
        "detector_confidence",
    ]
    assert X.shape == (4, len(names))
    assert has_face.tolist() == [True, False, True, False]
    a = dict(zip(names, X[2], strict=True))
    assert a["mean_happy"] == pytest.approx(0.25)
    assert a["mean_angry"] == pytest.approx(0.35)
    assert a["mean_neutral"] == pytest.approx(0.4)
    assert a["mean_sad"] == 0.0
    eps = 1e-6
    assert a["log_mean_neutral"] == pytest.approx((math.log(0.5 + eps) + math.log(0.3 + eps)) / 2)
    assert a["log_mean_happy"] == pytest.approx((math.log(0.5 + eps) + math.log(eps)) / 2)
    assert a["log_mean_sad"] == pytest.approx(math.log(eps))
    assert (a["share_Positive"], a["share_Neutral"], a["share_Negative"]) == (0.5, 0.0, 0.5)
    assert a["face_rate"] == pytest.approx(2 / 3)
    assert a["detector_confidence"] == pytest.approx((0.9 + 0.8 + 0.4) / 3)

    c = dict(zip(names, X[0], strict=True))
    assert c["mean_neutral"] == pytest.approx(1.0)
    assert c["log_mean_angry"] == pytest.approx(math.log(eps))
    assert c["share_Neutral"] == 1.0
    assert c["face_rate"] == 1.0
    assert c["detector_confidence"] == 0.0  # Haar: no confidence
    assert not X[1].any() and not X[3].any()  # no face, and absent: zero vectors


def test_clip_features_rejects_inconsistent_input():
    frame_rows = pd.DataFrame([frame_row("a", 0, 0, 0.9, happy=1.0)])
    per_frame = pd.DataFrame(
        [{"video": "a", "frame": f, "emotion": "happy", **scores(happy=1.0)} for f in (0, 20)]
    )
    with pytest.raises(ValueError, match="same shards"):
        clip_features(frame_rows, per_frame, THREE, ["a"])
    with pytest.raises(ValueError, match="more than once"):
        clip_features(frame_rows, per_frame.iloc[:1], THREE, ["a", "a"])


# ---------------------------------------------------------------- a known answer

# fer-like scores: neutral is on top unless a class pushes another emotion far enough.
# Negative raises angry and disgust (and a little sad) but seldom above neutral, so the
# vote calls most Negative clips Neutral, as in the study, while the mean scores still
# carry the class.
BASE_LOGITS = np.array([0.0, -0.5, -0.3, 0.0, 0.8, -0.3, 1.6])
EFFECT = {
    "Positive": {"happy": 2.4, "surprise": 0.5},
    "Neutral": {},
    "Negative": {"angry": 1.1, "disgust": 1.0, "sad": 0.3},
}


def synthetic(n_clips=600, n_persons=60, frames=10, seed=1, detector="mtcnn"):
    """Shard-like frame rows for clips of persons; returns what the head needs."""
    rng = np.random.default_rng(seed)
    persons = np.repeat(np.arange(n_persons), n_clips // n_persons)
    person_bias = rng.normal(0, 0.3, size=(n_persons, len(EMOTIONS)))
    golden = rng.choice(CLASSES, size=len(persons), p=[0.3, 0.35, 0.35])
    never_a_face = rng.random(len(persons)) < 0.03
    videos = [f"p{p:03d}_c{i:05d}" for i, p in enumerate(persons)]
    rows = []
    for i, video in enumerate(videos):
        shift = np.array([EFFECT[golden[i]].get(e, 0.0) for e in EMOTIONS])
        for f in range(frames):
            if never_a_face[i] or rng.random() < 0.1:
                rows.append(frame_row(video, 20 * f))
                continue
            logits = BASE_LOGITS + shift + person_bias[persons[i]] + rng.normal(0, 0.9, 7)
            s = np.exp(logits) / np.exp(logits).sum()
            confidence = float(rng.uniform(0.9, 1.0)) if detector == "mtcnn" else None
            rows.append(
                frame_row(video, 20 * f, 0, confidence, **dict(zip(EMOTIONS, s, strict=True)))
            )
    frame_rows = pd.DataFrame(rows)
    clip_rows = pd.DataFrame({"video": videos, "status": "ok", "message": None}).set_index("video")
    per_frame = frame_emotions(frame_rows, ReduceConfig())
    vote = [
        r.predict
        for r in reduce_clips(
            videos,
            ShardData(clip_rows, frame_rows),
            dict(zip(videos, golden, strict=True)),
            THREE,
            ReduceConfig(),
            per_frame=per_frame,
        )
    ]
    X, names, has_face = clip_features(frame_rows, per_frame, THREE, videos)
    return {
        "X": X,
        "names": names,
        "has_face": has_face,
        "golden": golden.tolist(),
        "persons": [f"person{p}" for p in persons],
        "vote": vote,
    }


class RecordingGroupKFold(femo.results.fit.model.GroupKFold):
    """GroupKFold that keeps every split it makes, with the groups it was given."""

    splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def split(self, X, y=None, groups=None):
        for train, test in super().split(X, y, groups):
            RecordingGroupKFold.splits.append((train, test, np.asarray(groups)))
            yield train, test


@pytest.fixture(scope="module")
def problem():
    return synthetic()


@pytest.fixture(scope="module")
def cv(problem):
    RecordingGroupKFold.splits = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(femo.results.fit.crossval, "GroupKFold", RecordingGroupKFold)
        mp.setattr(femo.results.fit.model, "GroupKFold", RecordingGroupKFold)
        result = cross_validate_head(
            problem["X"],
            problem["golden"],
            problem["persons"],
            problem["vote"],
            CLASSES,
            has_face=problem["has_face"],
        )
    result["_splits"] = list(RecordingGroupKFold.splits)
    return result


def test_head_beats_the_biased_vote(cv):
    everything = cv["all"]
    assert everything["n"] == 600
    vote, head = everything["vote"], everything["head"]
    # the synthetic vote has the study's bias: it misses Negative clips
    assert vote["recall"]["Negative"] < 0.3
    # measured on this problem: vote 63.2%, head 91.3%, +28.2 points [+23.8, +32.5]
    comparison = everything["comparison"]
    assert comparison["difference"] == pytest.approx(head["accuracy"] - vote["accuracy"])
    assert comparison["difference"] >= 0.15
    assert comparison["difference_ci"][0] > 0.05
    assert comparison["mcnemar_p"] < 1e-6
    assert head["recall"]["Negative"] >= 0.65  # measured 0.90
    lo, hi = head["accuracy_ci"]
    assert lo <= head["accuracy"] <= hi
    # clips with a face: the same comparison on fewer clips
    with_face = cv["with_face"]
    assert with_face["n"] == sum(1 for f in cv["per_clip"]["head"] if f is not None)
    assert with_face["head"]["accuracy"] >= everything["head"]["accuracy"]
    assert with_face["comparison"]["difference"] >= 0.15
    json.dumps(cv_figures({k: v for k, v in cv.items() if k != "_splits"}), allow_nan=False)


def test_folds_never_share_a_person(cv, problem):
    persons = np.asarray(problem["persons"])
    fold = np.asarray(cv["per_clip"]["test_fold"])
    assert (fold >= 0).all()
    for person in np.unique(persons):
        assert len(set(fold[persons == person])) == 1, person
    assert cv["folds"]["unit"] == "person" and cv["folds"]["n_splits"] == 5
    assert cv["folds"]["inner_unit"] == ["person"] * 5
    # every split made, outer and inner (5 outer + 5 x 5 inner), keeps persons apart
    assert len(cv["_splits"]) == 5 + 5 * 5
    for train, test, groups in cv["_splits"]:
        assert not set(groups[train]) & set(groups[test])


def test_fit_report_markdown(cv):
    text = fit_report_markdown(cv)
    assert "grouped by person (60 persons" in text
    assert "All labelled (no face = wrong)" in text and "With a face" in text
    assert "McNemar" in text
    assert f"| Negative | {cv['all']['support']['Negative']} |" in text
    head = cv["all"]["head"]
    assert f"{100 * head['accuracy']:.1f}% [{100 * head['accuracy_ci'][0]:.1f}," in text


def test_without_persons_folds_are_by_clip():
    small = synthetic(n_clips=200, n_persons=20, seed=3)
    result = cross_validate_head(
        small["X"], small["golden"], None, small["vote"], CLASSES, folds=4, resamples=200
    )
    assert result["folds"]["unit"] == "clip" and result["folds"]["n_units"] == 200
    assert "grouped by clip (200 clips)" in fit_report_markdown(result)
    assert result["all"]["comparison"]["difference"] > 0


def test_few_persons_choose_c_over_clips_but_still_test_on_unseen_persons():
    small = synthetic(n_clips=150, n_persons=3, seed=4)
    result = cross_validate_head(
        small["X"], small["golden"], small["persons"], small["vote"], CLASSES, resamples=200
    )
    folds = result["folds"]
    assert folds["unit"] == "person" and folds["n_splits"] == 3
    assert folds["inner_unit"] == ["clip"] * 3  # 2 persons per training part
    persons = np.asarray(small["persons"])
    fold = np.asarray(result["per_clip"]["test_fold"])
    assert all(len(set(fold[persons == p])) == 1 for p in set(small["persons"]))
    assert "by stratified cross-validation over clips" in fit_report_markdown(result)


# ---------------------------------------------------------------- JSON


@pytest.fixture(scope="module")
def head(problem) -> Head:
    return fit_head(
        problem["X"],
        problem["golden"],
        problem["persons"],
        CLASSES,
        has_face=problem["has_face"],
        feature_names=problem["names"],
    )


def plain_json(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain_json(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_json_round_trip_predicts_like_the_pipeline(head, problem, tmp_path):
    X, has_face = problem["X"], problem["has_face"]
    data = head_to_json(head, {"detectors": ["mtcnn"], "runs": ["run-a"], "clips": 600})
    assert plain_json(data)
    text = json.dumps(data, allow_nan=False)
    assert data["format"] == "femo-head" and data["version"] == 1
    assert np.asarray(data["coefficients"]).shape == (3, len(problem["names"]))
    loaded = head_from_json(json.loads(text))
    assert loaded.pipeline is None and loaded.provenance["runs"] == ["run-a"]
    assert loaded.provenance["inner_cv"]["unit"] == "person"

    expected = head.pipeline.predict(X[has_face]).tolist()
    predicted = predict_head(loaded, X, has_face)
    assert [p for p, f in zip(predicted, has_face, strict=True) if f] == expected
    assert all(p is None for p, f in zip(predicted, has_face, strict=True) if not f)
    np.testing.assert_allclose(
        head_probabilities(loaded, X[has_face]),
        head.pipeline.predict_proba(X[has_face]),
        rtol=1e-12,
        atol=1e-12,
    )
    save_head(tmp_path / "head.json", head, {"detectors": ["mtcnn"]})
    assert predict_head(load_head(tmp_path / "head.json"), X, has_face) == predicted


def test_binary_head_round_trip(problem):
    keep = [g != "Positive" for g in problem["golden"]]
    X = problem["X"][keep]
    has_face = problem["has_face"][keep]
    y = [g for g, k in zip(problem["golden"], keep, strict=True) if k]
    persons = [p for p, k in zip(problem["persons"], keep, strict=True) if k]
    head = fit_head(X, y, persons, CLASSES, has_face=has_face)
    loaded = head_from_json(json.loads(json.dumps(head_to_json(head, {}))))
    assert loaded.classes == ("Negative", "Neutral")
    assert [p for p in predict_head(loaded, X, has_face) if p is not None] == (
        head.pipeline.predict(X[has_face]).tolist()
    )


def tamper(data: dict, change) -> dict:
    copy = json.loads(json.dumps(data))
    change(copy)
    return copy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="pickle"), "not a femo head file"),
        (lambda d: d.update(version=2), "version 2 is not supported"),
        (lambda d: d.pop("intercepts"), "missing intercepts"),
        (lambda d: d["coefficients"].pop(), "coefficients must be 3 rows"),
        (lambda d: d["coefficients"][1].pop(), "coefficients row 1 must be a list of 19"),
        (lambda d: d["coefficients"][0].__setitem__(0, "1.0"), "not a finite number"),
        (lambda d: d["intercepts"].__setitem__(0, float("nan")), "not a finite number"),
        (lambda d: d["scaler"].__setitem__("scale", [0.0] * 19), "must be positive"),
        (lambda d: d["scaler"].__setitem__("mean", [1.0] * 18), "scaler.mean must be a list"),
        (lambda d: d.update(classes=["A", "A", "B"]), "classes lists a name twice"),
        (lambda d: d.update(C=True), "C must be a positive number"),
        (lambda d: d.update(provenance={"detectors": "mtcnn"}), "detectors must be a list"),
        (lambda d: d.update(code="__import__('os')"), "unknown key\\(s\\) code"),
    ],
)
def test_head_from_json_rejects_tampered_files(head, change, message):
    data = head_to_json(head, {"detectors": ["mtcnn"]})
    with pytest.raises(ValueError, match=message) as info:
        head_from_json(tamper(data, change))
    assert "\n" not in str(info.value)


def test_load_head_rejects_a_non_json_file(tmp_path):
    path = tmp_path / "head.pkl"
    path.write_bytes(b"\x80\x04\x95 pickled")
    with pytest.raises(ValueError, match="head.pkl"):
        load_head(path)


def test_head_to_json_rejects_non_json_provenance(head):
    with pytest.raises(ValueError, match="not plain JSON"):
        head_to_json(head, {"clips": np.int64(3)})


# ---------------------------------------------------------------- check_head_fits


def with_detectors(head: Head, detectors: list[str]) -> Head:
    return head_from_json(head_to_json(head, {"detectors": detectors}))


def test_mtcnn_head_refuses_a_haar_run(head, problem):
    mtcnn = with_detectors(head, ["mtcnn"])
    check_head_fits(mtcnn, problem["names"], {"mtcnn"})
    with pytest.raises(ValueError) as info:
        check_head_fits(mtcnn, problem["names"], {"haar"})
    assert str(info.value) == (
        "this head was fit on mtcnn runs; this run used haar (fit a head on both to use it here)"
    )


def test_head_fit_on_both_detectors_accepts_either(head, problem):
    both = with_detectors(head, ["haar", "mtcnn"])
    for detectors in ({"haar"}, {"mtcnn"}, {"haar", "mtcnn"}):
        check_head_fits(both, problem["names"], detectors)


def test_check_head_fits_other_features_and_unknown_detectors(head, problem):
    mtcnn = with_detectors(head, ["mtcnn"])
    names = problem["names"]
    with pytest.raises(ValueError, match="missing share_Negative"):
        check_head_fits(mtcnn, [n for n in names if n != "share_Negative"], {"mtcnn"})
    with pytest.raises(ValueError, match="another order"):
        check_head_fits(mtcnn, list(reversed(names)), {"mtcnn"})
    with pytest.raises(ValueError, match="does not record which detectors"):
        check_head_fits(head_from_json(head_to_json(head, {})), names, {"mtcnn"})


CUSTOM = "custom model enet.onnx (sha256 ab12cd34ef56; size=224, ...)"


def test_a_head_fit_on_fers_scores_refuses_a_custom_models_run(head, problem):
    """Another model's scores mean something else: a head reads only the scores it was
    fit on (a head file from before classifiers were recorded: fer's)."""
    fer_head = with_detectors(head, ["haar"])
    check_head_fits(fer_head, problem["names"], {"haar"}, {FER_SCORES})
    with pytest.raises(ValueError) as info:
        check_head_fits(fer_head, problem["names"], {"haar"}, {CUSTOM})
    assert str(info.value) == (
        f"this head was fit on the scores of fer's 7-emotion model; this run's are from "
        f"{CUSTOM} (fit a head on this run's scores)"
    )
    custom = head_from_json(head_to_json(head, {"detectors": ["haar"], "classifiers": [CUSTOM]}))
    check_head_fits(custom, problem["names"], {"haar"}, {CUSTOM})
    with pytest.raises(ValueError, match="fit on the scores of custom model enet.onnx"):
        check_head_fits(custom, problem["names"], {"haar"}, {FER_SCORES})


def test_load_head_rejects_classifiers_that_are_not_texts(tmp_path, head):
    data = head_to_json(head, {"detectors": ["haar"], "classifiers": [3]})
    path = tmp_path / "head.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="provenance.classifiers must be a list"):
        load_head(path)


# ---------------------------------------------------------------- determinism


def test_same_seed_same_head(head, problem):
    again = fit_head(
        problem["X"],
        problem["golden"],
        problem["persons"],
        CLASSES,
        has_face=problem["has_face"],
        feature_names=problem["names"],
    )
    assert json.dumps(head_to_json(again, {})) == json.dumps(head_to_json(head, {}))


def test_fit_head_rejects_unknown_labels(problem):
    golden = list(problem["golden"])
    golden[0] = "Angry"
    with pytest.raises(ValueError, match="'Angry' is not one of the classes"):
        fit_head(problem["X"], golden, problem["persons"], CLASSES)
