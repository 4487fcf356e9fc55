"""References given after extraction (``femo reduce RUN dataset.references=DIR``) give
what references given when the run was planned give: real models, real files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from .conftest import femo, write_video

pytestmark = pytest.mark.usefixtures("no_tensorflow")

ARGS = ("dataset.root=clips", "dataset.labels=labels.csv", "identity=dlib",
        "dataset.person_column=person", "sampling.every_n=2")  # fmt: skip


@pytest.fixture
def dataset(tmp_path, face_image) -> Path:
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")
    face = cv2.resize(face_image, (256, 300))
    grey = np.full_like(face, 128)
    (tmp_path / "clips").mkdir()
    write_video(tmp_path / "clips" / "a.mp4", [face, grey, face, face])
    write_video(tmp_path / "clips" / "b.mp4", [grey] * 4)
    (tmp_path / "labels.csv").write_text(
        "video,label,person\na.mp4,Neutral,ann\nb.mp4,Positive,ann\n"
    )
    (tmp_path / "refs" / "ann").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "refs" / "ann" / "0.jpg"), face_image)
    (tmp_path / "refs" / "ann" / "1.jpg").write_bytes(
        (tmp_path / "refs" / "ann" / "0.jpg").read_bytes()
    )
    cv2.imwrite(str(tmp_path / "refs" / "ann" / "2.jpg"), np.full_like(face_image, 90))
    return tmp_path


def only_run(output_root: Path) -> Path:
    (run,) = output_root.glob("*/*")
    return run


def test_references_at_reduce_give_the_videos_csv_of_references_at_run_time(dataset):
    refs = "dataset.references=refs"
    planned = femo(
        "run", *ARGS, refs, "reduce.face=person", "output_root=with", cwd=dataset, timeout=600
    )
    assert planned.returncode == 0, planned.stderr
    later = femo("run", *ARGS, "output_root=without", cwd=dataset, timeout=600)
    assert later.returncode == 0, later.stderr
    run = only_run(dataset / "without")
    assert not (run / "references.parquet").exists()
    reduced = femo("reduce", str(run), refs, "reduce.face=person", cwd=dataset, timeout=600)
    assert reduced.returncode == 0, reduced.stderr
    skipped = f"dataset.references: {dataset / 'refs' / 'ann' / '2.jpg'} shows no face; skipped"
    assert skipped in planned.stderr and skipped in reduced.stderr
    at_run = (only_run(dataset / "with") / "report" / "videos.csv").read_text()
    (folder,) = run.glob("report-dataset.references*")
    assert (folder / "videos.csv").read_text() == at_run
    clips = pd.read_csv(folder / "videos.csv").set_index("video")
    # Grace Hopper is found in a's 2 sampled frames (0 and 2); b has no face at all.
    assert clips.loc["a.mp4", "status"] == "ok"
    assert clips.loc["a.mp4", "frames_with_face"] == 2
    assert clips.loc["b.mp4", "status"] == "no_face"
    # femo show marks the faces with the same references.
    shown = femo("show", str(run), "a.mp4", refs, "reduce.face=person", "--out", "a.png",
                 cwd=dataset, timeout=600)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert skipped in shown.stderr and (dataset / "a.png").stat().st_size > 0
