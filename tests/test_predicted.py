"""What was predicted without labels, and the Method line: hand-computed (issue 26)."""

from __future__ import annotations

import pandas as pd
import pytest

from femo.config import MappingConfig, ReduceConfig, RunConfig, classifier_config, detector_config
from femo.results.analysis import clip_profiles, predicted_summary
from femo.results.model import ClipResult
from femo.results.pages.formatting import counts_text, top_text
from femo.results.pages.method import labels_text, method_text

pytestmark = pytest.mark.usefixtures("no_tensorflow")

THREE = MappingConfig()


def clip(video, predict, golden=None, status="ok", faces=1) -> ClipResult:
    return ClipResult(video, predict, golden, status, 4, faces, {})


def frames(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """One row per frame with a face: (video, top emotion of its chosen face)."""
    return pd.DataFrame(rows, columns=["video", "emotion"])


RESULTS = [
    clip("a.mp4", "Neutral", faces=3),
    clip("b.jpg", "Neutral"),
    clip("c.mp4", "Positive", golden="Positive", faces=2),  # labelled: not in the summary
    clip("d.mp4", None, status="no_face", faces=0),
    clip("e.mp4", None, status="missing", faces=0),  # its shard is not done: left out
]
PER_FRAME = frames(
    [("a.mp4", "angry"), ("a.mp4", "neutral"), ("a.mp4", "neutral"), ("b.jpg", "happy"),
     ("c.mp4", "happy"), ("c.mp4", "happy")]
)  # fmt: skip


def test_predicted_summary_counts_the_unlabelled_clips_present():
    summary = predicted_summary(RESULTS, PER_FRAME, THREE)
    # a, b, d: 2 Neutral, d no face; 4 frames with a face: angry 1, neutral 2, happy 1
    assert summary == {
        "clips": 3,
        "with_prediction": 2,
        "no_face": 1,
        "failed": 0,
        "classes": {"Positive": 0, "Neutral": 2, "Negative": 0},
        "frames_with_face": 4,
        "emotion_share": {"angry": 0.25, "disgust": 0.0, "fear": 0.0, "happy": 0.25,
                          "sad": 0.0, "surprise": 0.0, "neutral": 0.5},
        "class_share": {"Positive": 0.25, "Neutral": 0.5, "Negative": 0.25},
    }  # fmt: skip
    assert counts_text(summary.classes) == "Neutral 2, Positive 0, Negative 0"
    assert top_text(summary.emotion_share) == "neutral 50%, angry 25%, happy 25%"


def test_no_summary_when_every_clip_has_a_label():
    assert (
        predicted_summary([clip("c.mp4", "Positive", golden="Neutral")], PER_FRAME, THREE) is None
    )


def test_clip_profiles_keep_the_clips_with_most_faces_in_clip_order():
    profiles = clip_profiles(RESULTS, PER_FRAME, THREE, limit=2)
    assert [p.group for p in profiles] == ["a.mp4", "b.jpg"]
    a, b = profiles
    assert a.frames_with_face == 3 and a.predict == "Neutral"
    assert a.emotion_share["neutral"] == pytest.approx(2 / 3, abs=1e-6)
    assert a.class_share == {
        "Positive": 0.0, "Neutral": pytest.approx(2 / 3, abs=1e-6),
        "Negative": pytest.approx(1 / 3, abs=1e-6),
    }  # fmt: skip
    assert b.class_share == {"Positive": 1.0, "Neutral": 0.0, "Negative": 0.0}
    (d,) = [p for p in clip_profiles(RESULTS, PER_FRAME, THREE, 10) if p.group == "d.mp4"]
    # Nothing is shown for a clip without a face: no shares, not a row of zeros.
    assert (d.frames_with_face, d.emotion_share, d.class_share) == (0, None, None)
    assert top_text(d.emotion_share) == "–"


def test_method_line_names_every_choice_in_words_and_settings():
    config = RunConfig(
        detector=detector_config({"name": "blazeface", "model": "short/back"}),
        reduce=ReduceConfig(face="main", head="/h/head.json"),
    )
    head = {"detectors": ["haar"], "labelled_clips": 21}
    assert method_text(config, head, [("10-00-00-clips-mtcnn-n20", "mtcnn")]) == (
        "Method: detector blazeface (MediaPipe's BlazeFace, model short/back, min_face 48, "
        "verify evidence; "
        "detector=blazeface); classifier fer's 7-emotion model on onnx (ONNX Runtime); "
        "sampling every 20th frame (sampling.every_n=20); face rule: the face of the person "
        "seen most in the clip (reduce.face=main); vote: the class most of a clip's frames "
        "map to (reduce.vote=majority); no face: no prediction, counted wrong "
        "(reduce.no_face=wrong); classes: three_class (mapping=three_class); head: a learnt "
        "head replaces the vote (reduce.head=/h/head.json; fit on 21 labelled clips of haar "
        "runs); ensemble: mean scores averaged with 10-00-00-clips-mtcnn-n20 (mtcnn)."
    )


def test_method_line_names_a_custom_model_by_its_file_hash_and_spec():
    """A run with classifier=custom never reads "fer's 7-emotion model"."""
    classifier = classifier_config({
        "name": "custom", "model": "/models/enet_b0.onnx", "size": 224, "color": "rgb",
        "range": [0, 1], "layout": "nchw", "labels": ["angry", "disgust", "drop", "happy"],
        "softmax": "auto", "crop": "box", "sha256": "ab12cd34ef56" + "0" * 52,
    })  # fmt: skip
    line = method_text(RunConfig(classifier=classifier))
    assert "fer's 7-emotion" not in line
    assert (
        "; classifier custom model enet_b0.onnx (sha256 ab12cd34ef56; size=224, color=rgb, "
        "range=[0, 1], layout=nchw, labels=[angry, disgust, drop, happy], softmax=auto, "
        "crop=box) (classifier=custom); sampling every 20th frame" in line
    )


def test_labels_line_gives_the_users_file_and_the_snapshot():
    assert labels_text("/d/labels.csv", "/r/labels.csv", "/r/labels.csv") == (
        "Labels: /d/labels.csv (snapshot: /r/labels.csv)"
    )
    assert labels_text("/d/labels.csv", "/x/other.csv", "/r/labels.csv") == (
        "Labels: /x/other.csv (dataset.labels=/x/other.csv)"
    )
    assert labels_text(None, None, None) == "Labels: none given"


def test_readme_says_everything_the_dev_extra_installs():
    """`[dev]` installs selenium and, through femo[identity], dlib-bin: the README said
    neither (issue 26)."""
    import re

    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = []
    for spec in extras["dev"]:
        name = re.match(r"[A-Za-z0-9_.-]+(\[[a-z]+\])?", spec).group(0)
        inner = re.fullmatch(r"femo\[([a-z]+)\]", name)
        wanted += (
            [re.match(r"[A-Za-z0-9_.-]+", s).group(0) for s in extras[inner.group(1)]]
            if inner
            else [name]
        )
    readme = (root / "README.md").read_text()
    install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "selenium" in wanted and "dlib-bin" in wanted
    assert [w for w in wanted if w not in install] == []
