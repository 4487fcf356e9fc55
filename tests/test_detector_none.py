"""detector=none: the whole frame is the one face, for datasets of pre-cropped faces.

Parity is with fer's ``FER.detect_emotions(img, face_rectangles=[(0, 0, w, h)])``,
whose unrounded scores are captured as in test_parity.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from omegaconf import OmegaConf

from femo.config import (
    EMOTIONS,
    ConfigError,
    HaarConfig,
    MtcnnConfig,
    WholeFrameConfig,
    compose_option,
    detector_config,
    from_dict,
)
from femo.dataset import Clip
from femo.node.detectors import Face, WholeFrameDetector, make_detector
from tests.conftest import REPO, SHARED, need

from .builders import RawScoreFER, femo_rows

LFW_IMAGES = SHARED / "lfw-expressions" / "images"
# Grace Hopper's face in matplotlib's photo, as fer's Haar cascade finds it (x, y, w, h).
HOPPER_FACE = (155, 105, 222, 222)


# ---------------------------------------------------------------------- fast


@pytest.mark.usefixtures("no_tensorflow")
def test_none_is_a_detector_name():
    config = WholeFrameConfig()
    assert config.name == "none" and config.offsets == (10, 10)
    # It has no pyramid nor fast mode: no scale factor, and a downscale of 1 not to set.
    assert not hasattr(config, "scale_factor") and config.downscale == 1.0
    with pytest.raises(ConfigError) as caught:
        detector_config({"name": "none", "scale_factor": 0.5})
    assert str(caught.value) == (
        "unknown key 'detector.scale_factor' (detector none has: name, offsets, verify, "
        "verify_below, verify_min)"
    )
    # The other detectors keep their defaults and their checks.
    assert HaarConfig().scale_factor == 1.1
    assert MtcnnConfig().scale_factor == 0.709
    with pytest.raises(ConfigError, match="must be > 1 for Haar"):
        HaarConfig(scale_factor=0.5)
    with pytest.raises(ConfigError, match="between 0 and 1 for MTCNN"):
        MtcnnConfig(scale_factor=1.5)


@pytest.mark.usefixtures("no_tensorflow")
def test_the_none_option_composes():
    yaml = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "detector" / "none.yaml"))
    assert yaml == {"defaults": ["/detector_none@_here_", "_self_"]}  # all its defaults
    composed = compose_option("detector", yaml)
    assert composed == {"name": "none", "offsets": [10, 10], "verify": "none",
                        "verify_below": 0.65, "verify_min": 0.05}  # fmt: skip
    detector = from_dict({"detector": composed}).extract.detector
    assert detector == WholeFrameConfig(offsets=(10, 10))


@pytest.mark.usefixtures("no_tensorflow")
def test_the_none_option_composes_with_hydra():
    from hydra import compose, initialize_config_dir

    import femo.cli
    import femo.rundir
    from femo.launchers.settings import register_defaults

    OmegaConf.register_new_resolver("femo_run_name", femo.rundir.run_name, replace=True)
    OmegaConf.register_new_resolver("femo_claim", lambda path: path, replace=True)
    register_defaults()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["detector=none"])
    container = OmegaConf.to_container(cfg, resolve=True)
    for key in femo.cli.ENTRY_KEYS:
        container.pop(key, None)
    assert from_dict(container).extract.detector == WholeFrameConfig()


@pytest.mark.usefixtures("no_tensorflow")
def test_a_bad_detector_name_lists_the_three():
    with pytest.raises(ConfigError) as exc:
        detector_config({"name": "foo"})
    assert str(exc.value) == (
        "detector.name must be 'haar', 'mtcnn', 'blazeface' or 'none', not 'foo'"
    )


@pytest.mark.usefixtures("no_tensorflow")
def test_whole_frame_detector_gives_one_full_frame_face_per_frame():
    detector = make_detector(WholeFrameConfig(), threads=3)
    assert isinstance(detector, WholeFrameDetector) and detector.name == "none"
    assert detector.frames_per_call == 1 and detector.parallel_calls == 3
    detector.warm_up()
    detector.warm_up_thread()
    sizes = [(48, 48), (96, 96), (350, 250), (1, 1), (64, 200)]  # (height, width)
    frames = [np.zeros((h, w, 3), np.uint8) for h, w in sizes]
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    faces = detector.detect(frames, grays)
    assert faces == [[Face(x=0, y=0, w=w, h=h, confidence=None)] for h, w in sizes]
    assert all(type(v) is int for frame in faces for v in (frame[0].w, frame[0].h))
    assert detector.detect([], []) == []
    # downscale is for detection on a shrunk frame: without detection there is none to set.
    with pytest.raises(ConfigError, match="unknown key 'detector.downscale'"):
        detector_config({"name": "none", "downscale": 3})


# ---------------------------------------------------------------------- parity


def face_crops(folder) -> list[str]:
    """Hopper's face cropped and shrunk as in CK+48 / FER2013, colour and grey, as .png."""
    x, y, w, h = HOPPER_FACE
    from femo.demo import source_image

    face = source_image()[y : y + h, x : x + w]
    names = []
    for size in ((48, 48), (96, 96), (64, 48)):  # (width, height); the last is not square
        crop = cv2.resize(face, size, interpolation=cv2.INTER_AREA)
        for kind, image in (("colour", crop), ("grey", cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))):
            name = f"hopper-{size[0]}x{size[1]}-{kind}.png"
            assert cv2.imwrite(str(folder / name), image)
            names.append(name)
    return names


