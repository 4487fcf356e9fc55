"""Whose face: grouping, matching and the faces reduce.face=main|person scores (hand-built)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from femo.config import EMOTIONS, ConfigError, MappingConfig, ReduceConfig
from femo.results.faces.identities import identity_profiles
from femo.results.faces.match import (
    chosen_faces,
    face_embeddings,
    group_faces,
    identify,
    main_faces,
    person_faces,
)
from femo.results.pages.identities import (
    identities_csv_text,
    identities_html,
    identities_markdown,
)
from femo.results.reduce import ShardData, compute_metrics, frame_emotions, reduce_clips
from femo.shard_files import SCHEMA, write_table

pytestmark = pytest.mark.usefixtures("no_tensorflow")


def unit(k: int, scale: float = 1.0) -> np.ndarray:
    v = np.zeros(128, np.float32)
    v[k] = scale
    return v


A, B, C = unit(0), unit(1), unit(2)  # three people, sqrt(2) apart


def near(v: np.ndarray, by: float = 0.1) -> np.ndarray:
    return v + unit(100, by)


def rows(faces: list[tuple[str, int, int | None, str | None]]) -> pd.DataFrame:
    """Frame rows from (video, frame, face, top emotion); a None face: no face found."""
    data = []
    for video, frame, face, emotion in faces:
        scores = {e: (0.9 if e == emotion else 0.1 / 6) if face is not None else None
                  for e in EMOTIONS}  # fmt: skip
        data.append({"video": video, "frame": frame, "time_s": frame / 10, "face": face,
                     "w": 50, "h": 50, **scores, "detector_confidence": None})  # fmt: skip
    return pd.DataFrame(data)


def test_group_faces_joins_close_embeddings():
    labels = group_faces(np.stack([A, near(A), B, near(B, 0.2), C]), 0.5)
    assert labels[0] == labels[1] and labels[2] == labels[3]
    assert len({labels[0], labels[2], labels[4]}) == 3
    assert group_faces(np.stack([A]), 0.5).tolist() == [0]


def test_main_is_the_person_in_most_frames_whatever_the_face_order():
    # a: B first in frames 0-1 (a cut-away), A second in frames 0-2: A is the main person.
    keys = pd.DataFrame({"video": ["a"] * 5 + ["b"] * 2, "frame": [0, 0, 1, 1, 2, 0, 1]})
    emb = np.stack([B, A, near(B), near(A), A, C, B])
    # b: C and B in one frame each (a tie): the group seen first, C.
    assert main_faces(keys, emb, 0.5).tolist() == [False, True, False, True, True, True, False]


def test_identify_takes_the_nearest_reference_under_the_distance():
    persons, refs = ["ann", "ann", "bob"], np.stack([A, near(A, 0.3), B])
    faces = np.stack([near(A, 0.2), near(B, 0.5), C, near(B, 0.7)])
    assert identify(faces, persons, refs, 0.6).tolist() == ["ann", "bob", None, None]
    assert identify(faces, [], np.zeros((0, 128)), 0.6).tolist() == [None] * 4


def test_person_faces_are_the_labelled_persons_group():
    videos = np.array(["a", "a", "a", "b", "c", "d"])
    emb = np.stack([A, B, near(B, 0.2), near(A, 0.7), A, near(A, 0.62)])
    refs = (["ann", "bob"], np.stack([A, B]))
    person_of = {"a": "bob", "b": "ann", "d": "ann"}
    # a: bob's group (median 0.1); b: ann's only face is 0.7 away; c: nobody labelled;
    # d: 0.62, under person_distance 0.65.
    assert person_faces(videos, emb, person_of, refs, 0.5, 0.65).tolist() == [
        False, True, True, False, False, True
    ]  # fmt: skip
    assert person_faces(videos, emb, person_of, refs, 0.5, 0.6)[5] == False  # noqa: E712


def test_every_group_within_the_distance_else_the_nearest_within_the_bound():
    # The person's two photos, 0.7 apart: A and A + 0.7 on axis 90. A face A + x on an
    # axis of its own is x from A and farther from the other photo.
    second = A + unit(90, 0.7)
    refs = (["ann", "ann", "bob"], np.stack([A, second, B]))
    person_of = {v: "ann" for v in "abcd"}
    # a: groups 0.1 and 0.55 from ann (0.56 apart): both taken, bob's group not;
    # b: groups 0.62 and 0.68 from ann: none within 0.6, the nearest within 0.65;
    # c: one group 0.7 away: past the bound;
    # d: 0.2 from the second photo, 0.73 from the first: all photos count.
    emb = np.stack([
        A + unit(10, 0.1), A + unit(10, 0.1), A + unit(11, 0.55), B,
        A + unit(12, 0.62), A + unit(13, 0.68),
        A + unit(14, 0.7),
        second + unit(91, 0.2),
    ])  # fmt: skip
    videos = np.array(["a", "a", "a", "a", "b", "b", "c", "d"])
    chosen = person_faces(videos, emb, person_of, refs, 0.3, 0.6, 0.65)
    assert chosen.tolist() == [True, True, True, False, True, False, False, True]
    # Without a bound past the distance, b keeps no face.
    chosen = person_faces(videos, emb, person_of, refs, 0.3, 0.6)
    assert chosen.tolist() == [True, True, True, False, False, False, False, True]


def test_frames_without_the_chosen_person_count_as_frames_without_a_face():
    # Clip a, 4 sampled frames: ann (happy) in 0 and 2, bob (sad) first in 0, 1 and 3;
    # frame 3 also has no ann. Clip b: no face at all in its one frame.
    frame_rows = rows(
        [("a", 0, 0, "sad"), ("a", 0, 1, "happy"), ("a", 1, 0, "sad"), ("a", 2, 0, "happy"),
         ("a", 3, 0, "sad"), ("b", 0, None, None)]
    )  # fmt: skip
    emb = np.stack([B, A, B, A, B, np.full(128, np.nan, np.float32)])
    refs = (["ann", "bob"], np.stack([A, B]))
    config = ReduceConfig(face="person")
    eligible = chosen_faces(frame_rows, emb, config, {"a": "ann", "b": "ann"}, refs)
    assert eligible.tolist() == [False, True, False, True, False, False]
    per_frame = frame_emotions(frame_rows, config, eligible)
    assert per_frame[["video", "frame", "emotion"]].values.tolist() == [
        ["a", 0, "happy"], ["a", 2, "happy"]
    ]  # fmt: skip
    shards = ShardData(
        pd.DataFrame({"status": ["ok", "ok"], "message": [None, None]}, index=["a", "b"]),
        frame_rows,
    )
    mapping = MappingConfig()
    a, b = reduce_clips(["a", "b"], shards, {"a": "Positive"}, mapping, config, None, per_frame)
    assert (a.predict, a.frames_sampled, a.frames_with_face) == ("Positive", 4, 2)
    assert a.counts == {"Positive": 2, "Neutral": 0, "Negative": 0}
    assert (b.status, b.frames_with_face) == ("no_face", 0)
    # The study's first face: bob's sad face in frames 0, 1 and 3, ann's in 2.
    first = frame_emotions(frame_rows, ReduceConfig())
    assert first["emotion"].tolist() == ["sad", "sad", "happy", "sad"]
    main = chosen_faces(frame_rows, emb, ReduceConfig(face="main"), {}, None)
    assert main.tolist() == [True, False, True, False, True, False]


def test_a_clip_with_faces_but_none_of_its_person_is_person_absent():
    # a: ann (labelled) in frame 0 only; b: bob in both frames, labelled ann; c: no face;
    # d: bob's face, no labelled person.
    frame_rows = rows(
        [("a", 0, 0, "happy"), ("a", 1, 0, "sad"), ("b", 0, 0, "sad"), ("b", 1, 0, "sad"),
         ("c", 0, None, None), ("d", 0, 0, "sad")]
    )  # fmt: skip
    nan = np.full(128, np.nan, np.float32)
    emb = np.stack([A, B, B, B, nan, B])
    refs = (["ann", "bob"], np.stack([A, B]))
    persons = {"a": "ann", "b": "ann", "c": "ann"}
    config = ReduceConfig(face="person")
    eligible = chosen_faces(frame_rows, emb, config, persons, refs)
    per_frame = frame_emotions(frame_rows, config, eligible)
    videos = ["a", "b", "c", "d"]
    clips = pd.DataFrame({"status": ["ok"] * 4, "message": [None] * 4}, index=videos)
    shards = ShardData(clips, frame_rows)
    golden = {"a": "Positive", "b": "Negative", "c": "Neutral", "d": "Neutral"}
    mapping = MappingConfig()
    results = reduce_clips(videos, shards, golden, mapping, config, None, per_frame, persons)
    assert [(r.status, r.message) for r in results] == [
        ("ok", None),
        ("person_absent", "faces in 2 of 2 frames; none matched to ann"),
        ("no_face", None),
        ("person_absent", "faces in 1 of 1 frames; no labelled person to match"),
    ]
    wrong = compute_metrics(results, mapping.classes)
    assert (wrong["n_no_face"], wrong["n_person_absent"]) == (1, 2)
    assert (wrong["n_correct"], wrong["n_compared"], wrong["accuracy"]) == (1, 4, 0.25)
    abstain = compute_metrics(results, mapping.classes, "abstain")
    assert (abstain["n_compared"], abstain["accuracy"], abstain["coverage"]) == (1, 1.0, 0.25)
    # Under the study's first face the same clips have faces: no clip is person_absent.
    first = reduce_clips(videos, shards, golden, mapping, ReduceConfig(), None, None, persons)
    assert [r.status for r in first] == ["ok", "ok", "no_face", "ok"]


def test_person_refuses_labelled_persons_without_references():
    frame_rows = rows([("a", 0, 0, "sad")])
    with pytest.raises(ConfigError) as exc:
        chosen_faces(frame_rows, np.stack([A]), ReduceConfig(face="person"), {"a": "cid"},
                     (["ann"], np.stack([A])))  # fmt: skip
    assert str(exc.value) == (
        "reduce.face=person: 1 labelled person(s) have no reference photos in the run: cid"
    )


def test_first_and_largest_choose_among_every_face():
    assert chosen_faces(rows([("a", 0, 0, "sad")]), None, ReduceConfig()) is None


def test_face_embeddings_line_up_with_the_frame_rows(tmp_path):
    def shard(path, faces):
        cols = {f.name: [] for f in SCHEMA}
        for video, frame, face, vec in faces:
            values = {"video": video, "kind": "frame", "frame": frame, "face": face,
                      "embedding": None if vec is None else vec.tolist()}  # fmt: skip
            for name in cols:
                cols[name].append(values.get(name))
        write_table(path, pa.table(cols, schema=SCHEMA))
        return path

    files = [
        shard(tmp_path / "shard-00000.parquet", [("a", 0, 0, A), ("a", 0, 1, B), ("x", 0, 0, C)]),
        shard(tmp_path / "shard-00001.parquet", [("x", 0, 0, near(C)), ("b", 4, None, None)]),
    ]
    clip_rows = pd.DataFrame({"_shard": [0, 1, 1]}, index=["a", "x", "b"])
    frame_rows = pd.DataFrame(
        {"video": ["a", "a", "x", "b"], "frame": [0, 0, 0, 4], "face": [1.0, 0.0, 0.0, np.nan]}
    )
    emb = face_embeddings(files, clip_rows, frame_rows)
    assert np.array_equal(emb[0], B) and np.array_equal(emb[1], A)
    assert np.allclose(emb[2], near(C))  # x is taken from shard 1, which owns it
    assert np.isnan(emb[3]).all()


def test_identity_profiles_count_every_face_of_each_person():
    faces = pd.DataFrame(
        {
            "video": ["a", "a", "b", "b", "c"],
            "person": ["ann", "bob", "ann", None, "ann"],
            "emotion": ["happy", "sad", "angry", "happy", "happy"],
            **{e: [0.5, 0.1, 0.2, 0.0, 0.3] if e == "happy" else [0.0] * 5 for e in EMOTIONS},
        }
    )
    profiles = identity_profiles(faces, ["bob", "ann", "cid"], MappingConfig(), {"b": "bob"})
    assert (profiles.faces, profiles.unmatched, profiles.unmatched_share) == (5, 1, 0.2)
    ann, bob, cid, nobody = profiles.persons
    assert [p.person for p in profiles.persons] == ["ann", "bob", "cid", "(nobody)"]
    assert (ann.faces, ann.clips, ann.clips_labelled_other) == (3, 3, 1)
    assert ann.emotion_share["happy"] == pytest.approx(2 / 3)
    assert ann.mean_scores["happy"] == pytest.approx((0.5 + 0.2 + 0.3) / 3)
    assert ann.class_share == pytest.approx({"Positive": 2 / 3, "Neutral": 0.0, "Negative": 1 / 3})
    assert (bob.faces, bob.class_share["Neutral"]) == (1, 1.0)
    assert (cid.faces, cid.mean_scores["happy"]) == (0, None)
    md = identities_markdown(profiles)
    assert md[1:4] == ["## Identities (3 reference persons)", "",
                       "- faces: 5; matched to nobody: 1 (20.0%)"]  # fmt: skip
    assert "| ann | 3 | 3 | 1 | happy 67%, angry 33% | Positive 67%, Negative 33% |" in md
    csv = identities_csv_text(profiles, ["Positive", "Neutral", "Negative"]).splitlines()
    assert csv[1].startswith("ann,3,3,1,0.3333,0.0000,0.0000,0.6667,")
    # cid was never seen: empty shares (7 emotions, 7 means, 3 classes), not zeros
    assert csv[3] == "cid,0,0,0" + "," * 17
    assert "| cid | 0 | 0 | 0 | – | – |" in md
    assert "matched to nobody (20.0 %)" in identities_html(profiles)
    assert "embedding" not in repr(profiles)
    # The reference faces used, under each person's name: ann's 2 crops, bob's 1.
    page = identities_html(profiles, {"ann": [b"\x89PNG-a", b"\x89PNG-b"], "bob": [b"x"]})
    assert page.count('class="ref-face"') == 3
    assert '<td>bob<br><img class="ref-face" src="data:image/png;base64,eA=="' in page
    assert "Under each person, the reference faces used." in page
