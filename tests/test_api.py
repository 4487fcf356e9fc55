"""Results from Python: ``femo.open_run`` and ``femo export`` on a small hand-made run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import femo
from femo.config import EMOTIONS, MappingConfig, RunConfig, to_dict
from femo.dataset import Clip
from femo.results.commands import reduce_run
from femo.rundir import RunDir, RunDirError, make_plan
from femo.shard_files import SCHEMA

from .builders import clip_row, face, no_face, write_shard
from .conftest import error_line

REPO = Path(__file__).resolve().parents[1]
FRAME_COLUMNS = [
    "video", "label", "group", "frame", "time_s", "face", "x", "y", "w", "h",
    *EMOTIONS, "detector_confidence", "face_check", "person", "scored", "predicted_class",
]  # fmt: skip

SEVEN = MappingConfig(name="seven", classes=EMOTIONS, emotions={e: e for e in EMOTIONS})

pytestmark = pytest.mark.usefixtures("no_tensorflow")


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """Three clips of two persons in two shards; shard 1 carries an ``embedding`` column.

    ann_1.mp4 (Positive): frame 0 happy, frame 5 no face.
    ann_2.mp4 (Negative): frame 0 sad.
    bob_1.mp4 (unlabelled): frame 0 two faces (angry, then fear).
    """
    videos = ["ann_1.mp4", "ann_2.mp4", "bob_1.mp4"]
    plan = make_plan([Clip(v, "video") for v in videos], 2)
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\nann_1.mp4,Positive\nann_2.mp4,Negative\nbob_1.mp4,\n")
    config = to_dict(RunConfig())
    config["dataset"].update(root=str(tmp_path / "clips"), group_pattern="^([a-z]+)_")
    run = tmp_path / "run"
    RunDir(run).create(plan, config, str(labels))
    write_shard(
        run,
        0,
        [
            face("ann_1.mp4", 0, "happy"),
            no_face("ann_1.mp4", 5),
            clip_row("ann_1.mp4", frames_sampled=2),
            face("ann_2.mp4", 0, "sad"),
            clip_row("ann_2.mp4", frames_sampled=1),
        ],
    )
    rows = [
        face("bob_1.mp4", 0, "angry"),
        face("bob_1.mp4", 0, "fear", face_index=1),
        clip_row("bob_1.mp4", frames_sampled=1),
    ]
    schema = SCHEMA  # it has the nullable embedding column, filled here as identity=dlib does
    for r in rows:
        r["embedding"] = [0.5, 0.25] if r["kind"] == "frame" else None
    path = RunDir(run).shard_file(1)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return run


def none(value):
    """A missing value (NaN in a DataFrame) as None; a face index as an int."""
    return None if pd.isna(value) else int(value) if isinstance(value, float) else value


def test_frames_one_row_per_sampled_frame_and_face(run_dir):
    frames = femo.open_run(run_dir).frames()
    assert list(frames.columns) == FRAME_COLUMNS
    assert "embedding" not in frames.columns
    got = [(r.video, none(r.label), r.group, r.frame, none(r.face)) for r in frames.itertuples()]
    assert got == [
        ("ann_1.mp4", "Positive", "ann", 0, 0),
        ("ann_1.mp4", "Positive", "ann", 5, None),
        ("ann_2.mp4", "Negative", "ann", 0, 0),
        ("bob_1.mp4", None, "bob", 0, 0),
        ("bob_1.mp4", None, "bob", 0, 1),
    ]
    assert frames["happy"].tolist()[0] == pytest.approx(0.6)
    assert pd.isna(frames["happy"].tolist()[1])  # the frame without a face
    assert frames["fear"].tolist()[4] == pytest.approx(0.6)
    # The study's first face of each frame is scored; no references: no person.
    assert frames["scored"].tolist() == [True, False, True, True, False]
    assert frames["person"].isna().all()
    assert str(frames["face"].dtype) == "Int64" and str(frames["x"].dtype) == "Int64"
    # Each face's top emotion under the run's mapping; none without a face.
    assert [none(v) for v in frames["predicted_class"]] == [
        "Positive", None, "Neutral", "Negative", "Neutral"]  # fmt: skip


def test_frames_predicted_class_follows_the_runs_mapping(run_dir):
    manifest = json.loads((run_dir / "femo.json").read_text())
    manifest["config"]["mapping"] = to_dict(RunConfig(mapping=SEVEN))["mapping"]
    manifest["config"]["dataset"]["unknown_labels"] = "unlabelled"
    (run_dir / "femo.json").write_text(json.dumps(manifest))
    frames = femo.open_run(run_dir).frames()
    assert [none(v) for v in frames["predicted_class"]] == ["happy", None, "sad", "angry", "fear"]


def test_clips_metrics_config(run_dir):
    run = femo.open_run(run_dir)
    with pytest.raises(RunDirError, match="report/videos.csv does not exist; write the report"):
        run.clips()
    reduce_run(run_dir, [])
    clips = run.clips()
    videos_csv = (run_dir / "report" / "videos.csv").read_text().splitlines()
    assert list(clips.columns) == videos_csv[0].split(",")
    assert clips["video"].tolist() == ["ann_1.mp4", "ann_2.mp4", "bob_1.mp4"]
    assert clips["group"].tolist() == ["ann", "ann", "bob"]
    assert clips["predict"].tolist() == ["Positive", "Neutral", "Negative"]
    assert clips["golden"].fillna("").tolist() == ["Positive", "Negative", ""]
    metrics = run.metrics()
    assert metrics == json.loads((run_dir / "report" / "metrics.json").read_text())
    assert metrics["accuracy"] == metrics.accuracy == 0.5  # ann_1 right, ann_2 wrong
    assert run.config() == json.loads((run_dir / "femo.json").read_text())["config"]
    assert run.config()["dataset"]["group_pattern"] == "^([a-z]+)_"
    other = run_dir.parent / "elsewhere"
    reduce_run(run_dir, ["mapping=seven", "dataset.unknown_labels=unlabelled"], out=other)
    assert run.clips(report=other)["predict"].tolist() == ["happy", "sad", "angry"]


def test_frames_name_each_faces_person_and_the_face_person_scored(tmp_path):
    """ann's clip: frame 0 bob then ann (ann scored under reduce.face=person), frame 1
    a stranger alone (person_absent frame: nothing scored)."""
    from femo.node.references import SCHEMA as REFERENCES

    a, b, c = (np.eye(128, dtype=np.float32)[k] for k in range(3))
    plan = make_plan([Clip("v.mp4", "video")], 2)
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label,person\nv.mp4,Positive,ann\n")
    config = to_dict(RunConfig())
    config["dataset"].update(
        root=str(tmp_path / "clips"), references=str(tmp_path / "refs"), person_column="person"
    )
    config["identity"] = {"name": "dlib"}
    config["reduce"]["face"] = "person"
    run = tmp_path / "run"
    RunDir(run).create(plan, config, str(labels))
    rows = [
        face("v.mp4", 0, "sad"),
        face("v.mp4", 0, "happy", face_index=1),
        face("v.mp4", 1, "angry"),
        clip_row("v.mp4", frames_sampled=2),
    ]
    for r, vector in zip(rows, [b, a, c, None], strict=True):
        r["embedding"] = None if vector is None else vector.tolist()
    RunDir(run).shard_file(0).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), RunDir(run).shard_file(0))
    refs = {"person": ["ann", "bob"], "photo": ["a.jpg", "b.jpg"], "x": [0, 0], "y": [0, 0],
            "w": [9, 9], "h": [9, 9], "crop": [b"", b""], "embedding": [a.tolist(), b.tolist()]}  # fmt: skip
    table = pa.table(refs, schema=REFERENCES)
    table = table.replace_schema_metadata({"references": str(tmp_path / "refs")})
    pq.write_table(table, RunDir(run).references_file)
    frames = femo.open_run(run).frames()
    assert frames["person"].fillna("nobody").tolist() == ["bob", "ann", "nobody"]
    assert frames["scored"].tolist() == [False, True, False]


def test_open_run_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(RunDirError, match="is not a femo run folder"):
        femo.open_run(tmp_path)


def test_export_frames(fast_femo, run_dir, tmp_path):
    expected = femo.open_run(run_dir).frames()
    for name in ("frames.parquet", "out/frames.csv"):
        out = tmp_path / name
        proc = fast_femo("export", str(run_dir), "--frames", str(out))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"femo: 5 frame rows: {out}\n"
        read = pd.read_parquet(out) if out.suffix == ".parquet" else pd.read_csv(out)
        assert list(read.columns) == FRAME_COLUMNS
        assert read["video"].tolist() == expected["video"].tolist()
        assert read["group"].tolist() == ["ann", "ann", "ann", "bob", "bob"]
        assert read["happy"].tolist()[0] == pytest.approx(0.6)
    # Whole numbers stay whole in CSV: face 1 at x 10 (bob's second face), no "1.0".
    rows = (tmp_path / "out" / "frames.csv").read_text().splitlines()
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(","), strict=True))
    assert {k: last[k] for k in ("frame", "face", "x", "y", "w", "h")} == {
        "frame": "0", "face": "1", "x": "10", "y": "5", "w": "80", "h": "80"
    }  # fmt: skip
    assert (last["person"], last["scored"], last["predicted_class"]) == ("", "False", "Neutral")
    proc = fast_femo("export", str(run_dir), "--frames", str(tmp_path / "frames.xlsx"))
    assert error_line(proc) == (
        "femo: error: --frames takes a .parquet or .csv file name, not 'frames.xlsx'"
    )


def test_import_femo_is_light(poisoned_tf):
    """`import femo` loads neither pandas nor TensorFlow; `femo.open_run` no TensorFlow."""
    code = (
        "import sys, femo\n"
        "assert 'pandas' not in sys.modules and 'tensorflow' not in sys.modules\n"
        "femo.open_run\n"
        "assert 'tensorflow' not in sys.modules\n"
        "print('light')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(poisoned_tf), str(REPO)]))
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout == "light\n", proc.stderr


def test_readme_example_runs(run_dir):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Results from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = re.sub(r'open_run\("[^"]*"\)', f"open_run({str(run_dir)!r})", code)
    reduce_run(run_dir, [])
    exec(compile(code, "README.md", "exec"), {})