def assert_whole_frame_parity(rows, root, names, reference: RawScoreFER) -> float:
    """Each image's one row equals fer's with the whole-frame box; the max score difference."""
    worst = 0.0
    for name in names:
        image = cv2.imread(str(root / name))  # as fer is usually given a file: BGR
        height, width = image.shape[:2]
        reference.raw.clear()
        result = reference.fer.detect_emotions(image, face_rectangles=[(0, 0, width, height)])
        assert len(result) == 1 and len(reference.raw) == 1
        mine = rows[(rows.video == name) & (rows.kind == "frame")]
        assert len(mine) == 1 and mine.face.iloc[0] == 0, name
        box = tuple(int(v) for v in mine[["x", "y", "w", "h"]].iloc[0])
        assert box == tuple(result[0]["box"]) == (0, 0, width, height), name
        assert mine.detector_confidence.isna().all()
        scores = mine[list(EMOTIONS)].to_numpy(np.float32)
        np.testing.assert_allclose(scores, reference.raw[0], atol=1e-5, rtol=0, err_msg=name)
        worst = max(worst, float(np.abs(scores - reference.raw[0]).max()))
    return worst


@pytest.fixture(scope="module")
def fer_reference():
    return RawScoreFER(mtcnn=False)


@pytest.mark.slow
def test_none_equals_fer_with_the_whole_frame_as_face_rectangle(tmp_path, fer_reference):
    crops = tmp_path / "crops"
    crops.mkdir()
    names = face_crops(crops)
    rows = femo_rows(tmp_path / "run", crops, [Clip(n, "image") for n in names], "none", every_n=20)
    worst = assert_whole_frame_parity(rows, crops, names, fer_reference)
    print(f"detector=none vs fer face_rectangles, {len(names)} crops: max |diff| {worst:.2e}")

    # Haar (fer's default, min_size 50) finds no face on a 48x48 crop; none classifies it.
    small = cv2.imread(str(crops / "hopper-48x48-colour.png"))
    boxes, scores = fer_reference.detect(small)
    assert boxes == [] and len(scores) == 0
    haar = femo_rows(
        tmp_path / "haar", crops, [Clip("hopper-48x48-colour.png", "image")], "haar", every_n=20
    )
    assert len(haar) == 2 and haar[haar.kind == "frame"].face.isna().all()
    small_row = rows[(rows.video == "hopper-48x48-colour.png") & (rows.kind == "frame")]
    assert len(small_row) == 1 and small_row[list(EMOTIONS)].notna().all(axis=None)


@pytest.mark.slow
def test_none_equals_fer_on_lfw_images(tmp_path, fer_reference):
    root = need(LFW_IMAGES)
    names = sorted(p.name for p in root.iterdir() if p.suffix.lower() == ".jpg")[:5]
    assert len(names) == 5
    rows = femo_rows(tmp_path, root, [Clip(n, "image") for n in names], "none", every_n=20)
    worst = assert_whole_frame_parity(rows, root, names, fer_reference)
    print(f"detector=none vs fer face_rectangles, {len(names)} LFW images: max |diff| {worst:.2e}")
