"""identity=dlib with real models on the shared media: embeddings, profiles, main/person."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from .conftest import SHARED, need

pytestmark = pytest.mark.slow

MULTIFACE = SHARED / "multiface-clips"
FR_SAMPLES = SHARED / "fr-samples"


@pytest.fixture(autouse=True)
def _dlib():
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")


def femo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "femo", *args], cwd=cwd, capture_output=True, text=True,
        env=dict(os.environ, XDG_CACHE_HOME=str(cwd / "cache")),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_fr_samples_profiles_name_both_men(tmp_path):
    root = need(FR_SAMPLES)
    femo("run", f"dataset.root={root / 'clips'}", "identity=dlib",
         f"dataset.references={root / 'refs'}", "sampling.every_n=10",
         f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    run = tmp_path / "run"
    table = pq.read_table(run / "shards" / "shard-00000.parquet")
    faces = pc.sum(pc.is_valid(table["face"])).as_py()
    assert pc.sum(pc.is_valid(table["embedding"])).as_py() == faces > 0
    assert {len(v) for v in table["embedding"].drop_null().to_pylist()} == {128}
    rows = {
        r["person"]: r
        for r in csv.DictReader((run / "report" / "identities.csv").read_text().splitlines())
    }
    assert set(rows) == {"lin-manuel-miranda", "alex-lacamoire", "(nobody)"}
    # Both men have a profile row; Lin-Manuel Miranda's faces are found. Alex Lacamoire is
    # seen in profile or 26 px small at the piano: Haar finds him in none of these frames.
    assert int(rows["lin-manuel-miranda"]["faces"]) > 0
    assert int(rows["alex-lacamoire"]["faces"]) >= 0
    report = (run / "report" / "report.md").read_text()
    assert "## Identities (2 reference persons)" in report and "matched to nobody:" in report
    # femo show names the persons on the sheet, as the identities section counts them.
    from femo.config import from_dict
    from femo.results.sheets.show import make_sheet
    from femo.rundir import RunDir

    folder = RunDir(run)
    plan = folder.read_plan()
    clip = next(c for c in plan.clips if c.video == "short_hamilton_clip.mp4")
    sheet = make_sheet(folder, from_dict(folder.config_dict()), plan, clip)
    drawn = " ".join(sheet.layout["texts"])
    assert "lin-manuel-miranda" in drawn
    # Embeddings never leave the shards and references.parquet.
    for path in (run / "report").iterdir():
        assert "embedding" not in path.read_text(errors="replace"), path


def test_multiface_person_and_main_score_the_labelled_persons_frames(tmp_path):
    root = need(MULTIFACE)
    clips = tmp_path / "clips"
    clips.mkdir()
    lines = (root / "labels.csv").read_text().splitlines()[:3]
    for line in lines[1:]:
        (clips / line.split(",")[0]).symlink_to(root / "clips" / line.split(",")[0])
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    femo("run", f"dataset.root={clips}", "dataset.labels=labels.csv", "identity=dlib",
         f"dataset.references={root / 'refs'}", "dataset.person_column=person",
         "sampling.every_n=4", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    for face in ("person", "main"):
        femo("reduce", str(tmp_path / "run"), f"reduce.face={face}", cwd=tmp_path)
        report = tmp_path / "run" / f"report-reduce.face-{face}" / "videos.csv"
        rows = list(csv.DictReader(report.read_text().splitlines()))
        # The labelled person is on screen in 45 of the 100 frames: 11 of the 25 sampled.
        assert [int(r["frames_with_face"]) for r in rows] == [11, 11], face
        assert [r["predict"] for r in rows] == [r["golden"] for r in rows], face
