"""classifier.backend=onnx on real media: fer's scores, and whole runs without TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from femo.bench.backends import compare_scores, make_backend, sampled_crops

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tracing_poison(tmp_path_factory) -> tuple[Path, Path]:
    """A folder whose tensorflow, keras and mtcnn note each import attempt, then refuse it.

    The note catches an import that some library tries and quietly gives up on.
    """
    folder = tmp_path_factory.mktemp("poison")
    log = folder / "imports.log"
    for name in ("tensorflow", "keras", "mtcnn"):
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(
            f"open({str(log)!r}, 'a').write('{name}\\n')\n"
            f"raise ImportError('{name} must not be imported with classifier.backend=onnx')\n"
        )
    return folder, log


def femo_run(cwd: Path, *args: str, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "femo", "run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.mark.parametrize("backend", ["onnx", "keras"])
def test_both_backends_give_fers_scores_on_real_faces(fer_samples, dev_clips, backend):
    """fer classifies each frame's faces in one call; femo, batches of 64 across frames."""
    from fer import FER

    crops = [
        c for folder in (fer_samples, dev_clips) for _, _, c in sampled_crops(folder) if len(c)
    ]
    fer = FER()._classify_emotions
    reference = np.concatenate([np.asarray(fer(faces)) for faces in crops])
    faces = np.concatenate(crops)
    scores = make_backend(backend).predict(faces)
    np.testing.assert_allclose(scores, reference, rtol=0, atol=1e-5)
    counts = compare_scores(reference, scores)
    assert counts["faces"] == len(faces) == 171
    assert counts["same_top_emotion"] == counts["same_rounded_scores"] == len(faces)


def test_an_onnx_run_never_imports_tensorflow_and_gives_the_same_videos(
    tmp_path, dev_clips, tracing_poison
):
    poison, log = tracing_poison
    common = [f"dataset.root={dev_clips}", f"dataset.labels={dev_clips}/labels.csv"]
    keras = femo_run(tmp_path, *common, f"hydra.run.dir={tmp_path / 'keras'}")
    assert keras.returncode == 0, keras.stderr[-3000:]
    onnx = femo_run(
        tmp_path,
        *common,
        "classifier.backend=onnx",
        f"hydra.run.dir={tmp_path / 'onnx'}",
        pythonpath=str(poison),
    )
    assert onnx.returncode == 0, onnx.stderr[-3000:]
    assert not log.exists(), log.read_text()
    videos = [(tmp_path / run / "report" / "videos.csv").read_text() for run in ("keras", "onnx")]
    assert videos[0] == videos[1]
    assert videos[0].count("\n") == 25  # a header and the 24 clips
    worker_log = (tmp_path / "onnx" / "logs" / "shard-00000.log").read_text()
    assert "classifier: ONNX Runtime on CPUExecutionProvider" in worker_log
