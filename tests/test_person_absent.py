"""person_absent: a clip with faces but none of its labelled person, in every place the
report speaks of clips without a face (a hand-made run; embeddings placed by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from femo.config import RunConfig, from_dict, to_dict
from femo.dataset import Clip
from femo.node.references import SCHEMA as REFERENCES
from femo.results.model import ClipResult
from femo.results.sheets.show import _title
from femo.rundir import RunDir, make_plan
from femo.shard_files import SCHEMA

from .builders import clip_row, face

pytestmark = pytest.mark.usefixtures("no_tensorflow")

ANN, BOB = np.eye(128, dtype=np.float32)[:2]


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """w.mp4 (ann's, Positive): ann happy in frames 0 and 4. v.mp4 (ann's, Neutral): bob
    in both sampled frames, ann never."""
    plan = make_plan([Clip("v.mp4", "video"), Clip("w.mp4", "video")], 2)
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label,person\nv.mp4,Neutral,ann\nw.mp4,Positive,ann\n")
    config = to_dict(RunConfig())
    config["dataset"].update(
        root=str(tmp_path / "clips"), references=str(tmp_path / "refs"), person_column="person"
    )
    config["identity"] = {"name": "dlib"}
    config["reduce"]["face"] = "person"
    run = RunDir(tmp_path / "run")
    run.create(plan, config, str(labels))
    rows = [
        face("v.mp4", 0, "sad"), face("v.mp4", 4, "sad"), clip_row("v.mp4", frames_sampled=2),
        face("w.mp4", 0, "happy"), face("w.mp4", 4, "happy"), clip_row("w.mp4", frames_sampled=2),
    ]  # fmt: skip
    for r, vector in zip(rows, [BOB, BOB, None, ANN, ANN, None], strict=True):
        r["embedding"] = None if vector is None else vector.tolist()
    run.shard_file(0).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), run.shard_file(0))
    refs = {"person": ["ann", "bob"], "photo": ["a.jpg", "b.jpg"], "x": [0, 0], "y": [0, 0],
            "w": [9, 9], "h": [9, 9], "crop": [b"", b""], "embedding": [ANN.tolist(), BOB.tolist()]}  # fmt: skip
    table = pa.table(refs, schema=REFERENCES)
    pq.write_table(
        table.replace_schema_metadata({"references": str(tmp_path / "refs")}), run.references_file
    )
    return run.path


def test_person_absent_is_counted_listed_and_named(fast_femo, run_dir):
    proc = fast_femo("reduce", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "femo: accuracy 50.0% over 2 labelled of 2 clips "
        "(0 without a face, 1 without their person, 0 failed)"
    )
    report = run_dir / "report"
    assert (report / "videos.csv").read_text().splitlines()[1] == (
        "v.mp4,ann,,Neutral,person_absent,2,0,0,0,0,faces in 2 of 2 frames; none matched to ann"
    )
    md = (report / "report.md").read_text()
    assert (
        "- clips with no face in any sampled frame: 0; with faces but none of their person: 1; "
        "failed: 0; missing (shard not done): 0"
    ) in md
    page = (report / "index.html").read_text()
    assert "<b>1</b><span>person absent</span>" in page
    assert "Clips with faces but none of their person (1)</h3>" in page
    assert "faces in 2 of 2 frames; none matched to ann" in page


def test_abstaining_leaves_person_absent_clips_out(fast_femo, run_dir):
    proc = fast_femo("reduce", str(run_dir), "reduce.no_face=abstain")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("femo: accuracy 100.0% over 2 labelled")


def test_the_sheet_of_a_person_absent_clip_says_so(run_dir):
    config = from_dict(RunDir(run_dir).config_dict())
    message = "faces in 25 of 25 frames; none matched to ann"
    result = ClipResult("v.mp4", None, "Neutral", "person_absent", 25, 0, {}, message)
    assert _title("v.mp4", config, result, 25)[2] == (
        "face: person; faces in 25 of 25 frames; none matched to ann; 25 shown"
    )
    seen = ClipResult("w.mp4", "Positive", "Positive", "ok", 25, 11, {"Positive": 11})
    assert _title("w.mp4", config, seen, 25)[2] == (
        "face: person; a face in 11 of 25 sampled frames; 25 shown"
    )
