"""A report that never misleads (issue 26): without labels it leads with what was
predicted; it says how its figures were made; nothing is shown for nobody."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from femo.results.commands import reduce_run
from femo.results.pages.plots import Bar, profile_label

from .builders import clip_rows, make_run, write_shard
from .conftest import Page

pytestmark = pytest.mark.usefixtures("no_tensorflow")

PERSONS = ("dataset.group_pattern='^([a-z]+)_'",)


def page(folder: Path) -> tuple[str, Page]:
    text = (folder / "index.html").read_text(encoding="utf-8")
    return text, Page(text)


def person_rows(parsed: Page, name: str) -> list[list[str]]:
    return [r for r in parsed.rows if r and r[0] == name]


@pytest.fixture
def unlabelled_run(tmp_path) -> Path:
    """ann: 4 happy clips; bob: 4 sad clips; cy: 2 clips where no face was ever found.
    No labels file at all."""
    videos = [f"{p}_{i}.mp4" for p, n in (("ann", 4), ("bob", 4), ("cy", 2)) for i in range(n)]
    run_dir = make_run(tmp_path, videos, per_shard=10)
    top = {"ann": "happy", "bob": "sad", "cy": None}
    write_shard(run_dir, 0, [r for v in videos for r in clip_rows(v, [top[v.split("_")[0]]] * 2)])
    return run_dir


def test_without_labels_the_report_leads_with_what_was_predicted(unlabelled_run):
    folder = reduce_run(unlabelled_run, list(PERSONS)).report_dir
    with open(folder / "videos.csv", newline="") as fh:
        predicted = Counter(r["predict"] for r in csv.DictReader(fh) if r["predict"])
    assert predicted == {"Positive": 4, "Neutral": 4}  # ann happy, bob sad, cy no face
    md = (folder / "report.md").read_text()
    lines = md.splitlines()
    assert lines[:3] == [
        "# femo report",
        "",
        "**Predicted (10 clips, no labels): Positive 4, Neutral 4, Negative 0** "
        "(2 without a face, 0 failed)",
    ]
    # 16 frames with a face: 8 happy, 8 sad
    assert lines[4] == "Top emotions: happy 50%, sad 50% (of 16 frames with a face)"
    assert lines[6].startswith("Method: detector haar (fer's Haar cascade; detector=haar); ")
    assert "face rule: the first face of each frame (reduce.face=first)" in lines[6]
    assert lines[8] == "Labels: none given"
    assert "ccuracy" not in md and "## Per class" not in md and "## Confusion" not in md
    assert "| cy | 2 | 0 | 0 | – |" in md  # nothing shown for a person without a face
    text, parsed = page(folder)
    assert "ccuracy" not in text and 'id="confusion"' not in text
    assert parsed.by_id["predicted-classes"].startswith("Predicted: Positive 4, Neutral 4")
    assert "happy 50 %, sad 50 %" in parsed.by_id["top-emotions"]
    assert parsed.by_id["method"].startswith("Method: detector haar")
    (cy,) = person_rows(parsed, "cy")
    # group, clips, labelled, frames with a face, top emotion, clips predicted as
    assert cy == ["cy", "2", "0", "0", "–", "–"]
    shares = "Positive\xa0100\xa0%, Neutral\xa00\xa0%, Negative\xa00\xa0%"
    assert person_rows(parsed, "ann")[0][4:] == ["happy", shares]
    # Each unlabelled clip's own profile, beside the per-person ones.
    # (clip, predicted, frames with a face, top emotions, classes; the clip table has more)
    profiles = [r for r in parsed.rows if len(r) == 5]
    assert ["cy_0.mp4", "–", "0", "–", "–"] in profiles
    assert ["bob_1.mp4", "Neutral", "2", "sad 100 %", "Neutral 100 %"] in profiles
    with open(folder / "groups.csv", newline="") as fh:
        cy_csv = next(r for r in csv.DictReader(fh) if r["group"] == "cy")
    assert (cy_csv["share_angry"], cy_csv["class_share_Positive"], cy_csv["accuracy"]) == ("",) * 3


@pytest.fixture
def labelled_run(tmp_path) -> Path:
    """ann (happy, Positive: right), cy (no face, Negative: wrong by the study's rule),
    and two clips without a label (dee: one angry, one sad frame)."""
    videos = ["ann_0.mp4", "ann_1.mp4", "cy_0.mp4", "dee_0.mp4", "dee_1.mp4"]
    labels = {"ann_0.mp4": "Positive", "ann_1.mp4": "Positive", "cy_0.mp4": "Negative"}
    run_dir = make_run(tmp_path, videos, per_shard=5, labels=labels)
    rows = [
        *clip_rows("ann_0.mp4", ["happy"]),
        *clip_rows("ann_1.mp4", ["happy"]),
        *clip_rows("cy_0.mp4", [None, None]),
        *clip_rows("dee_0.mp4", ["angry"]),
        *clip_rows("dee_1.mp4", ["sad"]),
    ]
    write_shard(run_dir, 0, rows)
    return run_dir


def test_with_labels_the_answer_stays_first_and_the_unlabelled_clips_get_a_section(
    labelled_run, tmp_path
):
    folder = reduce_run(labelled_run, list(PERSONS)).report_dir
    md = (folder / "report.md").read_text()
    assert md.startswith("# femo report\n\n**Accuracy: 66.7%**")  # ann 2 right, cy wrong: 2 of 3
    assert "## Predicted, unlabelled clips (2)" in md
    assert "- predicted classes (clips): Neutral 1, Negative 1, Positive 0" in md
    snapshot = labelled_run / "labels.csv"
    assert f"Labels: {tmp_path / 'labels.csv'} (snapshot: {snapshot})" in md.splitlines()
    # cy: labelled, never a face: "–" for emotion, shares and accuracy, not "0.0%".
    assert "| cy | 1 | 1 | 0 | – | – |" in md
    text, parsed = page(folder)
    (cy,) = person_rows(parsed, "cy")
    assert cy == ["cy", "1", "1", "0", "–", "–", "–"]
    assert person_rows(parsed, "ann")[0][-1].startswith("100.0 %")
    assert parsed.by_id["labels"] == f"Labels: {tmp_path / 'labels.csv'} (snapshot: {snapshot})"
    assert parsed.by_id["predicted-classes"].startswith(
        "Predicted classes (clips): Neutral 1, Negative 1"
    )
    assert '<a href="#predicted">' in text and 'id="confusion"' in text


@pytest.mark.parametrize(
    "overrides",
    [["reduce.face=largest"], ["reduce.vote=mean", "mapping=seven"], ["reduce.no_face=abstain"]],
)
def test_a_re_reduce_folder_and_its_method_line_say_the_same(labelled_run, overrides):
    folder = reduce_run(labelled_run, [*overrides, "dataset.unknown_labels=unlabelled"]).report_dir
    method = next(ln for ln in (folder / "report.md").read_text().splitlines() if "Method:" in ln)
    for override in overrides:
        key, value = override.split("=")
        assert f"{key}-{value}" in folder.name
        assert f"({override})" in method or f"{override})" in method, (override, method)
    assert Page((folder / "index.html").read_text()).by_id["method"] == method


def test_each_bar_says_what_its_n_counts():
    """Dwarakish's bar came from 10 faces and read "n=146" (the clips)."""
    assert profile_label(Bar("Dwarakish", 146, 10, None, None)) == (
        "Dwarakish  (10 face frames, 146 clips)"
    )
    assert profile_label(Bar("cy", 1, 0, None, None)) == "cy  (no face, 1 clip)"
    faces = Bar("Dwarakish", 146, 10, None, None, counted="faces")
    assert profile_label(faces) == "Dwarakish  (10 faces, 146 clips)"


@pytest.mark.slow
def test_lfw_by_person_shows_no_emotion_for_a_person_without_a_face(tmp_path):
    """Issue 26's trial on lfw-expressions with dataset.group_column=person: persons with
    no frame with a face showed "angry", "Positive 0 %, ..." and "0.0 %" in index.html."""
    import os
    import subprocess
    import sys

    from femo.config import EMOTIONS

    from .conftest import SHARED, need

    root = need(SHARED / "lfw-expressions")
    with open(root / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    persons = list(dict.fromkeys(r["person"] for r in rows if r["person"] != "Dwarakish"))[:40]
    chosen = [r for r in rows if r["person"] in {*persons, "Dwarakish"}]
    clips = tmp_path / "clips"
    (clips / "images").mkdir(parents=True)
    for r in chosen:
        (clips / r["video"]).symlink_to(root / r["video"])
    with open(tmp_path / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    proc = subprocess.run(
        [sys.executable, "-m", "femo", "run", f"dataset.root={clips}", "dataset.labels=labels.csv",
         "dataset.group_column=person", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = tmp_path / "run" / "report"
    with open(report / "groups.csv", newline="") as fh:
        faces = {r["group"]: int(r["frames_with_face"]) for r in csv.DictReader(fh)}
    nobody = {p for p, n in faces.items() if n == 0}
    assert nobody and faces["Dwarakish"] > 0  # Haar finds a few of the film crops' faces
    parsed = Page((report / "index.html").read_text())
    words = {*EMOTIONS, "Positive", "Neutral", "Negative", "%"}
    seen = 0
    for row in parsed.rows:
        if row and row[0] in nobody:  # the person's row in the profiles table
            seen += 1
            assert row[3] == "0" and row[4:] == ["–"] * 3, row
        elif len(row) > 1 and row[1] in nobody:  # a clip of theirs in the clip table
            predicted = row[3]
            assert predicted == "–", row
        assert not (row and row[0] in nobody and any(w in " ".join(row) for w in words)), row
    assert seen == len(nobody)
