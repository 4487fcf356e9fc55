"""The face check (detector.verify=mesh): its settings, its verdicts on real images, and
what a run keeps of the faces it rejects."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from femo.config import (
    EMOTIONS,
    BlazeFaceConfig,
    ConfigError,
    HaarConfig,
    compose_option,
    detector_config,
    from_dict,
)
from femo.node.detectors import Face

from .builders import JUSTIN_BOX, rgb
from .conftest import FER_SAMPLES, REPO, femo, need


@pytest.fixture(scope="module")
def check():
    pytest.importorskip("ai_edge_litert")
    from femo.node.verify import FaceCheck

    try:
        return FaceCheck(HaarConfig(verify="mesh"))
    except ConfigError as exc:
        pytest.skip(str(exc))


def bgr(name: str):
    return rgb(name)[..., ::-1].copy()


@pytest.mark.usefixtures("no_tensorflow")
def test_off_by_default_but_on_in_the_blazeface_preset():
    for name in ("haar", "mtcnn", "none"):
        assert detector_config({"name": name}).verify == "none"
    assert BlazeFaceConfig().verify == "evidence"  # the preset's values are its defaults
    for preset in ("haar", "haar_fast", "mtcnn", "none"):
        yaml = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "detector" / f"{preset}.yaml"))
        composed = compose_option("detector", yaml)
        # Composed from the class's defaults, so that detector.verify=mesh needs no '+'.
        assert (composed["verify"], composed["verify_below"]) == ("none", 0.65)
        assert from_dict({"detector": composed}).extract.detector.verify == "none"
    yaml = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "detector" / "blazeface.yaml"))
    detector = from_dict({"detector": compose_option("detector", yaml)}).extract.detector
    assert (detector.verify, detector.verify_below, detector.verify_min) == ("evidence", None, 0.05)


@pytest.mark.usefixtures("no_tensorflow")
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"verify": "yes"}, "detector.verify must be 'none', 'evidence' or 'mesh', not 'yes'"),
        ({"verify_below": 0}, "detector.verify_below must be between 0 and 1 or null, not 0"),
        ({"verify_min": 1.0}, "detector.verify_min must be in [0, 1), not 1.0"),
    ],
)
def test_bad_settings_are_one_line(settings, message):
    with pytest.raises(ConfigError) as exc:
        BlazeFaceConfig(**settings)
    assert str(exc.value) == message


@pytest.mark.usefixtures("no_tensorflow")
def test_a_face_is_kept_and_text_is_not(check):
    (kept,) = check.check(bgr("justin.jpg"), [Face(*JUSTIN_BOX)])
    assert kept.kept and kept.presence > 0.99
    image = bgr("no-faces.jpg")
    height, width = image.shape[:2]
    (rejected,) = check.check(image, [Face(0, 0, width // 2, height // 2, confidence=0.55)])
    assert not rejected.kept and rejected.presence < 0.05
    assert (
        rejected.reason == f"not a face to the face mesh (presence {rejected.presence:.2g} < 0.05)"
    )


@pytest.mark.usefixtures("no_tensorflow")
def test_faces_the_detector_is_sure_of_are_not_checked(check):
    image = bgr("no-faces.jpg")
    sure, unsure = Face(0, 0, 50, 50, confidence=0.65), Face(0, 0, 50, 50, confidence=0.64)
    verdicts = check.check(image, [sure, unsure])
    assert verdicts[0].presence is None and verdicts[0].kept
    assert verdicts[1].presence is not None and not verdicts[1].kept


def test_a_run_keeps_rejected_boxes_as_their_own_rows(tmp_path):
    """detector=none on a face and on no face, with the check and without: the face is
    classified exactly as without it, with its check's score; the other frame has no
    face, and its box is a rejected row."""
    root = tmp_path / "stills"
    root.mkdir()
    for name in ("justin.jpg", "no-faces.jpg"):
        shutil.copy(need(FER_SAMPLES / name), root / name)
    shards = {}
    for verify in ("mesh", "none"):
        out = tmp_path / verify
        done = femo("run", f"dataset.root={root}", "detector=none", f"detector.verify={verify}",
                    f"output_root={out}", cwd=tmp_path, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        (run,) = out.glob("*/*/femo.json")
        rows = pq.read_table(next(run.parent.glob("shards/*.parquet"))).to_pandas()
        metrics = json.loads(next(run.parent.glob("report/metrics.json")).read_text())
        shards[verify] = rows[rows.kind != "clip"].set_index(["video", "kind"]), metrics
    (checked, metrics), (unchecked, plain) = shards["mesh"], shards["none"]
    face = checked.loc[("justin.jpg", "frame")]
    assert face.face_check > 0.99 and unchecked.face_check.isna().all()
    assert (
        face[list(EMOTIONS)].tolist()
        == unchecked.loc[("justin.jpg", "frame")][list(EMOTIONS)].tolist()
    )
    assert not unchecked.loc[("no-faces.jpg", "frame")][list(EMOTIONS)].isna().any()
    empty, rejected = (
        checked.loc[("no-faces.jpg", "frame")],
        checked.loc[("no-faces.jpg", "rejected")],
    )
    assert empty.isna()[["face", "x", "face_check", *EMOTIONS]].all()
    assert rejected.face == 0 and (rejected.x, rejected.y, rejected.w) == (0, 0, 199)
    assert rejected.face_check < 0.05 and rejected.isna()[list(EMOTIONS)].all()
    assert rejected.message.startswith("not a face to the face mesh (presence ")
    assert (metrics["n_no_face"], plain["n_no_face"]) == (1, 0)


@pytest.mark.usefixtures("no_tensorflow")
def test_blazeface_gives_the_eyes_that_turn_the_crop(check):
    from femo.node.detectors import make_detector

    image = bgr("justin.jpg")
    for downscale in (1, 2):
        config = BlazeFaceConfig(model="short/back", downscale=downscale, verify="none")
        (face,) = make_detector(config).detect([image], [None])[0]
        (right_x, right_y), (left_x, left_y) = face.eyes
        # The subject's right eye on the image's left, both in the box's upper half.
        assert face.x < right_x < left_x < face.x + face.w
        assert face.y < min(right_y, left_y) <= max(right_y, left_y) < face.y + face.h / 2
        (verdict,) = check.check(image, [face])
        assert verdict.presence is None  # scored 0.94: sure, not checked
    (checked,) = check.check(image, [Face(face.x, face.y, face.w, face.h, 0.5, face.eyes)])
    assert checked.kept and checked.presence > 0.99


@pytest.mark.usefixtures("no_tensorflow")
def test_a_run_without_the_face_mesh_stops_before_any_work(tmp_path, monkeypatch):
    """The face mesh's file missing: one line, from the checks before the run folder."""
    from femo.node import face_mesh as mesh
    from femo.pipeline import prepare

    monkeypatch.setattr(mesh, "MODEL_FILE", "no_such_mesh.tflite")
    config = from_dict({"detector": {"name": "haar", "verify": "mesh"}})
    with pytest.raises(ConfigError, match=r"^detector.verify=mesh: the model file .*no_such_mesh"):
        prepare(config, None)
