"""Hand-made or damaged run folders: `femo status`, `femo reduce` and `femo run resume=`
each refuse them with one ``femo: error:`` line, and leave no new run folder.

The runs are planned with ``launcher=none`` (nothing extracted) and their shards
written by hand, under the poisoned TensorFlow of test_cli: no command here loads it.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .builders import clip_rows, write_shard
from .conftest import error_line, femo

pytestmark = pytest.mark.usefixtures("no_tensorflow")

LABELS = {"a.mp4": "Positive", "b.mp4": "Negative", "c.mp4": "Neutral"}
EMOTIONS_OF = {"a.mp4": ["happy", "happy"], "b.mp4": ["angry", "disgust"], "c.mp4": ["happy"]}
COMMANDS = ("status", "reduce", "resume")


@pytest.fixture(scope="module")
def planned_once(tmp_path_factory, poisoned_tf) -> Path:
    """A run of 3 one-clip shards, planned with labels (launcher=none), its shards written."""
    folder = tmp_path_factory.mktemp("planned")
    root = folder / "clips"
    root.mkdir()
    for name in LABELS:
        (root / name).write_bytes(b"never decoded here")
    lines = ["video,label", *(f"{v},{label}" for v, label in LABELS.items())]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    proc = femo("run", "launcher=none", "dataset.root=clips", "dataset.labels=labels.csv",
                "shards.videos_per_shard=1", "output_root=out", cwd=folder,
                env={"XDG_CACHE_HOME": str(folder / "cache")}, first=poisoned_tf)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (manifest,) = (folder / "out").glob("*/*/femo.json")
    for k, video in enumerate(LABELS):
        write_shard(manifest.parent, k, clip_rows(video, EMOTIONS_OF[video]))
    return manifest.parent


@pytest.fixture
def done_run(planned_once, tmp_path) -> Path:
    """A copy of that run in this test's tmp_path/run (its labels source stays put)."""
    return Path(shutil.copytree(planned_once, tmp_path / "run"))


def run_folders(tmp_path: Path) -> list[Path]:
    return sorted(p.parent for p in tmp_path.rglob("femo.json"))


def femo_on(fast_femo, command: str, run: Path, *extra: str):
    if command == "resume":
        return fast_femo("run", f"resume={run}", *extra)
    return fast_femo(command, str(run), *extra)


