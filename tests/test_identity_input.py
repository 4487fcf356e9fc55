"""identity=dlib and dataset.references: every bad input stops with one line, before work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from femo.config import ConfigError, from_dict

from .conftest import assert_no_run_folder, error_line

pytestmark = pytest.mark.usefixtures("no_tensorflow")


def config_error(cfg: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        from_dict(cfg).check_identity()
    return str(exc.value)


def test_references_need_identity_dlib():
    assert config_error({"dataset": {"references": "/refs"}}) == (
        "dataset.references needs identity=dlib (faces' embeddings)"
    )


@pytest.mark.parametrize("face", ["main", "person"])
def test_main_and_person_need_identity_dlib(face):
    assert config_error({"reduce": {"face": face}}) == (
        f"reduce.face={face} needs a run with identity=dlib"
    )


def test_person_needs_references_and_a_person_column():
    cfg = {"identity": {"name": "dlib"}, "reduce": {"face": "person"}}
    assert config_error(cfg) == (
        "reduce.face=person needs dataset.references and dataset.person_column"
    )


def test_unknown_identity_and_bad_distances():
    assert config_error({"identity": {"name": "arcface"}}) == (
        "identity.name must be 'none' or 'dlib', not 'arcface'"
    )
    assert config_error({"reduce": {"face": "middle"}}) == (
        "reduce.face must be 'first', 'largest', 'main' or 'person', not 'middle'"
    )
    assert config_error({"reduce": {"match_distance": 0}}) == (
        "reduce.match_distance must be a number > 0, not 0"
    )


def test_old_manifests_read_without_identity():
    cfg = from_dict({"reduce": {"face": "first"}})
    assert cfg.identity.name == "none" and cfg.extract.identity.name == "none"
    assert cfg.dataset.references is None and cfg.dataset.person_column is None


# ------------------------------------------------------------------ the CLI, before work


@pytest.fixture
def femo_cli(poisoned_tf, tmp_path):
    """``python -m femo`` with TensorFlow poisoned (and dlib too, where asked)."""

    def run(*args: str, no_dlib: bool = False) -> subprocess.CompletedProcess:
        paths = [str(poisoned_tf)]
        if no_dlib:
            (tmp_path / "nodlib" / "dlib").mkdir(parents=True, exist_ok=True)
            (tmp_path / "nodlib" / "dlib" / "__init__.py").write_text("raise ImportError('no')\n")
            paths.insert(0, str(tmp_path / "nodlib"))
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
        out = [f"output_root={tmp_path / 'out'}"] if args[0] == "run" else []
        cmd = [sys.executable, "-m", "femo", *args, *out]
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)

    return run


@pytest.fixture
def clips(tmp_path) -> Path:
    root = tmp_path / "clips"
    root.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (root / name).write_bytes(b"not decoded before the checks")
    (tmp_path / "labels.csv").write_text(
        "video,person,label\na.mp4,ann,Positive\nb.mp4,bob,Neutral\n"
    )
    return root


def refs_folder(tmp_path: Path, photos: dict[str, list[np.ndarray]]) -> Path:
    root = tmp_path / "refs"
    for person, images in photos.items():
        (root / person).mkdir(parents=True)
        for k, image in enumerate(images):
            cv2.imwrite(str(root / person / f"{k}.jpg"), image)
    return root


RUN = ("run", "dataset.root=clips", "dataset.labels=labels.csv", "identity=dlib",
       "dataset.references=refs", "dataset.person_column=person")  # fmt: skip


def test_identity_dlib_without_the_extra(femo_cli, tmp_path, clips):
    proc = femo_cli("run", "dataset.root=clips", "identity=dlib", no_dlib=True)
    assert error_line(proc) == (
        "femo: error: identity=dlib needs dlib: pip install 'femo[identity]' "
        "(dlib-bin, face-recognition-models)"
    )
    assert_no_run_folder(tmp_path / "out")


def test_references_without_identity(femo_cli, tmp_path, clips):
    proc = femo_cli("run", "dataset.root=clips", "dataset.references=refs")
    assert (
        error_line(proc)
        == "femo: error: dataset.references needs identity=dlib (faces' embeddings)"
    )


def test_a_labelled_person_without_references(femo_cli, tmp_path, clips, face_image):
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")
    refs_folder(tmp_path, {"ann": [face_image]})
    proc = femo_cli(*RUN)
    assert error_line(proc) == (
        "femo: error: dataset.person_column 'person' names 1 person(s) without reference "
        f"photos in {tmp_path / 'refs'}: bob"
    )
    assert_no_run_folder(tmp_path / "out")


def test_reference_photos_without_one_clear_face_are_skipped_with_one_warning_each(
    femo_cli, tmp_path, clips, face_image
):
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")
    blank, two = np.full_like(face_image, 128), np.hstack([face_image] * 2)
    refs_folder(tmp_path, {"ann": [face_image], "bob": [face_image, blank, two]})
    # fer's files are read by the workers: a real run, whose clips fail (they are not videos).
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "femo", *RUN, f"output_root={tmp_path / 'out'}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    bob = tmp_path / "refs" / "bob"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        f"WARNING femo.node.references: dataset.references: {bob / '1.jpg'} shows no face; skipped",
        f"WARNING femo.node.references: dataset.references: {bob / '2.jpg'} shows 2 faces "
        "and not exactly one matches bob's other photos; skipped",
    ]
    (run,) = (tmp_path / "out").glob("*/*")
    table = pq.read_table(run / "references.parquet")
    assert table["photo"].to_pylist() == [
        str(tmp_path / "refs" / "ann" / "0.jpg"),
        str(bob / "0.jpg"),
    ]


def test_a_person_without_a_usable_photo(femo_cli, tmp_path, clips, face_image):
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")
    refs_folder(tmp_path, {"ann": [face_image], "bob": [np.hstack([face_image] * 2)]})
    proc = femo_cli(*RUN)
    warning, error = proc.stderr.splitlines()
    assert warning == (
        f"WARNING femo.node.references: dataset.references: {tmp_path / 'refs' / 'bob' / '0.jpg'} "
        "shows 2 faces and no other photo of bob shows one face alone to tell which is theirs; "
        "skipped"
    )
    assert proc.returncode == 2 and error == (
        "femo: error: dataset.references: no usable photo of bob (each photo shows no "
        "face, or several and none clearly theirs); add one photo with their face alone"
    )
    assert_no_run_folder(tmp_path / "out")


def test_a_person_folder_without_photos(femo_cli, tmp_path, clips):
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")
    (tmp_path / "refs" / "ann").mkdir(parents=True)
    proc = femo_cli(*RUN)
    assert error_line(proc) == (
        f"femo: error: dataset.references: {tmp_path / 'refs' / 'ann'} holds no photo"
    )


def test_a_person_column_missing_from_the_labels(femo_cli, tmp_path, clips):
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")
    proc = femo_cli(*RUN[:-1], "dataset.person_column=speaker")
    assert error_line(proc) == (
        f"femo: error: labels file {tmp_path / 'labels.csv'} has no 'speaker' column "
        "(dataset.person_column); its columns are: video, person, label"
    )


def test_reduce_main_on_a_run_without_identities(femo_cli, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "data" / "run-0.3.0", run)
    proc = femo_cli("reduce", str(run), "reduce.face=main")
    assert error_line(proc) == "femo: error: reduce.face=main needs a run with identity=dlib"


def test_a_task_pickled_by_femo_0_3_0_has_no_identity():
    import pickle

    with open(Path(__file__).parent / "data" / "run-0.3.0-task.pkl", "rb") as fh:
        delayed = pickle.load(fh)
    task = next(a for a in delayed.args if hasattr(a, "extract"))
    assert task.extract.identity.name == "none"
