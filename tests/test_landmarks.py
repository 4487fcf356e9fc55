"""landmarks=mesh: the face mesh of every face, normalised, in the shard's mesh column."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from femo.node.landmarks import LEFT_EYE, RIGHT_EYE, normalise

from .conftest import femo as run_femo


def random_mesh(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.normal(0, 1, (468, 3))
    points[RIGHT_EYE] = [-1.0, 0.2, 0.1]
    points[LEFT_EYE] = [1.5, 0.2, 0.3]
    return points


def test_normalise_forgets_where_how_large_and_how_tilted_the_face_is():
    points = random_mesh()
    angle, scale, shift = 0.7, 3.5, np.array([120.0, -40.0, 9.0])
    turn = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0],
                     [0, 0, 1]])  # fmt: skip
    moved = points @ turn.T * scale + shift
    np.testing.assert_allclose(normalise(moved), normalise(points), atol=1e-5)


def test_normalised_eye_corners_are_level_and_one_apart():
    form = normalise(random_mesh(1)).reshape(468, 3)
    assert form.dtype == np.float32 and form.shape == (468, 3)
    right, left = form[RIGHT_EYE], form[LEFT_EYE]
    assert right[1] == pytest.approx(left[1], abs=1e-6)
    assert left[0] - right[0] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(form.mean(axis=0), 0, atol=1e-6)
    # z: centred and scaled alike (0.3 - 0.1 over the eye distance 2.5)
    assert left[2] - right[2] == pytest.approx(0.2 / 2.5, abs=1e-6)


def test_a_mesh_without_eye_distance_has_no_normal_form():
    points = random_mesh()
    points[LEFT_EYE] = points[RIGHT_EYE]
    assert normalise(points) is None


def frame_rows(run_dir):
    shard = next((run_dir / "shards").glob("shard-*.parquet"))
    table = pq.read_table(shard).to_pandas()
    return table[table["kind"] == "frame"], pq.read_schema(shard).metadata


# Grace Hopper's face in matplotlib's photo (600x512), as Haar finds it: x, y, w, h.
HOPPER_FACE = (155, 105, 222, 222)


def face_crops(root, face_image) -> None:
    """The demo's layout as face crops (for detector=none): the face, mirrored, as a
    still and a clip, and a wall with no face."""
    import cv2

    from .conftest import write_video

    x, y, w, h = HOPPER_FACE
    face = np.ascontiguousarray(face_image[y : y + h, x : x + w])
    cv2.imwrite(str(root / "hopper.jpg"), face)
    write_video(root / "hopper_still.mp4", [face] * 24)
    write_video(root / "hopper_mirrored.mp4", [cv2.flip(face, 1)] * 24)
    write_video(root / "empty_wall.mp4", [np.full_like(face, 180)] * 24)


@pytest.mark.parametrize("detector", ["haar", "blazeface", "none"])
def test_every_detector_gets_a_mesh_per_face(tmp_path, face_image, detector):
    from femo.demo import build_demo

    root = tmp_path / "demo"
    root.mkdir()
    if detector == "none":
        face_crops(root, face_image)
    else:
        build_demo(root)
    run_dir = tmp_path / "run"
    proc = run_femo("run", f"dataset.root={root}", f"detector={detector}", "landmarks=mesh",
                    "sampling.every_n=12", f"hydra.run.dir={run_dir}", cwd=tmp_path,
                    timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows, meta = frame_rows(run_dir)
    faces = rows[rows["face"].notna()]
    assert len(faces) >= 7
    meshes = faces["mesh"].dropna()
    # Grace Hopper's face in every clip but the empty wall (whose whole frame, with
    # detector=none, is not a face to the mesh model: no mesh).
    hopper = faces[~faces["video"].str.startswith("empty_wall")]
    assert hopper["mesh"].notna().all()
    assert faces.loc[faces["video"].str.startswith("empty_wall"), "mesh"].isna().all()
    for mesh in meshes:
        form = np.asarray(mesh).reshape(468, 3)
        assert form[RIGHT_EYE, 1] == pytest.approx(form[LEFT_EYE, 1], abs=1e-5)
        assert form[LEFT_EYE, 0] - form[RIGHT_EYE, 0] == pytest.approx(1.0, abs=1e-5)
    # The same face looks alike in a clip and a still: far closer to each other than to
    # the same points shuffled.
    still = np.asarray(hopper.loc[hopper["video"] == "hopper_still.mp4", "mesh"].iloc[0])
    jpg = np.asarray(hopper.loc[hopper["video"] == "hopper.jpg", "mesh"].iloc[0])
    shuffled = np.random.default_rng(0).permutation(still.reshape(468, 3)).reshape(-1)
    assert np.abs(still - jpg).mean() < 0.2 * np.abs(still - shuffled).mean()
    assert b"femo.extract_config" in meta
    assert b'"landmarks": {"name": "mesh"}' in meta[b"femo.extract_config"]


def test_a_run_without_landmarks_keeps_the_column_empty(tmp_path):
    from femo.demo import build_demo

    root = tmp_path / "demo"
    root.mkdir()
    build_demo(root)
    run_dir = tmp_path / "run"
    proc = run_femo("run", f"dataset.root={root}", "sampling.every_n=24",
                    f"hydra.run.dir={run_dir}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows, meta = frame_rows(run_dir)
    assert rows["face"].notna().any()
    assert rows["mesh"].isna().all()
    assert b"landmarks" not in meta[b"femo.extract_config"]


@pytest.mark.slow
def test_mtcnn_faces_get_a_mesh_too(tmp_path):
    from femo.demo import build_demo

    root = tmp_path / "demo"
    root.mkdir()
    build_demo(root)
    run_dir = tmp_path / "run"
    proc = run_femo("run", f"dataset.root={root}", "detector=mtcnn", "landmarks=mesh",
                    "sampling.every_n=24", f"hydra.run.dir={run_dir}", cwd=tmp_path,
                    timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows, _ = frame_rows(run_dir)
    hopper = rows[rows["face"].notna() & ~rows["video"].str.startswith("empty_wall")]
    assert len(hopper) >= 4 and hopper["mesh"].notna().all()


def test_a_missing_mesh_model_stops_the_run_before_any_work(tmp_path, monkeypatch):
    from femo.config import ConfigError, DatasetConfig, LandmarksConfig, RunConfig
    from femo.node import blazeface
    from femo.node import face_mesh as mesh
    from femo.pipeline import prepare
    from femo.rundir import RunDir

    monkeypatch.setattr(mesh, "MODEL_FILE", "no_such_model.tflite")
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.jpg").write_bytes(b"")
    config = RunConfig(
        dataset=DatasetConfig(root=str(tmp_path / "clips")), landmarks=LandmarksConfig("mesh")
    )
    with pytest.raises(ConfigError) as caught:
        prepare(config, RunDir(tmp_path / "run"))
    folder = blazeface.wheel_file("face_landmark.tflite", "x").parent
    assert str(caught.value) == (
        f"landmarks=mesh: the model file {folder / 'no_such_model.tflite'} is missing"
    )
    assert not (tmp_path / "run" / "femo.json").exists()