def test_the_intact_run_reports(fast_femo, done_run):
    """The baseline every damaged copy below starts from."""
    proc = fast_femo("reduce", str(done_run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "femo: accuracy 66.7% over 3 labelled of 3 clips (0 without a face, 0 failed)"
    )
    status = fast_femo("status", str(done_run))
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[1].startswith("shards: 3 planned, 3 done, ")


def _empty_manifest(run: Path) -> str:
    (run / "femo.json").write_text("")
    return f"femo: error: {run / 'femo.json'} is damaged: it is empty"


def _invalid_manifest(run: Path) -> str:
    (run / "femo.json").write_text('{"femo_version": "0.4", "config": ')
    return (
        f"femo: error: {run / 'femo.json'} is damaged: Expecting value: line 1 column 35 (char 34)"
    )


def _manifest_without_config(run: Path) -> str:
    (run / "femo.json").write_text("[1, 2, 3]\n")
    return f"femo: error: {run / 'femo.json'} is damaged: it holds no run config"


def _no_manifest(run: Path) -> str:
    (run / "femo.json").unlink()
    return f"femo: error: {run} is not a femo run folder (no femo.json)"


def _no_labels_copy(run: Path) -> str:
    (run / "labels.csv").unlink()
    source = json.loads((run / "femo.json").read_text())["labels_source"]
    return (
        f"femo: error: {run / 'labels.csv'} is missing: the run was planned with the labels of "
        f"{source} and reads them from this copy; put it back (cp {source} {run / 'labels.csv'}) "
        "or name the labels with dataset.labels=FILE"
    )


def _no_plan(run: Path) -> str:
    (run / "clips.csv").unlink()
    return f"femo: error: {run} has no shard plan (clips.csv)"


def _damaged_plan(run: Path) -> str:
    (run / "clips.csv").write_text("file,shard\na.mp4,0\n")
    return (
        f"femo: error: {run / 'clips.csv'} is damaged (no 'video' column); it is the run's "
        "shard plan (columns video, kind, shard)"
    )


def _plan_with_a_bad_shard_number(run: Path) -> str:
    (run / "clips.csv").write_text("video,kind,shard\na.mp4,video,zero\n")
    return (
        f"femo: error: {run / 'clips.csv'} is damaged (invalid literal for int() with base 10: "
        "'zero'); it is the run's shard plan (columns video, kind, shard)"
    )


def _folder_is_a_file(name: str) -> Callable[[Path], str]:
    """Damage: the run's ``name`` folder replaced by a file."""

    def damage(run: Path) -> str:
        shutil.rmtree(run / name)
        (run / name).write_text("not a folder")
        return (
            f"femo: error: {run / name} is not a folder (the run keeps its {name} there); "
            "move it away"
        )

    return damage


def _damaged_jobs_record(run: Path) -> str:
    (run / "jobs.json").write_text('[{"launcher": "local", ')
    return (
        f"femo: error: {run / 'jobs.json'} is damaged (Expecting property name enclosed in "
        "double quotes: line 1 column 24 (char 23)); it records the run's submissions"
    )


DAMAGE = {
    "empty femo.json": _empty_manifest,
    "femo.json not JSON": _invalid_manifest,
    "femo.json without a config": _manifest_without_config,
    "no femo.json": _no_manifest,
    "no labels.csv copy": _no_labels_copy,
    "no clips.csv": _no_plan,
    "clips.csv without its columns": _damaged_plan,
    "clips.csv with a bad shard number": _plan_with_a_bad_shard_number,
    "shards is a file": _folder_is_a_file("shards"),
    "logs is a file": _folder_is_a_file("logs"),
    "jobs.json not JSON": _damaged_jobs_record,
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_run_is_refused_with_one_line(fast_femo, done_run, tmp_path, damage, command):
    expected = DAMAGE[damage](done_run)
    before = sorted(p for p in tmp_path.rglob("*") if "cache" not in p.parts)
    folders = run_folders(tmp_path)
    proc = femo_on(fast_femo, command, done_run)
    assert error_line(proc) == expected
    assert proc.stdout == ""
    assert run_folders(tmp_path) == folders  # no new run folder
    after = sorted(p for p in tmp_path.rglob("*") if "cache" not in p.parts)
    assert after == before  # nothing written, no report, no lock file


def test_a_missing_labels_copy_is_not_reported_as_unlabelled(fast_femo, done_run, tmp_path):
    """Without its labels copy a run is not reported as having no labelled clips
    ("accuracy n/a"); naming the labels file reports it as before."""
    (done_run / "labels.csv").unlink()
    proc = fast_femo("reduce", str(done_run))
    assert "labels.csv is missing" in error_line(proc)
    assert "accuracy n/a" not in proc.stdout + proc.stderr
    assert not (done_run / "report").exists()

    source = json.loads((done_run / "femo.json").read_text())["labels_source"]
    proc = fast_femo("reduce", str(done_run), f"dataset.labels={source}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "femo: accuracy 66.7% over 3 labelled of 3 clips (0 without a face, 0 failed)"
    )
    with open(next(done_run.glob("report-*/videos.csv")), newline="") as fh:
        assert {r["video"]: r["golden"] for r in csv.DictReader(fh)} == LABELS


def test_a_run_planned_without_labels_needs_no_copy(fast_femo, tmp_path):
    """Only a run planned with labels misses its copy; one planned without reports n/a."""
    root = tmp_path / "clips"
    root.mkdir()
    (root / "a.mp4").write_bytes(b"never decoded here")
    proc = fast_femo("run", "launcher=none", "dataset.root=clips", "output_root=out")
    assert proc.returncode == 0, proc.stderr
    (manifest,) = (tmp_path / "out").glob("*/*/femo.json")
    assert json.loads(manifest.read_text())["labels_source"] is None
    write_shard(manifest.parent, 0, clip_rows("a.mp4", ["happy"]))
    proc = fast_femo("reduce", str(manifest.parent))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "femo: predicted Positive 1, Neutral 0, Negative 0 over 1 clip without labels "
        "(0 without a face, 0 failed)"
    )


@pytest.mark.parametrize("damage", ["no labels.csv copy", "femo.json not JSON", "shards is a file"])
def test_fit_refuses_a_damaged_run_with_the_line_of_reduce(fast_femo, done_run, damage):
    """`femo fit` reads a run through the same door as `femo reduce`: a missing labels
    copy is named, not taken for a run without labels ("needs 10 labelled clips")."""
    expected = DAMAGE[damage](done_run)
    fitted = fast_femo("fit", str(done_run))
    assert error_line(fitted) == expected
    assert error_line(fast_femo("reduce", str(done_run))) == expected
    assert not (done_run / "fit").exists()
